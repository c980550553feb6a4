# Ensemble distillation (issue #19): one EfficientNet-Lite0-FPN from ImageNet weights learns the
# shipped default's (ten networks) P(TB) at 224 px, with the default's robust recipe: cue
# removal in every pipeline, counter-cue and shift augmentation in training. The teacher's
# soft targets are written once beforehand (docs/deployment.md):
#   python tools/distill/teacher_soft_targets.py THIS_CONFIG --out <soft_targets below>
# The loss mixes hard labels and the teacher (DistillImageClassifier: temperature, soft_weight,
# starting values, not tuned); unlabelled X-rays in the file are trained on their soft target.
_base_ = ['../robust/efficientnet-lite0-in1k-pre-fpn_re-ra-rf-robust_1xb32-adamw-5e_tbcxr-512px.py']
# DistillImageClassifier lives outside mmtb's default imports (it loads mmpretrain.models)
custom_imports = dict(imports=['mmtb', 'mmtb.models.classifiers.distill'],
                      allow_failed_imports=False)

img_size = 224
soft_targets = 'work_dirs/distill/soft_targets_default.json'

model = dict(type='DistillImageClassifier', temperature=2.0, soft_weight=0.7)

# the robust recipe at 224 px: what tools/train.py --img-size 224 makes of the base
load_xray = dict(type='LoadGreyXray', size=img_size)
shift_augment = [dict(_base_.shift_augment[0], scale=img_size), *_base_.shift_augment[1:]]
cue_removal = [_base_.mask_burnt_in, _base_.crop_lung_field, _base_.standardize]
train_augment = [_base_.paste_blocks, *shift_augment]
# PackInputs carries the teacher's P(TB) into each DataSample for the loss
pack_teacher = dict(type='PackInputs', algorithm_keys=('teacher_prob_tb', ))

train_dataloader = dict(dataset=dict(
    type='SoftTargetDataset', soft_targets=soft_targets, use_unlabelled=True,
    pipeline=[load_xray, *cue_removal, *train_augment, *_base_.paper_augment, pack_teacher]))
val_dataloader = dict(dataset=dict(pipeline=[load_xray, *cue_removal, _base_.pack_inputs]))
test_dataloader = dict(dataset=dict(pipeline=[load_xray, *cue_removal, _base_.pack_inputs]))
