"""Seeded stratified train/test split and the annotation files the configs load.

The split is stratified by label and, when several sources are merged, by source too, so the
test set keeps the class ratio of every hospital instead of e.g. drawing all Shenzhen TB cases
into train. Output is the OpenMMLab 2.0 annotation format that ``mmpretrain``'s
``BaseDataset`` reads, with image paths relative to the output folder, so a config only needs
``data_root=<out>`` and ``ann_file='meta/train.json'``.
"""
import csv
import io
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from mmtb.datasets.sources import CLASSES, DataSourceError

META_DIR = 'meta'


@dataclass
class SplitResult:
    """The two halves plus how they were stratified (recorded in the summary)."""
    train: list[dict]
    test: list[dict]
    stratified_by: str | None


def stratified_split(records: Sequence[dict], test_ratio: float = 0.2,
                     seed: int = 0) -> SplitResult:
    """Split ``records`` reproducibly: the same records and seed always give the same halves.

    Records are first sorted by path so the result does not depend on the order of the inputs.
    Stratification tries label x source, then label alone, then none: tiny strata (a source
    with a single TB image) make scikit-learn refuse the finer ones.
    """
    if not 0.0 < test_ratio < 1.0:
        raise DataSourceError(f'test ratio must be between 0 and 1, got {test_ratio}')
    records = sorted(records, key=lambda record: record['img_path'])
    strategies = []
    if len({record['source'] for record in records}) > 1:
        strategies.append(('label+source',
                           [f"{record['source']}|{record['gt_label']}" for record in records]))
    strategies.append(('label', [record['gt_label'] for record in records]))
    strategies.append((None, None))
    indices = np.arange(len(records))
    for name, strata in strategies:
        try:
            train_idx, test_idx = train_test_split(indices, test_size=test_ratio,
                                                   random_state=seed, stratify=strata)
        except ValueError:
            continue
        return SplitResult(train=[records[i] for i in sorted(train_idx)],
                           test=[records[i] for i in sorted(test_idx)], stratified_by=name)
    raise DataSourceError(
        f'cannot split {len(records)} image(s) with test ratio {test_ratio}: too few images')


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
