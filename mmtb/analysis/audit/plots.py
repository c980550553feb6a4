"""Summary plots of an audit as PNGs: statistics only, never image pixels.

Drawn on matplotlib's Agg canvas directly (no pyplot), so no display or global backend is needed.
"""
from __future__ import annotations

import colorsys
from collections import Counter
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mmtb.data_prep.sources import CLASSES

from .measurement import MEAN_BIN_EDGES, STAT_NAMES, TINT_SPREAD, Measurements
from .probe import PROBE_WARNING_AUC, PROBES

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
