"""Local calibration of the screening threshold (the operating point).

WHO advises calibrating a CAD product's threshold on local data: P(TB) from a model trained
elsewhere does not mean the same at another hospital. Calibration picks, on locally labelled
cases, the highest threshold that still reaches the target sensitivity, reports its
uncertainty (stratified bootstrap over cases) and writes it as an operating-point JSON that
:func:`mmtb.apis.read_operating_point` (and so the app and the screening tools) read.
"""
from __future__ import annotations

import csv
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from mmtb.evaluation.metrics.screening import (
    WHO_SENSITIVITY,
    WHO_SPECIFICITY,
    meets_who_target,
    min_tb_cases,
    rates_at,
    stratified_resamples,
    threshold_for_sensitivity,
)

__all__ = ['CalibrationInputError', 'MIN_TB_CASES', 'bootstrap_threshold_ci', 'calibrate',
           'local_calibration_table', 'parse_label', 'read_scores_csv', 'score_folder',
           'simulate_local_calibration']

MIN_TB_CASES = 50  # below this the threshold moves a lot with the sample: warn
_LABELS = {
    'normal': 0, 'healthy': 0, 'negative': 0, '0': 0,
    'tuberculosis': 1, 'tb': 1, 'positive': 1, '1': 1,
}


class CalibrationInputError(ValueError):
    """Unusable calibration input; the message is one line meant for the user."""


def parse_label(value) -> int:
    """0 (normal) or 1 (TB) from a CSV cell: 0/1 or a class name (normal, tb, tuberculosis...)."""
    text = str(value).strip().lower()
    if text in _LABELS:
        return _LABELS[text]
    try:
        number = float(text)
    except ValueError:
        number = None
    if number in (0.0, 1.0):
        return int(number)
    raise CalibrationInputError(
        f'label {value!r} is neither 0/1 nor a class name ({", ".join(sorted(_LABELS))})')


def _read_csv(path) -> tuple[list[str], list[dict]]:
    path = Path(path)
    try:
        with path.open(newline='', encoding='utf-8-sig') as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            columns = [c.strip() for c in (reader.fieldnames or [])]
    except FileNotFoundError:
        raise CalibrationInputError(f'file not found: {path}') from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise CalibrationInputError(f'{path} is not a readable CSV file ({e})') from None
    rows = [{(k or '').strip(): (v or '').strip() for k, v in row.items()} for row in rows]
    return columns, rows


def _require(columns: list[str], needed: Sequence[str], path) -> None:
    missing = [c for c in needed if c not in columns]
    if missing:
        found = ', '.join(columns) or 'none'
        raise CalibrationInputError(
            f'{path}: missing column(s) {", ".join(missing)} (found: {found})')


def _score(value: str, where: str) -> float:
    try:
        score = float(value)
    except ValueError:
        raise CalibrationInputError(f'{where}: prob_tb {value!r} is not a number') from None
    if not (math.isfinite(score) and 0 <= score <= 1):
        raise CalibrationInputError(f'{where}: prob_tb {value!r} is not a probability in [0, 1]')
    return score


def _label_lookup(labels_csv) -> dict[str, int]:
    """file -> label from a ``file,label`` CSV, keyed by the path as written and by its name."""
    columns, rows = _read_csv(labels_csv)
    _require(columns, ('file', 'label'), labels_csv)
    by_path, by_name = {}, {}
    for row in rows:
        label = parse_label(row['label'])
        by_path[row['file']] = label
        name = Path(row['file']).name
        by_name[name] = label if name not in by_name else None  # None: ambiguous name
    return {**{k: v for k, v in by_name.items() if v is not None}, **by_path}


def read_scores_csv(scores_csv, labels_csv=None) -> tuple[np.ndarray, np.ndarray]:
    """(scores, labels) from a ``prob_tb,label`` CSV, or from a ``file,prob_tb,...`` CSV (the
    batch screening tool's output) plus a ``file,label`` CSV matched by path, else file name."""
    columns, rows = _read_csv(scores_csv)
    _require(columns, ('prob_tb',), scores_csv)
    if labels_csv is None:
        _require(columns, ('label',), scores_csv)
    elif 'file' not in columns:
        raise CalibrationInputError(f'{scores_csv}: missing column file (needed to match '
                                    f'--labels {labels_csv})')
    lookup = _label_lookup(labels_csv) if labels_csv is not None else None
    scores, labels = [], []
    for line, row in enumerate(rows, start=2):
        where = f'{scores_csv}:{line}'
        if not row.get('prob_tb'):  # e.g. a file the screening tool could not decode
            continue
        if lookup is None:
            label = parse_label(row['label'])
        else:
            file = row['file']
            label = lookup.get(file, lookup.get(Path(file).name))
            if label is None:
                raise CalibrationInputError(f'{where}: no label for {file!r} in {labels_csv}')
        scores.append(_score(row['prob_tb'], where))
        labels.append(label)
    return np.asarray(scores, float), np.asarray(labels, int)


def score_folder(data_dir, config, checkpoint, batch_size: int = 16, device: str = 'cpu',
                 screener=None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """P(TB), labels and paths of a folder-per-class set (normal/, tuberculosis/ or tb/),
    scored by the model through the one inference path (:class:`mmtb.apis.TBScreener`)."""
    from mmtb.data_prep.sources import DataSourceError, read_source
    from mmtb.io.decode import XrayDecodeError, read_grey
    try:
        records = read_source('folder', data_dir)
    except DataSourceError as e:
        raise CalibrationInputError(str(e)) from None
    if screener is None:
        from mmtb.apis import TBScreener
        try:
            screener = TBScreener(config, checkpoint, threshold=0.5, device=device)
        except (FileNotFoundError, ValueError) as e:  # missing or mismatched model files
            raise CalibrationInputError(str(e).splitlines()[0]) from None
    scores = []
    for start in range(0, len(records), batch_size):
        batch = records[start:start + batch_size]
        greys = []
        for record in batch:
            try:
                greys.append(read_grey(record['img_path']))
            except XrayDecodeError as e:
                raise CalibrationInputError(f'{record["img_path"]}: {e}') from None
        scores.extend(screener.predict_batch(greys))
    labels = [r['gt_label'] for r in records]
    return np.asarray(scores, float), np.asarray(labels, int), [r['img_path'] for r in records]


def bootstrap_threshold_ci(scores, labels, target_sensitivity: float = WHO_SENSITIVITY,
                           n_boot: int = 1000, seed: int = 0, alpha: float = 0.05,
                           confidence: Optional[float] = None) -> tuple[float, float]:
    """Percentile bootstrap CI of the calibrated threshold, resampling cases within each class
    (stratified, so every resample keeps the set's TB / normal counts)."""
    scores, labels = np.asarray(scores, float), np.asarray(labels, int)
    thresholds = [threshold_for_sensitivity(scores[idx], labels[idx], target_sensitivity,
                                            confidence)
                  for idx in stratified_resamples(labels, n_boot, seed)]
    low, high = np.quantile(thresholds, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def calibrate(scores, labels, target_sensitivity: float = WHO_SENSITIVITY,
              chosen_on: str = '', n_boot: int = 1000, seed: int = 0,
              min_tb: int = MIN_TB_CASES, created: Optional[datetime] = None,
              confidence: Optional[float] = None) -> dict:
    """The operating point for ``target_sensitivity`` on labelled cases, as a JSON-ready dict.

    ``sensitivity``/``specificity`` are measured at the threshold on these same cases (so the
    sensitivity meets the target by construction; judge the specificity and the CI). With
    ``confidence`` the threshold is lowered until the target is the sensitivity's lower
    confidence bound (:func:`threshold_for_sensitivity`): on new local cases it then holds with
    that confidence instead of about half the time, at some cost in specificity.
    """
    scores, labels = np.asarray(scores, float), np.asarray(labels, int)
    if not 0 < target_sensitivity <= 1:
        raise CalibrationInputError(
            f'target sensitivity must be in (0, 1], got {target_sensitivity}')
    n_tb, n_normal = int(np.sum(labels == 1)), int(np.sum(labels == 0))
    if n_tb == 0 or n_normal == 0:
        raise CalibrationInputError(
            f'calibration needs both classes: got {n_tb} TB and {n_normal} normal cases')
    if confidence is not None and not 0 < confidence < 1:
        raise CalibrationInputError(f'confidence must be in (0, 1), got {confidence}')
    try:
        threshold = threshold_for_sensitivity(scores, labels, target_sensitivity, confidence)
    except ValueError as e:
        raise CalibrationInputError(str(e)) from None
    low, high = bootstrap_threshold_ci(scores, labels, target_sensitivity, n_boot, seed,
                                       confidence=confidence)
    rates = rates_at(scores, labels, threshold)
    warnings = []
    if n_tb < min_tb:
        warnings.append(f'only {n_tb} TB cases (fewer than {min_tb}): the threshold is '
                        f'uncertain (95% CI {low:.3g}-{high:.3g}); calibrate on more TB cases')
    if rates['specificity'] < WHO_SPECIFICITY:
        warnings.append(f'specificity {rates["specificity"]:.1%} at this threshold is below '
                        f'the WHO target of {WHO_SPECIFICITY:.0%}')
    created = created or datetime.now(timezone.utc)
    return {
        'threshold': threshold,
        'target_sensitivity': float(target_sensitivity),
        'sensitivity_confidence': None if confidence is None else float(confidence),
        'threshold_ci': [low, high],
        'sensitivity': rates['sensitivity'],
        'specificity': rates['specificity'],
        'n_tb': n_tb,
        'n_normal': n_normal,
        'chosen_on': chosen_on,
        'created': created.isoformat(timespec='seconds'),
        'warning': '; '.join(warnings) or None,
    }


def simulate_local_calibration(scores, labels, n_tb: int, n_normal: int,
                               target_sensitivity: float = WHO_SENSITIVITY,
                               repeats: int = 500, seed: int = 0,
                               confidence: Optional[float] = None) -> dict:
    """What local calibration on ``n_tb`` + ``n_normal`` labelled cases would achieve.

    Repeatedly draws a calibration set of that size from one site's scored cases, calibrates
    the threshold on it (:func:`threshold_for_sensitivity`) and scores the rest of the site's
    cases, never seen by the calibration, at that threshold. Returns the median and 5th-95th
    percentiles of the held-out sensitivity and specificity, how often that sensitivity fell
    below the target and how often the WHO target (sensitivity >= 90 %, specificity >= 70 %)
    was met: the answer to "how many local images must be labelled before this model can be
    used here". ``confidence`` calibrates with the lower-confidence-bound rule of
    :func:`threshold_for_sensitivity`.
    """
    scores, labels = np.asarray(scores, float), np.asarray(labels, int)
    tb, normal = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    if not (0 < n_tb < len(tb) and 0 < n_normal < len(normal)):
        raise CalibrationInputError(
            f'need more than {n_tb} TB and {n_normal} normal cases to hold some out; '
            f'got {len(tb)} and {len(normal)}')
    if confidence is not None and n_tb < min_tb_cases(target_sensitivity, confidence):
        raise CalibrationInputError(
            f'{n_tb} TB calibration cases cannot show a sensitivity of {target_sensitivity:.0%} '
            f'with {confidence:.0%} confidence; that needs at least '
            f'{min_tb_cases(target_sensitivity, confidence)}')
    rng = np.random.default_rng(seed)
    results = np.empty((repeats, 3))
    for i in range(repeats):
        chosen = np.concatenate([rng.choice(tb, n_tb, replace=False),
                                 rng.choice(normal, n_normal, replace=False)])
        held_out = np.setdiff1d(np.arange(len(labels)), chosen)
        threshold = threshold_for_sensitivity(scores[chosen], labels[chosen],
                                              target_sensitivity, confidence)
        rates = rates_at(scores[held_out], labels[held_out], threshold)
        results[i] = threshold, rates['sensitivity'], rates['specificity']
    who = meets_who_target(results[:, 1], results[:, 2])

    def summary(column):
        low, median, high = np.quantile(results[:, column], [0.05, 0.5, 0.95])
        return dict(median=float(median), p05=float(low), p95=float(high))

    return dict(n_tb=int(n_tb), n_normal=int(n_normal),
                target_sensitivity=float(target_sensitivity),
                sensitivity_confidence=None if confidence is None else float(confidence),
                repeats=int(repeats),
                threshold=summary(0), sensitivity=summary(1), specificity=summary(2),
                sensitivity_below_target=float(np.mean(results[:, 1] < target_sensitivity)),
                who_target_met=float(who.mean()))


def local_calibration_table(rows) -> str:
    """Markdown table of :func:`simulate_local_calibration` results, one row each."""
    lines = ['| calibration cases (TB + normal) | target sens. | held-out sensitivity % '
             '(median, 5-95th pct) | held-out sens. below target | held-out specificity % '
             '| WHO target met |',
             '|---|---|---|---|---|---|']
    for r in rows:
        sens, spec = r['sensitivity'], r['specificity']
        confidence = r.get('sensitivity_confidence')
        target = f"{r['target_sensitivity']:.2f}" + (
            f' (lower {100 * confidence:.0f} % bound)' if confidence else '')
        lines.append(
            f"| {r['n_tb']} + {r['n_normal']} | {target} | "
            f"{100 * sens['median']:.1f} ({100 * sens['p05']:.1f}-{100 * sens['p95']:.1f}) | "
            f"{100 * r['sensitivity_below_target']:.0f} % of draws | "
            f"{100 * spec['median']:.1f} ({100 * spec['p05']:.1f}-{100 * spec['p95']:.1f}) | "
            f"{100 * r['who_target_met']:.0f} % of draws |")
    return '\n'.join(lines)
