"""Augmentations against acquisition shift and burnt-in cues.

Other hospitals differ in exposure (gamma, contrast, brightness), sharpness, detector noise and
compression; the training set should already show that variety, so a model cannot lean on one
site's look. ``PasteSyntheticBlocks`` is a counter-cue: it pastes white boxes and text onto
images of both classes, so burnt-in marks stop predicting the label. Scale and crop shifts are
covered by mmpretrain's own ``RandomResizedCrop`` (not repeated here).

Each transform fires with probability ``prob`` and draws its parameters from numpy's global
RNG (mmcv's convention: ``np.random.seed`` or mmengine's ``randomness.seed`` makes runs
reproducible). Images are uint8 HxW or HxWx3 grey-replicated and stay so: the change is
computed on the grey image and written to every channel.
"""
import string
from typing import Sequence

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS

from .cue_removal import grey_of, with_channels_of

__all__ = ['PasteSyntheticBlocks', 'RandomBlur', 'RandomContrastBrightness', 'RandomGamma',
           'RandomJPEG', 'RandomNoise']


def _check_prob(prob: float) -> float:
    if not 0 <= prob <= 1:
        raise ValueError(f'prob must be in [0, 1], got {prob}')
    return float(prob)


def _check_range(values: Sequence[float], name: str, low: float = -np.inf) -> tuple:
    values = tuple(float(v) for v in values)
    if len(values) != 2 or not low <= values[0] <= values[1]:
        raise ValueError(f'{name} must be (min, max) with {low} <= min <= max, got {values}')
    return values


class _GreyAugment(BaseTransform):
    """Apply ``augment(grey)`` with probability ``prob``; everything else stays untouched."""

    def __init__(self, prob: float):
        self.prob = _check_prob(prob)

    def _fires(self) -> bool:
        return bool(np.random.rand() < self.prob)

    def augment(self, grey: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def transform(self, results: dict) -> dict:
        if self._fires():
            img = results['img']
            results['img'] = with_channels_of(self.augment(grey_of(img)), img)
        return results


@TRANSFORMS.register_module()
class RandomGamma(_GreyAugment):
    """Gamma curve ``255 * (x / 255) ** gamma`` with gamma uniform in ``gamma_range``
    (gamma < 1 brightens, > 1 darkens: differently processed detectors)."""

    def __init__(self, gamma_range: Sequence[float] = (0.7, 1.5), prob: float = 0.5):
        super().__init__(prob)
        self.gamma_range = _check_range(gamma_range, 'gamma_range', low=1e-3)

    def augment(self, grey):
        gamma = np.random.uniform(*self.gamma_range)
        lut = np.clip(np.rint(255 * (np.arange(256) / 255) ** gamma), 0, 255).astype(np.uint8)
        return cv2.LUT(grey, lut)

    def __repr__(self):
        return f'{self.__class__.__name__}(gamma_range={self.gamma_range}, prob={self.prob})'


@TRANSFORMS.register_module()
class RandomContrastBrightness(_GreyAugment):
    """Contrast scaled around the image mean by a factor in ``contrast_range``, then a
    brightness offset (grey levels) in ``brightness_range``: exposure and windowing shifts."""

    def __init__(self, contrast_range: Sequence[float] = (0.75, 1.25),
                 brightness_range: Sequence[float] = (-25, 25), prob: float = 0.5):
        super().__init__(prob)
        self.contrast_range = _check_range(contrast_range, 'contrast_range', low=0)
        self.brightness_range = _check_range(brightness_range, 'brightness_range')

    def augment(self, grey):
        contrast = np.random.uniform(*self.contrast_range)
        brightness = np.random.uniform(*self.brightness_range)
        values = grey.astype(np.float32)
        values = (values - values.mean()) * contrast + values.mean() + brightness
        return np.clip(np.rint(values), 0, 255).astype(np.uint8)

    def __repr__(self):
        return (f'{self.__class__.__name__}(contrast_range={self.contrast_range}, '
                f'brightness_range={self.brightness_range}, prob={self.prob})')


@TRANSFORMS.register_module()
class RandomBlur(_GreyAugment):
    """Gaussian blur with sigma (pixels) in ``sigma_range``: softer detectors and resampling."""

    def __init__(self, sigma_range: Sequence[float] = (0.3, 1.2), prob: float = 0.3):
        super().__init__(prob)
        self.sigma_range = _check_range(sigma_range, 'sigma_range', low=1e-3)

    def augment(self, grey):
        sigma = np.random.uniform(*self.sigma_range)
        return cv2.GaussianBlur(grey, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)

    def __repr__(self):
        return f'{self.__class__.__name__}(sigma_range={self.sigma_range}, prob={self.prob})'


@TRANSFORMS.register_module()
class RandomNoise(_GreyAugment):
    """Additive Gaussian noise, standard deviation (grey levels) in ``std_range``: detector and
    quantum noise differ between machines and doses."""

    def __init__(self, std_range: Sequence[float] = (2, 8), prob: float = 0.3):
        super().__init__(prob)
        self.std_range = _check_range(std_range, 'std_range', low=0)

    def augment(self, grey):
        std = np.random.uniform(*self.std_range)
        noisy = grey.astype(np.float32) + np.random.normal(0, std, grey.shape)
        return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)

    def __repr__(self):
        return f'{self.__class__.__name__}(std_range={self.std_range}, prob={self.prob})'


@TRANSFORMS.register_module()
class RandomJPEG(_GreyAugment):
    """JPEG re-compression at a quality in ``quality_range`` (cv2.imencode / imdecode):
    images reach archives and web datasets through lossy compression of varying strength."""

    def __init__(self, quality_range: Sequence[int] = (30, 90), prob: float = 0.3):
        super().__init__(prob)
        low, high = _check_range(quality_range, 'quality_range', low=1)
        if high > 100:
            raise ValueError(f'quality_range must lie within [1, 100], got {quality_range}')
        self.quality_range = (int(low), int(high))

    def augment(self, grey):
        quality = int(np.random.randint(self.quality_range[0], self.quality_range[1] + 1))
        ok, encoded = cv2.imencode('.jpg', grey, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:  # never seen for uint8 grey; keep the image rather than fail a batch
            return grey
        return cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)

    def __repr__(self):
        return f'{self.__class__.__name__}(quality_range={self.quality_range}, prob={self.prob})'


@TRANSFORMS.register_module()
class PasteSyntheticBlocks(_GreyAugment):
    """Counter-cue augmentation: paste 1..``max_blocks`` white rectangles or white text lines
    at random places, whatever the label, so burnt-in marks stop predicting TB.

    In the development database redaction blocks sit on about a third of the TB images but a
    tenth of the normals; ``MaskBurntInBlocks`` removes the ones it finds, and this teaches the
    model to ignore the ones it misses.

    Args:
        prob: probability that an image gets any marks.
        max_blocks: most marks per image (the count is uniform in 1..max_blocks).
        area_range: rectangle area as a fraction of the image.
        text_prob: probability that a mark is text (cv2.putText) instead of a rectangle.
        value: grey level of the marks (255: burnt-in white).
    """

    _LETTERS = string.ascii_uppercase + string.digits + ' :/-'

    def __init__(self, prob: float = 0.5, max_blocks: int = 3,
                 area_range: Sequence[float] = (0.003, 0.03), text_prob: float = 0.5,
                 value: int = 255):
        super().__init__(prob)
        if int(max_blocks) < 1:
            raise ValueError(f'max_blocks must be >= 1, got {max_blocks}')
        self.max_blocks = int(max_blocks)
        self.area_range = _check_range(area_range, 'area_range', low=0)
        self.text_prob = _check_prob(text_prob)
        self.value = int(value)

    def _paste_rectangle(self, grey: np.ndarray) -> None:
        height, width = grey.shape
        area = np.random.uniform(*self.area_range) * height * width
        aspect = np.exp(np.random.uniform(np.log(0.3), np.log(4.0)))  # width / height
        w = int(np.clip(round(np.sqrt(area * aspect)), 1, width))
        h = int(np.clip(round(np.sqrt(area / aspect)), 1, height))
        x = np.random.randint(0, width - w + 1)
        y = np.random.randint(0, height - h + 1)
        grey[y:y + h, x:x + w] = self.value

    def _paste_text(self, grey: np.ndarray) -> None:
        height, width = grey.shape
        length = np.random.randint(2, 11)
        text = ''.join(np.random.choice(list(self._LETTERS), length)).strip() or 'R'
        scale = np.random.uniform(0.2, 0.6) * min(height, width) / 256
        thickness = max(1, int(round(scale * np.random.uniform(1.5, 3.5))))
        (text_w, text_h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        x = np.random.randint(0, max(1, width - text_w))
        y = np.random.randint(min(text_h + 1, height - 1), height)
        line_type = cv2.LINE_8 if np.random.rand() < 0.5 else cv2.LINE_AA  # both occur
        cv2.putText(grey, text, (int(x), int(y)), cv2.FONT_HERSHEY_SIMPLEX, scale, self.value,
                    thickness, line_type)

    def augment(self, grey):
        out = grey.copy()
        for _ in range(np.random.randint(1, self.max_blocks + 1)):
            if np.random.rand() < self.text_prob:
                self._paste_text(out)
            else:
                self._paste_rectangle(out)
        return out

    def __repr__(self):
        return (f'{self.__class__.__name__}(prob={self.prob}, max_blocks={self.max_blocks}, '
                f'area_range={self.area_range}, text_prob={self.text_prob})')
