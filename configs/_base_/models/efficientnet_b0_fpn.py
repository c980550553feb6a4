# EfficientNet-b0 (trained from scratch) -> FPN over strides 8/16/32 -> linear 2-class head.
# 128 FPN channels: at 256 the stride-8 level alone would cost more FLOPs than the backbone.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='EfficientNet', arch='b0', out_indices=(3, 4, 6)),
    neck=dict(type='FPNNeck', in_channels=[40, 112, 1280], out_channels=128),
    head=dict(
        type='LinearClsHead',
        num_classes=2,
        in_channels=128,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, ),
    ),
)
