"""Loading transform: the paper's preprocessing (grey with OpenCV, square resize) in one place."""
import os

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS

from mmtb.io.decode import read_grey


def resize_grey(grey: np.ndarray, size: int) -> np.ndarray:
    """Square-resize a uint8 grey radiograph (INTER_AREA: almost every X-ray shrinks)."""
    if grey.shape == (size, size):
        return grey
    interpolation = cv2.INTER_AREA if min(grey.shape) >= size else cv2.INTER_LINEAR
    return cv2.resize(grey, (size, size), interpolation=interpolation)


def to_three_channels(grey: np.ndarray) -> np.ndarray:
    """Replicate grey to 3 channels: ImageNet-shaped stems (and their pretrained weights) stay
    usable, and mmpretrain's RandAugment policies expect 3-channel images."""
    return np.repeat(grey[:, :, None], 3, axis=2)


@TRANSFORMS.register_module()
class LoadGreyXray(BaseTransform):
    """Decode ``results['img_path']`` (PNG/JPEG/16-bit/DICOM) to a grey, resized 3-channel image.

    Every pipeline starts with this transform, so the input size of a config is the single
    ``size`` field here (``tools/train.py --img-size`` changes it everywhere at once).
    If ``results`` already holds an ``img`` (the app passes decoded arrays), it is used as is.

    With ``cache`` on, each file is decoded and resized once per process and later epochs only
    augment; an entry is rebuilt when the file's modification time or size changes, and the
    cache stops growing at ``max_cache_mb`` (per data-loader worker).

    Args:
        size: side of the square model input (the paper uses 512).
        cache: keep decoded, resized images in memory.
        max_cache_mb: memory bound of the cache in MiB.
    """

    _cache: dict = {}  # (path, size) -> ((mtime_ns, file size), grey, original shape)
    _cache_bytes = 0

    def __init__(self, size: int = 512, cache: bool = True, max_cache_mb: int = 4096):
        self.size = int(size)
        self.cache = cache
        self.max_cache_bytes = max_cache_mb * 2**20

    def _load(self, path: str):
        """The resized grey image of ``path`` and its original shape, from cache when valid."""
        if not self.cache:
            grey = read_grey(path)
            return resize_grey(grey, self.size), grey.shape[:2]
        stat = os.stat(path)
        version = (stat.st_mtime_ns, stat.st_size)
        key = (path, self.size)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == version:
            return hit[1], hit[2]
        grey = read_grey(path)
        resized = resize_grey(grey, self.size)
        if hit is None:  # a new entry, if the memory bound allows it
            if LoadGreyXray._cache_bytes + resized.nbytes > self.max_cache_bytes:
                return resized, grey.shape[:2]
            LoadGreyXray._cache_bytes += resized.nbytes
        self._cache[key] = (version, resized, grey.shape[:2])
        return resized, grey.shape[:2]

    def transform(self, results: dict) -> dict:
        img = results.get('img')
        if img is None:
            grey, ori_shape = self._load(results['img_path'])
        else:
            grey = cv2.cvtColor(img[:, :, :3], cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
            ori_shape = grey.shape[:2]
            grey = resize_grey(grey, self.size)
        results['ori_shape'] = ori_shape
        results['img'] = to_three_channels(grey)
        results['img_shape'] = results['img'].shape[:2]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(size={self.size}, cache={self.cache})'
