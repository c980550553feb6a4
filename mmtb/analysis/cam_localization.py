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


def _mean(values) -> Optional[float]:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _summary(rows: list[dict]) -> dict:
    """The pointing game, mass in boxes and its chance level, mass outside the lungs."""
    energy, chance = _mean(r['energy_in_boxes'] for r in rows), _mean(
        r['box_area_fraction'] for r in rows)
    return {'num_images': len(rows),
            'pointing_game': _mean(r['peak_in_boxes'] for r in rows),
            'energy_in_boxes': energy,
            'box_area_fraction': chance,
            'energy_over_chance': energy / chance if energy is not None and chance else None,
            'outside_lung': _mean(r['outside_lung'] for r in rows),
            'num_lung_field_found': sum(r['outside_lung'] is not None for r in rows)}


def localization_report(screener, images: dict) -> dict:
    """Grad-CAM of ``screener`` (the app's own path: the one decoder, then
    ``predict_decoded(with_cam=True)``) on every image, checked against its lesion boxes.

    Args:
        screener: a :class:`mmtb.apis.TBScreener`.
        images: ``{path: [(kind, (x0, y0, x1, y1)), ...]}``, boxes in the file's pixels.

    Returns:
        ``{'overall': summary, 'per_kind': {kind: summary}, 'images': [row, ...]}``; an image
        counts towards every kind among its boxes (its map is scored against all its boxes).
    """
    from mmtb.io.decode import decode_xray

    rows = []
    for path, boxes in images.items():
        decoded = decode_xray(path)
        cam = screener.predict_decoded(decoded, with_cam=True).cam
        coords = [box for _, box in boxes]
        rows.append({'file': str(path), 'kinds': sorted({kind for kind, _ in boxes}),
                     'peak_in_boxes': peak_in_boxes(cam, coords),
                     'energy_in_boxes': energy_in_boxes(cam, coords),
                     'box_area_fraction': box_area_fraction(cam.shape, coords),
                     'outside_lung': mass_outside_lung(cam, decoded.grey)})
    kinds = sorted({kind for row in rows for kind in row['kinds']})
    return {'overall': _summary(rows),
            'per_kind': {kind: _summary([r for r in rows if kind in r['kinds']])
                         for kind in kinds},
            'images': rows}


def summary_line(report: dict) -> str:
    """One line for a terminal: the overall numbers."""
    s = report['overall']

    def fmt(value):
        return 'n/a' if value is None else f'{value:.3f}'

    return (f"cam localization on {s['num_images']} images: pointing_game {fmt(s['pointing_game'])}"
            f", energy_in_boxes {fmt(s['energy_in_boxes'])} (chance box_area_fraction "
            f"{fmt(s['box_area_fraction'])}), outside_lung {fmt(s['outside_lung'])}")
