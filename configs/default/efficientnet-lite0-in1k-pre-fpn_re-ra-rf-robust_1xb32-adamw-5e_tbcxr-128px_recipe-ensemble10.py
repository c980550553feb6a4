# The shipped default (checkpoints/default): a recipe ensemble of ten EfficientNet-Lite0-FPN
# trainings at 128 px, seeds 0 and 1 of five recipes of the shortcut study (configs/robust/):
# all five cue steps, and all five without the pasted blocks, the masking, the lung crop or
# CLAHE. Each member reads the input prepared as its recipe's test pipeline prepares it
# (PreprocessingViews); P(TB) is the mean of the members' (SeedEnsembleClassifier).
#
# Weights: tools/model_converters/make_seed_ensemble.py RECIPE CKPT... --recipe RECIPE CKPT...
# with the recipes below in this order (tests/test_configs.py checks that what it builds is this
# file); tools/model_converters/publish_default_model.py then writes checkpoints/default/.
_base_ = [
    '../robust/efficientnet-lite0-in1k-pre-fpn_re-ra-rf-robust_1xb32-adamw-5e_tbcxr-128px.py'
]

# (recipe, seeds trained), in member order; the first recipe's training pipeline is kept below
recipes = [
    ('configs/robust/'
     'efficientnet-lite0-in1k-pre-fpn_re-ra-rf-robust_1xb32-adamw-5e_tbcxr-128px.py',
     [0, 1]),
    ('configs/robust/'
     'efficientnet-lite0-in1k-pre-fpn_re-ra-rf-robust-nopaste_1xb32-adamw-5e_tbcxr-128px.py',
     [0, 1]),
    ('configs/robust/'
     'efficientnet-lite0-in1k-pre-fpn_re-ra-rf-robust-nomask_1xb32-adamw-5e_tbcxr-128px.py',
     [0, 1]),
    ('configs/robust/'
     'efficientnet-lite0-in1k-pre-fpn_re-ra-rf-robust-nolungcrop_1xb32-adamw-5e_tbcxr-128px.py',
     [0, 1]),
    ('configs/robust/'
     'efficientnet-lite0-in1k-pre-fpn_re-ra-rf-robust-noclahe_1xb32-adamw-5e_tbcxr-128px.py',
     [0, 1]),
]
# the recipes' distinct test preprocessings (between loading and packing) and who reads which
views = [
    [_base_.mask_burnt_in, _base_.crop_lung_field, _base_.standardize],  # all five, no paste
    [_base_.crop_lung_field, _base_.standardize],  # no mask
    [_base_.mask_burnt_in, _base_.standardize],  # no lung crop
    [_base_.mask_burnt_in, _base_.crop_lung_field],  # no CLAHE
]
member_views = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3]

# the members' normalisation, once per view (the views are concatenated along the channels)
data_preprocessor = dict(mean=_base_.data_preprocessor.mean * len(views),
                         std=_base_.data_preprocessor.std * len(views))
model = dict(
    _delete_=True, type='SeedEnsembleClassifier', member=_base_.model,
    num_members=len(member_views), member_views=member_views,
    data_preprocessor=dict(_base_.data_preprocessor, **data_preprocessor))
# the loading (at 128 px) and packing of the base's test pipeline around the views
views_pipeline = [_base_.test_dataloader.dataset.pipeline[0],
                  dict(type='PreprocessingViews', views=views),
                  _base_.test_dataloader.dataset.pipeline[-1]]
val_dataloader = dict(dataset=dict(pipeline=views_pipeline))
test_dataloader = dict(dataset=dict(pipeline=views_pipeline))
