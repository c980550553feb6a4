"""Channels-last memory format for training and evaluation on CPUs.

oneDNN convolutions run faster on NHWC tensors (part of the fast path timed by
``tools/analysis_tools/benchmark.py``, docs/benchmarks.md "Training"); converting the weights
is enough, since PyTorch then runs every convolution in channels-last. What is learned does
not change.
"""
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS


def to_channels_last(model: torch.nn.Module) -> torch.nn.Module:
    """Convert a model's 4-D parameters and buffers to channels-last in place."""
    module = model.module if is_model_wrapper(model) else model
    return module.to(memory_format=torch.channels_last)


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Switch the runner's model to channels-last before training or testing."""

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        to_channels_last(runner.model)
