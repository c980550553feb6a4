"""The ablation table in the shape of the paper's Table 2, plus screening columns.

Built only from the ``metrics.json`` files (and per-image ``scores_*.csv``) in a results folder,
so the committed table can be regenerated from committed files at any time; model and
augmentation labels come from the ``metafile.yml`` beside each run's config. The 'Threshold
from' column says which split chose the operating threshold that the '@thr' columns are scored
at: the internal test split (older results, which do not record it) or the training data's
validation split. With a baseline run, each run's AUC change from it is shown, with a paired
bootstrap CI where both runs kept per-image scores. Configs run with several seeds get a
second table of the AUC spread between seeds: training noise, which the CIs do not cover.
"""
import csv
import io
import json
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import List, Optional

import yaml

from mmtb.evaluation.metrics import compare_scores, read_scores

# the paper's four augmentation settings (metafile labels), in its row order
PAPER_SETTINGS = ('none', 'RE', 'RE+RA', 'RE+RA+RF')
REPO = Path(__file__).resolve().parents[2]
METAFILE = 'metafile.yml'
UNLISTED = 'not in a metafile.yml'
# the paper's Table 2 (512 px, TB DB + Shenzhen): accuracy, precision, recall, F1 in %
PAPER_TABLE2 = {
    ('resnet50-fpn', 'none'): (85.6, 78.2, 90.0, 81.1),
    ('resnet50-fpn', 'RE'): (90.0, 93.9, 74.0, 79.4),
    ('resnet50-fpn', 'RE+RA'): (93.8, 96.4, 83.9, 88.6),
    ('resnet50-fpn', 'RE+RA+RF'): (96.3, 93.6, 94.6, 94.1),
    ('efficientnet-b0-fpn', 'none'): (85.9, 78.0, 88.0, 80.9),
    ('efficientnet-b0-fpn', 'RE'): (91.5, 86.4, 85.9, 86.2),
    ('efficientnet-b0-fpn', 'RE+RA'): (94.0, 90.2, 90.6, 90.4),
    ('efficientnet-b0-fpn', 'RE+RA+RF'): (94.2, 89.8, 92.3, 91.0),
}
PAPER_COLUMNS = [('Accuracy', 'accuracy'), ('Precision', 'precision'), ('Recall', 'recall'),
                 ('F1', 'f1'), ('Specificity', 'specificity')]


@lru_cache(maxsize=None)
def _labels_in(metafile: Path) -> dict:
    """{config path: (model, augmentation)} of every model a ``metafile.yml`` lists."""
    models = yaml.safe_load(metafile.read_text()).get('Models') or []
    return {Path(m['Config']).as_posix(): (m['Metadata']['Model'], m['Metadata']['Augmentation'])
            for m in models}


def labels_of(config: str, root: Path = REPO) -> tuple:
    """(model, augmentation) labels of a run's config, from the ``metafile.yml`` of its folder:
    the tables never read them out of file names, so renaming a config cannot relabel a run.
    A config no metafile lists (a new experiment) is shown by its file name, marked as such."""
    metafile = root / Path(config).parent / METAFILE
    labels = _labels_in(metafile) if metafile.is_file() else {}
    return labels.get(Path(config).as_posix(), (Path(config).stem, UNLISTED))


def _auc(m: dict) -> str:
    if 'screening/auc' not in m:
        return ''
    return (f"{m['screening/auc']:.3f} ({m['screening/auc_ci_low']:.3f}-"
            f"{m['screening/auc_ci_high']:.3f})")


def _at_threshold(m: dict) -> str:
    return (f"{m['screening/op/sensitivity']:.1f} / "
            f"{m['screening/op/specificity']:.1f} @ {m['screening/op/threshold']:.3f}")


def _sensitivity_only(m: dict, prefix: str = 'screening/op/') -> str:
    """'44.0 (39.1-49.0)': a TB-only set has no specificity or AUC, only this."""
    return (f"{m[prefix + 'sensitivity']:.1f} ({m[prefix + 'sensitivity_ci_low']:.1f}-"
            f"{m[prefix + 'sensitivity_ci_high']:.1f})")


def _tb_only_columns(name: str, m: dict) -> dict:
    """Sensitivity at the operating threshold with its 95 % CI, overall and per TB kind."""
    columns = {f'{name} Sens @thr (95% CI)': _sensitivity_only(m)}
    kinds = sorted({key.split('/')[2] for key in m
                    if key.startswith('screening/group/') and key.endswith('/op/sensitivity')})
    for kind in kinds:
        columns[f'{name} Sens {kind}'] = _sensitivity_only(m, f'screening/group/{kind}/op/')
    return columns


def _threshold_source(record: dict) -> str:
    """Which split chose the operating threshold, and the threshold when it was the val one."""
    if record.get('threshold_split', 'test') != 'val':
        return 'internal test'
    threshold = record['metrics'].get('val', {}).get('screening/thr_sens90')
    return 'val' if threshold is None else f'val ({threshold:.3f})'


def _paired_delta(base_scores: Path, run_scores: Path) -> Optional[str]:
    """'+0.050 (+0.020, +0.081)': the AUC change with its paired bootstrap 95 % CI."""
    if not (base_scores.is_file() and run_scores.is_file()):
        return None
    base, run = read_scores(base_scores), read_scores(run_scores)
    if sorted(base) != sorted(run):
        return None  # not the same images: no paired comparison
    try:
        change = compare_scores(base, run)
    except ValueError:  # labels differ, or one class only
        return None
    delta, low, high = change['delta_auc'], change['delta_ci_low'], change['delta_ci_high']
    return f'{delta:+.3f} ({low:+.3f}, {high:+.3f})'


def _add_deltas(rows: List[dict], records: List[dict], folders: List[Path],
                baseline: str) -> None:
    """Columns '<set> ΔAUC': each run's AUC minus the baseline run's, on every test set, with
    a paired bootstrap CI when both runs' per-image scores were kept."""
    names = [row['Run'] for row in rows]
    if baseline not in names:
        raise ValueError(f'baseline run {baseline!r} is not in the results ({names})')
    base_index = names.index(baseline)
    base = records[base_index]['metrics']
    for row, record, folder in zip(rows, records, folders):
        for name, metrics in record['metrics'].items():
            if name == 'val' or 'screening/auc' not in base.get(name, {}):
                continue
            if 'screening/auc' in metrics:
                delta = metrics['screening/auc'] - base[name]['screening/auc']
                paired = None if folder == folders[base_index] else _paired_delta(
                    folders[base_index] / f'scores_{name}.csv', folder / f'scores_{name}.csv')
                row[f'{name} ΔAUC'] = paired or f'{delta:+.3f}'


def _paper_order(item) -> tuple:
    """Rows as in the paper's Table 2: by model, then none / RE / RE+RA / RE+RA+RF (+ steps)."""
    path, record = item
    model, aug = labels_of(record['config'])
    paper = aug.split(' + ')[0]
    rank = PAPER_SETTINGS.index(paper) if paper in PAPER_SETTINGS else len(PAPER_SETTINGS)
    return model, rank, aug, path.parent.name


def table_rows(results_dir: Path, baseline: Optional[str] = None) -> List[dict]:
    """One row per run; with ``baseline`` (a run name) also each AUC's change from it."""
    rows, records, folders = [], [], []
    found = [(path, json.loads(path.read_text()))
             for path in Path(results_dir).glob('*/metrics.json')]
    for path, record in sorted(found, key=_paper_order):
        records.append(record)
        folders.append(path.parent)
        model, aug = labels_of(record['config'])
        internal = record['metrics'].get('internal', {})
        row = {'Run': path.parent.name, 'Model': model, 'Augmentation': aug,
               'Input': record.get('img_size') or 512, 'Seed': record.get('seed')}
        paper = PAPER_TABLE2.get((model, aug))
        if paper:  # the paper's own numbers for this row, beside ours
            row['Paper Acc/Prec/Rec/F1'] = ' / '.join(map(str, paper))
        for title, key in PAPER_COLUMNS:
            value = internal.get(f'screening/{key}')
            row[title] = '' if value is None else f'{value:.1f}'
        row['AUC (95% CI)'] = _auc(internal)
        row['Spec@Sens90'] = (f"{internal['screening/spec_at_sens90']:.1f}"
                              if 'screening/spec_at_sens90' in internal else '')
        row['Threshold from'] = _threshold_source(record)
        if 'screening/op/sensitivity' in internal:  # threshold chosen on val, not on this split
            row['Sens/Spec @thr'] = _at_threshold(internal)
            row['WHO'] = 'yes' if internal['screening/op/who_target_met'] else 'no'
        # every result but these is an external test set
        not_external = {'internal', 'val'} if record.get('threshold_split') == 'val' else {
            'internal'}
        for name, ext in record['metrics'].items():
            if name in not_external:
                continue
            if 'screening/auc' not in ext and 'screening/op/sensitivity' in ext:
                row.update(_tb_only_columns(name, ext))  # TB only: no AUC, no specificity
                continue
            row[f'{name} AUC (95% CI)'] = _auc(ext)
            if 'screening/spec_at_sens90' in ext:  # at the best threshold for this set (oracle)
                row[f'{name} Spec@Sens90'] = f"{ext['screening/spec_at_sens90']:.1f}"
            if 'screening/op/sensitivity' in ext:
                row[f'{name} Sens/Spec @thr'] = _at_threshold(ext)
                row[f'{name} WHO'] = 'yes' if ext['screening/op/who_target_met'] else 'no'
        row['Status'] = record['status']
        rows.append(row)
    if baseline:
        _add_deltas(rows, records, folders, baseline)
    return rows


def seed_spread(results_dir: Path) -> str:
    """Markdown: for each config run with more than one seed, every test set's AUC per seed
    and their spread (max - min); '' when no config has several seeds."""
    groups = defaultdict(list)
    for path in sorted(Path(results_dir).glob('*/metrics.json')):
        record = json.loads(path.read_text())
        if record.get('status') == 'ok':
            groups[(record['config'], record.get('img_size'))].append(record)
    lines = []
    for (config, _), records in sorted(groups.items()):
        if len(records) < 2:
            continue
        model, aug = labels_of(config)
        seeds = ', '.join('default' if r.get('seed') is None else str(r['seed']) for r in records)
        for name in records[0]['metrics']:
            aucs = [r['metrics'].get(name, {}).get('screening/auc') for r in records]
            if name == 'val' or None in aucs:
                continue
            lines.append(f"| {model} | {aug} | {name} | {seeds} | "
                         f"{' / '.join(f'{a:.3f}' for a in aucs)} | {max(aucs) - min(aucs):.3f} |")
    if not lines:
        return ''
    return ('\n## Seed spread\n\nRuns of one config with different seeds: training noise, which '
            'the AUC confidence intervals above (test-image sampling) do not cover.\n\n'
            '| Model | Augmentation | Test set | Seeds | AUC per seed | Spread |\n'
            '|---|---|---|---|---|---|\n' + '\n'.join(lines) + '\n')


def results_table(results_dir: Path, baseline: Optional[str] = None) -> str:
    """Write ``table.md`` and ``table.csv`` into ``results_dir``; return the markdown."""
    rows = table_rows(results_dir, baseline)
    columns = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    lines = ['| ' + ' | '.join(columns) + ' |', '|' + '---|' * len(columns)]
    for row in rows:
        lines.append('| ' + ' | '.join(str(row.get(c, '')) for c in columns) + ' |')
    markdown = '\n'.join(lines) + '\n' + seed_spread(results_dir)
    Path(results_dir, 'table.md').write_text(markdown)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    Path(results_dir, 'table.csv').write_text(buffer.getvalue())
    return markdown


