# Ensemble distillation with an online teacher (issue #19): the shipped default scores every
# augmented batch the student trains on, instead of once on the clean training images, where its
# offline targets agreed with the labels and taught nothing the labels did not
# (docs/deployment.md#distillation). Otherwise as the 128 px students there: one
# EfficientNet-Lite0-FPN from ImageNet weights, the default's robust recipe (its first members'),
# temperature 2, soft weight 0.7. Each step also runs the ten teacher networks forward.
_base_ = ['../robust/efficientnet-lite0-in1k-pre-fpn_re-ra-rf-robust_1xb32-adamw-5e_tbcxr-128px.py']
custom_imports = dict(imports=['mmtb', 'mmtb.models.classifiers.distill'],
                      allow_failed_imports=False)

model = dict(type='DistillImageClassifier', temperature=2.0, soft_weight=0.7,
             teacher=dict(config='checkpoints/default/config.py',
                          checkpoint='checkpoints/default/model.pth'),
             # stated here (not only added by the runner) so that the teacher's check of the
             # normalisation sees it wherever the model is built
             data_preprocessor=_base_.data_preprocessor)
