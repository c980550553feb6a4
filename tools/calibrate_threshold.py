"""Calibrate the screening threshold on local labelled cases and write operating_point.json.

WHO advises calibrating a CAD threshold on local data. Either give scores already computed::

    python tools/calibrate_threshold.py --scores scores.csv                 # prob_tb,label
    python tools/calibrate_threshold.py --scores screen.csv --labels labels.csv   # file,prob_tb
                                                                            # + file,label

or let a model score a folder-per-class set (normal/, tuberculosis/ or tb/)::

    python tools/calibrate_threshold.py --data local_xrays/ --config CFG --checkpoint CKPT

Input mistakes print one line and exit with status 2.
"""
import argparse
import json
import sys
from pathlib import Path


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Choose the P(TB) threshold reaching a target sensitivity on local data.')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--scores', help='CSV with prob_tb,label (or file,prob_tb,... with '
                        '--labels)')
    source.add_argument('--data', help='folder per class (normal/, tuberculosis/ or tb/) to '
                        'score with --config/--checkpoint')
    parser.add_argument('--labels', help='CSV with file,label for a --scores CSV without labels')
    parser.add_argument('--config', help='model config (with --data; default: the one beside '
                        'the checkpoint)')
    parser.add_argument('--checkpoint', help='model checkpoint (with --data)')
    parser.add_argument('--device', default='cpu', help='torch device for --data')
    parser.add_argument('--batch-size', type=int, default=16, help='images per forward pass')
    parser.add_argument('--target-sensitivity', type=float, default=0.9,
                        help='sensitivity the threshold must reach (default 0.9, WHO triage)')
    parser.add_argument('--confidence', type=float,
                        help='make the target the lower confidence bound of the sensitivity '
                             '(one-sided Clopper-Pearson, e.g. 0.95), so that it still holds '
                             'on new local cases with that confidence; needs more TB cases '
                             '(29 for 90%% at 0.95) and costs some specificity')
    parser.add_argument('--n-boot', type=int, default=1000,
                        help='bootstrap resamples for the threshold CI')
    parser.add_argument('--seed', type=int, default=0, help='bootstrap seed')
    parser.add_argument('--out', default='operating_point.json', help='operating-point JSON')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmtb.evaluation.calibration import (
        CalibrationInputError,
        calibrate,
        read_scores_csv,
        score_folder,
    )
    try:
        if args.scores:
            if args.config or args.checkpoint:
                raise CalibrationInputError('--config/--checkpoint go with --data, not --scores')
            scores, labels = read_scores_csv(args.scores, args.labels)
            chosen_on = f'scores {args.scores}' + (f' with labels {args.labels}'
                                                   if args.labels else '')
        else:
            if args.labels:
                raise CalibrationInputError('--labels goes with --scores; --data takes labels '
                                            'from its class folders')
            if not args.checkpoint:
                raise CalibrationInputError('--data needs --checkpoint (and --config unless '
                                            'the config lies beside the checkpoint)')
            scores, labels, _ = score_folder(args.data, args.config, args.checkpoint,
                                             batch_size=args.batch_size, device=args.device)
            chosen_on = f'{args.data} scored with {args.checkpoint}'
        point = calibrate(scores, labels, args.target_sensitivity, chosen_on=chosen_on,
                          n_boot=args.n_boot, seed=args.seed, confidence=args.confidence)
    except (CalibrationInputError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(point, indent=2) + '\n')
    low, high = point['threshold_ci']
    bound = (f' (lower {args.confidence:.0%} confidence bound)' if args.confidence else '')
    print(f'threshold {point["threshold"]:.4g} (95% CI {low:.4g}-{high:.4g}) for sensitivity '
          f'>= {point["target_sensitivity"]:g}{bound}: sensitivity {point["sensitivity"]:.1%}, '
          f'specificity {point["specificity"]:.1%} on {point["n_tb"]} TB + '
          f'{point["n_normal"]} normal cases; written to {out}')
    if point['warning']:
        print(f'warning: {point["warning"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
