"""Several trainings of one config, averaged: the cheap cure for seed-to-seed noise.

On an external hospital's X-rays, runs of one config that differ only in their seed spread over
0.3 ROC AUC here (docs/results/shortcut_study.md), so shipping one run ships a draw from that noise.
The ensemble keeps the runs whole (``members.<i>.`` + their own weights) and predicts their mean
P(class):

* ``mode='predict'``: DataSamples whose ``pred_score`` is the members' mean softmax and whose
  ``pred_label`` is its argmax, as mmpretrain's heads fill them;
* ``mode='tensor'``: the log of that mean, so that ``softmax(output)`` is the mean probability,
  which is what Grad-CAM and every caller of ``mode='tensor'`` then explain or score.

Members may also come from different recipes of one architecture whose test preprocessing
differs (``member_views``): the pipeline then stacks one preprocessed view per recipe as
channels (``PreprocessingViews``, 3 channels per view) and each member reads its view's.

Training is per member (``tools/train.py`` with ``--cfg-options randomness.seed=...``); the
ensemble is assembled from their checkpoints by ``tools/model_converters/make_seed_ensemble.py``.
"""
import copy
from typing import List, Optional, Sequence

import torch
from mmengine.model import BaseModel
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import nn

from mmtb.utils.compact_weights import dequantize_on_load

VIEW_CHANNELS = 3  # a view is the grey image replicated, as each member was trained on it


@MODELS.register_module()
class SeedEnsembleClassifier(BaseModel):
    """``num_members`` copies of the classifier ``member`` whose probabilities are averaged.

    Args:
        member: the config of one member (an ``ImageClassifier`` dict).
        num_members: how many members (seeds) the checkpoint holds.
        data_preprocessor: shared by all members (they were trained with the same one; with
            views, its mean/std has one entry per view).
        member_views: None (every member reads the whole input), or per member the index of
            the ``PreprocessingViews`` view it reads: input channels ``3 * view`` to
            ``3 * view + 2``.
    """

    def __init__(self, member: dict, num_members: int,
                 data_preprocessor: Optional[dict] = None,
                 member_views: Optional[Sequence[int]] = None, init_cfg: Optional[dict] = None):
        if num_members < 1:
            raise ValueError(f'num_members must be >= 1, got {num_members}')
        if member_views is not None and (len(member_views) != num_members
                                         or min(member_views) < 0):
            raise ValueError(f'member_views needs one view index >= 0 per member '
                             f'({num_members}), got {member_views}')
        data_preprocessor = dict(data_preprocessor or member.get('data_preprocessor') or {})
        data_preprocessor.setdefault('type', 'ClsDataPreprocessor')
        # built from mmpretrain's registry, as mmpretrain's classifiers do (mmengine's
        # BaseModel would look in its own); mmpretrain's BaseClassifier is not imported because
        # importing mmpretrain.models loads every model family (and mmcv's op warnings)
        super().__init__(init_cfg=init_cfg, data_preprocessor=MODELS.build(data_preprocessor))
        self.member_views = None if member_views is None else [int(v) for v in member_views]
        self.members = nn.ModuleList(
            MODELS.build(copy.deepcopy(member)) for _ in range(num_members))
        # a published ensemble may hold int8 weights (publish_default_model.py --int8)
        self.register_load_state_dict_pre_hook(dequantize_on_load)

    @property
    def head(self) -> nn.Module:
        """The first member's head (all members share its classes)."""
        return self.members[0].head

    def member_input(self, inputs: torch.Tensor, index: int) -> torch.Tensor:
        """What member ``index`` reads: the input, or its view's 3 channels."""
        if self.member_views is None:
            return inputs
        first = VIEW_CHANNELS * self.member_views[index]
        if first + VIEW_CHANNELS > inputs.shape[1]:
            raise ValueError(f'member {index} reads view {self.member_views[index]}, the input '
                             f'has {inputs.shape[1]} channels (is PreprocessingViews in the '
                             'pipeline?)')
        return inputs[:, first:first + VIEW_CHANNELS]

    def mean_probability(self, inputs: torch.Tensor, views: bool = True) -> torch.Tensor:
        """The members' mean softmax (N x classes); ``views=False``: every member reads the
        whole (3-channel) input instead of its view, as an online distillation teacher does."""
        probs = [torch.softmax(m(self.member_input(inputs, i) if views else inputs,
                                 mode='tensor').float(), dim=1)
                 for i, m in enumerate(self.members)]
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
