"""Every config parses, builds its model, and scores an image with two classes."""
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
    with torch.no_grad():
        scores = model(torch.rand(2, 3, 64, 64), mode='tensor')
    assert scores.shape == (2, 2)
    assert model.neck.__class__.__name__ == 'FPNNeck'


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
