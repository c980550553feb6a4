# The online-teacher student (issue #19) with half as many epochs again: at 10 epochs the
# internal AUC rose from 0.986-0.988 (5 epochs) to 0.989-0.991 and two of four seeds still
# missed the 0.99 target, so the schedule is the one thing changed (cosine over 15 epochs).
# Decision rule committed in docs/deployment.md#distillation while seed 0 trained, before any
# result: seeds 0, 1, 2; seed 0 ships as the default if it and one more seed meet every target.
_base_ = ['./efficientnet-lite0-in1k-pre-fpn_distill-default-online_1xb32-adamw-5e_tbcxr-128px.py']

train_cfg = dict(max_epochs=15)
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=15, by_epoch=True, begin=0, end=15,
         convert_to_iter_based=True),
]
