"""The shipped default is built from its checked-in config, and screens as it always did."""
import json
from pathlib import Path

import pytest
from conftest import load_script
from mmengine.config import Config

import mmtb  # noqa: F401  (registers mmtb in mmpretrain's registries)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DIR = REPO / 'checkpoints' / 'default'
DEFAULT_CONFIG = REPO / 'configs' / 'default' / (
    'efficientnet-lite0-in1k-pre-fpn_re-ra-rf-robust_1xb32-adamw-5e_tbcxr-128px_'
    'recipe-ensemble10.py')
# the default before it (results/default_history/seed-ensemble4_2026-11-26/)
PREVIOUS_CONFIG = DEFAULT_CONFIG.with_name(DEFAULT_CONFIG.name.replace('recipe-ensemble10',
                                                                       'seed-ensemble4'))
# P(TB) of the first 8 TB X-rays of pakistan256 with the config.py published before the
# default had a config under configs/ (commit 732653d): file names and scores, no pixels
FIXTURE = Path(__file__).parent / 'fixtures' / 'default_p_tb_pakistan256.json'
PAKISTAN_TB = REPO.parent / 'shared' / 'data' / 'pakistan256' / 'TB'


def test_make_seed_ensemble_builds_the_default_config():
    ensemble = load_script('tools/model_converters/make_seed_ensemble.py', 'make_seed_ensemble')
    cfg = Config.fromfile(str(DEFAULT_CONFIG))
    built = ensemble.recipe_ensemble_config([str(REPO / c) for c, _ in cfg.recipes],
                                            [len(seeds) for _, seeds in cfg.recipes])
    for key in ('model', 'data_preprocessor', 'train_dataloader', 'val_dataloader',
                'test_dataloader'):
        assert built[key] == cfg[key], key


def test_make_seed_ensemble_builds_the_previous_default_config():
    ensemble = load_script('tools/model_converters/make_seed_ensemble.py', 'make_seed_ensemble')
    cfg = Config.fromfile(str(PREVIOUS_CONFIG))
    (recipe, seeds), = cfg.recipes
    built = ensemble.ensemble_config(REPO / recipe, len(seeds))
    for key in ('model', 'data_preprocessor', 'train_dataloader', 'val_dataloader',
                'test_dataloader'):
        assert built[key] == cfg[key], key


def test_published_config_is_the_default_config_without_building_blocks(tmp_path):
    publish = load_script('tools/model_converters/publish_default_model.py', 'publish_default')
    publish.write_config(DEFAULT_CONFIG, tmp_path)
    assert (tmp_path / 'config.py').read_text() == (DEFAULT_DIR / 'config.py').read_text()
    published = Config.fromfile(str(DEFAULT_DIR / 'config.py'))
    for stale in ('load_xray', 'test_pipeline', 'train_pipeline', 'shift_augment', 'recipes'):
        assert stale not in published


@pytest.mark.skipif(not PAKISTAN_TB.is_dir(), reason='pakistan256 is not here')
def test_default_screens_as_before():
    from mmtb.apis import TBScreener
    expected = json.loads(FIXTURE.read_text())['p_tb']
    files = sorted(PAKISTAN_TB.iterdir())[:len(expected)]
    assert [f.name for f in files] == list(expected)
    screener = TBScreener(config=DEFAULT_DIR / 'config.py', checkpoint=DEFAULT_DIR / 'model.pth')
    for path in files:
        assert abs(screener.predict_source(str(path)).prob_tb - expected[path.name]) <= 1e-6
