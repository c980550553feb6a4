"""Where a heat map lands: inside radiologists' lesion boxes, inside the lung field.

Boxes are (x0, y0, x1, y1) in the heat map's pixels, x1/y1 exclusive (as in
``tbx11k256/boxes.csv``). The lung field is the one ``CropLungField`` finds (the same heuristic
the models' pipelines crop with), so "outside the lungs" means outside the region the
cue-removal steps treat as lung; when the heuristic is unsure there is no lung box and the
outside-lung mass is None rather than a guess.
"""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

import numpy as np

from mmtb.datasets.transforms.cue_removal import CropLungField

Box = Sequence[float]


def _box_mask(shape: tuple[int, int], boxes: Iterable[Box]) -> np.ndarray:
    """Boolean HxW mask of the union of ``boxes`` (clipped to the image)."""
    height, width = shape
    mask = np.zeros((height, width), bool)
    for x0, y0, x1, y1 in boxes:
        x0, y0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
        x1, y1 = min(width, int(np.ceil(x1))), min(height, int(np.ceil(y1)))
        if x1 > x0 and y1 > y0:
            mask[y0:y1, x0:x1] = True
    return mask


def peak_in_boxes(cam: np.ndarray, boxes: Iterable[Box]) -> bool:
    """Pointing game: does the map's maximum lie inside one of the boxes?"""
    y, x = np.unravel_index(int(np.argmax(cam)), cam.shape)
    return bool(_box_mask(cam.shape, boxes)[y, x])


def energy_in_boxes(cam: np.ndarray, boxes: Iterable[Box]) -> float:
    """Fraction of the map's mass (sum of its values) inside the boxes; 0 for an empty map."""
    total = float(np.sum(cam))
    return float(np.sum(cam[_box_mask(cam.shape, boxes)])) / total if total > 0 else 0.0


def box_area_fraction(shape: tuple[int, int], boxes: Iterable[Box]) -> float:
    """Fraction of the image inside the boxes: what ``energy_in_boxes`` is by chance."""
    return float(_box_mask(shape, boxes).mean())


def lung_field_box(grey: np.ndarray) -> Optional[tuple[int, int, int, int]]:
    """The lung field (x0, y0, x1, y1) in ``grey``'s pixels, as ``CropLungField`` finds it."""
    return CropLungField().find_lungs(grey)


def mass_outside_lung(cam: np.ndarray, grey: np.ndarray) -> Optional[float]:
    """Fraction of the map's mass outside the lung field of ``grey`` (the map at the image's
    size); None when the lung field cannot be found or the map is empty."""
    if cam.shape != grey.shape[:2]:
        raise ValueError(f'heat map {cam.shape} and image {grey.shape[:2]} differ in size')
    box = lung_field_box(grey)
    if box is None or float(np.sum(cam)) <= 0:
        return None
    return 1.0 - energy_in_boxes(cam, [box])
