"""The audit as a whole: :func:`run_audit` measures, probes, plots and writes ``report.md``
(findings first, then the tables and plots behind them) and ``audit.json`` (every number).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from mmtb.data_prep.dedup import DEFAULT_NEAR_THRESHOLD
from mmtb.data_prep.sources import CLASSES
from mmtb.datasets.transforms.cue_removal import (
    BURNT_IN_MIN_AREA,
    BURNT_IN_MIN_FILL,
    BURNT_IN_SATURATION,
)

from .measurement import (
    MEAN_BIN_EDGES,
    THUMBNAIL_SIDE,
    TINT_SPREAD,
    find_duplicates,
    measure_inputs,
    summarise_group,
)
from .plots import write_plots
from .probe import PROBE_FOLDS, PROBE_WARNING_AUC, PROBES, run_probes


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
        'settings': {'tint_channel_spread': TINT_SPREAD,
                     'saturated_level': BURNT_IN_SATURATION, 'block_connectivity': 8,
                     'min_block_area_fraction': BURNT_IN_MIN_AREA,
                     'min_block_fill': BURNT_IN_MIN_FILL, 'thumbnail_side': THUMBNAIL_SIDE,
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
              '`mmtb.analysis.audit` (see its docstrings for the method).', '']

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
              f'A block is an 8-connected region of pixels >= {BURNT_IN_SATURATION} covering '
              f'>= {100 * BURNT_IN_MIN_AREA:g} % of the image and filling >= '
              f'{100 * BURNT_IN_MIN_FILL:g} % of its bounding box (an axis-aligned filled '
              'rectangle): typically a redaction of burnt-in text. Grey conversion keeps them. '
              'This is the definition `MaskBurntInBlocks` removes (both use '
              '`find_burnt_in_blocks`), so the audit measures the cue the transform takes away; '
              'audits made before they shared it counted 4-connected regions of >= 0.5 %.',
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
