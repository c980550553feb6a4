"""How many local labelled X-rays does threshold calibration need at a new site?

Takes one site's per-image scores (``file,label,prob_tb``, as ``tools/test.py --scores`` or
the ablation runner's ``scores_<set>.csv`` write them) and simulates WHO-style local
calibration: draw N TB + M normal cases, calibrate the threshold on them, score the site's
other cases at it; repeat. Writes a JSON and prints a markdown table::

    python tools/analysis_tools/local_calibration.py \\
        results/robust_224px/<run>/scores_pakistan256.csv --sizes 10:10 25:25 50:50 \\
        --targets 0.9 0.95 --out results/robust_224px/<run>/local_calibration.json
"""
import argparse
import json
from pathlib import Path

from mmtb.evaluation.calibration import (
    local_calibration_table,
    read_scores_csv,
    simulate_local_calibration,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('scores', help='CSV with prob_tb and label columns (one site)')
    parser.add_argument('--sizes', nargs='+', default=['10:10', '25:25', '50:50'],
                        metavar='N_TB:N_NORMAL', help='calibration set sizes to simulate')
    parser.add_argument('--targets', nargs='+', type=float, default=[0.9, 0.95],
                        help='sensitivity the calibrated threshold must reach on the '
                             'calibration cases')
    parser.add_argument('--confidence', type=float,
                        help='calibrate so that the target is the lower confidence bound of '
                             'the sensitivity (e.g. 0.95; see calibrate_threshold.py)')
    parser.add_argument('--repeats', type=int, default=500, help='draws per setting')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='JSON with every setting (default: print only)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    scores, labels = read_scores_csv(args.scores)
    rows = []
    for size in args.sizes:
        n_tb, n_normal = (int(n) for n in size.split(':'))
        for target in args.targets:
            rows.append(simulate_local_calibration(scores, labels, n_tb, n_normal, target,
                                                   args.repeats, args.seed, args.confidence))
    table = local_calibration_table(rows)
    print(table)
    if args.out:
        Path(args.out).write_text(json.dumps(
            dict(scores=str(args.scores), settings=rows, table=table), indent=2))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
