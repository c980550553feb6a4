# Beyond the paper: EfficientNet-Lite0 started from ImageNet weights, no augmentation.
_base_ = [
    '../_base_/datasets/tbcxr_bs32.py', '../_base_/models/efficientnet_lite0_fpn.py',
    '../_base_/schedules/adamw_10e.py', '../_base_/default_runtime.py'
]

# Lite0's ImageNet training scaled inputs to [-1, 1], not the paper's ImageNet mean/std
data_preprocessor = dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5])

train_dataloader = dict(dataset=dict(pipeline=[
    _base_.load_xray, _base_.pack_inputs]))
