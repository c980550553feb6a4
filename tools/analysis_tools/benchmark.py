"""Training speed: mmpretrain's stock path vs mmtb's fast path, on this machine.

    python tools/analysis_tools/benchmark.py CONFIG --img-size 224 [--bf16 auto|on|off] \\
        [--compile] [--iters 5] [--out docs/benchmarks/train_cpu.json]

Both settings train the same model on the same batches of the config's training set (data
pipeline included, median step time after warm-up), each in its own process: the baseline
decodes every file every step through mmpretrain's LoadImageFromFile + Resize and recomputes
every step, in fp32, the default memory format and glibc's allocator, as stock mmpretrain
does; the fast path is what ``tools/train.py`` runs: decoded, grey, resized images from the
cache, deterministic steps remembered per image (mmtb.datasets.transforms.memo), channels-last,
the allocator of mmtb.utils.allocator (``--allocator``) and, where it helps, bf16 autocast.
Also reports the model's achieved FLOP/s as a fraction of the machine's peak (a large matrix
multiply) and whether the two first-step losses agree.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from mmtb.utils.allocator import ENV_VAR, allocator_env
from mmtb.utils.benchmark import (
    forward_flops,
    peak_matmul_flops,
    stock_pipeline,
    time_training_steps,
)
from mmtb.utils.config import DictAction, input_size_of, load_config

SETTINGS = ('baseline', 'fast')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--img-size', type=int)
    parser.add_argument('--bf16', choices=['auto', 'on', 'off'], default='auto',
                        help='auto: bf16 for ResNet backbones only (measured faster there)')
    parser.add_argument('--compile', action='store_true',
                        help="fast path also under torch.compile (the config's compile=True)")
    parser.add_argument('--iters', type=int, default=5, help='timed steps per setting')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--num-workers', type=int, help='default: the config\'s')
    parser.add_argument('--out', help='write the results as JSON')
    parser.add_argument('--allocator', default='auto',
                        help=f'the fast path\'s allocator, as {ENV_VAR}: auto, system or a path')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--only', choices=SETTINGS, help=argparse.SUPPRESS)  # one child process
    return parser.parse_args(argv)


def time_setting(args, cfg, size: int, bf16: bool, workers: int) -> dict:
    """One setting's timings, in this process (the child started by :func:`run_setting`)."""
    pipeline = cfg.train_dataloader.dataset.pipeline
    common = dict(iters=args.iters, warmup=args.warmup, num_workers=workers)
    if args.only == 'baseline':
        return time_training_steps(cfg, stock_pipeline(pipeline, size), channels_last=False,
                                   bf16=False, remember=False, **common)
    return time_training_steps(cfg, pipeline, channels_last=True, bf16=bf16,
                               prefill_cache=True, compile_model=args.compile, **common)


def run_setting(name: str, argv: list, allocator: str) -> dict:
    """Time one setting in a fresh process whose allocator is ``allocator`` (an allocator
    must be loaded before a process starts)."""
    env = {key: value for key, value in os.environ.items() if key != 'LD_PRELOAD'}
    env[ENV_VAR] = allocator
    env = allocator_env(env) or env
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f'{name}.json'
        subprocess.run([sys.executable, __file__, *argv, '--only', name, '--out', str(out)],
                       env=env, check=True)
        result = json.loads(out.read_text())
    result['allocator'] = env.get('LD_PRELOAD', '').split()[0] if 'LD_PRELOAD' in env else 'glibc'
    return result


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.img_size)
    size = input_size_of(cfg)
    bf16 = args.bf16 == 'on' or (args.bf16 == 'auto' and cfg.model.backbone.type == 'ResNet')
    workers = cfg.train_dataloader.num_workers if args.num_workers is None else args.num_workers
    if args.only:
        Path(args.out).write_text(json.dumps(time_setting(args, cfg, size, bf16, workers)))
        return
    argv = list(sys.argv[1:] if argv is None else argv)
    if '--out' in argv:  # the children write their own files
        at = argv.index('--out')
        del argv[at:at + 2]
    baseline = run_setting('baseline', argv, 'system')
    fast = run_setting('fast', argv, args.allocator)
    from mmpretrain.registry import MODELS
    flops = forward_flops(MODELS.build(cfg.model), size)
    peaks = {'fp32': peak_matmul_flops(torch.float32)}
    if bf16:
        peaks['bf16'] = peak_matmul_flops(torch.bfloat16)
    result = dict(
        config=args.config, img_size=size, batch_size=cfg.train_dataloader.batch_size,
        num_workers=workers, threads=torch.get_num_threads(), bf16=bf16, compile=args.compile,
        machine=dict(cpu=platform.processor() or platform.machine(), cores=torch.get_num_threads(),
                     python=sys.version.split()[0], torch=torch.__version__),
        baseline=baseline, fast=fast, speedup=fast['images_per_s'] / baseline['images_per_s'],
        first_loss_baseline=baseline['losses'][0], first_loss_fast=fast['losses'][0],
        forward_gflops_per_image=flops / 1e9 if flops else None,
        peak_matmul_gflops={k: v / 1e9 for k, v in peaks.items()})
    if flops:  # a training step is ~3 forward passes; each path against its own dtype's peak
        for name, dtype in (('baseline', 'fp32'), ('fast', 'bf16' if bf16 else 'fp32')):
            achieved = 3 * flops * result[name]['images_per_s']
            result[name]['achieved_gflops'] = achieved / 1e9
            result[name]['fraction_of_peak'] = achieved / peaks[dtype]
            result[name]['peak_dtype'] = dtype
    print(f"{Path(args.config).stem} @ {size}px, batch {result['batch_size']}: "
          f"baseline {baseline['images_per_s']:.2f} img/s, fast {fast['images_per_s']:.2f} img/s "
          f"(x{result['speedup']:.2f}); peak RSS {fast['peak_rss_mb']:.0f} MB; "
          f"first loss {baseline['losses'][0]:.4f} vs {fast['losses'][0]:.4f}")
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))


if __name__ == '__main__':
    main()
