# Paper Table 2: resnet50-fpn + RandomErasing + RandAugment + RandomFlip (the proposal).
_base_ = [
    '../_base_/models/resnet50_fpn.py', '../_base_/datasets/tbcxr_bs32.py',
    '../_base_/schedules/adamw_10e.py', '../_base_/default_runtime.py'
]

train_dataloader = dict(dataset=dict(pipeline=[
    _base_.load_xray, _base_.rand_augment, _base_.random_flip, _base_.random_erasing,
    _base_.pack_inputs]))
