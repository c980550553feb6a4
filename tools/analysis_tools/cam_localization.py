"""Check heat maps against radiologists' lesion boxes (and the lung field).

    python tools/analysis_tools/cam_localization.py IMAGES [IMAGES ...] --boxes boxes.csv \\
        [--config CONFIG] [--checkpoint CHECKPOINT] [--split eval] --out cam_localization.json

IMAGES are image files or folders (searched recursively); each image whose file name is in
``--boxes`` (``file,kind,x0,y0,x1,y1``, e.g. ``tbx11k256/boxes.csv``) is screened with the app's
own Grad-CAM path, and its map is scored: ``pointing_game`` (peak inside a box),
``energy_in_boxes`` (mass inside the boxes), ``box_area_fraction`` (the chance level of that
mass) and ``outside_lung`` (mass outside the lung field), overall and per TB kind. ``--split
eval`` keeps the half of the boxed images that lesion-paste training never draws patches from.
Without ``--checkpoint`` the shipped default model is checked. The summary is the last line.
"""
import argparse
import json
import sys
from pathlib import Path

from mmtb.analysis.cam_localization import localization_report, summary_line
from mmtb.apis import TBScreener
from mmtb.data_prep.boxes import LESION_SPLITS, lesion_split, read_lesion_boxes
from mmtb.data_prep.sources import DataSourceError
from mmtb.io.decode import XrayDecodeError


def boxed_images(inputs, boxes: dict, split=None) -> dict:
    """``{path: boxes}`` for every file under ``inputs`` whose name has boxes."""
    found = {}
    for item in map(Path, inputs):
        if not item.exists():
            raise DataSourceError(f'no such file or folder: {item}')
        for path in sorted(item.rglob('*')) if item.is_dir() else [item]:
            if path.is_file() and path.name in boxes and (
                    split is None or lesion_split(path.name) == split):
                found[path] = boxes[path.name]
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('images', nargs='+', help='image files or folders')
    parser.add_argument('--boxes', required=True, help='lesion boxes CSV (file,kind,x0,y0,x1,y1)')
    parser.add_argument('--config', help='model config (default: the one beside --checkpoint)')
    parser.add_argument('--checkpoint', help='checkpoint (default: the shipped default model)')
    parser.add_argument('--split', choices=LESION_SPLITS,
                        help='only this half of the boxed images (see mmtb.data_prep.boxes)')
    parser.add_argument('--per-image', action='store_true',
                        help='also keep every image\'s numbers in the JSON')
    parser.add_argument('--out', required=True, help='JSON file to write')
    args = parser.parse_args(argv)
    try:
        images = boxed_images(args.images, read_lesion_boxes(args.boxes), args.split)
        if not images:
            raise DataSourceError(f'none of the images under {" ".join(args.images)} has a box '
                                  f'in {args.boxes}')
        screener = TBScreener(config=args.config, checkpoint=args.checkpoint)
        report = localization_report(screener, images)
    except (DataSourceError, XrayDecodeError, OSError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    if not args.per_image:
        report.pop('images')
    report = {'model': screener.name, 'config': str(screener.config_path),
              'checkpoint': str(screener.checkpoint_path), 'boxes': args.boxes,
              'split': args.split or 'all', **report}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + '\n')
    print(summary_line(report))
    return 0


if __name__ == '__main__':
    sys.exit(main())
