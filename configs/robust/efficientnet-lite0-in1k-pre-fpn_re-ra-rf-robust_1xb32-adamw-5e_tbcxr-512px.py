# Shortcut study (issue #7): the baseline beside this file plus every step of the study: cue
# removal (burnt-in marks masked, lung-field crop, CLAHE) in every pipeline; counter-cue and
# shift-robust augmentation in training.
_base_ = ['./efficientnet-lite0-in1k-pre-fpn_re-ra-rf_1xb32-adamw-5e_tbcxr-512px.py']

# cue_removal runs in every pipeline, train_augment only in training (before the paper's RA,
# RF and RE)
cue_removal = [_base_.mask_burnt_in, _base_.crop_lung_field, _base_.standardize]
train_augment = [_base_.paste_blocks, *_base_.shift_augment]
# the three dataloaders with these steps (mmtb.utils.config.cue_study_loaders)
from mmtb.utils.config import cue_study_loaders  # noqa: E402  (runs while the config is read)

globals().update(cue_study_loaders(_base_, cue_removal, train_augment))
