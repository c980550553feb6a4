# Shortcut study (issue #7), leave one out: all five steps except the lung-field crop,
# to measure what that step adds to the combination.
_base_ = ['./efficientnet-lite0-in1k-pre-fpn_re-ra-rf-robust_1xb32-adamw-5e_tbcxr-512px.py']

cue_removal = [_base_.mask_burnt_in, _base_.standardize]
train_augment = [_base_.paste_blocks, *_base_.shift_augment]
# the three dataloaders with these steps (mmtb.utils.config.cue_study_loaders)
from mmtb.utils.config import cue_study_loaders  # noqa: E402  (runs while the config is read)

globals().update(cue_study_loaders(_base_, cue_removal, train_augment))
