"""Timing a training step as the Runner runs it: data pipeline + forward + backward + update.

Used by ``tools/analysis_tools/benchmark.py`` to compare mmpretrain's stock path (decode every
file every step, fp32, default memory format) with mmtb's fast path (decode/grey/resize once,
channels-last, bf16 autocast where it helps) on the same model, data and batch.
"""
import copy
import random
import resource
import statistics
import time
from typing import Optional

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS, MODELS

from mmtb.engine.hooks.channels_last import to_channels_last


def stock_pipeline(pipeline: list, size: int) -> list:
    """The same pipeline with mmtb's loader replaced by mmpretrain's stock decode + resize."""
    stock = []
    for step in pipeline:
        if step['type'] == 'LoadGreyXray':
            stock += [dict(type='LoadImageFromFile'),
                      dict(type='Resize', scale=(size, size), interpolation='area')]
        else:
            stock.append(step)
    return stock


def peak_matmul_flops(dtype=torch.float32, n: int = 2048, repeats: int = 5) -> float:
    """The machine's practical peak: FLOP/s of a large square matrix multiply."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * n**3 / min(times)


def forward_flops(model: torch.nn.Module, size: int) -> Optional[float]:
    """Forward FLOPs of one image (mmengine's counter; multiply-adds counted as 2)."""
    try:
        from mmengine.analysis import FlopAnalyzer
        model = copy.deepcopy(model).eval()
        macs = FlopAnalyzer(_Logits(model), (torch.zeros(1, 3, size, size),)).total()
        return 2.0 * macs
    except Exception:  # FLOP counting is best effort; timings do not depend on it
        return None


class _Logits(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x, mode='tensor')


def time_training_steps(cfg, pipeline: list, *, channels_last: bool, bf16: bool,
                        iters: int = 5, warmup: int = 2, num_workers: int = 0,
                        prefill_cache: bool = False, compile_model: bool = False,
                        remember: bool = True, seed: int = 0) -> dict:
    """Median seconds per training step and images/s for one setting of the fast-path switches.

    ``prefill_cache`` runs the pipeline once over the images used, which is what every epoch
    after the first sees when the decode cache is on. ``compile_model`` wraps ``train_step`` in
    ``torch.compile`` exactly as mmengine's Runner does for a config with ``compile = True``
    (the compile itself falls in the warm-up steps). ``remember=False`` makes the deterministic
    steps recompute every time, as stock mmpretrain would (mmtb.datasets.transforms.memo).
    """
    init_default_scope('mmpretrain')  # mmtb's optimizer wrappers live in mmpretrain's scope
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.pipeline = pipeline
    dataset = DATASETS.build(dataset_cfg)
    for transform in dataset.pipeline.transforms:
        if hasattr(transform, 'remember'):
            transform.remember = remember
    batch_size = cfg.train_dataloader.batch_size
    indices = list(range(min(len(dataset), batch_size * (iters + warmup))))
    subset = torch.utils.data.Subset(dataset, indices)
    if prefill_cache:
        for i in indices:
            dataset[i]
    loader = torch.utils.data.DataLoader(subset, batch_size=batch_size, shuffle=False,
                                         num_workers=num_workers, collate_fn=pseudo_collate,
                                         persistent_workers=False)
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    if channels_last:
        to_channels_last(model)
    wrapper_cfg = copy.deepcopy(cfg.optim_wrapper)
    if bf16:
        wrapper_cfg.type, wrapper_cfg.dtype = 'CPUAutocastOptimWrapper', 'bfloat16'
    optim_wrapper = build_optim_wrapper(model, wrapper_cfg)
    if compile_model:
        model.train_step = torch.compile(model.train_step)
    model.train()
    times, losses = [], []
    start = time.perf_counter()
    for batch in loader:  # the loader's time is inside each step
        log = model.train_step(batch, optim_wrapper)
        now = time.perf_counter()
        times.append(now - start)
        losses.append(float(log['loss'].detach()))
        start = now
    timed = times[warmup:] or times
    step_s = statistics.median(timed)
    return dict(step_s=step_s, images_per_s=batch_size / step_s, losses=losses,
                peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
