# ResNet50 (trained from scratch) -> FPN over strides 8/16/32 -> linear 2-class head (softmax).
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=50, num_stages=4, out_indices=(1, 2, 3), style='pytorch'),
    neck=dict(type='FPNNeck', in_channels=[512, 1024, 2048], out_channels=256),
    head=dict(
        type='LinearClsHead',
        num_classes=2,
        in_channels=256,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, ),
    ),
)
