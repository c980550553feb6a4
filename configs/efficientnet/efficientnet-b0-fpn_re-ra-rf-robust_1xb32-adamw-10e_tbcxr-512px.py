# efficientnet-b0-fpn + RE+RA+RF (the paper's proposal) with the database's shortcuts removed:
# burnt-in blocks/text masked, the image cropped to the lung field and CLAHE-standardised in
# every pipeline (train, val and test alike), and in training white blocks/text pasted onto
# both classes (so such marks stop predicting the label) plus shift-robust augmentation.
# The blocks are defined in the dataset base; configs/robust/ measures each one alone.
_base_ = [
    '../_base_/models/efficientnet_b0_fpn.py', '../_base_/datasets/tbcxr_bs32.py',
    '../_base_/schedules/adamw_10e.py', '../_base_/default_runtime.py'
]

cue_removal = [_base_.mask_burnt_in, _base_.crop_lung_field, _base_.standardize]
train_dataloader = dict(dataset=dict(pipeline=[
    _base_.load_xray, *cue_removal, _base_.paste_blocks, *_base_.shift_augment,
    _base_.rand_augment, _base_.random_flip, _base_.random_erasing, _base_.pack_inputs]))
# The base sets test_dataloader = val_dataloader as a copy, so both pipelines are replaced.
val_dataloader = dict(dataset=dict(pipeline=[_base_.load_xray, *cue_removal, _base_.pack_inputs]))
test_dataloader = dict(dataset=dict(pipeline=[_base_.load_xray, *cue_removal, _base_.pack_inputs]))
