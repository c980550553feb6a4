"""The fast path (decode cache, channels-last, bf16) changes speed, not what is learned."""
import pytest
from mmengine.config import Config

import mmtb  # noqa: F401
from mmtb.utils.benchmark import stock_pipeline, time_training_steps
from mmtb.utils.config import load_config

CONFIG = 'configs/efficientnet/efficientnet-b0-fpn_noaug_1xb32-adamw-10e_tbcxr-512px.py'


@pytest.fixture
def tiny_cfg(tiny_dataset) -> Config:
    cfg = load_config(CONFIG, dict(train_dataloader=dict(
        batch_size=8, dataset=dict(data_root=str(tiny_dataset)))), img_size=64)
    return cfg


def first_loss(cfg, pipeline, **switches):
    result = time_training_steps(cfg, pipeline, iters=2, warmup=0, num_workers=0, **switches)
    return result['losses'][0]


def test_fast_path_first_loss_matches_the_stock_path(tiny_cfg):
    pipeline = tiny_cfg.train_dataloader.dataset.pipeline
    stock = first_loss(tiny_cfg, stock_pipeline(pipeline, 64), channels_last=False, bf16=False)
    fast = first_loss(tiny_cfg, pipeline, channels_last=True, bf16=False, prefill_cache=True)
    assert fast == pytest.approx(stock, rel=1e-4)


def test_bf16_first_loss_is_within_bf16_tolerance(tiny_cfg):
    pipeline = tiny_cfg.train_dataloader.dataset.pipeline
    fp32 = first_loss(tiny_cfg, pipeline, channels_last=True, bf16=False)
    bf16 = first_loss(tiny_cfg, pipeline, channels_last=True, bf16=True)
    assert bf16 == pytest.approx(fp32, rel=2e-2)


def test_stock_pipeline_replaces_only_the_loader():
    pipeline = [dict(type='LoadGreyXray', size=32), dict(type='RandomFlip', prob=0.5),
                dict(type='PackInputs')]
    assert [s['type'] for s in stock_pipeline(pipeline, 32)] == [
        'LoadImageFromFile', 'Resize', 'RandomFlip', 'PackInputs']
