"""Measurement: every per-image number the audit uses, and their summary per source x class.

Grey pixels come from :mod:`mmtb.io.decode` (what the model sees); colour statistics need the
stored channels, which the decoder discards, so colour images are also read with OpenCV.
Burnt-in blocks are found with :func:`~mmtb.datasets.transforms.cue_removal.find_burnt_in_blocks`,
the definition ``MaskBurntInBlocks`` removes, so the audit measures the cue the transform takes
away. Nothing here writes image pixels to disk.
"""
from __future__ import annotations

import colorsys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from mmtb.data_prep.dedup import (
    Fingerprints,
    grey_md5,
    group_duplicates,
    pack_bits,
    perceptual_hash_bits,
    resolve_groups,
)
from mmtb.data_prep.sources import CLASSES, DataSourceError, parse_input_spec, read_source
from mmtb.datasets.transforms.cue_removal import find_burnt_in_blocks
from mmtb.io.decode import decode_xray

# A pixel's channel spread is max(R, G, B) - min(R, G, B). Grey images stored as RGB (and their
# JPEG re-encodes) average < 0.5 grey levels; the tinted TB-database images average 3-70.
TINT_SPREAD = 2.0
THUMBNAIL_SIDE = 16
PERCENTILES = (1, 5, 25, 50, 75, 95, 99)
STAT_NAMES = ('height', 'width', 'aspect', 'channel_spread', 'colourfulness', 'mean', 'std',
              *(f'p{q}' for q in PERCENTILES), 'block_fraction')
MEAN_BIN_EDGES = np.linspace(0, 256, 33)
_GREY_MODES = frozenset({'1', 'L', 'LA', 'I', 'I;16', 'I;16L', 'I;16B', 'I;16N', 'F',
                         'MONOCHROME1', 'MONOCHROME2'})
_HUE_NAMES = ((15, 'red'), (45, 'orange'), (70, 'yellow'), (160, 'green'), (200, 'cyan'),
              (260, 'blue'), (300, 'purple'), (345, 'magenta'), (360, 'red'))


# ----------------------------------------------------------------------------- one image
def hue_name(hue: float) -> str:
    """A colour word for a hue in degrees (0 red, 120 green, 240 blue), for the report."""
    return next(name for upper, name in _HUE_NAMES if hue < upper)


def _stored_colour(path: str, mode: str, shape) -> np.ndarray | None:
    """8-bit RGB of a colour-stored image (the decoder keeps only grey), else None."""
    if mode in _GREY_MODES:
        return None
    bgr = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None or bgr.shape[:2] != tuple(shape):
        return None
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def measure_image(path: str) -> dict:
    """Every per-image number the audit uses.

    Grey comes from ``mmtb.io.decode``; colour-stored files are read once more by OpenCV for
    their channels, which the decoder does not keep.
    """
    decoded = decode_xray(path)
    grey = decoded.grey
    rgb = _stored_colour(path, decoded.source_mode, grey.shape)
    height, width = grey.shape
    blocks = find_burnt_in_blocks(grey)
    block_area = sum(w * h for _, _, w, h in blocks)
    spread, hue = 0.0, float('nan')
    if rgb is not None:
        red, green, blue = cv2.split(rgb)  # OpenCV's per-pixel max/min are ~10x numpy's
        spread = float(cv2.subtract(cv2.max(cv2.max(red, green), blue),
                                    cv2.min(cv2.min(red, green), blue)).mean())
        if spread >= TINT_SPREAD:
            mean_red, mean_green, mean_blue, _ = np.asarray(cv2.mean(rgb)) / 255.0
            hue = colorsys.rgb_to_hsv(mean_red, mean_green, mean_blue)[0] * 360.0
    grey_thumb = cv2.resize(grey, (THUMBNAIL_SIDE,) * 2, interpolation=cv2.INTER_AREA)
    colour_thumb = (cv2.resize(rgb, (THUMBNAIL_SIDE,) * 2, interpolation=cv2.INTER_AREA)
                    if rgb is not None else np.repeat(grey_thumb[..., None], 3, axis=2))
    histogram = np.bincount(grey.ravel(), minlength=256) / grey.size
    levels = np.arange(256)
    mean = float(histogram @ levels)
    std = float(np.sqrt(max(histogram @ (levels - mean) ** 2, 0.0)))
    # lowest grey level at which the cumulative share reaches q % (percentiles from the histogram)
    percentiles = np.searchsorted(np.cumsum(histogram), np.array(PERCENTILES) / 100 - 1e-9)
    stats = [height, width, width / height, spread, decoded.colourfulness, mean, std,
             *percentiles.astype(float).tolist(), block_area / grey.size]
    return {
        'storage': f'{decoded.source_format} {decoded.source_mode} {decoded.bit_depth}-bit',
        'colour_stored': rgb is not None, 'tint_hue': hue,
        'stats': np.asarray(stats, np.float64),
        'grey_thumbnail': grey_thumb.astype(np.float32).ravel() / 255.0,
        'colour_thumbnail': colour_thumb.astype(np.float32).ravel() / 255.0,
        'histogram': histogram,
        'md5': grey_md5(grey), 'phash_bits': perceptual_hash_bits(grey),
    }


# ----------------------------------------------------------------------------- all inputs
@dataclass
class Measurements:
    """Per-image measurements of every readable image, aligned with ``records``."""

    records: list[dict]
    image_refs: list[str]              # 'source:relative/path' - no absolute paths in reports
    per_image: list[dict]
    unreadable: list[dict] = field(default_factory=list)

    def array(self, key: str) -> np.ndarray:
        return np.stack([item[key] for item in self.per_image])


def _input_label(kind: str, path: str, kinds: list[str]) -> str:
    """The source name in the report: the kind, made unique if one kind is given twice."""
    return kind if kinds.count(kind) == 1 else f'{kind}:{path}'


def _relative_name(path: Path, root: Path) -> str:
    """``path`` below ``root`` (a symlinked file may resolve elsewhere: then its name)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def measure_inputs(inputs, progress: bool = True) -> tuple[Measurements, list[dict]]:
    """Read every KIND:PATH (or (kind, path)) input and measure each image once."""
    specs = [parse_input_spec(spec) if isinstance(spec, str) else tuple(spec) for spec in inputs]
    kinds = [kind for kind, _ in specs]
    records, refs, input_summary = [], [], []
    for kind, path in specs:
        label = _input_label(kind, path, kinds)
        root = Path(path).expanduser().resolve()
        found = read_source(kind, path)
        for record in found:
            record['source'] = label
            refs.append(f'{label}:{_relative_name(Path(record["img_path"]), root)}')
        records.extend(found)
        input_summary.append({'kind': kind, 'path': str(path), 'source': label,
                              'images': len(found)})
    measurements = Measurements(records=[], image_refs=[], per_image=[])
    for record, ref in zip(tqdm(records, desc='auditing images', unit='img',
                                disable=None if progress else True), refs):
        try:
            measured = measure_image(record['img_path'])
        except Exception as error:  # noqa: BLE001 - an unreadable file is a finding, not a crash
            measurements.unreadable.append({'image': ref, 'error': str(error).splitlines()[0]})
            continue
        measurements.records.append(record)
        measurements.image_refs.append(ref)
        measurements.per_image.append(measured)
    if not measurements.per_image:
        raise DataSourceError('no readable image in the inputs')
    return measurements, input_summary


def _percent(fraction: float) -> float:
    return round(100.0 * float(fraction), 1)


def _circular_mean_degrees(angles: np.ndarray) -> float | None:
    if not len(angles):
        return None
    radians = np.deg2rad(angles)
    return round(float(np.rad2deg(np.arctan2(np.sin(radians).mean(),
                                             np.cos(radians).mean())) % 360.0), 1)


def summarise_group(items: list[dict], refs: list[str], duplicated: set[str]) -> dict:
    """All numbers for one source x class."""
    stats = np.stack([item['stats'] for item in items])
    column = {name: stats[:, index] for index, name in enumerate(STAT_NAMES)}
    sizes = Counter(f'{int(w)}x{int(h)}' for w, h in zip(column['width'], column['height']))
    tinted = column['channel_spread'] >= TINT_SPREAD
    hues = np.array([item['tint_hue'] for item in items])[tinted]
    mean_hue = _circular_mean_degrees(hues)
    has_block = column['block_fraction'] > 0
    means = column['mean']
    return {
        'images': len(items),
        'sizes': {
            'distinct': len(sizes), 'most_common': sizes.most_common(5),
            'width': {'min': int(column['width'].min()), 'median': float(np.median(
                column['width'])), 'max': int(column['width'].max())},
            'height': {'min': int(column['height'].min()), 'median': float(np.median(
                column['height'])), 'max': int(column['height'].max())},
            'aspect_median': round(float(np.median(column['aspect'])), 3)},
        'storage': dict(Counter(item['storage'] for item in items).most_common()),
        'colour_stored_percent': _percent(np.mean([item['colour_stored'] for item in items])),
        'tint': {
            'tinted_percent': _percent(tinted.mean()), 'tinted_images': int(tinted.sum()),
            'mean_channel_spread_of_tinted': (round(float(column['channel_spread'][tinted]
                                                          .mean()), 2) if tinted.any() else None),
            'mean_hue_degrees': mean_hue,
            'hue_name': hue_name(mean_hue) if mean_hue is not None else None,
            'mean_colourfulness': round(float(column['colourfulness'].mean()), 4)},
        'intensity': {
            'mean_of_means': round(float(means.mean()), 2),
            'sd_of_means': round(float(means.std()), 2),
            'mean_std': round(float(column['std'].mean()), 2),
            'median_p1': float(np.median(column['p1'])),
            'median_p99': float(np.median(column['p99'])),
            'mean_histogram_counts': np.histogram(means, MEAN_BIN_EDGES)[0].tolist()},
        'saturated_blocks': {
            'images_with_blocks_percent': _percent(has_block.mean()),
            'images_with_blocks': int(has_block.sum()),
            'mean_block_area_percent_when_present': (
                _percent(column['block_fraction'][has_block].mean()) if has_block.any()
                else None),
            'examples': [ref for ref, flag in zip(refs, has_block) if flag][:10]},
        'duplicates': {'images_in_duplicate_groups': sum(ref in duplicated for ref in refs)},
    }


def find_duplicates(measurements: Measurements, near_threshold: int) -> dict:
    """Exact / near duplicates with ``mmtb.data_prep.dedup``, from the hashes already taken."""
    per_image = measurements.per_image
    fingerprints = Fingerprints(
        md5=[item['md5'] for item in per_image],
        phash=pack_bits(np.stack([item['phash_bits'] for item in per_image])),
        n_pixels=np.array([int(item['stats'][0] * item['stats'][1]) for item in per_image]))
    groups = group_duplicates(fingerprints, near_threshold)
    resolved = resolve_groups(measurements.records, fingerprints, groups)
    refs = measurements.image_refs
    described = []
    for members in groups:
        sources = sorted({measurements.records[k]['source'] for k in members})
        labels = sorted({CLASSES[measurements.records[k]['gt_label']] for k in members})
        described.append({'images': [refs[k] for k in members], 'sources': sources,
                          'classes': labels})
    return {
        'near_threshold': near_threshold, 'groups': len(groups),
        'images_in_groups': sum(len(members) for members in groups),
        'would_drop': resolved.counts,
        'cross_source_groups': sum(len(group['sources']) > 1 for group in described),
        'label_conflict_groups': sum(len(group['classes']) > 1 for group in described),
        'list': described,
    }
