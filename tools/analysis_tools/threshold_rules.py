"""How two rules for the internal operating threshold transfer to an external set.

    python tools/analysis_tools/threshold_rules.py results/*/*/ checkpoints/default \\
        --test-set pakistan256 --confidence 0.95 --out results/threshold_rules/pakistan256.json

Each argument is a folder holding ``scores_internal.csv`` and ``scores_<test set>.csv`` (a run
folder of ``tools/run_ablation.py`` or a published model); folders without both are skipped.
Per folder, the threshold is chosen on the internal scores by the plain rule (the highest
threshold reaching 90 % sensitivity) and by the confidence rule (the highest at which 90 % is
the lower ``--confidence`` bound of the sensitivity), then applied unchanged to the test set.
"""
import argparse
import json
from pathlib import Path

from mmtb.evaluation.calibration import read_scores_csv
from mmtb.evaluation.metrics import rates_at, threshold_for_sensitivity
from mmtb.evaluation.metrics.screening import WHO_SENSITIVITY, meets_who_target


def transfer(folder: Path, test_set: str, confidence: float) -> dict:
    internal = read_scores_csv(folder / 'scores_internal.csv')
    external = read_scores_csv(folder / f'scores_{test_set}.csv')
    row = dict(folder=str(folder))
    for rule, conf in (('plain', None), ('bound', confidence)):
        threshold = threshold_for_sensitivity(*internal, WHO_SENSITIVITY, conf)
        rates = rates_at(*external, threshold)
        has_normals = bool((external[1] == 0).any())  # a TB-only set has no specificity
        row[rule] = dict(threshold=threshold, sensitivity=rates['sensitivity'],
                         specificity=rates['specificity'] if has_normals else None,
                         who_target_met=bool(meets_who_target(rates['sensitivity'],
                                                              rates['specificity']))
                         if has_normals else None)
    return row


def markdown(rows, test_set: str, confidence: float) -> str:
    lines = [f'| run | plain: thr. | {test_set} sens / spec | WHO | {confidence:.0%} bound: thr. '
             f'| {test_set} sens / spec | WHO |', '|---|---|---|---|---|---|---|']
    for r in rows:
        cells = [Path(r['folder']).name]
        for rule in ('plain', 'bound'):
            m = r[rule]
            spec = '–' if m['specificity'] is None else f"{100 * m['specificity']:.1f}"
            who = {None: '–', True: 'met', False: 'no'}[m['who_target_met']]
            cells += [f"{m['threshold']:.3f}", f"{100 * m['sensitivity']:.1f} / {spec}", who]
        lines.append('| ' + ' | '.join(cells) + ' |')
    if any(r['plain']['who_target_met'] is None for r in rows):
        lines += ['', f'{test_set} holds no normal X-rays: no specificity, no WHO verdict.']
        return '\n'.join(lines)
    met = {rule: sum(r[rule]['who_target_met'] for r in rows) for rule in ('plain', 'bound')}
    lines += ['', f"WHO target met on {test_set}: {met['plain']} of {len(rows)} with the plain "
              f"rule, {met['bound']} of {len(rows)} with the {confidence:.0%}-bound rule."]
    return '\n'.join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('folders', nargs='+', type=Path)
    parser.add_argument('--test-set', default='pakistan256')
    parser.add_argument('--confidence', type=float, default=0.95)
    parser.add_argument('--out', help='JSON file to write (the table goes beside it as .md)')
    args = parser.parse_args(argv)
    folders = [f for f in args.folders if (f / 'scores_internal.csv').is_file()
               and (f / f'scores_{args.test_set}.csv').is_file()]
    if not folders:
        parser.error(f'no folder holds scores_internal.csv and scores_{args.test_set}.csv')
    rows = [transfer(f, args.test_set, args.confidence) for f in folders]
    table = markdown(rows, args.test_set, args.confidence)
    print(table)
    if args.out:
        Path(args.out).write_text(json.dumps(dict(
            test_set=args.test_set, target_sensitivity=WHO_SENSITIVITY,
            confidence=args.confidence, runs=rows), indent=2) + '\n')
        Path(args.out).with_suffix('.md').write_text(table + '\n')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
