"""Export a TB classifier to ONNX Runtime, with its input normalisation in the graph.

    python tools/deployment/pytorch2onnx.py checkpoints/default/config.py \\
        checkpoints/default/model.pth --out work_dirs/onnx/default.onnx
    python tools/screen.py scans/ --out results.csv --backend onnxruntime \\
        --onnx work_dirs/onnx/default.onnx

The graph takes the test pipeline's packed pixels (N x C x H x W uint8) and returns P(TB) (N);
the config, classes, input size, threshold and checkpoint SHA-256 are stored in the file's
metadata. Unless --no-verify, P(TB) of ONNX Runtime and PyTorch are compared on generated
X-rays and the export fails beyond --tolerance. See docs/deployment.md.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

from mmtb.apis import TBScreener
from mmtb.deployment import OnnxScreener, export_onnx
from mmtb.deployment.onnx_export import OPSET
from mmtb.utils import load_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Export a TB classifier to ONNX.')
    parser.add_argument('config', help='config file (e.g. checkpoints/default/config.py)')
    parser.add_argument('checkpoint', help="weights ('none': random weights, benchmarks only)")
    parser.add_argument('--out', required=True, help='.onnx file to write')
    parser.add_argument('--img-size', type=int, help='input size (default: the config\'s)')
    parser.add_argument('--threshold', metavar='T|FILE', help='threshold stored in the file '
                        '(default: as TBScreener resolves it for the checkpoint)')
    parser.add_argument('--opset', type=int, default=OPSET, help=f'ONNX opset (default {OPSET})')
    parser.add_argument('--tolerance', type=float, default=1e-4,
                        help='largest |P(TB) ONNX - PyTorch| accepted by the check')
    parser.add_argument('--no-verify', action='store_true', help='skip the equality check')
    return parser.parse_args(argv)


def generated_xrays(n: int = 4, size: int = 300) -> list[np.ndarray]:
    """Noise and smooth grey images of an odd size: they exercise resizing and cue removal."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size] / size
    smooth = (120 + 80 * np.sin(6 * xx) * np.cos(4 * yy)).astype(np.uint8)
    return [smooth] + [rng.integers(0, 256, (size, size - 20 * i), dtype=np.uint8)
                       for i in range(n - 1)]


def main(argv=None) -> int:
    args = parse_args(argv)
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    # the path itself unless resized: TBScreener names the model after it ('default', ...)
    cfg = load_config(args.config, img_size=args.img_size) if args.img_size else Path(
        args.config).resolve()
    screener = TBScreener(cfg, checkpoint, args.threshold, random_weights=checkpoint is None)
    out = export_onnx(screener, args.out, opset=args.opset)
    message = f'exported {screener.name} ({screener.input_size} px) -> {out}'
    if not args.no_verify:
        onnx_screener = OnnxScreener(out)
        greys = generated_xrays()
        diff = float(np.max(np.abs(np.subtract(screener.predict_batch(greys),
                                               onnx_screener.predict_batch(greys)))))
        message += f'; max |dP(TB)| vs PyTorch on {len(greys)} generated images: {diff:.1e}'
        if not diff <= args.tolerance:
            print(f'error: {message} exceeds --tolerance {args.tolerance:g}', file=sys.stderr)
            return 1
    print(message, file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
