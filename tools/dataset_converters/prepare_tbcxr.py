"""Merge chest X-ray TB datasets into de-duplicated, stratified train/(val/)test annotations.

Example::

    python tools/dataset_converters/prepare_tbcxr.py \\
        --input tbdb:../shared/data/tbdb256 --input shenzhen:/data/ChinaSet_AllFiles \\
        --out data/tbcxr --test-ratio 0.2 --seed 0

    # an external test set: everything goes to meta/test.json
    python tools/dataset_converters/prepare_tbcxr.py \\
        --input pakistan:../shared/data/pakistan256 --out data/pakistan --all-test

    # 70/10/20 with a validation split, so thresholds are never chosen on the test split
    python tools/dataset_converters/prepare_tbcxr.py \\
        --input tbdb:../shared/data/tbdb256 --out data/tbdb_val --val-ratio 0.1

    # leave one source out: all of Pakistan is test, the rest train (+ 10 % of it val)
    python tools/dataset_converters/prepare_tbcxr.py --input tbdb:../shared/data/tbdb256 \\
        --input pakistan:../shared/data/pakistan256 --out data/loso_pakistan \\
        --hold-out-source pakistan --val-ratio 0.1

Writes ``OUT/meta/train.json``, ``OUT/meta/test.json`` and, with ``--val-ratio``,
``OUT/meta/val.json`` (OpenMMLab 2.0 format, image paths relative to OUT, so a config uses
``data_root=OUT``), ``OUT/summary.json`` (counts per split x class x source, inputs, seed,
ratios, duplicates) and ``OUT/duplicates.csv``. The logic lives in ``mmtb.data_prep.sources`` /
``dedup`` / ``split``; this file only wires them to the command line.
"""
import argparse
import sys
import time
from pathlib import Path

# Let `python tools/...` work from a checkout without `pip install -e .`.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mmtb.data_prep.dedup import DEFAULT_NEAR_THRESHOLD, HASH_BITS, REPORT_FIELDS, deduplicate
from mmtb.data_prep.sources import (
    CLASSES,
    DataSourceError,
    parse_input_spec,
    read_source,
    source_kinds,
)
from mmtb.data_prep.split import (
    build_annotation,
    count_records,
    deduplicate_for_hold_out,
    hold_out_split,
    stratified_split,
    to_csv,
    to_json,
    write_dataset_files,
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Merge TB chest X-ray datasets into de-duplicated train/test annotations.')
    parser.add_argument(
        '--input', action='append', required=True, metavar='KIND:PATH',
        help=f'a dataset folder and its layout; repeatable. KIND: {", ".join(source_kinds())}')
    parser.add_argument('--out', default='data/tbcxr', help='output folder (default: %(default)s)')
    parser.add_argument('--test-ratio', type=float, default=0.2,
                        help='fraction of images in the test split; ignored with '
                             '--hold-out-source (default: %(default)s)')
    parser.add_argument('--val-ratio', type=float, default=0.0,
                        help='fraction of images cut from the training part into '
                             'meta/val.json, stratified and seeded like the test split (0.2 + '
                             '0.1 -> 70/10/20); with --hold-out-source a fraction of the other '
                             'sources; 0 writes no val.json (default: %(default)s)')
    parser.add_argument('--hold-out-source', metavar='NAME',
                        help='leave one source out: every image of source NAME (an input KIND, '
                             'e.g. pakistan) goes to meta/test.json, after de-duplication '
                             'against all sources so none of its twins stays in training; the '
                             'other sources become train (and val)')
    parser.add_argument('--seed', type=int, default=0, help='split seed (default: %(default)s)')
    parser.add_argument(
        '--near-threshold', type=int, default=DEFAULT_NEAR_THRESHOLD,
        help=f'max Hamming distance (of {HASH_BITS} pHash bits) for near duplicates; -1 '
             'disables the near check (default: %(default)s)')
    parser.add_argument('--all-test', action='store_true',
                        help='put every image in meta/test.json (external test set); no train')
    return parser.parse_args(argv)


def _check_options(test_ratio, val_ratio, all_test, hold_out_source) -> None:
    """Option combinations that cannot work, refused before any image is read."""
    if all_test and (val_ratio or hold_out_source):
        raise DataSourceError('--all-test writes only a test set: it cannot be combined with '
                              '--val-ratio or --hold-out-source')
    if not 0.0 <= val_ratio < 1.0:
        raise DataSourceError(f'--val-ratio must be between 0 (no val.json) and 1, '
                              f'got {val_ratio}')
    if all_test or hold_out_source:
        return
    if not 0.0 < test_ratio < 1.0:
        raise DataSourceError(f'--test-ratio must be between 0 and 1, got {test_ratio}')
    if test_ratio + val_ratio >= 1.0:
        raise DataSourceError(f'--test-ratio {test_ratio} + --val-ratio {val_ratio} leave no '
                              'training images')


def convert(inputs, out_dir, test_ratio=0.2, seed=0, near_threshold=DEFAULT_NEAR_THRESHOLD,
            all_test=False, progress=True, val_ratio=0.0, hold_out_source=None) -> dict:
    """Read, de-duplicate, split and write; returns the summary that was written.

    Every input is read and checked before anything is created on disk, so a user error
    (raised as ``DataSourceError``) leaves the output folder untouched. ``hold_out_source``
    (leave-one-source-out) replaces the random test split, so ``test_ratio`` is then unused.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise DataSourceError(f'output path exists and is not a folder: {out_dir}')
    hold_out_source = hold_out_source.strip().lower() if hold_out_source else None
    _check_options(test_ratio, val_ratio, all_test, hold_out_source)
    specs = [parse_input_spec(spec) for spec in inputs]
    records, input_summary = [], []
    for kind, path in specs:
        found = read_source(kind, path)
        records.extend(found)
        input_summary.append({'kind': kind, 'path': str(Path(path).expanduser().resolve()),
                              'images': len(found)})

    sources = sorted({record['source'] for record in records})
    if hold_out_source:
        # Fail before the slow hashing; hold_out_split repeats the check after de-duplication.
        hold_out_split(records, hold_out_source)
        dedup = deduplicate_for_hold_out(records, hold_out_source, near_threshold, progress)
    else:
        dedup = deduplicate(records, near_threshold=near_threshold, progress=progress)
    if all_test:
        splits, stratified_by = {'test': dedup.kept}, None
    else:
        if hold_out_source:
            parts = hold_out_split(dedup.kept, hold_out_source, val_ratio=val_ratio, seed=seed)
        else:
            parts = stratified_split(dedup.kept, test_ratio=test_ratio, seed=seed,
                                     val_ratio=val_ratio)
        splits = {'train': parts.train, **({'val': parts.val} if val_ratio else {}),
                  'test': parts.test}
        stratified_by = parts.stratified_by

    # The new keys only appear when used, so a default run writes the same summary as before.
    options = {}
    if val_ratio:
        options['val_ratio'] = val_ratio
    if hold_out_source:
        options['hold_out_source'] = hold_out_source
    summary = {
        'classes': list(CLASSES), 'inputs': input_summary, 'seed': seed,
        'test_ratio': None if hold_out_source else test_ratio, **options,
        'all_test': all_test, 'near_threshold': near_threshold, 'stratified_by': stratified_by,
        'counts': {name: count_records(split, sources) for name, split in splits.items()},
        'totals': {'read': len(records), 'dropped': len(dedup.report), 'kept': len(dedup.kept),
                   **{name: len(split) for name, split in splits.items()}},
        'duplicates': {'counts': dedup.counts, 'dropped': dedup.report}}
    write_dataset_files(
        out_dir,
        meta_files={f'{name}.json': to_json(build_annotation(split, out_dir))
                    for name, split in splits.items()},
        top_files={'summary.json': to_json(summary),
                   'duplicates.csv': to_csv(dedup.report, REPORT_FIELDS)})
    return summary


def format_summary(summary: dict, out_dir, seconds: float) -> str:
    """A few lines for the terminal; the full story is in summary.json."""
    totals, duplicates = summary['totals'], summary['duplicates']['counts']
    read = ', '.join(f"{item['kind']} {item['images']}" for item in summary['inputs'])
    lines = [f"read {totals['read']} images ({read})",
             f"dropped {totals['dropped']} duplicates: "
             + ', '.join(f'{reason} {count}' for reason, count in duplicates.items())]
    if summary.get('hold_out_source'):
        lines.append(f"held out: source {summary['hold_out_source']} is the test split")
    for split, by_class in summary['counts'].items():
        per_class = ', '.join(f'{name} {sum(by_source.values())}'
                              for name, by_source in by_class.items())
        lines.append(f'{split}: {totals[split]} ({per_class})')
    lines.append(f'wrote {out_dir}/meta/ ({", ".join(summary["counts"])}), summary.json, '
                 f'duplicates.csv in {seconds:.1f} s')
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    try:
        summary = convert(args.input, args.out, test_ratio=args.test_ratio, seed=args.seed,
                          near_threshold=args.near_threshold, all_test=args.all_test,
                          val_ratio=args.val_ratio, hold_out_source=args.hold_out_source)
    except (DataSourceError, OSError) as error:  # user errors: one line, no traceback
        print(f'prepare_tbcxr: error: {error}', file=sys.stderr)
        return 2
    print(format_summary(summary, args.out, time.perf_counter() - start))
    return 0


if __name__ == '__main__':
    sys.exit(main())
