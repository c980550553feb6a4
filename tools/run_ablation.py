"""Run the paper's ablation grid (or any list of configs) and write its results table.

    python tools/run_ablation.py --grid paper --img-size 224 \\
        --external pakistan256=data/pakistan256 --results-dir results/ablation_224px

    # threshold chosen on the training data's validation split (prepare_tbcxr.py --val-ratio)
    python tools/run_ablation.py --threshold-split val --img-size 224 --results-dir results/ext \\
        configs/efficientnet/efficientnet-b0-fpn_re-ra-rf_1xb32-adamw-10e_tbdb-val-to-pakistan-512px.py

Finished runs are skipped and an interrupted one resumes, so the same command can be run again
across sessions until the table is complete. ``--table-only`` rebuilds the table from the
committed ``metrics.json`` files.
"""
import argparse
import os
from pathlib import Path

from mmtb.experiments import AblationRun, external_set, results_table, run_grid
from mmtb.experiments.ablation import THRESHOLD_SPLITS

PAPER_GRID = [f'configs/{family}/{model}_{aug}_1xb32-adamw-10e_tbcxr-512px.py'
              for family, model in (('resnet', 'resnet50-fpn'),
                                    ('efficientnet', 'efficientnet-b0-fpn'))
              for aug in ('noaug', 're', 're-ra', 're-ra-rf')]
# beyond the paper: ImageNet-pretrained starts (weights: tools/model_converters/)
PRETRAINED_GRID = [f'configs/efficientnet/efficientnet-lite0-in1k-pre-fpn_{aug}_1xb32-adamw-10e_'
                   'tbcxr-512px.py' for aug in ('noaug', 're-ra-rf')]
GRIDS = {'paper': PAPER_GRID, 'pretrained': PRETRAINED_GRID,
         'table2': PAPER_GRID + PRETRAINED_GRID}
REPO = Path(__file__).resolve().parents[1]


def repo_path(path: str) -> str:
    """A path given from the caller's directory, relative to the repo when inside it: the
    runner works from the repo root, and recorded paths stay the same from anywhere."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(REPO)) if resolved.is_relative_to(REPO) else str(resolved)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='*', help='configs to run, in order')
    parser.add_argument('--grid', choices=sorted(GRIDS), help='a named list of configs')
    parser.add_argument('--img-size', type=int, help='input size for every run (e.g. 224)')
    parser.add_argument('--seeds', type=int, nargs='+', help='run every config with each seed')
    parser.add_argument('--external', action='append', default=[], metavar='NAME=DATA_ROOT',
                        type=external_set,
                        help="an external test set (converted with --all-test); repeatable; "
                             "NAME is not 'internal' or 'val'")
    parser.add_argument(
        '--threshold-split', choices=THRESHOLD_SPLITS, default='test',
        help="where the 90%%-sensitivity operating threshold is chosen: 'test' = the internal "
             "test split (default), 'val' = meta/val.json in the data root of the config's "
             'val_dataloader (the training data); applied unchanged to the internal test split '
             'and every external set')
    parser.add_argument('--results-dir', required=True, help='where logs, metrics and table go')
    parser.add_argument('--work-root', default='work_dirs')
    parser.add_argument('--baseline', metavar='RUN',
                        help="a run's name (its results folder): the table adds each AUC's "
                             'change from it')
    parser.add_argument('--table-only', action='store_true',
                        help='only rebuild the table from the results folder')
    parser.add_argument('--train-args', nargs=argparse.REMAINDER, default=[],
                        help='passed on to tools/train.py (put last), e.g. --amp')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    results_dir = Path(repo_path(args.results_dir))
    work_root = repo_path(args.work_root)
    configs = [repo_path(c) for c in args.configs] + GRIDS.get(args.grid, [])
    externals = {name: repo_path(root) for name, root in args.external}
    os.chdir(REPO)
    if not args.table_only:
        if not configs:
            raise SystemExit('give configs or --grid')
        runs = [AblationRun(c, args.img_size, seed, work_root,
                            threshold_split=args.threshold_split)
                for c in configs for seed in (args.seeds or [None])]
        run_grid(runs, results_dir, externals, args.train_args)
    print(results_table(results_dir, args.baseline))


if __name__ == '__main__':
    main()
