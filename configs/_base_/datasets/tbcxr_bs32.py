# TB chest X-rays (tools/dataset_converters/prepare_tbcxr.py output), batch 32.
# Preprocessing is defined once: LoadGreyXray decodes, converts to grey with OpenCV and
# resizes to `size` (the paper: 512). The augmentation blocks below are combined by the leaf
# configs into the paper's four settings (none / RE / RE+RA / RE+RA+RF).
dataset_type = 'BaseDataset'
data_root = 'data/tbcxr'
classes = ('normal', 'tuberculosis')

data_preprocessor = dict(
    num_classes=2,
    # the paper's normalisation (ImageNet statistics); the 3 channels are identical grey
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=False,
)

load_xray = dict(type='LoadGreyXray', size=512)
random_erasing = dict(
    type='RandomErasing', erase_prob=0.5, min_area_ratio=0.02, max_area_ratio=0.4,
    aspect_range=(0.3, 3.3), mode='const', fill_color=(128, 128, 128))
rand_augment = dict(
    type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10,
    magnitude_level=9, magnitude_std=0.5, hparams=dict(pad_val=128))
# direction: 'horizontal', 'vertical' or 'diagonal' (a list samples among several)
random_flip = dict(type='RandomFlip', prob=0.5, direction='horizontal')
pack_inputs = dict(type='PackInputs')

train_pipeline = [load_xray, pack_inputs]
test_pipeline = [load_xray, pack_inputs]

train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type, data_root=data_root, ann_file='meta/train.json',
        metainfo=dict(classes=classes), pipeline=train_pipeline),
)
# The paper has no separate validation split: its 20% test split is evaluated every epoch
# (for the learning curve only; no checkpoint is selected on it).
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root, ann_file='meta/test.json',
        metainfo=dict(classes=classes), pipeline=test_pipeline),
)
val_evaluator = dict(type='ScreeningMetric')

test_dataloader = val_dataloader
test_evaluator = val_evaluator

# Beyond the paper: blocks that remove the database's shortcuts (issue #7), combined by the
# configs under configs/robust/. Deterministic cue removal runs in every pipeline (train, val
# and test alike); shift-robust and counter-cue augmentation only in training.
mask_burnt_in = dict(type='MaskBurntInBlocks', min_area=0.002, fill='median')
crop_lung_field = dict(type='CropLungField', margin=0.05)
standardize = dict(type='IntensityStandardize', method='clahe', clip_limit=2.0, tile_grid=8)
paste_blocks = dict(type='PasteSyntheticBlocks', prob=0.5, max_blocks=3)
shift_augment = [
    # other hospitals: other field of view, exposure, sharpness, noise and compression
    dict(type='RandomResizedCrop', scale=512, crop_ratio_range=(0.6, 1.0),
         aspect_ratio_range=(0.8, 1.25)),
    dict(type='RandomContrastBrightness', prob=0.5),
    dict(type='RandomGamma', gamma_range=(0.7, 1.5), prob=0.5),
    dict(type='RandomBlur', sigma_range=(0.3, 1.2), prob=0.3),
    dict(type='RandomNoise', std_range=(2, 8), prob=0.3),
    dict(type='RandomJPEG', quality_range=(30, 90), prob=0.3),
]
