"""CPU latency of the app's inference path (mmtb.apis.TBScreener), as a markdown table + JSON.

    python tools/analysis_tools/benchmark_inference.py --config configs/efficientnet/...py \\
        --img-size 224 --repeats 20 --out docs/benchmarks/inference_cpu.json

Measures what a user waits for, on one synthetic 1024 x 1024 grey radiograph (decoding is
not included; resizing to the input size is): the median latency of one prediction, of one
prediction + Grad-CAM, and the throughput of batch-1 and batched ``predict_batch``. Without
--checkpoint the model has random weights (latency does not depend on the weights); with
neither --config nor --checkpoint the shipped default model is used if there is one.
--out merges into the JSON file, replacing an earlier run of the same model / size / threads.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from mmtb.apis import DEFAULT_MODEL_DIR, TBScreener
from mmtb.apis.inference import config_beside
from mmtb.utils import load_config

DEFAULT_CONFIG = 'configs/efficientnet/efficientnet-b0-fpn_re-ra-rf_1xb32-adamw-10e_tbcxr-512px.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Benchmark TB inference latency on the CPU.')
    parser.add_argument('--config', help=f'config (default: the shipped model, else '
                        f'{DEFAULT_CONFIG} with random weights)')
    parser.add_argument('--checkpoint', help='weights (default: random; latency is the same)')
    parser.add_argument('--img-size', type=int, help='model input size (default: the config\'s)')
    parser.add_argument('--repeats', type=int, default=20, help='timed runs per measurement')
    parser.add_argument('--batch-size', type=int, default=8, help='batch for the throughput row')
    parser.add_argument('--threads', type=int, help='torch threads (default: torch\'s choice)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', help='JSON file to write / merge the result into')
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.batch_size < 1:
        parser.error('--repeats and --batch-size must be at least 1')
    return args


def synthetic_radiograph(size: int = 1024) -> np.ndarray:
    """A chest-like grey image (body, two dark lungs, noise); content does not change timing."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size] / size
    img = 170 - 60 * (((xx - 0.32) / 0.17) ** 2 + ((yy - 0.5) / 0.33) ** 2 < 1)
    img = img - 60 * (((xx - 0.68) / 0.17) ** 2 + ((yy - 0.5) / 0.33) ** 2 < 1)
    return np.clip(img + rng.normal(0, 10, img.shape), 0, 255).astype(np.uint8)


def timed(fn, repeats: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):  # first calls pick oneDNN kernels and allocate
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def load_screener(args) -> TBScreener:
    if args.config is None and args.checkpoint is None:
        if (DEFAULT_MODEL_DIR / 'model.pth').is_file():
            config, checkpoint = DEFAULT_MODEL_DIR / 'config.py', DEFAULT_MODEL_DIR / 'model.pth'
        else:
            config, checkpoint = Path(DEFAULT_CONFIG), None
    else:
        config = Path(args.config) if args.config else None
        checkpoint = Path(args.checkpoint) if args.checkpoint else None
        if config is None:  # the config saved beside the checkpoint
            config = config_beside(checkpoint)
            if config is None:
                sys.exit(f'error: no config beside {checkpoint}; pass --config')
    cfg = load_config(str(config), img_size=args.img_size)
    return TBScreener(cfg, checkpoint, device=args.device, random_weights=checkpoint is None)


def cpu_name() -> str:
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    load_start = time.perf_counter()
    screener = load_screener(args)
    load_s = time.perf_counter() - load_start
    grey = synthetic_radiograph()
    batch = [grey] * args.batch_size

    predict = timed(lambda: screener.predict(grey), args.repeats)
    with_cam = timed(lambda: screener.predict(grey, with_cam=True), args.repeats)
    batched = timed(lambda: screener.predict_batch(batch), max(3, args.repeats // 4))
    ms = lambda times: round(1000 * statistics.median(times), 1)  # noqa: E731

    result = dict(
        model=screener.name, config=str(screener.config_path),
        weights=str(screener.checkpoint_path) if screener.checkpoint_path else 'random',
        img_size=screener.input_size, source_image='1024x1024 uint8 grey',
        threads=torch.get_num_threads(), device=args.device, repeats=args.repeats,
        load_s=round(load_s, 2),
        predict_ms=ms(predict), predict_cam_ms=ms(with_cam),
        predict_ms_p90=round(1000 * float(np.percentile(predict, 90)), 1),
        predict_cam_ms_p90=round(1000 * float(np.percentile(with_cam, 90)), 1),
        batch1_img_per_s=round(1000 / ms(predict), 1),
        batch_size=args.batch_size,
        batched_img_per_s=round(args.batch_size / statistics.median(batched), 1),
        cpu=cpu_name(), cpu_count=os.cpu_count(), torch=torch.__version__,
        load_average=[round(x, 2) for x in os.getloadavg()],
        date=time.strftime('%Y-%m-%d %H:%M'))

    print('| model | input | threads | predict (ms) | predict + Grad-CAM (ms) '
          '| batch-1 (img/s) | batch-%d (img/s) |' % args.batch_size)
    print('|---|---|---|---|---|---|---|')
    print(f"| {result['model']} | {result['img_size']} | {result['threads']} "
          f"| {result['predict_ms']} | {result['predict_cam_ms']} "
          f"| {result['batch1_img_per_s']} | {result['batched_img_per_s']} |")
    print(f"load {result['load_s']} s; CPU load average {result['load_average']} "
          f"(other processes slow these numbers down)", file=sys.stderr)

    if args.out:
        out = Path(args.out)
        saved = json.loads(out.read_text()) if out.is_file() else {}  # other keys are kept
        key = ('model', 'img_size', 'threads', 'device')
        saved['runs'] = [r for r in saved.get('runs', [])
                         if tuple(r.get(k) for k in key) != tuple(result[k] for k in key)]
        saved['runs'].append(result)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(saved, indent=2) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
