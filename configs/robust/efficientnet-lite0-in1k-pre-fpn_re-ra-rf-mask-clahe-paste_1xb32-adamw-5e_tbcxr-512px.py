# Shortcut study (issue #7): the steps that did not hurt external AUC alone, combined: burnt-in
# marks masked and CLAHE in every pipeline, counter-cue blocks in training (the lung-field crop
# and the shift-robust augmentation, which lowered it alone, are left out).
_base_ = ['./efficientnet-lite0-in1k-pre-fpn_re-ra-rf_1xb32-adamw-5e_tbcxr-512px.py']

# cue_removal runs in every pipeline, train_augment only in training (before the paper's RA,
# RF and RE)
cue_removal = [_base_.mask_burnt_in, _base_.standardize]
train_augment = [_base_.paste_blocks]
train_dataloader = dict(dataset=dict(pipeline=[
    _base_.load_xray, *cue_removal, *train_augment, *_base_.paper_augment,
    _base_.pack_inputs]))
# The base sets test_dataloader = val_dataloader as a copy, so both pipelines are replaced.
val_dataloader = dict(dataset=dict(pipeline=[_base_.load_xray, *cue_removal, _base_.pack_inputs]))
test_dataloader = dict(dataset=dict(pipeline=[_base_.load_xray, *cue_removal, _base_.pack_inputs]))
