"""Several trainings of one config, averaged: the cheap cure for seed-to-seed noise.

On an external hospital's X-rays, runs of one config that differ only in their seed spread over
0.3 ROC AUC here (README, shortcut study), so shipping one run ships a draw from that noise.
The ensemble keeps the runs whole (``members.<i>.`` + their own weights) and predicts their mean
P(class):

* ``mode='predict'``: DataSamples whose ``pred_score`` is the members' mean softmax and whose
  ``pred_label`` is its argmax, as mmpretrain's heads fill them;
* ``mode='tensor'``: the log of that mean, so that ``softmax(output)`` is the mean probability,
  which is what Grad-CAM and every caller of ``mode='tensor'`` then explain or score.

Training is per member (``tools/train.py`` with ``--cfg-options randomness.seed=...``); the
ensemble is assembled from their checkpoints by ``tools/model_converters/make_seed_ensemble.py``.
"""
import copy
from typing import List, Optional

import torch
from mmengine.model import BaseModel
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import nn


@MODELS.register_module()
class SeedEnsembleClassifier(BaseModel):
    """``num_members`` copies of the classifier ``member`` whose probabilities are averaged.

    Args:
        member: the config of one member (an ``ImageClassifier`` dict).
        num_members: how many members (seeds) the checkpoint holds.
        data_preprocessor: shared by all members (they were trained with the same one).
    """

    def __init__(self, member: dict, num_members: int,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None):
        if num_members < 1:
            raise ValueError(f'num_members must be >= 1, got {num_members}')
        data_preprocessor = dict(data_preprocessor or member.get('data_preprocessor') or {})
        data_preprocessor.setdefault('type', 'ClsDataPreprocessor')
        # built from mmpretrain's registry, as mmpretrain's classifiers do (mmengine's
        # BaseModel would look in its own); mmpretrain's BaseClassifier is not imported because
        # importing mmpretrain.models loads every model family (and mmcv's op warnings)
        super().__init__(init_cfg=init_cfg, data_preprocessor=MODELS.build(data_preprocessor))
        self.members = nn.ModuleList(
            MODELS.build(copy.deepcopy(member)) for _ in range(num_members))

    @property
    def head(self) -> nn.Module:
        """The first member's head (all members share its classes)."""
        return self.members[0].head

    def mean_probability(self, inputs: torch.Tensor) -> torch.Tensor:
        """The members' mean softmax (N x classes)."""
        probs = [torch.softmax(m(inputs, mode='tensor').float(), dim=1) for m in self.members]
        return torch.stack(probs).mean(0)

    def forward(self, inputs: torch.Tensor, data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        if mode == 'tensor':
            return torch.log(self.mean_probability(inputs).clamp_min(1e-12))
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'loss':
            raise RuntimeError('a seed ensemble is not trained as one model: train each member '
                               'config with its seed, then combine the checkpoints with '
                               'tools/model_converters/make_seed_ensemble.py')
        raise RuntimeError(f'Invalid mode "{mode}".')

    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None) -> List[DataSample]:
        scores = self.mean_probability(inputs)
        labels = scores.argmax(dim=1, keepdim=True)
        samples = data_samples or [None] * len(scores)
        return [(sample if sample is not None else DataSample())
                .set_pred_score(score).set_pred_label(label)
                for sample, score, label in zip(samples, scores, labels)]
