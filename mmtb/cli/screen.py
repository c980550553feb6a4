"""Screen many chest X-rays for TB and write one CSV row per image.

    mmtb-screen scans/ more.dcm --out results.csv --checkpoint work_dirs/<run>/x.pth
    # from the repository: python tools/screen.py ... (the same command line)

Inputs are files or folders (searched recursively for .png .jpg .jpeg .bmp .tif .tiff .dcm
.dicom, and for files of any other name whose content is an image, e.g. DICOM named by UID).
Every file goes through the one decoder and the app's inference path (mmtb.apis.TBScreener);
readable images are predicted in batches. A file that cannot be read gets a row with an
``error`` (and empty prob_tb / decision) and screening goes on. An image that is not a
radiograph (a colour photograph) gets ``decision=not_screened`` with the reason in
``warnings`` unless --force is given; ``borderline`` is 1 for a score inside the model's
measured borderline band (mmtb.apis.triage, the rules the app uses). With --cam-dir, a Grad-CAM
overlay per image is written there, mirroring the input names (``<name>_cam.png``), never
over an input file. ``--backend onnxruntime`` predicts with a model exported to ONNX (same
decoder and test pipeline; no Grad-CAM). tools/dist_screen.sh runs it on several processes
(``--launcher pytorch``: each rank screens its shard, rank 0 merges; docs/deployment.md).

Exit status: 0 when at least one image was screened, 1 when none could be (or no model).
"""
import argparse
import csv
import sys
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from mmtb.apis import NOT_SCREENED, Prediction, overlay_cam, screening_refusal
from mmtb.deployment import BACKENDS, load_screener
from mmtb.deployment.sharding import ShardRun
from mmtb.io import IMAGE_EXTENSIONS, XrayDecodeError, decode_xray, has_image_extension
from mmtb.io.decode import sniff_file

COLUMNS = ['file', 'prob_tb', 'decision', 'borderline', 'threshold', 'warnings', 'error']


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Screen chest X-rays for TB into a CSV file.')
    parser.add_argument('inputs', nargs='+', metavar='INPUT', help='image files or folders')
    parser.add_argument('--out', required=True, help='CSV file to write')
    parser.add_argument('--config', help='config (default: the one saved beside --checkpoint)')
    parser.add_argument('--checkpoint', help='model weights (default: the shipped model)')
    parser.add_argument('--threshold', metavar='T|FILE',
                        help='decision threshold, or an operating-point JSON (default: '
                        'operating_point.json beside the checkpoint, else 0.5)')
    parser.add_argument('--cam-dir', help='write Grad-CAM overlays into this folder')
    parser.add_argument('--batch-size', type=int, default=8, help='images per forward pass')
    parser.add_argument('--device', default='cpu', help="torch device (default 'cpu')")
    parser.add_argument('--force', action='store_true',
                        help='screen images that do not look like radiographs too')
    parser.add_argument('--bf16', action='store_true',
                        help='predict under bf16 autocast (faster for ResNet50 on CPUs with '
                        'bf16 units; Grad-CAM stays fp32); see docs/benchmarks.md')
    parser.add_argument('--backend', choices=BACKENDS, default='pytorch',
                        help='pytorch, or onnxruntime (same decoder and test pipeline; '
                        'see docs/deployment.md)')
    parser.add_argument('--onnx', help='with --backend onnxruntime: a model exported by '
                        'tools/deployment/pytorch2onnx.py (default: export the model at start)')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                        help='pytorch: one torchrun rank (tools/dist_screen.sh sets it)')
    args = parser.parse_args(argv)
    if args.backend == 'onnxruntime' and (args.cam_dir or args.bf16):
        parser.error('--backend onnxruntime cannot be combined with --cam-dir or --bf16: '
                     'Grad-CAM and bf16 autocast run on the PyTorch backend only')
    if args.onnx and args.backend != 'onnxruntime':
        parser.error('--onnx needs --backend onnxruntime')
    if args.batch_size < 1:
        parser.error('--batch-size must be at least 1')
    if args.bf16 and args.cam_dir:  # one CSV must not mix precisions silently
        parser.error('--bf16 cannot be combined with --cam-dir: Grad-CAM and the P(TB) computed '
                     'with it run in fp32; screen in bf16 and draw maps in a separate run')
    return args


def is_image_by_content(path: Path) -> bool:
    """An image whose name does not say so: PACS exports name DICOM files by UID with no
    extension, other tools write '.dat' or '.img'; the first bytes tell (mmtb.io.decode)."""
    return not has_image_extension(path) and sniff_file(path) is not None


def collect(inputs, skip_dir=None) -> list[tuple[Path, Path]]:
    """(file, its path relative to the input it came from); folders are searched recursively
    for image files, by extension or by content.

    Files under ``skip_dir`` (the CAM folder) are left out, so that a second run does not
    screen the overlays of the first.
    """
    skip = skip_dir.resolve() if skip_dir else None
    found = []
    for item in map(Path, inputs):
        if item.is_dir():
            root = item.name or item.resolve().name
            for path in sorted(item.rglob('*')):
                if (path.is_file()
                        and (has_image_extension(path) or is_image_by_content(path))
                        and not (skip and path.resolve().is_relative_to(skip))):
                    found.append((path, Path(root) / path.relative_to(item)))
        else:  # a named file is always tried (a missing one becomes an error row)
            found.append((item, Path(item.name)))
    return found


def cam_target(cam_dir: Path, relative: Path, used: set, inputs: set) -> Path:
    """``cam_dir/<relative dir>/<stem>_cam.png``, numbered if already used or an input."""
    # names are built as strings: Path.with_suffix would cut 'TB.100_cam' down to 'TB.png'
    folder, stem = cam_dir / relative.parent, f'{relative.stem}_cam'
    target, n = folder / f'{stem}.png', 1
    while target.resolve() in used or target.resolve() in inputs:
        n += 1
        target = folder / f'{stem}{n}.png'
    used.add(target.resolve())
    return target


def main(argv=None) -> int:
    args = parse_args(argv)
    cam_dir = Path(args.cam_dir) if args.cam_dir else None
    files = collect(args.inputs, cam_dir)
    if not files:
        print(f'error: no images ({" ".join(sorted(IMAGE_EXTENSIONS))}) found in '
              f'{" ".join(args.inputs)}', file=sys.stderr)
        return 1
    try:
        screener = load_screener(args.config, args.checkpoint, args.threshold, args.device,
                                 backend=args.backend, onnx_model=args.onnx, bf16=args.bf16)
    except (OSError, ValueError, TypeError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    columns = COLUMNS + (['cam'] if cam_dir else [])
    input_set = {path.resolve() for path, _ in files}
    shard = (ShardRun.start(out, files, args.batch_size) if args.launcher == 'pytorch'
             else None)
    if shard:  # this rank's files, into its shard CSV
        files, out = shard.files, shard.partial_csv
    used_cams: set = set()
    n_ok = n_refused = 0
    with open(out, 'w', newline='') as f, tqdm(total=len(files), desc='screening',
                                                unit='img', file=sys.stderr) as bar:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        for start in range(0, len(files), args.batch_size):
            chunk = files[start:start + args.batch_size]
            rows, good = [], []
            for path, relative in chunk:
                row = dict(file=str(path), threshold=screener.threshold)
                try:
                    decoded = decode_xray(path)
                except XrayDecodeError as e:
                    row['error'] = str(e)
                else:
                    refusal = None if args.force else screening_refusal(decoded)
                    if refusal is None:
                        good.append((row, decoded, relative))
                    else:  # no verdict for a non-radiograph; the reason goes first
                        row.update(decision=NOT_SCREENED, borderline=0,
                                   warnings=' | '.join([refusal] + decoded.warnings))
                        n_refused += 1
                rows.append(row)
            if cam_dir:  # one forward per image gives both P(TB) and the CAM
                preds = [screener.predict_decoded(d, with_cam=True) for _, d, _ in good]
            else:  # batched forward for throughput
                probs = screener.predict_batch([d.grey for _, d, _ in good])
                preds = [Prediction(p, screener.decide(p), screener.threshold, None,
                                    d.warnings + screener.model_warnings,
                                    borderline=screener.is_borderline(p))
                         for p, (_, d, _) in zip(probs, good)]
            for (row, decoded, relative), pred in zip(good, preds):
                row.update(prob_tb=f'{pred.prob_tb:.6f}', decision=pred.decision,
                           borderline=int(pred.borderline), warnings=' | '.join(pred.warnings))
                if cam_dir:
                    target = cam_target(cam_dir, relative, used_cams, input_set)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    Image.fromarray(overlay_cam(decoded.grey, pred.cam)).save(target, 'PNG')
                    row['cam'] = str(target)
                n_ok += 1
            writer.writerows(rows)
            f.flush()
            bar.update(len(chunk))

    n_bad = len(files) - n_ok - n_refused
    print(f'screened {n_ok} of {len(files)} images ({n_bad} unreadable, {n_refused} not '
          f'radiographs) with {screener.name}, '
          f'threshold {screener.threshold:g} ({screener.threshold_source}) -> {out}',
          file=sys.stderr)
    if shard:
        return shard.finish()
    if n_ok == 0:
        print('error: none of the inputs could be screened as an X-ray', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
