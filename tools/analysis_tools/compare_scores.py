"""Paired ROC AUC comparison of models scored on the same images (per-image scores CSVs).

    python tools/analysis_tools/compare_scores.py REFERENCE.csv OTHER.csv [OTHER2.csv ...] \\
        [--names ref other ...] --out comparison.json

The CSVs are what ``tools/test.py --scores`` and ``tools/run_ablation.py`` write
(``file,label,prob_tb``). Each OTHER is compared with REFERENCE on the images both scored: its
AUC minus the reference's, with a paired stratified bootstrap 95 % CI (the same images drawn for
both models in every resample), which is narrower and more honest than comparing two
independent CIs. Training noise (another seed) is not in this CI: compare seed replicates too.
"""
import argparse
import json
import sys
from pathlib import Path

from mmtb.evaluation.metrics import compare_scores, read_scores

ROUNDED = ('reference_auc', 'auc', 'delta_auc', 'delta_ci_low', 'delta_ci_high')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('reference', help='scores CSV of the reference model')
    parser.add_argument('others', nargs='+', help='scores CSVs of the models to compare')
    parser.add_argument('--names', nargs='+', help='a name for the reference and each other')
    parser.add_argument('--n-boot', type=int, default=1000)
    parser.add_argument('--out', help='JSON file to write')
    args = parser.parse_args(argv)
    paths = [args.reference, *args.others]
    names = args.names or paths
    if len(names) != len(paths):
        parser.error(f'--names needs {len(paths)} names, got {len(names)}')
    try:
        reference = read_scores(args.reference)
        rows = [dict(name=name, reference=names[0],
                     **compare_scores(reference, read_scores(path), args.n_boot))
                for name, path in zip(names[1:], args.others)]
    except (OSError, KeyError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    print(f'| model | AUC | ΔAUC vs {names[0]} (95 % CI, paired) | images (TB) |')
    print('|---|---|---|---|')
    for row in rows:
        print(f"| {row['name']} | {row['auc']:.3f} | {row['delta_auc']:+.3f} "
              f"({row['delta_ci_low']:+.3f}, {row['delta_ci_high']:+.3f}) "
              f"| {row['num_images']} ({row['num_tb']}) |")
    if args.out:
        rounded = [{k: round(v, 4) if k in ROUNDED else v for k, v in row.items()}
                   for row in rows]
        Path(args.out).write_text(json.dumps(rounded, indent=2, ensure_ascii=False) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
