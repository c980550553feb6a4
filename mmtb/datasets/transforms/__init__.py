from .cue_removal import CropLungField, IntensityStandardize, MaskBurntInBlocks
from .loading import LoadGreyXray
from .robust_aug import (
    PasteSyntheticBlocks,
    RandomBlur,
    RandomContrastBrightness,
    RandomGamma,
    RandomJPEG,
    RandomNoise,
)

__all__ = [
    'CropLungField', 'IntensityStandardize', 'LoadGreyXray', 'MaskBurntInBlocks',
    'PasteSyntheticBlocks', 'RandomBlur', 'RandomContrastBrightness', 'RandomGamma',
    'RandomJPEG', 'RandomNoise'
]
