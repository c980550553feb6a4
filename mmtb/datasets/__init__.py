"""What configs build at training and test time: dataset classes and transforms.

Preparing the data beforehand (readers, downloads, de-duplication, splits) is
:mod:`mmtb.data_prep`.
"""
from .soft_targets import SoftTargetDataset
from .transforms import LoadGreyXray

__all__ = ['LoadGreyXray', 'SoftTargetDataset']
