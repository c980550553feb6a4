"""Loading transform: the paper's preprocessing (grey with OpenCV, square resize) in one place."""
import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS

from mmtb.io.decode import read_grey


def grey_to_model_input(grey: np.ndarray, size: int) -> np.ndarray:
    """Resize a uint8 grey radiograph to ``size`` x ``size`` and replicate it to 3 channels.

    The three identical channels keep ImageNet-shaped stems (and their pretrained weights)
    usable and satisfy mmpretrain's RandAugment, whose policies expect 3-channel images.
    INTER_AREA because almost every X-ray is downsampled.
    """
    if grey.shape != (size, size):
        interpolation = cv2.INTER_AREA if min(grey.shape) >= size else cv2.INTER_LINEAR
        grey = cv2.resize(grey, (size, size), interpolation=interpolation)
    return np.repeat(grey[:, :, None], 3, axis=2)


@TRANSFORMS.register_module()
class LoadGreyXray(BaseTransform):
    """Decode ``results['img_path']`` (PNG/JPEG/16-bit/DICOM) to a grey, resized 3-channel image.

    Every pipeline starts with this transform, so the input size of a config is the single
    ``size`` field here (``tools/train.py --img-size`` changes it everywhere at once).
    If ``results`` already holds an ``img`` (the app passes decoded arrays), it is used as is.

    Args:
        size: side of the square model input (the paper uses 512).
    """

    def __init__(self, size: int = 512):
        self.size = int(size)

    def transform(self, results: dict) -> dict:
        img = results.get('img')
        if img is None:
            grey = read_grey(results['img_path'])
        elif img.ndim == 3:
            grey = cv2.cvtColor(img[:, :, :3], cv2.COLOR_BGR2GRAY)
        else:
            grey = img
        results['ori_shape'] = grey.shape[:2]
        results['img'] = grey_to_model_input(grey, self.size)
        results['img_shape'] = results['img'].shape[:2]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(size={self.size})'
