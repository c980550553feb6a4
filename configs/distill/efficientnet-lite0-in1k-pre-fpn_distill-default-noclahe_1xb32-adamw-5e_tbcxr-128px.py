# The 128 px student reading the default's "noclahe" view (burnt-in masking and lung crop, no
# intensity standardisation): the view whose hard-label members ranked the internal split best
# (AUC 0.993-0.996, results/robust_128px/table.md), where the all-steps students stayed below
# 0.99. The view is the only change; same soft targets, temperature and weight.
_base_ = ['./efficientnet-lite0-in1k-pre-fpn_distill-default_1xb32-adamw-5e_tbcxr-128px.py']

cue_removal = [_base_.mask_burnt_in, _base_.crop_lung_field]
_test = [_base_.load_xray, *cue_removal, _base_.pack_inputs]
train_dataloader = dict(dataset=dict(pipeline=[
    _base_.load_xray, *cue_removal, *_base_.train_augment, *_base_.paper_augment,
    _base_.pack_teacher]))
val_dataloader = dict(dataset=dict(pipeline=_test))
test_dataloader = dict(dataset=dict(pipeline=list(_test)))
