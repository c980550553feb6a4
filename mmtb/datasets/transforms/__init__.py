from .cue_removal import CropLungField, IntensityStandardize, MaskBurntInBlocks
from .loading import LoadGreyXray, grey_to_model_input
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
    'RandomJPEG', 'RandomNoise', 'grey_to_model_input'
]
