# What ran in results/robust_224px/: the config below at 224 px, the input size being the only
# change.
_base_ = ['./efficientnet-lite0-in1k-pre-fpn_re-ra-rf-paste_1xb32-adamw-5e_tbcxr-512px.py']

img_size = 224
# the base's pipelines with this size in every step that has one, as tools/train.py --img-size
# sets it (mmtb.utils.config.set_input_size; tests/test_configs.py checks they agree)
train_dataloader, val_dataloader, test_dataloader = (
    dict(dataset=dict(pipeline=[
        dict(step, **{dict(LoadGreyXray='size', RandomResizedCrop='scale')[step.type]: img_size})
        if step.type in ('LoadGreyXray', 'RandomResizedCrop') else step
        for step in _base_[loader].dataset.pipeline]))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'))
