"""Evaluate a checkpoint: screening metrics (TB positive) printed and written as JSON.

The library side of ``tools/test.py`` (a thin entry point); ``python -m mmtb.apis.test`` runs
the same command line, e.g. as the ablation runner's and the publisher's subprocess.
"""
import argparse
import json
import os.path as osp

from mmengine.runner import Runner

from mmtb.data_prep.boxes import tb_kinds_by_image
from mmtb.utils.config import DictAction, finish_launcher, load_config, set_launcher


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test a TB classifier checkpoint.')
    parser.add_argument('config', help='config file the checkpoint was trained with')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where the test log goes '
                        '(default: work_dirs/<config name>/test)')
    parser.add_argument('--img-size', type=int, help='input size the model was trained at')
    parser.add_argument('--data-root', help='test on this converted dataset instead '
                        '(e.g. data/pakistan256, an external set)')
    parser.add_argument('--operating-threshold', type=float,
                        help='P(TB) threshold chosen on another set, applied unchanged here')
    parser.add_argument('--out', help='metrics JSON (default: <work dir>/test_metrics.json)')
    parser.add_argument('--dump', help='also dump per-image predictions to this .pkl')
    parser.add_argument('--scores', help="also write every image's P(TB) and label to this "
                        'CSV (file,label,prob_tb), for paired comparisons between models')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none')
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0)
    return parser.parse_args(argv)


def screening_evaluators(cfg) -> list:
    """The config's ScreeningMetric entries; ``test_evaluator`` may be one dict or a list."""
    evaluators = cfg.test_evaluator
    evaluators = evaluators if isinstance(evaluators, list) else [evaluators]
    return [e for e in evaluators if e.get('type') == 'ScreeningMetric']


def test_config(args):
    """The config as this evaluation runs it: checkpoint, data root, operating threshold,
    per-image scores, per-TB-kind groups and the optional prediction dump applied."""
    cfg = load_config(args.config, args.cfg_options, args.img_size, args.work_dir)
    if not args.work_dir:  # never overwrite the trained config that mmengine saved there
        cfg.work_dir = osp.join(cfg.work_dir, 'test')
    set_launcher(cfg, args.launcher)
    cfg.load_from, cfg.resume = args.checkpoint, False
    if args.data_root:
        cfg.test_dataloader.dataset.data_root = args.data_root
    screening = screening_evaluators(cfg)
    if not screening and (args.operating_threshold is not None or args.scores):
        raise SystemExit('--operating-threshold and --scores need a ScreeningMetric in the '
                         "config's test_evaluator")
    dataset = cfg.test_dataloader.dataset
    ann_file = osp.join(dataset.data_root, dataset.ann_file)
    kinds = tb_kinds_by_image(ann_file, dataset.data_root) if osp.isfile(ann_file) else None
    for evaluator in screening:
        if kinds is not None:  # e.g. TBX11K's boxed films: sensitivity per TB kind as well
            evaluator.subgroups = kinds
        if args.operating_threshold is not None:
            evaluator.operating_threshold = args.operating_threshold
        if args.scores:
            evaluator.scores_file = args.scores
    if args.dump:
        evaluators = cfg.test_evaluator
        evaluators = evaluators if isinstance(evaluators, list) else [evaluators]
        cfg.test_evaluator = [*evaluators, dict(type='DumpResults', out_file_path=args.dump)]
    return cfg


def test(cfg, out=None, config=None) -> dict:
    """Test ``cfg`` (e.g. from :func:`test_config`) with mmengine's Runner; rank 0 writes
    ``{config, checkpoint, data_root, metrics}`` to ``out`` (default
    ``<work dir>/test_metrics.json``) and prints the metrics. Returns the metrics."""
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    out = out or osp.join(cfg.work_dir, 'test_metrics.json')
    record = dict(config=config or cfg.filename, checkpoint=cfg.load_from,
                  data_root=cfg.test_dataloader.dataset.data_root, metrics=metrics)
    if runner.rank == 0:
        with open(out, 'w') as f:
            json.dump(record, f, indent=2)
        print(json.dumps(metrics, indent=2))
        print(f'metrics written to {out}')
    return metrics


def main(argv=None):
    args = parse_args(argv)
    test(test_config(args), args.out, args.config)
    finish_launcher()


if __name__ == '__main__':
    main()
