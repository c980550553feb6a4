"""Write a teacher's P(TB) for every training image (and optionally unlabelled X-rays), the
soft targets that ``SoftTargetDataset`` attaches to samples for distillation.

    nice -n 10 python tools/distill/teacher_soft_targets.py configs/distill/<config>.py \\
        --out work_dirs/distill/soft_targets_default.json [--unlabelled FOLDER ...]

The teacher is the shipped default unless --teacher-checkpoint (and --teacher-config) name
another; it predicts through ``TBScreener`` (the one decoder, its own test pipeline), so the
targets are exactly what the teacher says at screening time. The training images are those of
the student config's ``train_dataloader`` (data_root + ann_file). Unlabelled folders are
searched recursively; the external evaluation sets are refused (a student trained on their
pseudo-labels would be evaluated on its own training data). See docs/deployment.md.
"""
import argparse
import json
import os.path as osp
import sys
from pathlib import Path

from tqdm import tqdm

from mmtb.apis import TBScreener
from mmtb.deployment.onnx_export import file_sha256
from mmtb.io import XrayDecodeError, decode_xray, has_image_extension
from mmtb.utils import load_config

EXTERNAL_SETS = ('pakistan256', 'tbx11k256')  # evaluation only (../shared/data/README.md)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Write teacher soft targets for distillation.')
    parser.add_argument('config', help='the student (distillation) config: its training set')
    parser.add_argument('--out', required=True, help='JSON file to write')
    parser.add_argument('--teacher-config', help='teacher config (default: the shipped model)')
    parser.add_argument('--teacher-checkpoint', help='teacher weights (default: shipped model)')
    parser.add_argument('--unlabelled', nargs='*', default=[], metavar='FOLDER',
                        help='folders of unlabelled X-rays to add (soft targets only)')
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def training_images(cfg) -> tuple[str, str, list[str]]:
    """(data_root, ann_file, img_path of every training image as the annotation has it)."""
    dataset = cfg.train_dataloader.dataset
    data_root = dataset.get('data_root', '')
    ann_file = osp.join(data_root, dataset.ann_file)
    with open(ann_file) as f:
        data_list = json.load(f)['data_list']
    return data_root, ann_file, [info['img_path'] for info in data_list]


def unlabelled_images(folders) -> list[Path]:
    found = []
    for folder in map(Path, folders):
        if any(part in EXTERNAL_SETS for part in folder.resolve().parts):
            raise ValueError(f'{folder} is an external evaluation set: never train on it')
        found += sorted(p for p in folder.rglob('*') if p.is_file() and has_image_extension(p))
    return found


def predict_all(screener, paths, desc, batch_size: int, skip_unreadable: bool) -> dict:
    """{key: P(TB)} for ``(key, path)`` pairs, predicted in batches."""
    probs, batch = {}, []

    def flush():
        for key, p in zip([k for k, _ in batch],
                          screener.predict_batch([grey for _, grey in batch])):
            probs[key] = round(p, 6)
        batch.clear()

    for key, path in tqdm(paths, desc=desc, unit='img', file=sys.stderr):
        try:
            batch.append((key, decode_xray(path).grey))
        except XrayDecodeError as e:
            if not skip_unreadable:
                raise XrayDecodeError(f'training image {path}: {e}') from None
            print(f'skipped unreadable {path}: {e}', file=sys.stderr)
        if len(batch) >= batch_size:
            flush()
    flush()
    return probs


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = load_config(args.config)
    data_root, ann_file, img_paths = training_images(cfg)
    unlabelled = unlabelled_images(args.unlabelled)
    teacher = TBScreener(args.teacher_config, args.teacher_checkpoint, device=args.device)
    labelled = predict_all(teacher, [(p, osp.join(data_root, p)) for p in img_paths],
                           'teacher on training images', args.batch_size, skip_unreadable=False)
    extra = predict_all(teacher, [(str(p.resolve()), p) for p in unlabelled],
                        'teacher on unlabelled images', args.batch_size, skip_unreadable=True)
    checkpoint = teacher.checkpoint_path
    result = dict(
        teacher=dict(name=teacher.name, config=str(teacher.config_path),
                     checkpoint=str(checkpoint), checkpoint_sha256=file_sha256(checkpoint),
                     input_size=teacher.input_size),
        data_root=data_root, ann_file=ann_file, labelled=labelled, unlabelled=extra)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + '\n')
    print(f'{len(labelled)} training and {len(extra)} unlabelled soft targets from '
          f'{teacher.name} -> {out}', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
