# Shortcut study (issue #7), follow-up to leave-one-out: all five steps, with the one step whose
# removal measurably hurt (shift-robust augmentation) made stronger: wider crop, exposure,
# gamma, blur, noise and compression ranges, each applied more often.
_base_ = ['./efficientnet-lite0-in1k-pre-fpn_re-ra-rf-robust_1xb32-adamw-5e_tbcxr-512px.py']

strong_shift_augment = [
    dict(type='RandomResizedCrop', scale=512, crop_ratio_range=(0.5, 1.0),
         aspect_ratio_range=(0.75, 1.33)),
    dict(type='RandomContrastBrightness', contrast_range=(0.6, 1.4),
         brightness_range=(-40, 40), prob=0.8),
    dict(type='RandomGamma', gamma_range=(0.5, 2.0), prob=0.8),
    dict(type='RandomBlur', sigma_range=(0.3, 2.0), prob=0.5),
    dict(type='RandomNoise', std_range=(2, 12), prob=0.5),
    dict(type='RandomJPEG', quality_range=(20, 90), prob=0.5),
]
cue_removal = [_base_.mask_burnt_in, _base_.crop_lung_field, _base_.standardize]
train_augment = [_base_.paste_blocks, *strong_shift_augment]
# the three dataloaders with these steps (mmtb.utils.config.cue_study_loaders)
from mmtb.utils.config import cue_study_loaders  # noqa: E402  (runs while the config is read)

globals().update(cue_study_loaders(_base_, cue_removal, train_augment))
