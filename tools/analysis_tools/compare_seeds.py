"""Compare two configs trained with several seeds each, on one test set, with training noise.

    python tools/analysis_tools/compare_seeds.py \\
        --reference results/robust_224px/BASELINE results/robust_224px/BASELINE_seed1 ... \\
        --other results/robust_224px/CLAHE results/robust_224px/CLAHE_seed1 ... \\
        --names baseline CLAHE --test-set pakistan256 --out comparison.json

Each argument is a run folder written by ``tools/run_ablation.py`` (``scores_internal.csv``
and ``scores_<test set>.csv``). Prints and writes every run's AUC, each config's mean, the
change in mean AUC with a 95 % CI over both seeds and images
(:mod:`mmtb.evaluation.metrics.seed_groups`), and each config's seed ensemble (mean P(TB)),
screened at the threshold for 90 % sensitivity chosen on its internal test scores; with
``--confidence 0.95`` also at the threshold where 90 % is the sensitivity's lower 95 % bound.
The runs of a group need not share a config: a group of several recipes' runs is scored as
the ensemble of all of them (``make_seed_ensemble.py --recipe`` builds it as one model).
"""
import argparse
import json
import sys
from pathlib import Path

from mmtb.evaluation.metrics import read_scores
from mmtb.evaluation.metrics.seed_groups import compare_seed_groups, ensemble_operating_point


def read_runs(folders, test_set):
    """Each run folder's internal and ``test_set`` scores; FileNotFoundError names the gap."""
    return ([read_scores(Path(f) / 'scores_internal.csv') for f in folders],
            [read_scores(Path(f) / f'scores_{test_set}.csv') for f in folders])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--reference', nargs='+', required=True, help='run folders, one per seed')
    parser.add_argument('--other', nargs='+', required=True, help='run folders, one per seed')
    parser.add_argument('--names', nargs=2, default=['reference', 'other'])
    parser.add_argument('--test-set', default='pakistan256',
                        help='which scores_<name>.csv to compare (default: pakistan256)')
    parser.add_argument('--confidence', type=float,
                        help='also screen each ensemble at the threshold where 90 %% is the '
                             'lower bound of its internal sensitivity at this confidence')
    parser.add_argument('--n-boot', type=int, default=1000)
    parser.add_argument('--out', help='JSON file to write')
    args = parser.parse_args(argv)
    try:
        ref_internal, ref_test = read_runs(args.reference, args.test_set)
        oth_internal, oth_test = read_runs(args.other, args.test_set)
        result = compare_seed_groups(ref_test, oth_test, n_boot=args.n_boot)
        groups = {args.names[0]: (ref_internal, ref_test),
                  args.names[1]: (oth_internal, oth_test)}
        ensembles = {name: ensemble_operating_point(*runs) for name, runs in groups.items()}
        if args.confidence is not None:
            ensembles.update({f'{name}, {args.confidence:.0%} bound': ensemble_operating_point(
                *runs, confidence=args.confidence) for name, runs in groups.items()})
    except (OSError, KeyError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    ref, oth = args.names
    print(f"{args.test_set}: {result['num_images']} images ({result['num_tb']} TB)")
    for name, key in ((ref, 'reference_'), (oth, '')):
        aucs = result[key + 'aucs']
        print(f"{name}: AUC per seed {', '.join(f'{a:.3f}' for a in aucs)}; "
              f"mean {result[key + 'mean_auc']:.3f} (sd {result[key + 'sd_auc']:.3f}); "
              f"seed ensemble {result[key + 'ensemble_auc']:.3f}")
    print(f"{oth} - {ref}: mean AUC {result['delta_mean_auc']:+.3f} "
          f"(95 % CI over seeds and images {result['delta_ci_low']:+.3f}, "
          f"{result['delta_ci_high']:+.3f}); seed ensembles {result['ensemble_delta_auc']:+.3f} "
          f"({result['ensemble_delta_ci_low']:+.3f}, {result['ensemble_delta_ci_high']:+.3f})")
    for name, op in ensembles.items():
        print(f"{name} ensemble at its internal 90 %-sensitivity threshold {op['threshold']:.4f}: "
              f"sensitivity {100 * op['sensitivity']:.1f} %, specificity "
              f"{100 * op['specificity']:.1f} %")
    if args.out:
        record = dict(test_set=args.test_set, names=args.names,
                      reference_runs=[str(f) for f in args.reference],
                      other_runs=[str(f) for f in args.other],
                      **{k: [round(x, 4) for x in v] if isinstance(v, list) else
                         (round(v, 4) if isinstance(v, float) else v) for k, v in result.items()},
                      ensembles={n: {k: round(v, 4) for k, v in op.items()}
                                 for n, op in ensembles.items()})
        Path(args.out).write_text(json.dumps(record, indent=2, ensure_ascii=False) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
