# Shortcut study (issue #7): the steps that did not lower external AUC alone, combined: burnt-in
# marks masked, then CLAHE, in every pipeline (the lung-field crop, shift-robust augmentation
# and counter-cue blocks each lowered it alone and are left out).
_base_ = ['./efficientnet-lite0-in1k-pre-fpn_re-ra-rf_1xb32-adamw-5e_tbcxr-512px.py']

# cue_removal runs in every pipeline (no training-only steps here)
cue_removal = [_base_.mask_burnt_in, _base_.standardize]
train_augment = []
train_dataloader = dict(dataset=dict(pipeline=[
    _base_.load_xray, *cue_removal, *train_augment, *_base_.paper_augment,
    _base_.pack_inputs]))
# val and test alike (the base's test_dataloader is a copy of its val_dataloader, not a link)
val_dataloader = test_dataloader = dict(dataset=dict(pipeline=[
    _base_.load_xray, *cue_removal, _base_.pack_inputs]))
