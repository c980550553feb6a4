"""Feature pyramid neck for image classification.

mmpretrain has no FPN neck (FPNs live in mmdet, which we do not depend on), so this wraps
``torchvision.ops.FeaturePyramidNetwork``: several backbone stages are fused top-down, every
pyramid level is globally average-pooled, and the pooled levels are averaged into one vector
for a linear head. Small lesions seen at fine levels then reach the classifier directly.
"""
from collections import OrderedDict
from typing import Sequence, Tuple

import torch
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch import nn
from torchvision.ops import FeaturePyramidNetwork


@MODELS.register_module()
class FPNNeck(BaseModule):
    """Top-down FPN over the backbone's stages, pooled to one feature vector.

    Args:
        in_channels: channels of the backbone outputs, coarsest last.
        out_channels: channels of every pyramid level and of the pooled vector.
        init_cfg: mmengine initialisation config.
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int = 256, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.in_channels = list(in_channels)
        self.out_channels = out_channels
        self.fpn = FeaturePyramidNetwork(self.in_channels, out_channels)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward_pyramid(self, inputs: Tuple[torch.Tensor, ...]) -> list:
        """The fused pyramid levels, finest first (the finest is the Grad-CAM target)."""
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'FPNNeck expects {len(self.in_channels)} backbone stages, got '
                             f'{len(inputs)}: set the backbone out_indices to match in_channels')
        levels = self.fpn(OrderedDict((str(i), x) for i, x in enumerate(inputs)))
        return list(levels.values())

    def forward(self, inputs: Tuple[torch.Tensor, ...]) -> Tuple[torch.Tensor]:
        pooled = [self.pool(level).flatten(1) for level in self.forward_pyramid(inputs)]
        return (torch.stack(pooled).mean(0),)
