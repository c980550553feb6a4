"""bf16 autocast on CPUs through mmengine's optimizer-wrapper interface.

mmengine's ``AmpOptimWrapper`` refuses to run without a GPU. On CPUs with bf16 support, autocast
to bfloat16 speeds up ResNet50 (docs/benchmarks.md "Training", timed by
``tools/analysis_tools/benchmark.py``) while the weights, gradients and optimizer state stay
fp32, and bf16's fp32-sized exponent needs no loss scaling.
"""
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from mmpretrain.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class CPUAutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward pass runs under ``torch.autocast('cpu', bf16)``."""

    def __init__(self, *args, dtype: str = 'bfloat16', **kwargs):
        super().__init__(*args, **kwargs)
        self.dtype = getattr(torch, dtype)

    @contextmanager
    def optim_context(self, model):
        with super().optim_context(model), torch.autocast('cpu', dtype=self.dtype):
            yield
