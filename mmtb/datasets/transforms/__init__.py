from .cue_removal import CropLungField, IntensityStandardize, MaskBurntInBlocks
from .lesion_paste import PasteLesionPatches
from .loading import LoadGreyXray
from .robust_aug import (
    PasteSyntheticBlocks,
    RandomBlur,
    RandomContrastBrightness,
    RandomGamma,
    RandomJPEG,
    RandomNoise,
)
from .views import PreprocessingViews

__all__ = [
    'CropLungField', 'IntensityStandardize', 'LoadGreyXray', 'MaskBurntInBlocks',
    'PasteLesionPatches', 'PasteSyntheticBlocks', 'PreprocessingViews', 'RandomBlur',
    'RandomContrastBrightness', 'RandomGamma', 'RandomJPEG', 'RandomNoise'
]
