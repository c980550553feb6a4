"""Paired ROC AUC comparison of models scored on the same images (per-image scores CSVs).

    python tools/analysis_tools/compare_scores.py REFERENCE.csv OTHER.csv [OTHER2.csv ...] \\
        [--names ref other ...] --out comparison.json

The CSVs are what ``tools/test.py --scores`` and ``tools/run_ablation.py`` write
(``file,label,prob_tb``). Each OTHER is compared with REFERENCE on the images both scored: its
AUC minus the reference's, with a paired stratified bootstrap 95 % CI (the same images drawn for
both models in every resample), which is narrower and more honest than comparing two
independent CIs. Training noise (another seed) is not in this CI: compare seed replicates too.
Each comparison also gives the largest and median per-image change of P(TB), e.g. what storing
the weights in lower precision did. ``--reference-runs A.csv B.csv ...`` makes the reference
the mean P(TB) of several runs (an ensemble scored from its runs' CSVs); every positional CSV
is then compared with it.
"""
import argparse
import json
import sys
from pathlib import Path

from mmtb.evaluation.metrics import compare_scores, read_scores
from mmtb.evaluation.metrics.seed_groups import mean_of_runs

ROUNDED = ('reference_auc', 'auc', 'delta_auc', 'delta_ci_low', 'delta_ci_high',
           'max_abs_diff', 'median_abs_diff')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('scores', nargs='+',
                        help='the reference model\'s scores CSV, then those to compare with it '
                             '(with --reference-runs: only those to compare)')
    parser.add_argument('--reference-runs', nargs='+', metavar='CSV',
                        help='use the mean P(TB) of these runs\' scores as the reference')
    parser.add_argument('--names', nargs='+', help='a name for the reference and each other')
    parser.add_argument('--n-boot', type=int, default=1000)
    parser.add_argument('--out', help='JSON file to write')
    args = parser.parse_args(argv)
    reference_path = None if args.reference_runs else args.scores[0]
    others = args.scores if args.reference_runs else args.scores[1:]
    if not others:
        parser.error('give at least one scores CSV to compare with the reference')
    paths = [reference_path or 'mean of --reference-runs', *others]
    names = args.names or paths
    if len(names) != len(paths):
        parser.error(f'--names needs {len(paths)} names, got {len(names)}')
    try:
        reference = (mean_of_runs([read_scores(p) for p in args.reference_runs])
                     if args.reference_runs else read_scores(reference_path))
        rows = [dict(name=name, reference=names[0],
                     **compare_scores(reference, read_scores(path), args.n_boot))
                for name, path in zip(names[1:], others)]
    except (OSError, KeyError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    print(f'| model | AUC | ΔAUC vs {names[0]} (95 % CI, paired) | images (TB) '
          '| P(TB) change: max / median |')
    print('|---|---|---|---|---|')
    for row in rows:
        print(f"| {row['name']} | {row['auc']:.3f} | {row['delta_auc']:+.3f} "
              f"({row['delta_ci_low']:+.3f}, {row['delta_ci_high']:+.3f}) "
              f"| {row['num_images']} ({row['num_tb']}) "
              f"| {row['max_abs_diff']:.4f} / {row['median_abs_diff']:.4f} |")
    if args.out:
        rounded = [{k: round(v, 4) if k in ROUNDED else v for k, v in row.items()}
                   for row in rows]
        Path(args.out).write_text(json.dumps(rounded, indent=2, ensure_ascii=False) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
