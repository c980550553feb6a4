"""A training set whose samples carry a teacher's P(TB) (``teacher_prob_tb``): distillation.

The soft targets are a JSON file written once by ``tools/distill/teacher_soft_targets.py``:
``labelled`` maps each training image (its ``img_path`` relative to ``data_root``, as in the
annotation file) to the teacher's P(TB); ``unlabelled`` maps more X-rays (absolute paths) that
have no label but that the teacher scored. A labelled image without a target is an error, not
a silent fallback to hard labels: the file was written for another split or data root.
"""
from __future__ import annotations

import json
import os.path as osp

from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

__all__ = ['SoftTargetDataset', 'UNLABELLED', 'read_soft_targets']

UNLABELLED = -1  # gt_label of a sample that only the teacher labelled


def read_soft_targets(path) -> dict:
    with open(path) as f:
        targets = json.load(f)
    if not isinstance(targets, dict) or 'labelled' not in targets:
        raise ValueError(f'{path} is not a soft-target file (no "labelled" entry); write one '
                         'with tools/distill/teacher_soft_targets.py')
    return targets


@DATASETS.register_module()
class SoftTargetDataset(BaseDataset):
    """mmpretrain's ``BaseDataset`` plus the teacher's ``teacher_prob_tb`` on every sample.

    Args:
        soft_targets: the JSON file of teacher probabilities.
        use_unlabelled: also train on the file's unlabelled images (soft term only).
        **kwargs: ``BaseDataset``'s (ann_file, data_root, pipeline, ...).
    """

    def __init__(self, *args, soft_targets: str, use_unlabelled: bool = True,
                 **kwargs):
        self.soft_targets_file = soft_targets
        self.use_unlabelled = bool(use_unlabelled)
        super().__init__(*args, **kwargs)

    def _relative(self, img_path: str) -> str:
        root = self.data_root or ''
        return osp.relpath(img_path, root) if root else img_path

    def load_data_list(self) -> list[dict]:
        data_list = super().load_data_list()
        targets = read_soft_targets(self.soft_targets_file)
        labelled: dict = targets['labelled']
        missing = [info['img_path'] for info in data_list
                   if self._relative(info['img_path']) not in labelled]
        if missing:
            raise KeyError(f'{len(missing)} of {len(data_list)} training images have no '
                           f'teacher target in {self.soft_targets_file} (e.g. {missing[0]}); '
                           'rewrite it for this data root and split')
        for info in data_list:
            info['teacher_prob_tb'] = float(labelled[self._relative(info['img_path'])])
        if self.use_unlabelled:
            data_list += [dict(img_path=path, gt_label=UNLABELLED,
                               teacher_prob_tb=float(prob))
                          for path, prob in sorted(targets.get('unlabelled', {}).items())]
        return data_list

    def extra_repr(self) -> list[str]:
        return [*super().extra_repr(), f'Soft targets: \t{self.soft_targets_file}']
