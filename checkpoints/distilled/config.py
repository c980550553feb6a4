auto_scale_lr = dict(base_batch_size=32)
custom_hooks = [
    dict(type='ChannelsLastHook'),
    dict(type='WarmCachesHook'),
]
custom_imports = dict(
    allow_failed_imports=False,
    imports=[
        'mmtb',
        'mmtb.models.classifiers.distill',
    ])
data_preprocessor = dict(
    mean=[
        127.5,
        127.5,
        127.5,
    ],
    num_classes=2,
    std=[
        127.5,
        127.5,
        127.5,
    ],
    to_rgb=False)
default_hooks = dict(
    checkpoint=dict(interval=1, max_keep_ckpts=2, type='CheckpointHook'),
    logger=dict(interval=10, type='LoggerHook'),
    param_scheduler=dict(type='ParamSchedulerHook'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    timer=dict(type='IterTimerHook'),
    visualization=dict(enable=False, type='VisualizationHook'))
default_scope = 'mmpretrain'
env_cfg = dict(
    cudnn_benchmark=False,
    dist_cfg=dict(backend='nccl'),
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
launcher = 'none'
load_from = None
log_level = 'INFO'
model = dict(
    backbone=dict(
        features_only=True,
        init_cfg=None,
        model_name='tf_efficientnet_lite0',
        out_indices=(
            2,
            3,
            4,
        ),
        pretrained=False,
        type='TIMMBackbone'),
    data_preprocessor=dict(
        mean=[
            127.5,
            127.5,
            127.5,
        ],
        num_classes=2,
        std=[
            127.5,
            127.5,
            127.5,
        ],
        to_rgb=False),
    head=dict(
        in_channels=128,
        loss=dict(loss_weight=1.0, type='CrossEntropyLoss'),
        num_classes=2,
        topk=(1, ),
        type='LinearClsHead'),
    neck=dict(in_channels=[
        40,
        112,
        320,
    ], out_channels=128, type='FPNNeck'),
    type='ImageClassifier')
optim_wrapper = dict(optimizer=dict(lr=0.001, type='AdamW', weight_decay=0.05))
param_scheduler = [
    dict(
        T_max=10,
        begin=0,
        by_epoch=True,
        convert_to_iter_based=True,
        end=10,
        type='CosineAnnealingLR'),
]
pretrained_from = 'checkpoints/pretrained/tf_efficientnet_lite0_imagenet.pth'
randomness = dict(deterministic=False, seed=0)
resume = False
test_cfg = dict()
test_dataloader = dict(
    batch_size=32,
    dataset=dict(
        ann_file='meta/test.json',
        data_root='data/tbcxr',
        metainfo=dict(classes=(
            'normal',
            'tuberculosis',
        )),
        pipeline=[
            dict(size=128, type='LoadGreyXray'),
            dict(fill='median', min_area=0.002, type='MaskBurntInBlocks'),
            dict(margin=0.05, type='CropLungField'),
            dict(
                clip_limit=2.0,
                method='clahe',
                tile_grid=8,
                type='IntensityStandardize'),
            dict(type='PackInputs'),
        ],
        type='BaseDataset'),
    num_workers=2,
    persistent_workers=True,
    sampler=dict(shuffle=False, type='DefaultSampler'))
test_evaluator = dict(type='ScreeningMetric')
train_cfg = dict(by_epoch=True, max_epochs=10, val_interval=1)
train_dataloader = dict(
    batch_size=32,
    dataset=dict(
        ann_file='meta/train.json',
        data_root='data/tbcxr',
        metainfo=dict(classes=(
            'normal',
            'tuberculosis',
        )),
        pipeline=[
            dict(size=128, type='LoadGreyXray'),
            dict(fill='median', min_area=0.002, type='MaskBurntInBlocks'),
            dict(margin=0.05, type='CropLungField'),
            dict(
                clip_limit=2.0,
                method='clahe',
                tile_grid=8,
                type='IntensityStandardize'),
            dict(max_blocks=3, prob=0.5, type='PasteSyntheticBlocks'),
            dict(
                aspect_ratio_range=(
                    0.8,
                    1.25,
                ),
                crop_ratio_range=(
                    0.6,
                    1.0,
                ),
                scale=128,
                type='RandomResizedCrop'),
            dict(prob=0.5, type='RandomContrastBrightness'),
            dict(gamma_range=(
                0.7,
                1.5,
            ), prob=0.5, type='RandomGamma'),
            dict(prob=0.3, sigma_range=(
                0.3,
                1.2,
            ), type='RandomBlur'),
            dict(prob=0.3, std_range=(
                2,
                8,
            ), type='RandomNoise'),
            dict(prob=0.3, quality_range=(
                30,
                90,
            ), type='RandomJPEG'),
            dict(
                hparams=dict(pad_val=128),
                magnitude_level=9,
                magnitude_std=0.5,
                num_policies=2,
                policies='timm_increasing',
                total_level=10,
                type='RandAugment'),
            dict(direction='horizontal', prob=0.5, type='RandomFlip'),
            dict(
                aspect_range=(
                    0.3,
                    3.3,
                ),
                erase_prob=0.5,
                fill_color=(
                    128,
                    128,
                    128,
                ),
                max_area_ratio=0.4,
                min_area_ratio=0.02,
                mode='const',
                type='RandomErasing'),
            dict(type='PackInputs'),
        ],
        type='BaseDataset'),
    num_workers=2,
    persistent_workers=True,
    sampler=dict(shuffle=True, type='DefaultSampler'))
val_cfg = dict()
val_dataloader = dict(
    batch_size=32,
    dataset=dict(
        ann_file='meta/test.json',
        data_root='data/tbcxr',
        metainfo=dict(classes=(
            'normal',
            'tuberculosis',
        )),
        pipeline=[
            dict(size=128, type='LoadGreyXray'),
            dict(fill='median', min_area=0.002, type='MaskBurntInBlocks'),
            dict(margin=0.05, type='CropLungField'),
            dict(
                clip_limit=2.0,
                method='clahe',
                tile_grid=8,
                type='IntensityStandardize'),
            dict(type='PackInputs'),
        ],
        type='BaseDataset'),
    num_workers=2,
    persistent_workers=True,
    sampler=dict(shuffle=False, type='DefaultSampler'))
val_evaluator = dict(type='ScreeningMetric')
visualizer = dict(
    type='UniversalVisualizer', vis_backends=[
        dict(type='LocalVisBackend'),
    ])
work_dir = None
