# Shortcut study (issue #7): the steps that did not lower external AUC alone, combined: burnt-in
# marks masked, then CLAHE, in every pipeline (the lung-field crop, shift-robust augmentation
# and counter-cue blocks each lowered it alone and are left out).
_base_ = ['./efficientnet-lite0-in1k-pre-fpn_re-ra-rf_1xb32-adamw-5e_tbcxr-512px.py']

# cue_removal runs in every pipeline (no training-only steps here)
cue_removal = [_base_.mask_burnt_in, _base_.standardize]
train_augment = []
# the three dataloaders with these steps (mmtb.utils.config.cue_study_loaders)
from mmtb.utils.config import cue_study_loaders  # noqa: E402  (runs while the config is read)

globals().update(cue_study_loaders(_base_, cue_removal, train_augment))
