"""Combine several trainings of one config (different seeds) into one seed-ensemble model.

    python tools/model_converters/make_seed_ensemble.py CONFIG.py \\
        work_dirs/<run>/epoch_5.pth work_dirs/<run>_seed1/epoch_5.pth ... --out work_dirs/<name>

Writes into ``--out`` a config whose model is a ``SeedEnsembleClassifier`` around CONFIG's
model (the data pipelines and evaluators stay CONFIG's) and ``seed_ensemble.pth`` holding every
member's weights (no optimizer state). Both load like any mmtb model:
``tools/test.py``, ``tools/screen.py``, the app, ``publish_default_model.py``.
"""
import argparse
import sys
from pathlib import Path

import torch
from mmengine.config import Config

import mmtb  # noqa: F401  (registers the ensemble; allow-lists mmengine checkpoints)

CHECKPOINT_NAME = 'seed_ensemble.pth'


def ensemble_config(config: Path, num_members: int) -> Config:
    """CONFIG with its model wrapped in a ``SeedEnsembleClassifier`` of ``num_members``."""
    cfg = Config.fromfile(str(config))
    member = cfg.model.to_dict() if hasattr(cfg.model, 'to_dict') else dict(cfg.model)
    preprocessor = member.pop('data_preprocessor', None) or cfg.get('data_preprocessor')
    cfg.model = dict(type='SeedEnsembleClassifier', member=member, num_members=num_members,
                     data_preprocessor=preprocessor)
    cfg.load_from, cfg.resume, cfg.work_dir = None, False, None
    return cfg


def ensemble_state(checkpoints) -> dict:
    """Every checkpoint's weights under ``members.<i>.``, and the class names and sources.

    Raises ValueError when the checkpoints do not share one architecture.
    """
    state, members, classes, reference = {}, [], None, None
    for i, path in enumerate(checkpoints):
        ckpt = torch.load(path, map_location='cpu')
        weights = ckpt.get('state_dict', ckpt)
        shapes = {k: tuple(v.shape) for k, v in weights.items()}
        if reference is None:
            reference = shapes
        elif shapes != reference:
            raise ValueError(f'{path} does not have the architecture of {checkpoints[0]}: '
                             'the members of a seed ensemble must be trainings of one config')
        meta = ckpt.get('meta', {})
        classes = classes or meta.get('dataset_meta', {}).get('classes')
        members.append(dict(source=str(path), epoch=meta.get('epoch'), seed=meta.get('seed')))
        state.update({f'members.{i}.{k}': v for k, v in weights.items()})
    return dict(state_dict=state, meta=dict(
        dataset_meta=dict(classes=list(classes or ('normal', 'tuberculosis'))),
        seed_ensemble=members))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the config every member was trained with')
    parser.add_argument('checkpoints', nargs='+', help='one checkpoint per member (seed)')
    parser.add_argument('--out', required=True, help='folder for the config and weights')
    args = parser.parse_args(argv)
    if len(args.checkpoints) < 2:
        parser.error('a seed ensemble needs at least two checkpoints')
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        checkpoint = ensemble_state(args.checkpoints)
        cfg = ensemble_config(Path(args.config), len(args.checkpoints))
    except (OSError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    config_path = out / f'{Path(args.config).stem}_seed-ensemble{len(args.checkpoints)}.py'
    cfg.dump(str(config_path))
    torch.save(checkpoint, out / CHECKPOINT_NAME)
    print(f'wrote {config_path} and {out / CHECKPOINT_NAME} ({len(args.checkpoints)} members)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
