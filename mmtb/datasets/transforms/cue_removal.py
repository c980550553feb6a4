"""Preprocessing that removes the development database's shortcuts before a model sees them.

The public TB database separates its classes by cues that are not disease: TB images carry
white redaction blocks and text far more often than normals, exposures differ by source, and
the field of view (shoulders, neck, labels at the border) differs by hospital. A model trained
on it learns those cues and fails on other hospitals. Each transform below removes one cue and
is switched on by adding it to a config pipeline after ``LoadGreyXray``.

All transforms take ``results['img']`` as uint8 HxW or HxWx3 (grey replicated to 3 channels,
as ``LoadGreyXray`` writes it), work on the grey image, and return the same dtype and shape
with identical channels.
"""
from typing import Optional, Sequence

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS

from mmtb.datasets.transforms.memo import RememberedByContent

__all__ = ['BURNT_IN_MIN_AREA', 'BURNT_IN_MIN_FILL', 'BURNT_IN_SATURATION', 'CropLungField',
           'IntensityStandardize', 'MaskBurntInBlocks', 'find_burnt_in_blocks', 'grey_of',
           'is_burnt_in_block', 'saturated_components', 'with_channels_of']

# What a burnt-in block is, for MaskBurntInBlocks and the dataset audit alike: an 8-connected
# region of near-white pixels covering >= 0.2 % of the image that fills >= 90 % of its bounding
# box (an axis-aligned filled rectangle). Bright bone or a lesion is neither that uniform nor
# rectangular (a disc fills 79 % of its box).
BURNT_IN_SATURATION = 250
BURNT_IN_MIN_AREA = 0.002
BURNT_IN_MIN_FILL = 0.9


def grey_of(img: np.ndarray) -> np.ndarray:
    """The uint8 HxW grey image of an HxW or HxWxC image (channel 0 when the channels agree)."""
    if img.dtype != np.uint8:
        raise TypeError(f'expected a uint8 image, got {img.dtype}')
    if img.ndim == 2:
        return img
    if img.ndim != 3:
        raise ValueError(f'expected an HxW or HxWxC image, got shape {img.shape}')
    first = img[:, :, 0]
    if img.shape[2] == 1 or all(np.array_equal(first, img[:, :, c])
                                for c in range(1, img.shape[2])):
        return first
    return cv2.cvtColor(np.ascontiguousarray(img[:, :, :3]), cv2.COLOR_BGR2GRAY)


def with_channels_of(grey: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``grey`` in the layout of ``like``: HxW stays, HxWxC gets ``grey`` in every channel."""
    if like.ndim == 2:
        return grey
    return np.repeat(grey[:, :, None], like.shape[2], axis=2)


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """A uint8 0/1 mask with its enclosed holes filled."""
    outside = np.pad(mask, 1).copy()
    cv2.floodFill(outside, None, (0, 0), 2)
    return (outside[1:-1, 1:-1] != 2).astype(np.uint8)


# ----------------------------------------------------------------------------- exposure
@TRANSFORMS.register_module()
class IntensityStandardize(RememberedByContent, BaseTransform):
    """Per-image intensity standardisation, so exposure and contrast stop identifying a source.

    Args:
        method: ``'clahe'`` (OpenCV contrast-limited adaptive histogram equalisation, after a
            global z-score unless ``prenormalize`` is off: CLAHE alone only equalises local
            contrast and keeps much of a global exposure difference - about 60% of the mean
            difference between gamma 0.6 and 1.6 copies of real films, about 20% with the z-score
            first), ``'equalize'`` (global histogram equalisation: any monotone exposure
            curve maps to nearly the same image) or ``'zscore'`` (mean 128, standard
            deviation 48, clipped to 0-255; keeps the shape of the histogram).
        clip_limit: CLAHE contrast limit (OpenCV's ``clipLimit``).
        tile_grid: CLAHE tiles per side (OpenCV's ``tileGridSize``).
        prenormalize: z-score the image before CLAHE (``'clahe'`` only).
    """

    METHODS = ('clahe', 'equalize', 'zscore')
    ZSCORE_MEAN, ZSCORE_STD = 128.0, 48.0

    def __init__(self, method: str = 'clahe', clip_limit: float = 2.0, tile_grid: int = 8,
                 prenormalize: bool = True):
        if method not in self.METHODS:
            raise ValueError(f'method must be one of {self.METHODS}, got {method!r}')
        self.method = method
        self.clip_limit = float(clip_limit)
        self.tile_grid = int(tile_grid)
        self.prenormalize = bool(prenormalize)
        self._clahe = None  # created lazily: cv2 CLAHE objects cannot be pickled to workers

    def zscore(self, grey: np.ndarray) -> np.ndarray:
        """``grey`` shifted and scaled to mean 128 and standard deviation 48 (clipped)."""
        values = grey.astype(np.float32)
        std = float(values.std())
        if std < 1e-6:  # a constant image has no contrast to standardise
            return np.full_like(grey, int(self.ZSCORE_MEAN))
        scaled = (values - values.mean()) / std * self.ZSCORE_STD + self.ZSCORE_MEAN
        return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)

    def standardize(self, grey: np.ndarray) -> np.ndarray:
        """The standardised uint8 grey image."""
        if self.method == 'equalize':
            return cv2.equalizeHist(grey)
        if self.method == 'zscore':
            return self.zscore(grey)
        if self._clahe is None:
            self._clahe = cv2.createCLAHE(clipLimit=self.clip_limit,
                                          tileGridSize=(self.tile_grid, self.tile_grid))
        return self._clahe.apply(self.zscore(grey) if self.prenormalize else grey)

    def transform(self, results: dict) -> dict:
        img = results['img']
        results['img'] = with_channels_of(self.standardize(grey_of(img)), img)
        return results

    def __getstate__(self):
        state = self.__dict__.copy()
        state['_clahe'] = None
        return state

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(method={self.method!r}, '
                f'clip_limit={self.clip_limit}, tile_grid={self.tile_grid}, '
                f'prenormalize={self.prenormalize})')


# ----------------------------------------------------------------------------- burnt-in marks
def saturated_components(grey: np.ndarray, saturation: int = BURNT_IN_SATURATION):
    """``(count, labels, stats)`` of the 8-connected regions of pixels ``>= saturation``, as
    ``cv2.connectedComponentsWithStats`` gives them (row 0 of ``stats`` is the background)."""
    saturated = (grey >= saturation).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(saturated, connectivity=8)
    return count, labels, stats


def is_burnt_in_block(stats_row, image_area: int, min_area: float = BURNT_IN_MIN_AREA,
                      min_fill: float = BURNT_IN_MIN_FILL) -> bool:
    """Whether one saturated region (its ``(x, y, w, h, area)`` stats) is a burnt-in block:
    at least ``min_area`` of the image, filling at least ``min_fill`` of its bounding box."""
    _, _, w, h, area = stats_row[:5]
    return bool(area >= min_area * image_area and area >= min_fill * w * h)


def find_burnt_in_blocks(grey: np.ndarray, saturation: int = BURNT_IN_SATURATION,
                         min_area: float = BURNT_IN_MIN_AREA,
                         min_fill: float = BURNT_IN_MIN_FILL) -> list[tuple[int, int, int, int]]:
    """``(x, y, w, h)`` of every burnt-in block of a uint8 grey image: the filled rectangles
    that :class:`MaskBurntInBlocks` neutralises as a whole box (it also removes unions of
    rectangles and text-like marks). The dataset audit counts these, so that it measures the
    cue the transform removes."""
    if np.count_nonzero(grey >= saturation) < min_area * grey.size:
        return []  # not enough white for any block: skip the labelling
    count, _, stats = saturated_components(grey, saturation)
    return [(int(x), int(y), int(w), int(h)) for x, y, w, h, _ in
            (row for row in stats[1:count] if is_burnt_in_block(row, grey.size, min_area,
                                                                 min_fill))]


@TRANSFORMS.register_module()
class MaskBurntInBlocks(RememberedByContent, BaseTransform):
    """Find burnt-in redaction blocks and text and neutralise them (fill or inpaint).

    Two kinds of saturated (``>= saturation``, 8-connected) components are treated as burnt in:

    * **blocks**: the component covers >= ``min_area`` of the image and either fills
      >= ``min_fill`` of its bounding box (an axis-aligned filled rectangle,
      :func:`is_burnt_in_block`, the definition the dataset audit counts too: the box is
      neutralised, print inside it included) or is a union of overlapping rectangles (fills
      >= ``min_union_fill`` of its box and its outline changes at most at ``max_steps`` of its
      rows and columns: the component with its holes is neutralised).
    * **text-like marks**: thin strokes (at most ``max_stroke`` of the shorter side thick,
      by the distance transform) of at least ``min_mark_pixels`` pixels, at least 2.5 times
      as long as thick, whose surroundings are much darker (median of a ring around the
      stroke <= ``saturation - min_contrast``). Compact round spots (e.g. a calcified
      granuloma) are not strokes. Bright anatomy is neither saturated-
      uniform nor a thin stroke on a dark ground, so a normal radiograph is returned
      unchanged (the very same array).

    Args:
        min_area: smallest block, as a fraction of the image area.
        fill: ``'median'`` (the median of the untouched pixels) or ``'inpaint'``
            (``cv2.inpaint``, Telea: the surroundings are continued into the hole).
        saturation: grey level from which a pixel counts as burnt-in white.
        min_fill: fraction of its bounding box a component must fill to be a block.
        max_stroke: thickest text stroke, as a fraction of the shorter image side.
        min_contrast: how much darker (grey levels) a mark's surroundings must be.
        min_mark_pixels: smallest text-like component in pixels (ignores single hot pixels).
        min_union_fill: fraction of its box a union of rectangles must fill.
        max_steps: fraction of rows/columns at which a union's outline may change.
        pad: pixels added around every detection (anti-aliased or JPEG-blurred edges).

    ``results['burnt_in_fraction']`` records the fraction of the image that was neutralised.
    """

    memo_keys = ('burnt_in_fraction', )  # written besides img; remembered in training (memo.py)
    FILLS = ('median', 'inpaint')

    def __init__(self, min_area: float = BURNT_IN_MIN_AREA, fill: str = 'median',
                 saturation: int = BURNT_IN_SATURATION, min_fill: float = BURNT_IN_MIN_FILL,
                 max_stroke: float = 0.04, min_contrast: int = 60,
                 min_mark_pixels: int = 6, min_union_fill: float = 0.5,
                 max_steps: float = 0.3, pad: int = 2):
        if fill not in self.FILLS:
            raise ValueError(f'fill must be one of {self.FILLS}, got {fill!r}')
        self.min_area = float(min_area)
        self.fill = fill
        self.saturation = int(saturation)
        self.min_fill = float(min_fill)
        self.max_stroke = float(max_stroke)
        self.min_contrast = int(min_contrast)
        self.min_mark_pixels = int(min_mark_pixels)
        self.min_union_fill = float(min_union_fill)
        self.max_steps = float(max_steps)
        self.pad = int(pad)

    def detect(self, grey: np.ndarray) -> np.ndarray:
        """Boolean HxW mask of the burnt-in blocks and marks of a uint8 grey image."""
        height, width = grey.shape
        mask = np.zeros((height, width), bool)
        if not (grey >= self.saturation).any():
            return mask
        count, labels, stats = saturated_components(grey, self.saturation)
        max_half_stroke = max(1.5, self.max_stroke * min(height, width) / 2)
        marks = np.zeros((height, width), np.uint8)
        blocks = np.zeros((height, width), np.uint8)
        for index in range(1, count):
            x, y, w, h, area = stats[index]
            box = (slice(y, y + h), slice(x, x + w))
            is_block = is_burnt_in_block(stats[index], height * width, self.min_area,
                                         self.min_fill)
            is_union = (not is_block and area >= self.min_area * height * width
                        and area >= self.min_union_fill * w * h
                        and self._is_rectilinear(labels[box] == index))
            if is_block:  # the whole box: dark print inside a white label goes too
                blocks[box] = 1
            elif is_union:
                blocks[box] |= _fill_holes((labels[box] == index).astype(np.uint8))
            elif area >= self.min_mark_pixels:
                # a window around the component, wide enough for the ring test
                y0, x0 = max(0, y - 4), max(0, x - 4)
                window = (slice(y0, y + h + 4), slice(x0, x + w + 4))
                component = (labels[window] == index).astype(np.uint8)
                half_stroke = cv2.distanceTransform(np.pad(component, 1), cv2.DIST_L2, 3).max()
                stroke_like = max(w, h) >= 2.5 * 2 * half_stroke  # long, not a round spot
                if (half_stroke <= max_half_stroke and stroke_like
                        and self._stands_out(grey[window], component)):
                    marks[window] |= component
        found = blocks | marks
        if found.any():  # grown by ``pad`` to catch anti-aliased or JPEG-blurred edges
            mask |= cv2.dilate(found, np.ones((2 * self.pad + 1,) * 2, np.uint8)).astype(bool)
        return mask

    def _is_rectilinear(self, component: np.ndarray) -> bool:
        """True for a union of a few axis-aligned rectangles (overlapping redaction boxes): its
        row (and column) profile changes at only a few steps, unlike the ever-changing outline
        of a saturated anatomical region."""
        def steps(a):
            return np.count_nonzero(np.any(a[1:] != a[:-1], axis=1)), len(a) - 1

        for changed, gaps in (steps(component), steps(component.T)):
            if changed > max(2, self.max_steps * gaps):
                return False
        return True

    def _stands_out(self, grey: np.ndarray, component: np.ndarray) -> bool:
        """True when a ring around ``component`` is much darker than saturation (a mark drawn
        onto the image), not bright tissue that merely touches saturation."""
        inner = cv2.dilate(component, np.ones((3, 3), np.uint8))
        outer = cv2.dilate(component, np.ones((7, 7), np.uint8))
        ring = grey[(outer > 0) & (inner == 0)]
        return ring.size > 0 and float(np.median(ring)) <= self.saturation - self.min_contrast

    def neutralise(self, grey: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """``grey`` with the masked pixels filled (median) or inpainted."""
        if self.fill == 'inpaint':
            radius = max(3, round(0.01 * min(grey.shape)))
            return cv2.inpaint(grey, mask.astype(np.uint8), radius, cv2.INPAINT_TELEA)
        rest = grey[~mask]
        value = int(np.median(rest)) if rest.size else 0
        out = grey.copy()
        out[mask] = value
        return out

    def transform(self, results: dict) -> dict:
        img = results['img']
        grey = grey_of(img)
        mask = self.detect(grey)
        results['burnt_in_fraction'] = float(mask.mean())
        if mask.any():  # otherwise the image stays bit-identical (the same array)
            results['img'] = with_channels_of(self.neutralise(grey, mask), img)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(min_area={self.min_area}, fill={self.fill!r}, '
                f'saturation={self.saturation})')


# ----------------------------------------------------------------------------- field of view
@TRANSFORMS.register_module()
class CropLungField(RememberedByContent, BaseTransform):
    """Crop to the lung field and resize back, so borders, labels and field of view stop
    differing by hospital.

    **A heuristic, not a segmentation model** (no lung-segmentation weights ship with mmtb):

    1. Dark regions: an Otsu threshold of the blurred image; when a dark or bright frame
       surrounds the film (``min_frame`` of its rim), also an Otsu threshold inside the frame.
    2. Morphological openings of growing size break thin bridges between lungs and outside
       air; dark regions touching the left, right or bottom edge are air and dropped (regions
       touching the top edge are allowed on a second try: tight films cut the apices); the two
       largest remaining regions are the lung candidates.
    3. They are accepted only if both are large enough (``min_lung_area`` of the image each),
       of comparable size (``min_size_ratio``), side by side (centres at least
       ``min_separation`` of the width apart, overlapping vertically by ``min_overlap`` of the
       shorter one), centred in the body (``max_offcentre``: a whited-out lung must not leave
       a crop around the other lung alone) and their box covers at least ``min_crop_area`` of
       the image; otherwise the image is left as it is (the full field is the safe fallback).
       On tight films whose lungs reach the edges it usually falls back; their full image is
       close to the lung field anyway.
    4. The union box, extended downwards by ``base_extension`` (the bases behind the
       diaphragm look brighter) and grown by ``margin`` (fraction of the image side), is
       cropped and resized back to the input size, so downstream shapes are unchanged (the
       aspect ratio is not kept, as with ``LoadGreyXray``'s square resize).

    ``results['lung_box']`` records the crop as (x0, y0, x1, y1) in input pixels, or None
    when the heuristic was unsure and the full image was kept.

    Args:
        margin: border kept around the lungs, as a fraction of the image width/height.
        min_lung_area: smallest accepted lung region, as a fraction of the image area.
        min_separation: smallest horizontal distance of the two lung centres (fraction of
            the width).
        min_size_ratio: smallest area of the smaller lung relative to the larger one.
        min_overlap: smallest vertical overlap of the two lungs, relative to the shorter one.
        min_crop_area: smallest accepted crop, as a fraction of the image area.
        opening_sizes: opening diameters tried in turn, as fractions of the shorter side.
        min_frame: fraction of the image rim a uniform dark or bright region must cover to
            count as a frame around the film (then a threshold inside it is tried too).
        max_offcentre: largest distance of the lung pair's centre from the body's centre, as
            a fraction of the body width.
        base_extension: how far the box is extended below the dark lungs, as a fraction of
            their height (the lung bases overlap the diaphragm and heart, so look brighter).
        work_size: side the search runs at (speed; the crop is applied at full resolution).
    """

    memo_keys = ('lung_box', )  # written besides img; remembered in training (memo.py)

    def __init__(self, margin: float = 0.05, min_lung_area: float = 0.02,
                 min_separation: float = 0.15, min_size_ratio: float = 0.3,
                 min_overlap: float = 0.5, min_crop_area: float = 0.15,
                 opening_sizes: Sequence[float] = (0.03, 0.06, 0.09, 0.12),
                 min_frame: float = 0.9, max_offcentre: float = 0.1,
                 base_extension: float = 0.25,
                 work_size: int = 256):
        self.margin = float(margin)
        self.min_lung_area = float(min_lung_area)
        self.min_separation = float(min_separation)
        self.min_size_ratio = float(min_size_ratio)
        self.min_overlap = float(min_overlap)
        self.min_crop_area = float(min_crop_area)
        self.opening_sizes = tuple(float(f) for f in opening_sizes)
        self.min_frame = float(min_frame)
        self.max_offcentre = float(max_offcentre)
        self.base_extension = float(base_extension)
        self.work_size = int(work_size)

    @staticmethod
    def _otsu(values: np.ndarray) -> float:
        threshold, _ = cv2.threshold(values.reshape(-1, 1), 0, 255,
                                     cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        return float(threshold)

    @staticmethod
    def _drop_edge_touching(mask: np.ndarray, top: bool = True) -> np.ndarray:
        """``mask`` without its components touching the left, right or bottom edge (and the top
        edge when ``top``): dark regions there are air beside the patient."""
        count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
        edges = [labels[-1], labels[:, 0], labels[:, -1]] + ([labels[0]] if top else [])
        edge = np.unique(np.concatenate(edges))
        return mask.astype(bool) & ~np.isin(labels, edge[edge > 0])

    def _dark_masks(self, small: np.ndarray) -> list[tuple[np.ndarray, tuple[float, float]]]:
        """Candidate dark (lung) masks, each with the horizontal span of the body (fractions of
        the width) the lungs must be centred in: an Otsu threshold over the image, and - when a
        uniform dark or bright frame surrounds the film (letterboxing, scanned film,
        collimation), so that this threshold may only separate the frame from the body - a
        second one over the pixels inside the frame."""
        dark = small <= self._otsu(small)
        masks = [(dark.astype(np.uint8), (0.0, 1.0))]
        for side in (dark, ~dark):
            frame = side & ~self._drop_edge_touching(side)
            rim = np.concatenate([frame[0], frame[-1], frame[:, 0], frame[:, -1]])
            inner = small[~frame]
            if (rim.mean() >= self.min_frame and inner.size >= 0.1 * small.size
                    and inner.min() < inner.max()):
                columns = np.flatnonzero((~frame).any(axis=0))
                span = (columns[0] / frame.shape[1], (columns[-1] + 1) / frame.shape[1])
                masks.append((((small <= self._otsu(inner)) & ~frame).astype(np.uint8), span))
        return masks

    def find_lungs(self, grey: np.ndarray) -> Optional[tuple[int, int, int, int]]:
        """The lung box (x0, y0, x1, y1) in ``grey``'s pixels (margin included), or None."""
        height, width = grey.shape
        scale = min(1.0, self.work_size / max(height, width))
        small = grey if scale == 1.0 else cv2.resize(
            grey, (max(8, round(width * scale)), max(8, round(height * scale))),
            interpolation=cv2.INTER_AREA)
        sh, sw = small.shape
        small = cv2.GaussianBlur(small, (0, 0), max(1.0, 0.01 * max(sh, sw)))
        if small.min() == small.max():
            return None
        # Lungs often join the air beside the body through thin dark bridges: open with
        # growing structuring elements until two side-by-side lungs separate from the edges.
        # Tight radiographs cut the lung apices at the top edge, so regions touching only the
        # top edge are accepted on a second try.
        for dark, body_span in self._dark_masks(small):
            for fraction in self.opening_sizes:
                side = max(3, round(fraction * min(sh, sw)) | 1)
                kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
                opened = cv2.morphologyEx(dark, cv2.MORPH_OPEN, kernel)
                for top in (True, False):
                    box = self._lung_box(self._drop_edge_touching(opened, top), body_span)
                    if box is not None:
                        x0, y0, x1, y1 = box
                        return (int(np.floor(x0 * width)), int(np.floor(y0 * height)),
                                int(np.ceil(x1 * width)), int(np.ceil(y1 * height)))
        return None

    def _lung_box(self, inside: np.ndarray, body_span: tuple[float, float]
                  ) -> Optional[tuple[float, float, float, float]]:
        """The margin-grown box of the two largest regions of ``inside`` as fractions of the
        image, or None unless they look like two lungs centred in ``body_span``."""
        sh, sw = inside.shape
        count, _, stats, centres = cv2.connectedComponentsWithStats(
            inside.astype(np.uint8), connectivity=8)
        if count < 3:
            return None
        order = 1 + np.argsort(stats[1:, cv2.CC_STAT_AREA])[::-1]
        first, second = order[:2]
        if stats[second, cv2.CC_STAT_AREA] < self.min_lung_area * sh * sw:
            return None
        if abs(centres[first][0] - centres[second][0]) < self.min_separation * sw:
            return None
        # two lungs have comparable sizes and lie side by side
        if stats[second, cv2.CC_STAT_AREA] < self.min_size_ratio * stats[first, cv2.CC_STAT_AREA]:
            return None
        boxes = [stats[i, :4] for i in (first, second)]
        top_a, bottom_a = boxes[0][1], boxes[0][1] + boxes[0][3]
        top_b, bottom_b = boxes[1][1], boxes[1][1] + boxes[1][3]
        overlap = min(bottom_a, bottom_b) - max(top_a, top_b)
        if overlap < self.min_overlap * min(boxes[0][3], boxes[1][3]):
            return None
        x0 = min(b[0] for b in boxes) / sw
        x1 = max(b[0] + b[2] for b in boxes) / sw
        body_left, body_right = body_span
        # the mediastinum lies near the middle of the body: a pair far off centre is one lung
        # and something else (e.g. a whited-out lung was missed)
        if abs((x0 + x1) - (body_left + body_right)) / 2 > self.max_offcentre * (
                body_right - body_left):
            return None
        y0 = min(b[1] for b in boxes) / sh
        y1 = max(b[1] + b[3] for b in boxes) / sh
        # the bases behind the diaphragm domes and the heart are brighter than the threshold
        y1 += self.base_extension * (y1 - y0)
        x0, x1 = x0 - self.margin, x1 + self.margin
        y0, y1 = y0 - self.margin, y1 + self.margin
        x0, y0 = max(0.0, x0), max(0.0, y0)
        x1, y1 = min(1.0, x1), min(1.0, y1)
        if (x1 - x0) * (y1 - y0) < self.min_crop_area:
            return None
        return x0, y0, x1, y1

    def transform(self, results: dict) -> dict:
        img = results['img']
        grey = grey_of(img)
        box = self.find_lungs(grey)
        results['lung_box'] = box
        if box is not None:
            x0, y0, x1, y1 = box
            height, width = grey.shape
            crop = cv2.resize(grey[y0:y1, x0:x1], (width, height),
                              interpolation=cv2.INTER_LINEAR)
            results['img'] = with_channels_of(crop, img)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(margin={self.margin})'
