"""Measure the borderline band of a model (mmtb.analysis.retest) and store it in its
operating-point JSON, where the app, ``tools/screen.py`` and ``demo/image_demo.py`` read it.

    python tools/analysis_tools/borderline_band.py data/tbcxr/meta/test.json \\
        --checkpoint checkpoints/default --operating-point checkpoints/default/operating_point.json

IMAGES is a dataset annotation file (``meta/<split>.json`` of prepare_tbcxr.py, paths relative
to the folder above ``meta/``) or a folder of images. The per-image jitters go to ``--jitter-csv``
if given; ``--from-jitter`` reads such a file instead of screening again (e.g. for another
``--quantile``). ``--scores NAME=CSV`` (a ``prob_tb`` column, as ``tools/test.py --scores``
writes) records which fraction of each set the band flags. Prints one summary line.
"""
import argparse
import csv
import json
import sys
from pathlib import Path


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('images', help='meta/<split>.json of a prepared dataset, or a folder')
    parser.add_argument('--checkpoint', help='model (default: the shipped default)')
    parser.add_argument('--config', help='its config (default: the one beside it)')
    parser.add_argument('--operating-point', required=True,
                        help='operating-point JSON to add the band to (its threshold is used)')
    parser.add_argument('--quantile', type=float, default=0.95)
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--jitter-csv', help='write file,prob_tb,logit_jitter per image')
    parser.add_argument('--from-jitter', help='a --jitter-csv of an earlier run: no screening')
    parser.add_argument('--scores', nargs='+', default=[], metavar='NAME=CSV',
                        help='score files whose fraction inside the band is recorded')
    return parser.parse_args(argv)


def flagged_fractions(band: dict, named_csvs: list[str]) -> dict:
    """{name: fraction of the file's scores inside the band} for NAME=CSV arguments."""
    fractions = {}
    for item in named_csvs:
        name, _, path = item.partition('=')
        with open(path, newline='') as f:
            scores = [float(row['prob_tb']) for row in csv.DictReader(f) if row['prob_tb']]
        inside = sum(band['low'] <= s <= band['high'] for s in scores)
        fractions[name] = dict(flagged=inside, of=len(scores), fraction=inside / len(scores))
    return fractions


def image_paths(images: Path) -> list[Path]:
    """The images of an annotation file (as the dataset reads them) or of a folder."""
    if images.is_dir():
        from mmtb.io import IMAGE_EXTENSIONS
        return sorted(p for p in images.rglob('*') if p.suffix.lower() in IMAGE_EXTENSIONS)
    data = json.loads(images.read_text())
    root = images.parent.parent
    return [(root / item['img_path']).resolve() for item in data['data_list']]


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmtb.analysis.retest import retest_band, scores_and_retest_jitter
    from mmtb.apis import TBScreener
    from mmtb.io.decode import read_grey
    point_path = Path(args.operating_point)
    point = json.loads(point_path.read_text())
    if args.from_jitter:
        with open(args.from_jitter, newline='') as f:
            rows = list(csv.DictReader(f))
        jitter = [float(r['logit_jitter']) for r in rows]
        measured_on = f'{len(jitter)} X-rays of {args.images}'
    else:
        paths = image_paths(Path(args.images))
        if not paths:
            print(f'error: no images in {args.images}', file=sys.stderr)
            return 2
        screener = TBScreener(config=args.config, checkpoint=args.checkpoint,
                              threshold=float(point['threshold']))
        greys = [read_grey(str(p)) for p in paths]
        scores, jitter = scores_and_retest_jitter(screener.predict_batch, greys,
                                                  batch_size=args.batch_size)
        measured_on = f'{len(paths)} X-rays of {args.images}'
        if args.jitter_csv:
            with open(args.jitter_csv, 'w', newline='') as f:
                writer = csv.writer(f)
                writer.writerow(['file', 'prob_tb', 'logit_jitter'])
                writer.writerows([p.name, f'{s:.6f}', f'{j:.6f}']
                                 for p, s, j in zip(paths, scores, jitter))
    band = retest_band(float(point['threshold']), jitter, quantile=args.quantile,
                       measured_on=measured_on)
    if args.scores:
        band['flags'] = flagged_fractions(band, args.scores)
    point['borderline_band'] = band
    point_path.write_text(json.dumps(point, indent=2) + '\n')
    print(f'borderline band {band["low"]:.3f}-{band["high"]:.3f} around threshold '
          f'{float(point["threshold"]):.3f} (logit ±{band["logit_halfwidth"]:.3f}, '
          f'{band["quantile"]:.0%} of {band["n_images"]} images; median jitter '
          f'{band["median_logit_jitter"]:.3f}) -> {point_path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
