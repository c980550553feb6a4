"""Dataset audit: what a TB classifier could learn from a dataset other than tuberculosis.

Public TB sets are assembled from different hospitals, scanners and redistributors, and the
class often coincides with how an image was stored or edited: the TB images of the Kaggle TB
database are partly colour-tinted and carry burnt-in white redaction blocks, while its normals
are plain grey. A network learns such shortcuts happily and scores well on an internal test
split that shares them. This module measures them per source x class (counts, sizes, storage,
tint, intensity, saturated blocks, duplicates) and runs a **shortcut probe**: deliberately weak
classifiers (logistic regression) on trivial features, cross-validated. If image statistics or
a 16x16 thumbnail already separate the classes (ROC AUC >= :data:`PROBE_WARNING_AUC`), part of
any score on this data may be a shortcut, so the audit warns.

Grey pixels come from :mod:`mmtb.io.decode` (what the model sees); colour statistics need the
stored channels, which the decoder discards, so colour images are also read with OpenCV.
Nothing here writes image pixels to disk: the report holds numbers and plots only.
"""
from __future__ import annotations

import colorsys
import json
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from mmtb.data_prep.dedup import (
    DEFAULT_NEAR_THRESHOLD,
    Fingerprints,
    grey_md5,
    group_duplicates,
    pack_bits,
    perceptual_hash_bits,
    resolve_groups,
)
from mmtb.data_prep.sources import CLASSES, DataSourceError, parse_input_spec, read_source
from mmtb.io.decode import decode_xray

# A pixel's channel spread is max(R, G, B) - min(R, G, B). Grey images stored as RGB (and their
# JPEG re-encodes) average < 0.5 grey levels; the tinted TB-database images average 3-70.
TINT_SPREAD = 2.0
# Burnt-in redaction blocks: a 4-connected region of near-white pixels covering >= 0.5 % of the
# image that fills >= 90 % of its bounding box (an axis-aligned filled rectangle). Bright bone
# or a lesion is neither that large and uniform nor rectangular (a disc fills 79 %).
SATURATED_LEVEL = 250
MIN_BLOCK_AREA_FRACTION = 0.005
MIN_BLOCK_FILL = 0.9
THUMBNAIL_SIDE = 16
PROBE_FOLDS = 5
PROBE_WARNING_AUC = 0.8
PERCENTILES = (1, 5, 25, 50, 75, 95, 99)
STAT_NAMES = ('height', 'width', 'aspect', 'channel_spread', 'colourfulness', 'mean', 'std',
              *(f'p{q}' for q in PERCENTILES), 'block_fraction')
MEAN_BIN_EDGES = np.linspace(0, 256, 33)

# The probes' features (each fed to a standardised logistic regression). The colour ones run
# only where some image is really colour: (c) the RGB thumbnail, (d) its colour alone.
PROBES = {
    'image_statistics': 'height, width, aspect, channel spread, colourfulness, mean, std, '
                        'percentiles, saturated-block area',
    'grey_thumbnail': f'{THUMBNAIL_SIDE}x{THUMBNAIL_SIDE} grey thumbnail (what the model sees)',
    'colour_thumbnail': f'{THUMBNAIL_SIDE}x{THUMBNAIL_SIDE} RGB thumbnail',
    'colour_only_thumbnail': f'{THUMBNAIL_SIDE}x{THUMBNAIL_SIDE} RGB minus grey thumbnail '
                             '(colour alone)',
}
_COLOUR_PROBES = ('colour_thumbnail', 'colour_only_thumbnail')
_GREY_MODES = frozenset({'1', 'L', 'LA', 'I', 'I;16', 'I;16L', 'I;16B', 'I;16N', 'F',
                         'MONOCHROME1', 'MONOCHROME2'})
_HUE_NAMES = ((15, 'red'), (45, 'orange'), (70, 'yellow'), (160, 'green'), (200, 'cyan'),
              (260, 'blue'), (300, 'purple'), (345, 'magenta'), (360, 'red'))


# ----------------------------------------------------------------------------- one image
def find_saturated_blocks(grey: np.ndarray, level: int = SATURATED_LEVEL,
                          min_area_fraction: float = MIN_BLOCK_AREA_FRACTION,
                          min_fill: float = MIN_BLOCK_FILL) -> list[tuple[int, int, int, int]]:
    """(x, y, w, h) of every near-white filled rectangle (see the constants above)."""
    mask = (grey >= level).astype(np.uint8)
    if cv2.countNonZero(mask) < min_area_fraction * grey.size:
        return []
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
    blocks = []
    for x, y, w, h, area in stats[1:count]:
        if area >= min_area_fraction * grey.size and area >= min_fill * w * h:
            blocks.append((int(x), int(y), int(w), int(h)))
    return blocks


def hue_name(hue: float) -> str:
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
    blocks = find_saturated_blocks(grey)
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


# ----------------------------------------------------------------------------- probe
def shortcut_probe(features: np.ndarray, labels: np.ndarray, folds: int = PROBE_FOLDS,
                   seed: int = 0, feature_names=None) -> dict:
    """Stratified k-fold ROC AUC of a standardised logistic regression on ``features``.

    Deliberately weak and simple: it is meant to find what is trivially there, not to classify.
    With ``feature_names``, the three features with the largest standardised weights of a fit
    on all images are reported too (positive = more TB), to say *what* separates the classes.
    """
    labels = np.asarray(labels)
    n_splits = min(folds, int(np.bincount(labels, minlength=2).min()))
    if n_splits < 2:
        return {'auc': None, 'skipped': 'each class needs at least 2 images'}
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    with warnings.catch_warnings():  # non-convergence on thumbnails does not matter here
        warnings.simplefilter('ignore')
        scores = cross_val_score(model, features, labels, scoring='roc_auc',
                                 cv=StratifiedKFold(n_splits, shuffle=True, random_state=seed))
        auc = float(scores.mean())
        result = {'auc': round(auc, 4), 'auc_std': round(float(scores.std()), 4),
                  'fold_aucs': [round(float(score), 4) for score in scores],
                  'folds': n_splits, 'warning': auc >= PROBE_WARNING_AUC}
        if feature_names is not None:
            weights = model.fit(features, labels)[-1].coef_[0]
            top = np.argsort(-np.abs(weights))[:3]
            result['top_features'] = {feature_names[k]: round(float(weights[k]), 3)
                                      for k in top}
    return result


# ----------------------------------------------------------------------------- the audit
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


def run_probes(measurements: Measurements, folds: int = PROBE_FOLDS, seed: int = 0) -> dict:
    """Every probe on all sources together (if several) and on each source alone."""
    labels = np.array([record['gt_label'] for record in measurements.records])
    sources = np.array([record['source'] for record in measurements.records])
    stats = measurements.array('stats')
    tinted = stats[:, STAT_NAMES.index('channel_spread')] >= TINT_SPREAD
    grey, colour = measurements.array('grey_thumbnail'), measurements.array('colour_thumbnail')
    features = {
        'image_statistics': stats,
        'grey_thumbnail': grey,
        'colour_thumbnail': colour,
        'colour_only_thumbnail': colour - np.repeat(
            grey.reshape(len(grey), THUMBNAIL_SIDE, THUMBNAIL_SIDE, 1), 3, axis=3
        ).reshape(len(grey), -1),
    }
    scopes = ([('all sources', np.ones(len(labels), bool))] if len(set(sources)) > 1 else [])
    scopes += [(source, sources == source) for source in sorted(set(sources))]
    results = {}
    for scope, selected in scopes:
        results[scope] = {}
        for name in PROBES:
            if name in _COLOUR_PROBES and not tinted[selected].any():
                # RGB-stored grey images: the colour thumbnails would repeat the grey probe
                results[scope][name] = {'auc': None, 'skipped': 'no colour image'}
                continue
            results[scope][name] = shortcut_probe(
                features[name][selected], labels[selected], folds=folds, seed=seed,
                feature_names=STAT_NAMES if name == 'image_statistics' else None)
    return results


def _findings(groups: dict, probes: dict, duplicates: dict, inputs: list[dict]) -> tuple[
        list[str], list[str]]:
    """Plain-language findings, and the warnings among them (probe AUC >= threshold)."""
    findings, warnings_ = [], []
    sources = [item['source'] for item in inputs]
    for source in sources:
        per_class = {name: groups.get(f'{source}/{name}') for name in CLASSES}
        if not all(per_class.values()):
            present = [name for name, group in per_class.items() if group]
            findings.append(f'{source} holds only {", ".join(present)} images: pooled with '
                            'other sources, where an image comes from predicts its label')
            continue
        tint = {name: group['tint']['tinted_percent'] for name, group in per_class.items()}
        if max(tint.values()) - min(tint.values()) >= 10:
            hue = ', '.join(f'{name} {group["tint"]["hue_name"]}'
                            for name, group in per_class.items() if group['tint']['hue_name'])
            findings.append(f'{source}: colour-tinted images - ' + ', '.join(
                f'{name} {value:.1f} %' for name, value in tint.items()) + f' (hue: {hue})')
        blocks = {name: group['saturated_blocks']['images_with_blocks_percent']
                  for name, group in per_class.items()}
        if max(blocks.values()) - min(blocks.values()) >= 5:
            findings.append(f'{source}: burnt-in white blocks - ' + ', '.join(
                f'{name} {value:.1f} %' for name, value in blocks.items()))
        storage = {name: set(group['storage']) for name, group in per_class.items()}
        if len({frozenset(value) for value in storage.values()}) > 1:
            findings.append(f'{source}: classes are stored differently - ' + '; '.join(
                f'{name}: {", ".join(sorted(value))}' for name, value in storage.items()))
        medians = {name: (group['sizes']['width']['median'], group['sizes']['height']['median'])
                   for name, group in per_class.items()}
        widths, heights = zip(*medians.values())
        if max(widths) > 1.1 * min(widths) or max(heights) > 1.1 * min(heights):
            findings.append(f'{source}: the classes differ in image size (median ' + ', '.join(
                f'{name} {w:.0f}x{h:.0f}' for name, (w, h) in medians.items()) + ')')
    if len(sources) > 1:
        shares = {}
        for source in sources:
            counts = [groups.get(f'{source}/{name}', {}).get('images', 0) for name in CLASSES]
            shares[source] = 100.0 * counts[CLASSES.index('tuberculosis')] / sum(counts)
        if max(shares.values()) - min(shares.values()) >= 10:
            findings.append('the share of TB differs between sources (' + ', '.join(
                f'{source} {share:.0f} %' for source, share in shares.items()) + '): pooled, '
                'the source itself predicts the label')
    if duplicates['groups']:
        findings.append(f'{duplicates["groups"]} duplicate group(s) covering '
                        f'{duplicates["images_in_groups"]} images '
                        f'({duplicates["cross_source_groups"]} across sources, '
                        f'{duplicates["label_conflict_groups"]} with conflicting labels)')
    for scope, results in probes.items():
        for name, result in results.items():
            if result.get('warning'):
                message = (f'WARNING shortcut probe: {name.replace("_", " ")} separates the '
                           f'classes in {scope} with ROC AUC {result["auc"]:.3f} '
                           f'(>= {PROBE_WARNING_AUC})')
                warnings_.append(message)
    return findings, warnings_


def run_audit(inputs, out_dir, *, command: str | None = None,
              near_threshold: int = DEFAULT_NEAR_THRESHOLD, folds: int = PROBE_FOLDS,
              seed: int = 0, progress: bool = True) -> dict:
    """Measure, probe and write ``report.md``, ``audit.json`` and the plots into ``out_dir``.

    ``inputs`` are ``KIND:PATH`` strings (or (kind, path) pairs); ``command`` is recorded in
    the report so it can be regenerated. Returns the audit (what audit.json holds).
    """
    start = time.perf_counter()
    measurements, input_summary = measure_inputs(inputs, progress=progress)
    groups = {}
    duplicates = find_duplicates(measurements, near_threshold)
    duplicated = {ref for group in duplicates['list'] for ref in group['images']}
    for source in [item['source'] for item in input_summary]:
        for label, name in enumerate(CLASSES):
            index = [k for k, record in enumerate(measurements.records)
                     if record['source'] == source and record['gt_label'] == label]
            if index:
                groups[f'{source}/{name}'] = summarise_group(
                    [measurements.per_image[k] for k in index],
                    [measurements.image_refs[k] for k in index], duplicated)
    probes = run_probes(measurements, folds=folds, seed=seed)
    findings, warnings_ = _findings(groups, probes, duplicates, input_summary)
    audit = {
        'command': command, 'inputs': input_summary, 'images': len(measurements.per_image),
        'unreadable': measurements.unreadable,
        'settings': {'tint_channel_spread': TINT_SPREAD, 'saturated_level': SATURATED_LEVEL,
                     'min_block_area_fraction': MIN_BLOCK_AREA_FRACTION,
                     'min_block_fill': MIN_BLOCK_FILL, 'thumbnail_side': THUMBNAIL_SIDE,
                     'probe_folds': folds, 'probe_seed': seed,
                     'probe_warning_auc': PROBE_WARNING_AUC, 'near_threshold': near_threshold,
                     'mean_histogram_bin_edges': MEAN_BIN_EDGES.tolist()},
        'groups': groups, 'duplicates': duplicates, 'probe': probes,
        'findings': findings, 'warnings': warnings_,
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = write_plots(audit, measurements, out_dir)
    audit['seconds'] = round(time.perf_counter() - start, 1)
    write_report(audit, plots, out_dir)
    (out_dir / 'audit.json').write_text(json.dumps(audit, indent=2) + '\n', encoding='utf-8')
    return audit


# ----------------------------------------------------------------------------- plots
_SOURCE_COLOURS = ('tab:blue', 'tab:orange', 'tab:green', 'tab:purple', 'tab:brown', 'tab:pink')
_CLASS_STYLES = {'normal': '--', 'tuberculosis': '-'}
_CLASS_MARKERS = {'normal': 'o', 'tuberculosis': 's'}


def _group_style(audit: dict, key: str) -> tuple[str, str, str]:
    """(colour, line style, marker) of a 'source/class' group: colour = source."""
    sources = [item['source'] for item in audit['inputs']]
    source, name = key.rsplit('/', 1)
    return (_SOURCE_COLOURS[sources.index(source) % len(_SOURCE_COLOURS)],
            _CLASS_STYLES[name], _CLASS_MARKERS[name])


def _figure(**kwargs) -> Figure:
    """A Figure drawn by the Agg canvas: no pyplot, no global backend, no display needed."""
    fig = Figure(layout='constrained', **kwargs)
    FigureCanvasAgg(fig)
    return fig


def _bar_chart(audit: dict, values: dict, colours: list, ylabel: str, title: str, path: Path):
    fig = _figure(figsize=(max(5.0, 1.3 * len(values) + 2), 3.6))
    ax = fig.add_subplot()
    bars = ax.bar(range(len(values)), list(values.values()), color=colours, edgecolor='black')
    ax.bar_label(bars, fmt='%.1f %%', fontsize=8)
    ax.set_xticks(range(len(values)), [key.replace('/', '\n') for key in values], fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    fig.savefig(path, dpi=110)


def write_plots(audit: dict, measurements: Measurements, out_dir: Path) -> dict[str, str]:
    """Summary plots (no image pixels) as PNGs; returns {topic: file name}."""
    groups = audit['groups']
    members = {key: [] for key in groups}
    for index, record in enumerate(measurements.records):
        members[f'{record["source"]}/{CLASSES[record["gt_label"]]}'].append(index)
    files = {}

    fig = _figure(figsize=(11, 4))
    pixels, means = fig.subplots(1, 2)
    stats = measurements.array('stats')
    histograms = measurements.array('histogram')
    for key, index in members.items():
        colour, style, _ = _group_style(audit, key)
        label = f'{key} (n={len(index)})'
        pixels.plot(np.arange(256), histograms[index].mean(axis=0), style, color=colour,
                    label=label)
        means.hist(stats[index, STAT_NAMES.index('mean')], bins=MEAN_BIN_EDGES, density=True,
                   histtype='step', linestyle=style, color=colour, linewidth=1.5, label=label)
    pixels.set(title='Pixel values (average histogram per image)', xlabel='grey level',
               ylabel='fraction of pixels', xlim=(0, 255))
    means.set(title='Mean intensity per image', xlabel='mean grey level', ylabel='density',
              xlim=(0, 255))
    pixels.legend(fontsize=7)
    files['intensity'] = 'intensity_histograms.png'
    fig.savefig(out_dir / files['intensity'], dpi=110)

    fig = _figure(figsize=(6, 5))
    ax = fig.add_subplot()
    for key, index in members.items():
        colour, _, marker = _group_style(audit, key)
        sizes = Counter(zip(stats[index, 1].astype(int), stats[index, 0].astype(int)))
        widths, heights = zip(*sizes)
        ax.scatter(widths, heights, s=[20 + 300 * np.sqrt(n / len(index)) for n in
                                       sizes.values()],
                   marker=marker, facecolors='none', edgecolors=colour, linewidths=1.5,
                   label=f'{key}: {len(sizes)} size(s)')
    ax.set(title='Image sizes (marker area ~ share of the group)', xlabel='width (px)',
           ylabel='height (px)')
    ax.legend(fontsize=7, markerscale=0.4)
    files['sizes'] = 'image_sizes.png'
    fig.savefig(out_dir / files['sizes'], dpi=110)

    tint_colours = []
    for group in groups.values():
        hue = group['tint']['mean_hue_degrees']
        tint_colours.append(colorsys.hsv_to_rgb(hue / 360.0, 0.55, 0.9) if hue is not None
                            else (0.7, 0.7, 0.7))
    files['tint'] = 'tint_fraction.png'
    _bar_chart(audit, {key: group['tint']['tinted_percent'] for key, group in groups.items()},
               tint_colours, 'images tinted (%)',
               f'Colour-tinted images (mean channel spread >= {TINT_SPREAD:g} grey levels; '
               'bar colour = mean hue)', out_dir / files['tint'])
    files['blocks'] = 'block_fraction.png'
    _bar_chart(audit, {key: group['saturated_blocks']['images_with_blocks_percent']
                       for key, group in groups.items()},
               [_group_style(audit, key)[0] for key in groups], 'images with blocks (%)',
               'Images with burnt-in near-white rectangles', out_dir / files['blocks'])

    fig = _figure(figsize=(max(6.0, 2.2 * len(audit['probe']) + 2), 3.8))
    ax = fig.add_subplot()
    width = 0.8 / len(PROBES)
    for offset, name in enumerate(PROBES):
        aucs = [audit['probe'][scope][name].get('auc') for scope in audit['probe']]
        xs = [k + (offset - (len(PROBES) - 1) / 2) * width for k in range(len(aucs))]
        bars = ax.bar(xs, [auc or 0 for auc in aucs], width, label=name.replace('_', ' '))
        ax.bar_label(bars, labels=['' if auc is None else f'{auc:.2f}' for auc in aucs],
                     fontsize=7)
    ax.axhline(PROBE_WARNING_AUC, color='red', linestyle='--', linewidth=1,
               label=f'warning ({PROBE_WARNING_AUC})')
    ax.axhline(0.5, color='grey', linestyle=':', linewidth=1, label='chance')
    ax.set_xticks(range(len(audit['probe'])), list(audit['probe']))
    ax.set(ylim=(0, 1.08), ylabel=f'ROC AUC ({audit["settings"]["probe_folds"]}-fold CV)',
           title='Shortcut probe (logistic regression on trivial features)')
    ax.legend(fontsize=7, loc='lower right')
    files['probe'] = 'probe_auc.png'
    fig.savefig(out_dir / files['probe'], dpi=110)
    return files


# ----------------------------------------------------------------------------- report
def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(str(cell) for cell in row) + ' |' for row in rows]
    return lines


def _probe_cell(result: dict) -> str:
    if result.get('auc') is None:
        return f'- ({result.get("skipped", "skipped")})'
    cell = f'{result["auc"]:.3f} ± {result["auc_std"]:.3f}'
    return f'**{cell} WARNING**' if result['warning'] else cell


def write_report(audit: dict, plots: dict[str, str], out_dir: Path) -> Path:
    """``report.md``: findings first, then the tables and plots behind them."""
    groups, duplicates = audit['groups'], audit['duplicates']
    lines = ['# Dataset audit', '']
    if audit['command']:
        lines += ['Produced by this command (run from the repository root):', '', '```bash',
                  audit['command'], '```', '']
    lines += [f'{audit["images"]} images from {len(audit["inputs"])} input(s). All numbers are '
              'in `audit.json`; the plots show statistics only, never image pixels. Made by '
              '`mmtb.datasets.audit` (see its docstring for the method).', '']

    lines += ['## Findings', '']
    lines += [f'- **{message}**' for message in audit['warnings']]
    lines += [f'- {message}' for message in audit['findings']]
    if not audit['warnings'] and not audit['findings']:
        lines.append('- nothing stands out')
    if audit['unreadable']:
        lines.append(f'- {len(audit["unreadable"])} unreadable image(s), listed in audit.json')
    lines += ['', f'How to read the warnings: a probe AUC >= {PROBE_WARNING_AUC} means a '
              'deliberately weak classifier separates TB from normal using only trivial '
              'features. Image statistics (size, tint, brightness, white blocks) say nothing '
              'about the lungs, so a high AUC there is a shortcut. A 16x16 thumbnail keeps only '
              'framing, exposure and gross anatomy: large opacities can show, but an AUC near 1 '
              'means the classes were acquired or processed differently (another hospital, '
              'scanner, crop or population). A network will use such differences instead of '
              'the disease, and a test split drawn from the same data will not notice: only an '
              'external test set will.', '']

    lines += ['## Inputs', '']
    lines += _table(['source', 'kind', 'path', 'images'],
                    [[item['source'], item['kind'], f'`{item["path"]}`', item['images']]
                     for item in audit['inputs']])

    lines += ['', '## Per source and class', '']
    rows = []
    for key, group in groups.items():
        tint, blocks, intensity = group['tint'], group['saturated_blocks'], group['intensity']
        hue = (f'{tint["hue_name"]} ({tint["mean_hue_degrees"]:.0f}°)' if tint['hue_name']
               else '-')
        sizes = ', '.join(f'{size} ({n})' for size, n in group['sizes']['most_common'][:3])
        if group['sizes']['distinct'] > 3:
            sizes += f' … {group["sizes"]["distinct"]} sizes'
        rows.append([
            key, group['images'], sizes,
            '<br>'.join(f'{name} ({n})' for name, n in group['storage'].items()),
            f'{tint["tinted_percent"]:.1f} % ({tint["tinted_images"]})', hue,
            f'{tint["mean_colourfulness"]:.3f}',
            f'{blocks["images_with_blocks_percent"]:.1f} % ({blocks["images_with_blocks"]})',
            f'{intensity["mean_of_means"]:.1f} ± {intensity["sd_of_means"]:.1f}',
            group['duplicates']['images_in_duplicate_groups']])
    lines += _table(['source / class', 'images', 'sizes (count)', 'storage', 'tinted',
                     'tint hue', 'colourfulness', 'white blocks', 'mean intensity ± sd',
                     'in duplicate groups'], rows)

    lines += ['', '## Colour tint', '',
              f'An image counts as tinted when its pixels\' channel spread (max - min of R, G, B) '
              f'averages >= {TINT_SPREAD:g} grey levels; grey images stored as RGB score 0. The '
              'hue is that of the mean colour of the tinted images. Converting to grey (as mmtb\'s '
              '`LoadGreyXray` does) removes the colour itself, but the tinted images also differ '
              'in brightness and contrast after conversion (compare the grey-thumbnail probe '
              'with the colour ones).', '',
              f'![tinted images per source and class]({plots["tint"]})', '',
              '## Burnt-in white blocks', '',
              f'A block is a 4-connected region of pixels >= {SATURATED_LEVEL} covering >= '
              f'{100 * MIN_BLOCK_AREA_FRACTION:g} % of the image and filling >= '
              f'{100 * MIN_BLOCK_FILL:g} % of its bounding box (an axis-aligned filled '
              'rectangle): typically a redaction of burnt-in text. Grey conversion keeps them.',
              '', f'![images with blocks per source and class]({plots["blocks"]})', '']
    examples = [(key, group['saturated_blocks']['examples']) for key, group in groups.items()
                if group['saturated_blocks']['examples']]
    for key, refs in examples:
        lines.append(f'- {key}, e.g.: ' + ', '.join(f'`{ref}`' for ref in refs[:5]))
    lines += ['', '## Intensity', '', f'![intensity histograms]({plots["intensity"]})', '',
              '## Image sizes', '', f'![image sizes]({plots["sizes"]})', '']

    lines += ['## Duplicates', '',
              f'Found with `mmtb.data_prep.dedup` (md5 of decoded pixels; 256-bit DCT hash, '
              f'Hamming distance <= {duplicates["near_threshold"]}): {duplicates["groups"]} '
              f'group(s), {duplicates["images_in_groups"]} images, '
              f'{duplicates["cross_source_groups"]} across sources, '
              f'{duplicates["label_conflict_groups"]} with conflicting labels. '
              'The converter would drop: ' + ', '.join(
                  f'{reason} {n}' for reason, n in duplicates['would_drop'].items()) + '.', '']
    for group in duplicates['list'][:20]:
        lines.append('- ' + ' = '.join(f'`{ref}`' for ref in group['images']))
    if len(duplicates['list']) > 20:
        lines.append(f'- … {len(duplicates["list"]) - 20} more in audit.json')

    lines += ['', '## Shortcut probe', '',
              f'Stratified {audit["settings"]["probe_folds"]}-fold cross-validated ROC AUC '
              '(mean ± sd over folds) of a standardised logistic regression, TB positive. '
              '"all sources" pools the inputs, so there the source itself is a feature.', '']
    scopes = list(audit['probe'])
    rows = []
    for name, features in PROBES.items():
        rows.append([f'{name.replace("_", " ")}: {features}',
                     *[_probe_cell(audit['probe'][scope][name]) for scope in scopes]])
    lines += _table(['probe', *scopes], rows)
    lines += ['', 'What separates the classes in the image-statistics probe (largest standardised '
              'weights of a fit on all images; positive = more TB):', '']
    for scope in scopes:
        top = audit['probe'][scope]['image_statistics'].get('top_features')
        if top:
            lines.append(f'- {scope}: ' + ', '.join(f'`{name}` {weight:+.2f}'
                                                    for name, weight in top.items()))
    lines += ['', f'![shortcut probe AUCs]({plots["probe"]})', '']
    path = out_dir / 'report.md'
    path.write_text('\n'.join(lines) + '\n', encoding='utf-8')
    return path


def format_terminal_summary(audit: dict, colour: bool) -> str:
    """A short summary for the terminal; warnings in red when ``colour``."""
    red, reset = ('\033[1;31m', '\033[0m') if colour else ('', '')
    lines = [f'audited {audit["images"]} images in {audit.get("seconds", 0):.1f} s']
    for key, group in audit['groups'].items():
        lines.append(f'  {key:<28} n={group["images"]:<5} tinted '
                     f'{group["tint"]["tinted_percent"]:5.1f} %  white blocks '
                     f'{group["saturated_blocks"]["images_with_blocks_percent"]:5.1f} %')
    lines.append(f'  duplicate groups: {audit["duplicates"]["groups"]}')
    lines.append('shortcut probe (ROC AUC):')
    for scope, results in audit['probe'].items():
        for name, result in results.items():
            text = f'  {scope:<14} {name:<22} ' + (
                'skipped' if result.get('auc') is None else f'{result["auc"]:.3f}')
            if result.get('warning'):
                text = f'{red}{text}  WARNING: shortcut (AUC >= {PROBE_WARNING_AUC}){reset}'
            lines.append(text)
    if audit['warnings']:
        lines.append(f'{red}{len(audit["warnings"])} shortcut warning(s): a weak classifier on '
                     f'trivial features reaches ROC AUC >= {PROBE_WARNING_AUC}; see report.md'
                     f'{reset}')
    return '\n'.join(lines)
