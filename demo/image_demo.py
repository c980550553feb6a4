"""Screen one chest X-ray for TB from the command line; prints the result as JSON.

    python demo/image_demo.py xray.png --checkpoint work_dirs/<run>/epoch_10.pth --out cam.png

Uses the same inference path as the app (mmtb.apis.TBScreener): the one decoder for the file,
the config's test pipeline for preprocessing, Grad-CAM on the FPN's finest level for --out.
Exit status: 0 ok, 2 unusable image or model files (one-line message on stderr).
"""
import argparse
import json
import sys
from pathlib import Path

from PIL import Image

from mmtb.apis import TBScreener, overlay_cam
from mmtb.io.decode import XrayDecodeError, decode_xray


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Screen one chest X-ray for tuberculosis.')
    parser.add_argument('image', help='PNG / JPEG / 16-bit PNG / TIFF / DICOM file')
    parser.add_argument('--config', help='config (default: the one saved beside --checkpoint)')
    parser.add_argument('--checkpoint', help='model weights (default: the shipped model)')
    parser.add_argument('--threshold', metavar='T|FILE',
                        help='decision threshold, or an operating-point JSON (default: '
                        'operating_point.json beside the checkpoint, else 0.5)')
    parser.add_argument('--out', metavar='CAM.png', help='write the Grad-CAM overlay here')
    parser.add_argument('--device', default='cpu', help="torch device (default 'cpu')")
    return parser.parse_args(argv)


def fail(message: str) -> int:
    print(f'error: {message}', file=sys.stderr)
    return 2


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out) if args.out else None
    if out is not None and out.resolve() == Path(args.image).resolve():
        return fail('--out would overwrite the input image; choose another file')
    try:  # decode first: a bad file is reported before the (slower) model load
        decoded = decode_xray(args.image)
    except XrayDecodeError as e:
        return fail(f'{args.image}: {e}')
    try:
        screener = TBScreener(args.config, args.checkpoint, args.threshold, args.device)
    except (OSError, ValueError, TypeError) as e:
        return fail(str(e))
    pred = screener.predict_decoded(decoded, with_cam=out is not None)
    result = dict(file=args.image, prob_tb=round(pred.prob_tb, 6), decision=pred.decision,
                  threshold=pred.threshold, threshold_source=screener.threshold_source,
                  model=screener.name, warnings=pred.warnings)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(overlay_cam(decoded.grey, pred.cam)).save(out, format='PNG')
        result['cam'] = str(out)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
