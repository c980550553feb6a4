# The shortcut study's baseline (issue #7): the best paper-style configuration, EfficientNet-
# Lite0 from ImageNet weights with RE+RA+RF, on a 5-epoch schedule so that every step of the
# study fits a CPU session. The configs beside it each add one cue-removal or augmentation
# step (``-clahe``, ``-mask``, ``-lungcrop``, ``-shift``, ``-paste``) or all of them
# (``-robust``), in front of ``paper_augment`` below.
_base_ = ['../efficientnet/efficientnet-lite0-in1k-pre-fpn_re-ra-rf_1xb32-adamw-10e_tbcxr-512px.py']

train_cfg = dict(max_epochs=5)
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=5, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
]

# The paper's augmentation, which every step keeps and runs last before packing.
paper_augment = [_base_.rand_augment, _base_.random_flip, _base_.random_erasing]
