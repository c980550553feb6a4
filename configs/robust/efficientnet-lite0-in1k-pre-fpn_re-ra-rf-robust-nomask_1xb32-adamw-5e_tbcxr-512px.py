# Shortcut study (issue #7), leave one out: all five steps except masking burnt-in marks,
# to measure what that step adds to the combination.
_base_ = ['./efficientnet-lite0-in1k-pre-fpn_re-ra-rf-robust_1xb32-adamw-5e_tbcxr-512px.py']

cue_removal = [_base_.crop_lung_field, _base_.standardize]
train_augment = [_base_.paste_blocks, *_base_.shift_augment]
train_dataloader = dict(dataset=dict(pipeline=[
    _base_.load_xray, *cue_removal, *train_augment, *_base_.paper_augment,
    _base_.pack_inputs]))
# val and test alike (the base's test_dataloader is a copy of its val_dataloader, not a link)
val_dataloader = test_dataloader = dict(dataset=dict(pipeline=[
    _base_.load_xray, *cue_removal, _base_.pack_inputs]))
