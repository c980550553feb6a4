# efficientnet-b0-fpn + RE+RA+RF (the paper's proposal) with the database's shortcuts removed:
# burnt-in blocks/text masked, the image cropped to the lung field and CLAHE-standardised in
# every pipeline (train, val and test alike), and in training shift-robust augmentation plus
# white blocks/text pasted onto both classes so such marks stop predicting the label.
_base_ = [
    '../_base_/models/efficientnet_b0_fpn.py', '../_base_/datasets/tbcxr_bs32.py',
    '../_base_/schedules/adamw_10e.py', '../_base_/default_runtime.py'
]

mask_burnt_in = dict(type='MaskBurntInBlocks', min_area=0.002, fill='median')
crop_lung_field = dict(type='CropLungField', margin=0.05)
standardize = dict(type='IntensityStandardize', method='clahe', clip_limit=2.0, tile_grid=8)

paste_blocks = dict(type='PasteSyntheticBlocks', prob=0.5, max_blocks=3)
random_gamma = dict(type='RandomGamma', gamma_range=(0.7, 1.5), prob=0.5)
random_blur = dict(type='RandomBlur', sigma_range=(0.3, 1.2), prob=0.3)
random_noise = dict(type='RandomNoise', std_range=(2, 8), prob=0.3)
random_jpeg = dict(type='RandomJPEG', quality_range=(30, 90), prob=0.3)

train_dataloader = dict(dataset=dict(pipeline=[
    _base_.load_xray, mask_burnt_in, crop_lung_field, standardize,
    paste_blocks, random_gamma, random_blur, random_noise, random_jpeg,
    _base_.rand_augment, _base_.random_flip, _base_.random_erasing, _base_.pack_inputs]))
# The base sets test_dataloader = val_dataloader as a copy, so both pipelines are replaced.
val_dataloader = dict(dataset=dict(pipeline=[
    _base_.load_xray, mask_burnt_in, crop_lung_field, standardize, _base_.pack_inputs]))
test_dataloader = dict(dataset=dict(pipeline=[
    _base_.load_xray, mask_burnt_in, crop_lung_field, standardize, _base_.pack_inputs]))
