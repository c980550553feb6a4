from .soft_targets import SoftTargetDataset
from .transforms import LoadGreyXray

__all__ = ['LoadGreyXray', 'SoftTargetDataset']
