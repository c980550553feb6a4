"""Train one mmtb config with mmengine's Runner (single process or under torchrun).

The library side of ``tools/train.py`` (a thin entry point); ``python -m mmtb.apis.train`` runs
the same command line, e.g. as the ablation runner's crash-isolated subprocess.
"""
import argparse
import pickle

import torch
from mmengine.runner import Runner

from mmtb.utils.allocator import restart_with_allocator
from mmtb.utils.config import DictAction, finish_launcher, load_config, set_launcher


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a TB classifier from a config.')
    parser.add_argument('config', help='config file, e.g. configs/efficientnet/...py')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--img-size', type=int,
                        help='input size instead of the config\'s (e.g. 224 on a CPU)')
    parser.add_argument('--resume', nargs='?', const='auto', metavar='CHECKPOINT',
                        help='resume from CHECKPOINT, or from the latest one in the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision (bf16 on CPU, fp16 on GPU)')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the training step (mmengine compile=True): the '
                        'fast path for EfficientNet on CPUs (docs/benchmarks.md); the first '
                        'iterations wait for the compiler (a C++ compiler is needed on CPUs)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by total batch / 32')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. train_cfg.max_epochs=1')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                        help='job launcher (tools/dist_train.sh sets pytorch)')
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0)
    return parser.parse_args(argv)


def train_config(args):
    """The config as this run trains it: the file, its overrides and the fast-path switches."""
    cfg = load_config(args.config, args.cfg_options, args.img_size, args.work_dir)
    set_launcher(cfg, args.launcher)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        cfg.resume, cfg.load_from = True, args.resume
    if args.amp:  # fp16 with loss scaling on GPUs, bf16 autocast on CPUs
        cuda = torch.cuda.is_available()
        cfg.optim_wrapper.type = 'AmpOptimWrapper' if cuda else 'CPUAutocastOptimWrapper'
        cfg.optim_wrapper.dtype = None if cuda else 'bfloat16'
    if args.compile:
        cfg.compile = True
    # every data-loader worker gets every image decoded and cue-removed from the first step
    hooks = cfg.setdefault('custom_hooks', [])
    if not any(hook.get('type') == 'WarmCachesHook' for hook in hooks):
        hooks.append(dict(type='WarmCachesHook'))
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    return cfg


def train(cfg) -> Runner:
    """Train ``cfg`` (e.g. from :func:`train_config`) with mmengine's Runner."""
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def refusal_reason(error: pickle.UnpicklingError) -> str:
    """The line of a weights-only refusal that says what was refused, without torch's advice
    to load with ``weights_only=False`` (which would run whatever the checkpoint carries)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    reasons = [line for line in lines if 'weights_only' not in line and 'torch.load' not in line]
    return ' '.join(reasons) or type(error).__name__


def main(argv=None):
    args = parse_args(argv)
    try:
        train(train_config(args))
    except pickle.UnpicklingError as error:  # --resume / load_from of a code-carrying file
        raise SystemExit(f'error: checkpoint refused (UnpicklingError): {refusal_reason(error)}'
                         ) from None
    finish_launcher()


if __name__ == '__main__':
    restart_with_allocator()  # tcmalloc/jemalloc when installed (mmtb.utils.allocator)
    main()
