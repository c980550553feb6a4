"""Audit TB chest X-ray datasets for shortcuts before training on them.

Example::

    python tools/analysis_tools/dataset_audit.py --input tbdb:../shared/data/tbdb256 \\
        --input pakistan:../shared/data/pakistan256 --out docs/dataset_audit

Writes ``OUT/report.md`` (findings, tables, plots), ``OUT/audit.json`` (every number) and
``OUT/*.png`` (plots only, never image pixels). Shortcut-probe warnings (ROC AUC >= 0.8) are
printed in red. Exit status 0 (also with warnings, unless ``--fail-on-warning``: then 1), 2 on
a user error (missing folder, unknown kind). The logic lives in ``mmtb.analysis.audit``.
"""
import argparse
import os
import shlex
import sys
from pathlib import Path

# Let `python tools/...` work from a checkout without `pip install -e .`.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mmtb.analysis.audit import PROBE_FOLDS, format_terminal_summary, run_audit
from mmtb.data_prep.dedup import DEFAULT_NEAR_THRESHOLD, HASH_BITS
from mmtb.data_prep.sources import DataSourceError, source_kinds

SCRIPT = 'tools/analysis_tools/dataset_audit.py'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Audit TB chest X-ray datasets: per source x class statistics, tint, '
                    'burnt-in blocks, duplicates and a shortcut probe.')
    parser.add_argument(
        '--input', action='append', required=True, metavar='KIND:PATH',
        help=f'a dataset folder and its layout; repeatable. KIND: {", ".join(source_kinds())}')
    parser.add_argument('--out', default='work_dirs/dataset_audit',
                        help='output folder (default: %(default)s)')
    parser.add_argument('--folds', type=int, default=PROBE_FOLDS,
                        help='cross-validation folds of the probe (default: %(default)s)')
    parser.add_argument('--seed', type=int, default=0, help='fold shuffling seed')
    parser.add_argument(
        '--near-threshold', type=int, default=DEFAULT_NEAR_THRESHOLD,
        help=f'max Hamming distance (of {HASH_BITS} pHash bits) for near duplicates '
             '(default: %(default)s)')
    parser.add_argument('--color', choices=('auto', 'always', 'never'), default='auto',
                        help='red warnings on the terminal (auto: if it is a terminal)')
    parser.add_argument('--fail-on-warning', action='store_true',
                        help='exit 1 when the shortcut probe warns (for CI)')
    return parser.parse_args(argv)


def use_colour(choice: str, stream) -> bool:
    if choice != 'auto':
        return choice == 'always'
    return stream.isatty() and 'NO_COLOR' not in os.environ


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    command = shlex.join(['python', SCRIPT, *argv])
    try:
        audit = run_audit(args.input, args.out, command=command,
                          near_threshold=args.near_threshold, folds=args.folds, seed=args.seed)
    except (DataSourceError, OSError) as error:  # user errors: one line, no traceback
        print(f'dataset_audit: error: {error}', file=sys.stderr)
        return 2
    print(format_terminal_summary(audit, use_colour(args.color, sys.stdout)))
    print(f'wrote {args.out}/report.md, audit.json and plots')
    return 1 if args.fail_on_warning and audit['warnings'] else 0


if __name__ == '__main__':
    sys.exit(main())
