# Shortcut study (issue #7): the baseline beside this file plus shift-robust augmentation
# (scale/crop, contrast, gamma, blur, noise, JPEG) in training.
_base_ = ['./efficientnet-lite0-in1k-pre-fpn_re-ra-rf_1xb32-adamw-5e_tbcxr-512px.py']

# cue_removal runs in every pipeline, train_augment only in training (before the paper's RA,
# RF and RE)
cue_removal = []
train_augment = [*_base_.shift_augment]
train_dataloader = dict(dataset=dict(pipeline=[
    _base_.load_xray, *cue_removal, *train_augment, *_base_.paper_augment,
    _base_.pack_inputs]))
# val and test alike (the base's test_dataloader is a copy of its val_dataloader, not a link)
val_dataloader = test_dataloader = dict(dataset=dict(pipeline=[
    _base_.load_xray, *cue_removal, _base_.pack_inputs]))
