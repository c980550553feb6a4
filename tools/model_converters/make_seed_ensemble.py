"""Combine several trainings of one config (different seeds) into one seed-ensemble model.

    python tools/model_converters/make_seed_ensemble.py CONFIG.py \\
        work_dirs/<run>/epoch_5.pth work_dirs/<run>_seed1/epoch_5.pth ... --out work_dirs/<name>

``--recipe OTHER.py CKPT ...`` (repeatable) adds trainings of other configs of the same
architecture. Where their test preprocessing differs from CONFIG's (e.g. one recipe crops to
the lung field and another does not), the ensemble's test pipeline concatenates each distinct
preprocessing along the channels (``PreprocessingViews``) and every member reads its own.

Writes into ``--out`` a config whose model is a ``SeedEnsembleClassifier`` around CONFIG's
model (the evaluators and the data pipelines stay CONFIG's, but for the views; trained at
another size than 512 px, pass the size's configs, e.g. ``..._tbcxr-128px.py``) and
``seed_ensemble.pth`` holding every member's weights (no optimizer state). Both load like any
mmtb model: ``tools/test.py``, ``tools/screen.py``, the app, ``publish_default_model.py``.
The shipped default's recipes, in member order, are in configs/default/.
"""
import argparse
import sys
from pathlib import Path

import torch
from mmengine.config import Config

import mmtb  # noqa: F401  (registers the ensemble; allow-lists mmengine checkpoints)
from mmtb.utils.config import runner_config

CHECKPOINT_NAME = 'seed_ensemble.pth'
LOADER, PACKER = 'LoadGreyXray', 'PackInputs'


def ensemble_config(config: Path, num_members: int) -> Config:
    """CONFIG with its model wrapped in a ``SeedEnsembleClassifier`` of ``num_members``."""
    cfg = Config.fromfile(str(config))
    member = cfg.model.to_dict() if hasattr(cfg.model, 'to_dict') else dict(cfg.model)
    preprocessor = member.pop('data_preprocessor', None) or cfg.get('data_preprocessor')
    cfg.model = dict(type='SeedEnsembleClassifier', member=member, num_members=num_members,
                     data_preprocessor=preprocessor)
    cfg.load_from, cfg.resume, cfg.work_dir = None, False, None
    return cfg


def view_steps(cfg: Config) -> list:
    """A recipe's test preprocessing: its test pipeline's steps between loading and packing."""
    pipeline = [dict(step) for step in cfg.test_dataloader.dataset.pipeline]
    if len(pipeline) < 2 or pipeline[0]['type'] != LOADER or pipeline[-1]['type'] != PACKER:
        raise ValueError(f'{cfg.filename}: the test pipeline must start with {LOADER} and end '
                         f'with {PACKER} to be combined with other recipes')
    return pipeline[1:-1]


def recipe_ensemble_config(configs: list, counts: list) -> Config:
    """The ensemble of ``counts[i]`` trainings of ``configs[i]`` (one architecture), the
    first config's otherwise; with ``PreprocessingViews`` when their test steps differ."""
    cfg = ensemble_config(Path(configs[0]), sum(counts))
    member = cfg.model.member
    views, member_views = [], []
    for path, count in zip(configs, counts):
        other = ensemble_config(Path(path), count)
        if other.model.member != member or (other.model.data_preprocessor
                                            != cfg.model.data_preprocessor):
            raise ValueError(f'{path} does not have the model of {configs[0]}: the recipes '
                             'of one ensemble must share the architecture and normalisation')
        steps = view_steps(other)
        if steps not in views:
            views.append(steps)
        member_views += [views.index(steps)] * count
    if len(views) == 1:
        return cfg
    preprocessor = dict(cfg.model.data_preprocessor)
    for key in ('mean', 'std'):
        if preprocessor.get(key) is not None:
            preprocessor[key] = list(preprocessor[key]) * len(views)
    cfg.model.data_preprocessor = preprocessor
    cfg.data_preprocessor = preprocessor
    cfg.model.member_views = member_views
    pipeline = cfg.test_dataloader.dataset.pipeline
    views_pipeline = [pipeline[0], dict(type='PreprocessingViews', views=views), pipeline[-1]]
    for loader in ('val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.pipeline = views_pipeline
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
                             'the members of an ensemble must share one architecture')
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
    parser.add_argument('--recipe', nargs='+', action='append', default=[],
                        metavar=('CONFIG', 'CHECKPOINT'),
                        help='another config of the same architecture and its checkpoints '
                             '(repeatable)')
    parser.add_argument('--out', required=True, help='folder for the config and weights')
    args = parser.parse_args(argv)
    recipes = [(args.config, args.checkpoints), *((r[0], r[1:]) for r in args.recipe)]
    checkpoints = [c for _, ckpts in recipes for c in ckpts]
    if len(checkpoints) < 2 or any(not ckpts for _, ckpts in recipes):
        parser.error('an ensemble needs at least two checkpoints, and each --recipe one')
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        checkpoint = ensemble_state(checkpoints)
        cfg = recipe_ensemble_config([c for c, _ in recipes], [len(c) for _, c in recipes])
    except (OSError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    kind = 'recipe-ensemble' if args.recipe else 'seed-ensemble'
    config_path = out / f'{Path(args.config).stem}_{kind}{len(checkpoints)}.py'
    # what runs only: the first recipe's building blocks (``cue_removal``, ...) would not say
    # what the views do
    runner_config(cfg).dump(str(config_path))
    torch.save(checkpoint, out / CHECKPOINT_NAME)
    print(f'wrote {config_path} and {out / CHECKPOINT_NAME} ({len(checkpoints)} members)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
