"""Lesion-aware augmentation: real TB lesions, and matched controls, pasted into training X-rays.

Why: the development database's TB is florid, so a model trained on it learns florid TB and
misses subtle lesions from other hospitals. Pasting radiologist-boxed lesions (e.g. TBX11K's)
into the lung fields of training X-rays shows the model small, subtle TB. A patch source that
appeared only in TB-labelled images would teach "this texture / this hospital = TB", so every
lesion patch has a **control**: the same-sized region mirrored across the midline of the same
source X-ray (the other lung, lesion-free), pasted at the same place into other images whose
label it does not change. Lesion and control patches thus come from the same films and land at
the same positions with the same Poisson blending (``cv2.seamlessClone``): only the lesion
content tells them apart.

Only the boxed images of the ``'patch'`` half of :func:`mmtb.data_prep.boxes.lesion_split` are
used; the ``'eval'`` half stays unseen, to measure what this changes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS

from mmtb.data_prep.boxes import lesion_split, read_lesion_boxes
from mmtb.datasets.transforms.cue_removal import grey_of, with_channels_of
from mmtb.io.decode import read_grey

TB_LABEL = 1


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def mirrored_control(box, boxes, width: int) -> Optional[tuple]:
    """``box`` mirrored across the image's vertical midline, or None when the mirror touches
    any lesion box (then no lesion-free control of that place exists on this film)."""
    x0, y0, x1, y1 = box
    mirror = (width - x1, y0, width - x0, y1)
    return None if any(_overlaps(mirror, other) for other in boxes) else mirror


@TRANSFORMS.register_module()
class PasteLesionPatches(BaseTransform):
    """Paste boxed lesions (label becomes TB) or their mirrored controls (label kept).

    Runs right after ``LoadGreyXray`` (positions are in whole-film coordinates; the cue-removal
    steps then treat pasted and original pixels alike). Per call, with ``lesion_prob`` a random
    source film's lesions are pasted at their own (jittered) positions and the label becomes
    tuberculosis; otherwise, with ``control_prob``, the same film's controls are pasted at the
    lesions' positions and the label stays. Boxes whose control would overlap a lesion are
    skipped in both, so both kinds of patch cover the same places.

    Args:
        boxes_file: ``file,kind,x0,y0,x1,y1`` CSV (``read_lesion_boxes``), in the pixels of the
            images in ``image_root``.
        image_root: folder holding the boxed images (looked up by file name, recursively).
        lesion_prob: chance of pasting lesions (the image becomes a TB example).
        control_prob: chance of pasting controls when no lesion was pasted.
        jitter: largest shift of a paste, as a fraction of the image side.
        split: which half of the boxed images to use ('patch'; 'eval' only for tests).
    """

    def __init__(self, boxes_file: str, image_root: str, lesion_prob: float = 0.25,
                 control_prob: float = 0.35, jitter: float = 0.04, split: str = 'patch'):
        self.lesion_prob, self.control_prob = float(lesion_prob), float(control_prob)
        self.jitter = float(jitter)
        paths = {p.name: p for p in Path(image_root).rglob('*') if p.is_file()}
        self.sources = []  # (grey film, [(lesion box, control box), ...])
        for name, boxes in sorted(read_lesion_boxes(boxes_file).items()):
            if lesion_split(name) != split or name not in paths:
                continue
            grey = read_grey(str(paths[name]))
            rects = [box for _, box in boxes]
            pairs = [(box, control) for box in rects
                     if (control := mirrored_control(box, rects, grey.shape[1])) is not None]
            if pairs:
                self.sources.append((grey, pairs))
        if not self.sources:
            raise ValueError(f'no usable lesion boxes for split {split!r} in {boxes_file} '
                             f'with images under {image_root}')

    def _paste(self, grey: np.ndarray, film: np.ndarray, pairs, use_lesion: bool,
               rng: np.random.Generator) -> np.ndarray:
        height, width = grey.shape
        sy, sx = height / film.shape[0], width / film.shape[1]
        film = cv2.resize(film, (width, height), interpolation=cv2.INTER_AREA)
        out = cv2.merge([grey] * 3)
        for lesion, control in pairs:
            x0, y0, x1, y1 = (lesion if use_lesion else control)
            px0, py0 = int(x0 * sx), int(y0 * sy)
            pw, ph = max(4, int(np.ceil((x1 - x0) * sx))), max(4, int(np.ceil((y1 - y0) * sy)))
            patch = film[py0:py0 + ph, px0:px0 + pw]
            ph, pw = patch.shape
            if ph < 4 or pw < 4 or ph >= height - 2 or pw >= width - 2:
                continue
            shift = self.jitter * np.array([width, height]) * rng.uniform(-1, 1, 2)
            # the destination is the lesion's place for both kinds of patch
            cx = int(np.clip(lesion[0] * sx + pw / 2 + shift[0], pw / 2 + 1, width - pw / 2 - 1))
            cy = int(np.clip(lesion[1] * sy + ph / 2 + shift[1], ph / 2 + 1,
                             height - ph / 2 - 1))
            mask = np.zeros((ph, pw), np.uint8)
            cv2.ellipse(mask, (pw // 2, ph // 2), (max(1, pw // 2 - 1), max(1, ph // 2 - 1)),
                        0, 0, 360, 255, -1)
            out = cv2.seamlessClone(cv2.merge([patch] * 3), out, mask, (cx, cy),
                                    cv2.NORMAL_CLONE)
        return out[:, :, 0]

    def transform(self, results: dict) -> dict:
        # from numpy's global state, which mmengine seeds (per dataloader worker too)
        rng = np.random.default_rng(np.random.randint(2**31))
        use_lesion = rng.random() < self.lesion_prob
        if not use_lesion and rng.random() >= self.control_prob:
            return results
        film, pairs = self.sources[rng.integers(len(self.sources))]
        img = results['img']
        results['img'] = with_channels_of(self._paste(grey_of(img), film, pairs, use_lesion,
                                                      rng), img)
        if use_lesion:
            results['gt_label'] = TB_LABEL
        results['lesion_pasted'] = use_lesion
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(sources={len(self.sources)}, '
                f'lesion_prob={self.lesion_prob}, control_prob={self.control_prob})')
