"""CPU latency of the app's inference path (mmtb.apis.TBScreener), as a markdown table + JSON.

    python tools/analysis_tools/benchmark_inference.py --config configs/efficientnet/...py \\
        --img-size 224 --repeats 20 --out docs/benchmarks/inference_cpu.json

Measures what a user waits for, on one synthetic 1024 x 1024 grey radiograph, in fp32 and
under bf16 autocast (``TBScreener(bf16=True)``, ``tools/screen.py --bf16``):

* from the decoded array (resizing included, decoding not): one prediction, one prediction +
  Grad-CAM (always fp32), batch-1 and batched ``predict_batch`` throughput;
* from a PNG file, decoding included, against a baseline: the same weights through
  mmpretrain's stock ``ImageClassificationInferencer`` (``LoadImageFromFile`` + ``Resize``,
  fp32, default memory format) vs mmtb's path (the one decoder, ``LoadGreyXray``,
  channels-last), as a ratio;
* how far bf16 moves P(TB) from fp32 on that image;
* with --onnxruntime, the same model exported to ONNX (``mmtb.deployment``) through ONNX
  Runtime: predict latency, batch-1 and batched throughput, from-file latency, its P(TB)
  difference from PyTorch, and PyTorch / ONNX Runtime ratios measured in the same run.

Without --checkpoint the model has random weights (latency does not depend on the weights);
with neither --config nor --checkpoint the shipped default model is used if there is one.
--out merges into the JSON file, replacing an earlier run of the same model / size / threads.
"""
import argparse
import copy
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

import cv2
import numpy as np
import torch
from mmpretrain.apis import ImageClassificationInferencer

from mmtb.apis import ModelNotFoundError, TBScreener
from mmtb.apis.checkpoints import config_beside, default_model
from mmtb.utils import load_config
from mmtb.utils.benchmark import stock_pipeline

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
    parser.add_argument('--onnxruntime', action='store_true',
                        help='also measure the model exported to ONNX, on ONNX Runtime')
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
        try:
            config, checkpoint = default_model()
        except ModelNotFoundError:
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


def stock_inferencer(screener: TBScreener) -> ImageClassificationInferencer:
    """The baseline: the screener's model and weights behind mmpretrain's stock pipeline."""
    cfg = copy.deepcopy(screener.inferencer.config)  # a shallow copy would change the screener's
    size = screener.input_size
    cfg.test_dataloader.dataset.pipeline = stock_pipeline(
        cfg.test_dataloader.dataset.pipeline, size)
    checkpoint = screener.checkpoint_path
    with redirect_stdout(sys.stderr):
        return ImageClassificationInferencer(
            model=cfg, pretrained=str(checkpoint) if checkpoint else False, device=screener.device)


def measure(screener: TBScreener, grey: np.ndarray, png: str, args) -> dict:
    """Latencies of one precision setting (``screener.bf16``), in ms and img/s."""
    ms = lambda times: round(1000 * statistics.median(times), 1)  # noqa: E731
    predict = timed(lambda: screener.predict(grey), args.repeats)
    with_cam = timed(lambda: screener.predict(grey, with_cam=True), args.repeats)
    batched = timed(lambda: screener.predict_batch([grey] * args.batch_size),
                    max(3, args.repeats // 4))
    from_file = timed(lambda: screener.predict_source(png), args.repeats)
    return dict(predict_ms=ms(predict), predict_cam_ms=ms(with_cam),
                predict_ms_p90=round(1000 * float(np.percentile(predict, 90)), 1),
                predict_cam_ms_p90=round(1000 * float(np.percentile(with_cam, 90)), 1),
                batch1_img_per_s=round(1000 / ms(predict), 1),
                batched_img_per_s=round(args.batch_size / statistics.median(batched), 1),
                file_predict_ms=ms(from_file), prob_tb=screener.predict(grey).prob_tb)


def measure_onnxruntime(screener: TBScreener, grey: np.ndarray, png: str, fp32: dict,
                        tmp: str, args) -> dict:
    """The ONNX Runtime backend on the same image, with ratios to PyTorch's fp32 row."""
    from mmtb.deployment import OnnxScreener, export_onnx
    onnx_path = export_onnx(screener, Path(tmp) / 'model.onnx')
    onnx_screener = OnnxScreener(onnx_path, threads=args.threads or torch.get_num_threads())
    ms = lambda times: round(1000 * statistics.median(times), 1)  # noqa: E731
    predict = timed(lambda: onnx_screener.predict(grey), args.repeats)
    batched = timed(lambda: onnx_screener.predict_batch([grey] * args.batch_size),
                    max(3, args.repeats // 4))
    from_file = timed(lambda: onnx_screener.predict_source(png), args.repeats)
    row = dict(predict_ms=ms(predict),
               predict_ms_p90=round(1000 * float(np.percentile(predict, 90)), 1),
               batch1_img_per_s=round(1000 / ms(predict), 1),
               batched_img_per_s=round(args.batch_size / statistics.median(batched), 1),
               file_predict_ms=ms(from_file),
               onnx_mb=round(onnx_path.stat().st_size / 2 ** 20, 1),
               prob_tb_abs_diff_vs_pytorch=abs(onnx_screener.predict(grey).prob_tb
                                               - fp32['prob_tb']))
    row['predict_speedup_vs_pytorch'] = round(fp32['predict_ms'] / row['predict_ms'], 2)
    row['batched_speedup_vs_pytorch'] = round(
        row['batched_img_per_s'] / fp32['batched_img_per_s'], 2)
    return row


def _in_repo(path) -> str:
    """A path as the results record it: relative to the repository when inside it, so the
    JSON names the same file on every machine."""
    path = os.path.abspath(path)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.relpath(path, repo) if path.startswith(repo + os.sep) else path


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    load_start = time.perf_counter()
    screener = load_screener(args)
    load_s = time.perf_counter() - load_start
    grey = synthetic_radiograph()

    with tempfile.TemporaryDirectory() as tmp:
        png = str(Path(tmp) / 'radiograph.png')
        cv2.imwrite(png, grey)
        baseline = stock_inferencer(screener)
        with redirect_stdout(io.StringIO()):  # the stock inferencer draws a progress bar
            baseline_ms = round(1000 * statistics.median(
                timed(lambda: baseline(png), args.repeats)), 1)
        screener.bf16 = False
        fp32 = measure(screener, grey, png, args)
        screener.bf16 = True
        bf16 = measure(screener, grey, png, args)
        screener.bf16 = False
        onnx = measure_onnxruntime(screener, grey, png, fp32, tmp, args) if (
            args.onnxruntime) else None

    result = dict(
        model=screener.name, config=_in_repo(screener.config_path),
        weights=_in_repo(screener.checkpoint_path) if screener.checkpoint_path else 'random',
        img_size=screener.input_size, source_image='1024x1024 uint8 grey',
        threads=torch.get_num_threads(), device=args.device, repeats=args.repeats,
        load_s=round(load_s, 2), batch_size=args.batch_size,
        **{k: v for k, v in fp32.items() if k != 'prob_tb'},
        bf16={k: v for k, v in bf16.items() if k != 'prob_tb'},
        baseline_file_predict_ms=baseline_ms,
        file_speedup_fp32=round(baseline_ms / fp32['file_predict_ms'], 2),
        file_speedup_bf16=round(baseline_ms / bf16['file_predict_ms'], 2),
        bf16_prob_tb_abs_diff=abs(fp32['prob_tb'] - bf16['prob_tb']),
        cpu=cpu_name(), cpu_count=os.cpu_count(), torch=torch.__version__,
        load_average=[round(x, 2) for x in os.getloadavg()],
        date=time.strftime('%Y-%m-%d %H:%M'))
    if onnx:
        result['onnxruntime'] = onnx

    print('| model | input | precision | predict (ms) | predict + Grad-CAM (ms) | batch-1 (img/s) '
          f'| batch-{args.batch_size} (img/s) | file → P(TB): baseline / mmtb (ms) | ratio |')
    print('|---|---|---|---|---|---|---|---|---|')
    for name, row in (('fp32', fp32), ('bf16', bf16)):
        print(f"| {result['model']} | {result['img_size']} | {name} | {row['predict_ms']} "
              f"| {row['predict_cam_ms']} | {row['batch1_img_per_s']} "
              f"| {row['batched_img_per_s']} | {baseline_ms} / {row['file_predict_ms']} "
              f"| {baseline_ms / row['file_predict_ms']:.2f}× |")
    if onnx:
        print(f"| {result['model']} | {result['img_size']} | fp32, ONNX Runtime "
              f"| {onnx['predict_ms']} | – | {onnx['batch1_img_per_s']} "
              f"| {onnx['batched_img_per_s']} | – / {onnx['file_predict_ms']} | – |")
    print(f"bf16 moves P(TB) by {result['bf16_prob_tb_abs_diff']:.2e}; load {result['load_s']} s; "
          f"CPU load average {result['load_average']} (other processes slow these numbers down)",
          file=sys.stderr)

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
