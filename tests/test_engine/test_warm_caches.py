"""The caches are filled once in the main process, drawing no random number."""
from types import SimpleNamespace

import numpy as np
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS, TRANSFORMS

import mmtb  # noqa: F401  (registers the hook and transforms)
from mmtb.apis.train import parse_args, train_config
from mmtb.datasets.transforms import LoadGreyXray
from mmtb.engine.hooks.warm_caches import WarmCachesHook, deterministic_prefix

CUE_STEPS = [dict(type='MaskBurntInBlocks'), dict(type='CropLungField'),
             dict(type='IntensityStandardize')]
RANDOM_STEPS = [dict(type='RandomFlip', prob=0.5), dict(type='PackInputs')]


def built(steps):
    return [TRANSFORMS.build(step) for step in steps]


def test_the_prefix_is_the_cached_loader_and_the_remembered_steps_after_it():
    loader = dict(type='LoadGreyXray', size=32)
    steps = built([loader, *CUE_STEPS, *RANDOM_STEPS, *CUE_STEPS])
    assert deterministic_prefix(steps) == steps[:4]
    assert deterministic_prefix(built([dict(loader, cache=False), *CUE_STEPS])) == []
    assert deterministic_prefix(built([*CUE_STEPS, loader])) == []  # no loader first
    only_loader = built([loader, *RANDOM_STEPS])
    assert deterministic_prefix(only_loader) == only_loader[:1]


def test_the_hook_fills_every_cache_before_training_without_drawing_random_numbers(
        tiny_dataset):
    init_default_scope('mmpretrain')
    dataset = DATASETS.build(dict(
        type='BaseDataset', data_root=str(tiny_dataset), ann_file='meta/train.json',
        pipeline=[dict(type='LoadGreyXray', size=48), *CUE_STEPS, *RANDOM_STEPS]))
    runner = SimpleNamespace(train_loop=SimpleNamespace(dataloader=SimpleNamespace(
        dataset=dataset)), logger=SimpleNamespace(info=lambda message: None))
    state = np.random.get_state()
    WarmCachesHook().before_train(runner)
    assert all(np.array_equal(a, b) for a, b in zip(state, np.random.get_state()))
    paths = {dataset.get_data_info(i)['img_path'] for i in range(len(dataset))}
    assert paths <= {path for path, size in LoadGreyXray._cache if size == 48}
    for step in dataset.pipeline.transforms[1:4]:  # every image remembered by every step
        assert len(step._memo) == len(dataset)


def test_train_config_adds_the_hook_once():
    args = parse_args(['configs/robust/efficientnet-lite0-in1k-pre-fpn_re-ra-rf-robust_'
                       '1xb32-adamw-5e_tbcxr-128px.py'])
    hooks = [hook['type'] for hook in train_config(args).custom_hooks]
    assert hooks.count('WarmCachesHook') == 1 and 'ChannelsLastHook' in hooks
