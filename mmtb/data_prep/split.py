"""Seeded stratified train/(val/)test splits and the annotation files the configs load.

The split is stratified by label and, when several sources are merged, by source too, so the
test set keeps the class ratio of every hospital instead of e.g. drawing all Shenzhen TB cases
into train. An optional validation part is cut from the training part the same way, so that
thresholds and checkpoints can be chosen without looking at the test set; a leave-one-source-out
split puts one whole source in test instead. Output is the OpenMMLab 2.0 annotation format that
``mmpretrain``'s ``BaseDataset`` reads, with image paths relative to the output folder, so a
config only needs ``data_root=<out>`` and ``ann_file='meta/train.json'``.
"""
import csv
import io
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from mmtb.data_prep.dedup import (
    DedupResult,
    Fingerprints,
    compute_fingerprints,
    group_duplicates,
    resolve_groups,
)
from mmtb.data_prep.sources import CLASSES, DataSourceError

META_DIR = 'meta'


@dataclass
class SplitResult:
    """The parts plus how they were stratified (recorded in the summary).

    ``val`` stays empty unless a validation part was asked for.
    """
    train: list[dict]
    test: list[dict]
    stratified_by: str | None
    val: list[dict] = field(default_factory=list)


# From finest to coarsest; a split made of two steps reports the coarser of the two.
_STRATEGIES = ('label+source', 'label', None)


def _two_way(records: Sequence[dict], fraction: float, seed: int):
    """Seeded stratified cut of ``fraction`` of ``records`` (already sorted) -> (rest, cut, how).

    Stratification tries label x source, then label alone, then none: tiny strata (a source
    with a single TB image) make scikit-learn refuse the finer ones. Returns None when even the
    unstratified cut is impossible (too few images).
    """
    strategies = []
    if len({record['source'] for record in records}) > 1:
        strategies.append(('label+source',
                           [f"{record['source']}|{record['gt_label']}" for record in records]))
    strategies.append(('label', [record['gt_label'] for record in records]))
    strategies.append((None, None))
    indices = np.arange(len(records))
    for name, strata in strategies:
        try:
            keep_idx, cut_idx = train_test_split(indices, test_size=fraction,
                                                 random_state=seed, stratify=strata)
        except ValueError:
            continue
        return ([records[i] for i in sorted(keep_idx)], [records[i] for i in sorted(cut_idx)],
                name)
    return None


def _check_ratio(name: str, ratio: float, allow_zero: bool = False) -> None:
    if not (0.0 <= ratio < 1.0 if allow_zero else 0.0 < ratio < 1.0):
        low = '0 (inclusive)' if allow_zero else '0'
        raise DataSourceError(f'{name} must be between {low} and 1, got {ratio}')


def _cut_validation(train: list[dict], fraction: float, seed: int):
    """Cut the validation part out of ``train`` -> (train, val, how it was stratified)."""
    parts = _two_way(train, fraction, seed)
    if parts is None or not parts[0]:
        raise DataSourceError(f'cannot cut a validation part of {fraction:.3g} from '
                              f'{len(train)} training image(s): too few images')
    return parts


def stratified_split(records: Sequence[dict], test_ratio: float = 0.2,
                     seed: int = 0, val_ratio: float = 0.0) -> SplitResult:
    """Split ``records`` reproducibly: the same records and seed always give the same parts.

    Records are first sorted by path so the result does not depend on the order of the inputs.
    ``val_ratio`` > 0 then cuts a validation part from the training part, stratified and seeded
    the same way; both ratios are fractions of all records (0.2 + 0.1 -> 70/10/20), and the test
    part is the same as without a validation part.
    """
    _check_ratio('test ratio', test_ratio)
    _check_ratio('validation ratio', val_ratio, allow_zero=True)
    if test_ratio + val_ratio >= 1.0:
        raise DataSourceError(f'test ratio {test_ratio} + validation ratio {val_ratio} leave '
                              'no training images')
    records = sorted(records, key=lambda record: record['img_path'])
    parts = _two_way(records, test_ratio, seed)
    if parts is None:
        raise DataSourceError(
            f'cannot split {len(records)} image(s) with test ratio {test_ratio}: too few images')
    train, test, how = parts
    if not val_ratio:
        return SplitResult(train=train, test=test, stratified_by=how)
    train, val, val_how = _cut_validation(train, val_ratio / (1.0 - test_ratio), seed)
    coarser = max(_STRATEGIES.index(how), _STRATEGIES.index(val_how))
    return SplitResult(train=train, val=val, test=test, stratified_by=_STRATEGIES[coarser])


def hold_out_split(records: Sequence[dict], source: str, val_ratio: float = 0.0,
                   seed: int = 0) -> SplitResult:
    """Leave-one-source-out: every record of ``source`` is test, the others train (and val).

    Measures how a model transfers to an unseen hospital. ``val_ratio`` is here a fraction of
    the other sources' records. Run it on de-duplicated records (see
    :func:`deduplicate_for_hold_out`), or twins of test images stay in training.
    """
    _check_ratio('validation ratio', val_ratio, allow_zero=True)
    records = sorted(records, key=lambda record: record['img_path'])
    test = [record for record in records if record['source'] == source]
    train = [record for record in records if record['source'] != source]
    if not test:
        known = sorted({record['source'] for record in records})
        raise DataSourceError(f'--hold-out-source {source!r} is not among the sources read '
                              f'({", ".join(known)})')
    if not train:
        raise DataSourceError(f'--hold-out-source {source!r} leaves no training images '
                              '(add an --input of another source)')
    if not val_ratio:
        return SplitResult(train=train, test=test, stratified_by=None)
    train, val, how = _cut_validation(train, val_ratio, seed)
    return SplitResult(train=train, val=val, test=test, stratified_by=how)


def deduplicate_for_hold_out(records: Sequence[dict], source: str, near_threshold: int,
                             progress: bool = True) -> DedupResult:
    """Like :func:`mmtb.data_prep.dedup.deduplicate`, but a held-out image always survives.

    The held-out source must reach the test set whole, so when one of its images has a twin in
    a training source the training copy is the one dropped - even when it is larger, which the
    plain rule (keep the largest) would keep. Label conflicts still drop every member.
    """
    records = list(records)
    fingerprints = compute_fingerprints([record['img_path'] for record in records], progress)
    groups = group_duplicates(fingerprints, near_threshold)
    # resolve_groups keeps the member with the most pixels: rank held-out images above all.
    held_out = np.array([record['source'] == source for record in records], dtype=bool)
    offset = int(fingerprints.n_pixels.max(initial=0)) + 1
    ranked = Fingerprints(md5=fingerprints.md5, phash=fingerprints.phash,
                          n_pixels=fingerprints.n_pixels + held_out * offset)
    return resolve_groups(records, ranked, groups)


def build_annotation(records: Sequence[dict], data_root) -> dict:
    """OpenMMLab 2.0 annotation dict; ``img_path`` relative to ``data_root``, sorted by it.

    Both sides are resolved before ``relpath`` so that a symlinked output or data folder
    cannot produce a ``../..`` path that the OS resolves somewhere else.
    """
    root = Path(data_root).resolve()
    data_list = [dict(record, img_path=os.path.relpath(Path(record['img_path']).resolve(), root))
                 for record in records]
    data_list.sort(key=lambda item: item['img_path'])
    return {'metainfo': {'classes': list(CLASSES)}, 'data_list': data_list}


def count_records(records: Sequence[dict], sources: Sequence[str]) -> dict[str, dict[str, int]]:
    """``{class name: {source: count}}`` with zeros filled in, for the summary table."""
    counts = Counter((record['gt_label'], record['source']) for record in records)
    return {name: {source: counts[(label, source)] for source in sources}
            for label, name in enumerate(CLASSES)}


def to_json(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + '\n'


def to_csv(rows: Sequence[Mapping], fields: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fields), lineterminator='\n')
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_dataset_files(out_dir, meta_files: Mapping[str, str],
                        top_files: Mapping[str, str]) -> None:
    """Write ``out_dir/meta/<name>`` and ``out_dir/<name>`` so a failure leaves no partial meta/.

    Everything is first written into a hidden staging folder inside ``out_dir`` (same file
    system, so renames are atomic); the new ``meta/`` then replaces the old one in a single
    rename - stale files such as a train.json from an earlier run do not survive - and each
    top-level file is moved in with ``os.replace``. ``meta/`` is owned by the converter.
    """
    out_dir = Path(out_dir)
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix='.prepare-', dir=out_dir))
    try:
        (staging / META_DIR).mkdir()
        for name, text in meta_files.items():
            (staging / META_DIR / name).write_text(text, encoding='utf-8')
        for name, text in top_files.items():
            (staging / name).write_text(text, encoding='utf-8')
        if (out_dir / META_DIR).exists():
            os.replace(out_dir / META_DIR, staging / 'previous-meta')
        os.replace(staging / META_DIR, out_dir / META_DIR)
        for name in top_files:
            os.replace(staging / name, out_dir / name)
    except BaseException:
        if (staging / 'previous-meta').exists() and not (out_dir / META_DIR).exists():
            os.replace(staging / 'previous-meta', out_dir / META_DIR)
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
