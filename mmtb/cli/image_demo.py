"""Screen one chest X-ray for TB from the command line; prints the result as JSON.

    mmtb-demo xray.png --checkpoint work_dirs/<run>/epoch_10.pth --out cam.png
    mmtb-demo IM000001 --report report.pdf   # (python demo/image_demo.py ... from the repository)

Uses the same inference path as the app (mmtb.apis.TBScreener): the one decoder for the file
(recognised by content, so a DICOM without extension works), the config's test pipeline for
preprocessing, Grad-CAM on the FPN's finest level for --out / --report. An image that is not a
radiograph (a colour photograph) gets ``decision: not_screened`` unless --force is given; a score
inside the model's measured borderline band is ``borderline`` (mmtb.apis.triage).
Exit status: 0 ok, 2 unusable image or model files (one-line message on stderr).
"""
import argparse
import json
import sys
from pathlib import Path

from PIL import Image

from mmtb.apis import NOT_SCREENED, TBScreener, overlay_cam, screening_refusal
from mmtb.apis.report import ReportInfo, build_report
from mmtb.apis.triage import operating_point_sentence, outside_lung_notice
from mmtb.io.decode import XrayDecodeError, decode_xray

DISCLAIMER = 'Triage support for research use, not a diagnosis: a clinician must review the image.'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Screen one chest X-ray for tuberculosis.')
    parser.add_argument('image', help='PNG / JPEG / 16-bit PNG / TIFF / DICOM file (any name)')
    parser.add_argument('--config', help='config (default: the one saved beside --checkpoint)')
    parser.add_argument('--checkpoint', help='model weights (default: the shipped model)')
    parser.add_argument('--threshold', metavar='T|FILE',
                        help='decision threshold, or an operating-point JSON (default: '
                        'operating_point.json beside the checkpoint, else 0.5)')
    parser.add_argument('--out', metavar='CAM.png', help='write the Grad-CAM overlay here')
    parser.add_argument('--report', metavar='REPORT.pdf',
                        help='write a one-page PDF report (the same one the app offers)')
    parser.add_argument('--force', action='store_true',
                        help='screen even an image that does not look like a radiograph')
    parser.add_argument('--device', default='cpu', help="torch device (default 'cpu')")
    return parser.parse_args(argv)


def fail(message: str) -> int:
    print(f'error: {message}', file=sys.stderr)
    return 2


def main(argv=None) -> int:
    args = parse_args(argv)
    image = Path(args.image).resolve()
    outputs = [Path(p) for p in (args.out, args.report) if p]
    if any(p.resolve() == image for p in outputs):
        return fail('--out/--report would overwrite the input image; choose another file')
    try:  # decode first: a bad file is reported before the (slower) model load
        decoded = decode_xray(args.image)
    except XrayDecodeError as e:
        return fail(f'{args.image}: {e}')
    try:
        screener = TBScreener(args.config, args.checkpoint, args.threshold, args.device)
    except (OSError, ValueError, TypeError) as e:
        return fail(str(e))
    refusal = None if args.force else screening_refusal(decoded)
    with_cam = refusal is None and bool(args.out or args.report)
    result = dict(file=args.image, threshold=screener.threshold,
                  threshold_source=screener.threshold_source, model=screener.name,
                  model_version=screener.version)
    if refusal is not None:
        pred = None
        result.update(prob_tb=None, decision=NOT_SCREENED, borderline=False,
                      warnings=[refusal] + decoded.warnings)
    else:
        pred = screener.predict_decoded(decoded, with_cam=with_cam)
        notice = outside_lung_notice(pred.cam, decoded.grey)
        result.update(prob_tb=round(pred.prob_tb, 6), decision=pred.decision,
                      borderline=pred.borderline,
                      warnings=pred.warnings + ([notice] if notice else []))
    overlay = overlay_cam(decoded.grey, pred.cam) if pred is not None and pred.cam is not None \
        else None
    if args.out and overlay is not None:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(overlay).save(out, format='PNG')
        result['cam'] = str(out)
    if args.report:
        sentence = operating_point_sentence(screener.checkpoint_path.parent) \
            if screener.operating_point and args.threshold is None else None
        info = ReportInfo(
            file_name=Path(args.image).name, model_name=screener.name,
            model_version=screener.version, threshold=screener.threshold,
            calibration=screener.threshold_source, prob_tb=result['prob_tb'],
            decision=result['decision'], borderline=result['borderline'],
            disclaimer=DISCLAIMER, notes=tuple(result['warnings']) + ((sentence, ) if sentence
                                                                      else ()))
        report = Path(args.report)
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_bytes(build_report(info, decoded.grey, overlay))
        result['report'] = str(report)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
