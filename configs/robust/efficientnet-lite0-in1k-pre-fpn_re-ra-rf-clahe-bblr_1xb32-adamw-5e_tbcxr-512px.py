# Shortcut study (issue #7): the best single step (CLAHE) with the ImageNet backbone fine-tuned
# at a tenth of the learning rate (neck and head at the full 1e-3), so the pretrained features
# are adapted rather than overwritten by what separates this database.
_base_ = ['./efficientnet-lite0-in1k-pre-fpn_re-ra-rf-clahe_1xb32-adamw-5e_tbcxr-512px.py']

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
