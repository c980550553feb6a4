# Shortcut study (issue #7): the baseline beside this file plus a heuristic crop to the lung
# field in every pipeline.
_base_ = ['./efficientnet-lite0-in1k-pre-fpn_re-ra-rf_1xb32-adamw-5e_tbcxr-512px.py']

# cue_removal runs in every pipeline, train_augment only in training (before the paper's RA,
# RF and RE)
cue_removal = [_base_.crop_lung_field]
train_augment = []
# the three dataloaders with these steps (mmtb.utils.config.cue_study_loaders)
from mmtb.utils.config import cue_study_loaders  # noqa: E402  (runs while the config is read)

globals().update(cue_study_loaders(_base_, cue_removal, train_augment))
