# The default shipped before the recipe ensemble beside this file (results/default_history/
# seed-ensemble4_2026-11-26/; its weights are in the git history): seeds 0-3 of all five cue
# steps at 128 px, P(TB) the mean of the four (SeedEnsembleClassifier). Weights:
# tools/model_converters/make_seed_ensemble.py with the recipe below and its four checkpoints.
_base_ = [
    '../robust/efficientnet-lite0-in1k-pre-fpn_re-ra-rf-robust_1xb32-adamw-5e_tbcxr-128px.py'
]

# (recipe, seeds trained), as in the recipe ensemble beside this file
recipes = [
    ('configs/robust/'
     'efficientnet-lite0-in1k-pre-fpn_re-ra-rf-robust_1xb32-adamw-5e_tbcxr-128px.py',
     [0, 1, 2, 3]),
]
model = dict(
    _delete_=True, type='SeedEnsembleClassifier', member=_base_.model, num_members=4,
    data_preprocessor=_base_.data_preprocessor)
