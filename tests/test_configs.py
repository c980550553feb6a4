"""Every config parses, builds its model, and scores an image with two classes."""
import json
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

import mmtb  # noqa: F401  (registers mmtb in mmpretrain's registries)
from mmtb.utils import input_size_of, load_config, set_input_size

CONFIG_DIR = Path(__file__).resolve().parents[1] / 'configs'
LEAF_CONFIGS = sorted(p for p in CONFIG_DIR.rglob('*.py') if '_base_' not in p.parts)


def test_the_ablation_grid_is_complete():
    names = {p.name for p in LEAF_CONFIGS}
    for model in ('resnet50-fpn', 'efficientnet-b0-fpn'):
        for aug in ('noaug', 're', 're-ra', 're-ra-rf'):
            assert f'{model}_{aug}_1xb32-adamw-10e_tbcxr-512px.py' in names


@pytest.mark.slow
@pytest.mark.parametrize('path', LEAF_CONFIGS, ids=lambda p: p.stem)
def test_config_builds_and_scores_two_classes(path):
    cfg = Config.fromfile(str(path))
    assert 'mmtb' in cfg.custom_imports['imports']
    assert cfg.train_dataloader.batch_size == 32
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    # the size the name says (the paper's configs are 512 px)
    assert input_size_of(cfg) == int(re.search(r'(\d+)px', path.stem).group(1))
    model = MODELS.build(cfg.model).eval()
    channels = len(cfg.data_preprocessor.mean)  # 3 per preprocessing view of an ensemble
    with torch.no_grad():
        scores = model(torch.rand(2, channels, 64, 64), mode='tensor')
    assert scores.shape == (2, 2)
    network = model.members[0] if hasattr(model, 'members') else model
    assert network.neck.__class__.__name__ == 'FPNNeck'


def test_paper_augmentation_parameters():
    cfg = Config.fromfile(str(next(p for p in LEAF_CONFIGS if '_re-ra-rf_' in p.name)))
    steps = {s['type']: s for s in cfg.train_dataloader.dataset.pipeline}
    assert list(steps) == ['LoadGreyXray', 'RandAugment', 'RandomFlip', 'RandomErasing',
                           'PackInputs']
    erasing = steps['RandomErasing']
    assert (erasing.erase_prob, erasing.min_area_ratio, erasing.max_area_ratio) == \
        (0.5, 0.02, 0.4)
    assert tuple(erasing.aspect_range) == (0.3, 3.3)
    assert steps['RandAugment'].num_policies == 2
    assert steps['RandomFlip'].prob == 0.5
    assert cfg.data_preprocessor.mean == [123.675, 116.28, 103.53]
    assert cfg.data_preprocessor.std == [58.395, 57.12, 57.375]


def test_img_size_override_reaches_every_pipeline():
    path = next(p for p in LEAF_CONFIGS if '_re-ra-rf_' in p.name)
    cfg = load_config(str(path), img_size=224)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[key].dataset.pipeline[0].size == 224
    assert cfg.work_dir.endswith('tbcxr-224px')
    with pytest.raises(ValueError):
        set_input_size(Config(dict(test_dataloader=dict(dataset=dict(pipeline=[])))), 224)


SIZE_LEAVES = [p for p in LEAF_CONFIGS
               if p.with_name(re.sub(r'\d+px', '512px', p.name)) != p
               and p.with_name(re.sub(r'\d+px', '512px', p.name)).is_file()]


def test_every_size_run_has_a_size_leaf():
    assert len(SIZE_LEAVES) >= 29
    assert all('_base_' not in p.parts for p in SIZE_LEAVES)


def _sizes_in(value) -> set:
    """Every LoadGreyXray size and RandomResizedCrop scale anywhere in a config."""
    if isinstance(value, (list, tuple)):
        return set().union(*(_sizes_in(v) for v in value))
    if not isinstance(value, dict):
        return set()
    found = set().union(*(_sizes_in(v) for v in value.values()))
    key = dict(LoadGreyXray='size', RandomResizedCrop='scale').get(value.get('type'))
    return found | ({value[key]} if key in value else set())


@pytest.mark.parametrize('leaf', SIZE_LEAVES, ids=lambda p: p.stem)
def test_size_leaf_is_its_paper_config_at_that_size(leaf):
    """A '-224px' leaf is exactly what ``--img-size 224`` makes of its 512 px config."""
    size = int(re.search(r'(\d+)px', leaf.stem).group(1))
    paper = leaf.with_name(re.sub(r'\d+px', '512px', leaf.name))
    sized = load_config(str(paper), img_size=size).to_dict()
    config = Config.fromfile(str(leaf)).to_dict()
    assert config.pop('img_size') == size
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert config[key] == sized[key], key
    # the building blocks the pipelines were made of say the new size too (no stale entries) ...
    blocks = {k for k, v in config.items() if v != sized.get(k)} - {'work_dir'}
    assert blocks <= {'load_xray', 'shift_augment', 'train_augment', 'strong_shift_augment',
                      'train_pipeline', 'test_pipeline'}
    assert 'load_xray' in blocks
    assert not _sizes_in(config) - {size}
    # ... and nothing else changes
    assert {k: v for k, v in config.items() if k not in blocks | {'work_dir'}} == \
        {k: v for k, v in sized.items() if k not in blocks | {'work_dir'}}
    # one work dir per run, whichever way it was asked for
    assert load_config(str(leaf)).work_dir == sized['work_dir']
    assert load_config(str(leaf), img_size=128).work_dir.endswith('tbcxr-128px')


def test_every_result_names_the_config_that_ran():
    root = CONFIG_DIR.parent
    records = list((root / 'results').glob('**/metrics.json'))
    assert records
    for path in records:
        record = json.loads(path.read_text())
        config = root / record['config']
        assert config.is_file(), path
        if record.get('img_size'):  # else the run used the config's own size
            assert input_size_of(Config.fromfile(str(config))) == record['img_size'], path


RECIPES = [p for p in LEAF_CONFIGS if p.parent.name == 'robust' and p.stem.endswith('512px')
           and 'lesionpaste' not in p.name]  # lesion paste reads TBX11K's boxes when built


@pytest.mark.parametrize('path', RECIPES, ids=lambda p: p.stem)
def test_recipe_runs_its_declared_steps(path, tmp_path):
    """A study recipe's pipelines are its ``cue_removal`` (every pipeline) and ``train_augment``
    (training) lists around the paper's steps: same transforms, same order, same output."""
    import cv2
    import numpy as np
    from mmengine.dataset import Compose
    from mmpretrain.registry import TRANSFORMS
    cfg = Config.fromfile(str(path))
    cue, augment = list(cfg.get('cue_removal', [])), list(cfg.get('train_augment', []))
    declared = {
        'train_dataloader': [cfg.load_xray, *cue, *augment, *cfg.paper_augment, cfg.pack_inputs],
        'val_dataloader': [cfg.load_xray, *cue, cfg.pack_inputs],
        'test_dataloader': [cfg.load_xray, *cue, cfg.pack_inputs]}
    image = tmp_path / 'chest.png'
    grey = np.full((96, 96), 150, np.uint8)
    grey[20:76, 15:40] = grey[20:76, 56:81] = 60
    grey[5:15, 60:90] = 255  # a burnt-in block
    cv2.imwrite(str(image), grey)
    for key, steps in declared.items():
        assert cfg[key].dataset.pipeline == steps, key
        outputs = []
        for pipeline in (cfg[key].dataset.pipeline, steps):
            np.random.seed(0)
            packed = Compose([TRANSFORMS.build(s) for s in pipeline])(
                dict(img_path=str(image), gt_label=1))
            outputs.append(packed['inputs'].numpy())
        assert np.array_equal(*outputs), key
