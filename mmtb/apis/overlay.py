"""Grad-CAM overlays: the heat map blended over the radiograph, and its colour scale."""
import cv2
import numpy as np
from pytorch_grad_cam.utils.image import show_cam_on_image

__all__ = ['cam_scale_bar', 'overlay_cam']


def overlay_cam(grey: np.ndarray, cam: np.ndarray, alpha: float = 0.4) -> np.ndarray:
    """RGB uint8 HxWx3: the jet-coloured CAM blended over the grey radiograph (weight alpha)."""
    if grey.shape[:2] != cam.shape[:2]:
        raise ValueError(f'CAM shape {cam.shape[:2]} differs from the image {grey.shape[:2]}')
    if not 0 <= alpha <= 1:
        raise ValueError(f'alpha must be in [0, 1], got {alpha}')
    rgb = np.repeat(grey[:, :, None], 3, axis=2).astype(np.float32) / 255.0
    return show_cam_on_image(rgb, np.clip(cam, 0, 1), use_rgb=True, image_weight=1 - alpha)


def cam_scale_bar(width: int = 256, height: int = 14) -> np.ndarray:
    """RGB uint8 strip of overlay_cam's colours from 0 (left, blue) to 1 (right, red): the
    heat map's colour scale, drawn with the same OpenCV colour map grad-cam uses."""
    ramp = np.tile(np.linspace(0, 255, width).astype(np.uint8), (height, 1))
    return cv2.cvtColor(cv2.applyColorMap(ramp, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)

