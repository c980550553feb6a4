"""Publish a trained checkpoint as mmtb's shipped default model, with its model card.

    python tools/model_converters/publish_default_model.py \\
        work_dirs/<run>/<config>.py work_dirs/<run>/epoch_10.pth \\
        --img-size 224 --external pakistan256=data/pakistan256 --out checkpoints/default

Writes into ``--out``: ``model.pth`` (weights and class names only: no optimizer state, loads
under weights-only ``torch.load``), ``config.py`` (the trained config, its building blocks left
out: what runs only; the shipped default's comes from configs/default/), ``operating_point.json``
(the threshold reaching 90 % sensitivity on the internal test split; with
``--sensitivity-confidence 0.95``, the threshold where 90 % is the sensitivity's lower 95 %
confidence bound), the evaluation JSONs of the PUBLISHED weights made by :mod:`mmtb.apis.test`
(``tools/test.py``'s library side; internal split, then each external set with that threshold
unchanged) with their per-image scores, a simulation of local calibration on
each external set, ROC plots (``roc_<set>.png``, the operating point marked) and
``model_card.md`` rendered from those files only. A TB-only external set (e.g. TBX11K) gets
sensitivity per TB kind instead of AUC; a ``cam_localization.json`` in ``--out`` (written by
``tools/analysis_tools/cam_localization.py``) adds the heat-map row.
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from mmengine.config import Config

import mmtb  # noqa: F401  (allow-lists mmengine checkpoints for weights-only loading)
from mmtb.apis.model_card import card_inputs, render_card, single_model
from mmtb.evaluation.calibration import (
    calibrate,
    local_calibration_table,
    read_scores_csv,
    simulate_local_calibration,
)
from mmtb.evaluation.roc_plot import plot_roc
from mmtb.experiments import external_set
from mmtb.models.classifiers.distill import student_config
from mmtb.utils import input_size_of, set_input_size
from mmtb.utils.compact_weights import SCALE_SUFFIX, quantize_weights
from mmtb.utils.config import run_name, runner_config

REPO = Path(__file__).resolve().parents[2]


def holds_weights(path: Path, state: dict, meta: dict) -> bool:
    """Whether ``path`` already holds exactly these weights and meta: then the file is left as
    it is, so republishing the same model (a new card, threshold or evaluation) adds no new
    copy of the weights to the repository's history."""
    if not path.is_file():
        return False
    try:
        old = torch.load(path, map_location='cpu')
    except Exception:  # unreadable or not a checkpoint: replace it
        return False
    old_state = old.get('state_dict', {})
    return (old.get('meta') == meta and old_state.keys() == state.keys()
            and all(old_state[k].dtype == v.dtype and torch.equal(old_state[k], v)
                    for k, v in state.items()))


def write_weights(checkpoint: Path, out: Path, fp16: bool = False, int8: bool = False) -> dict:
    """Weights and class names only (and a seed ensemble's member list); ``fp16`` halves the
    file, ``int8`` (seed ensembles only) stores convolution and linear weights as per-channel
    int8 and the rest as float16 (:mod:`mmtb.utils.compact_weights`); the evaluations below
    then score exactly these rounded weights."""
    ckpt = torch.load(checkpoint, map_location='cpu')
    meta = ckpt.get('meta', {})
    classes = list(meta.get('dataset_meta', {}).get('classes', ('normal', 'tuberculosis')))
    dtype = torch.float16 if fp16 else torch.float32
    if int8:
        state = quantize_weights(ckpt['state_dict'])
    else:
        state = {k: v.to(dtype) if v.is_floating_point() else v
                 for k, v in ckpt['state_dict'].items()}
    kept = {'dataset_meta': {'classes': classes}}
    if meta.get('seed_ensemble'):
        kept['seed_ensemble'] = meta['seed_ensemble']
    if not holds_weights(out / 'model.pth', state, kept):
        torch.save({'state_dict': state, 'meta': kept}, out / 'model.pth')
    return dict(epoch=meta.get('epoch'), source=str(checkpoint),
                members=meta.get('seed_ensemble', []), fp16=fp16 or int8, int8=int8)


def internal_data_root(out: Path) -> str:
    """Where the published config's test split (the threshold's source) lives."""
    return str(Config.fromfile(str(out / 'config.py')).test_dataloader.dataset.data_root)


def write_config(config: Path, out: Path, img_size=None) -> Config:
    """The config the app and tools will load; set to ``img_size``, the size it is evaluated
    at here, so that they run the model at the size its card and threshold describe."""
    cfg = Config.fromfile(str(config))
    cfg.model = student_config(cfg.model)  # a distilled student runs without its teacher
    if img_size:
        set_input_size(cfg, img_size)
    cfg.load_from, cfg.resume, cfg.work_dir = None, False, None
    # the weights come from model.pth: no initialisation file is needed to rebuild the model
    backbone = single_model(cfg).backbone
    pretrained_from = backbone.pop('init_cfg', None)
    backbone.init_cfg = None
    cfg.pretrained_from = pretrained_from and pretrained_from.get('checkpoint')
    # only what runs: the building blocks (``load_xray``, ...) would still say the source size
    cfg = runner_config(cfg)
    cfg.dump(str(out / 'config.py'))
    return cfg


def evaluate(out: Path, name: str, img_size, data_root=None, threshold=None) -> dict:
    result_file = out / f'eval_{name}.json'
    # mmtb.apis.test (tools/test.py's library side) in its own process: one clean Runner and
    # log per evaluation
    cmd = [sys.executable, '-m', 'mmtb.apis.test', str(out / 'config.py'),
           str(out / 'model.pth'), '--work-dir', tempfile.mkdtemp(prefix='mmtb_publish_'),
           '--out', str(result_file), '--scores', str(out / f'scores_{name}.csv')]
    if img_size:
        cmd += ['--img-size', str(img_size)]
    if data_root:
        cmd += ['--data-root', data_root]
    if threshold is not None:
        cmd += ['--operating-threshold', repr(threshold)]
    subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    record = json.loads(result_file.read_text())
    record['checkpoint'] = str((out / 'model.pth').relative_to(REPO))
    record['config'] = str((out / 'config.py').relative_to(REPO))
    result_file.write_text(json.dumps(record, indent=2))
    return record['metrics']


def operating_point(out: Path, confidence=None, target: float = 0.9) -> dict:
    """The operating point chosen on the internal split's per-image scores, by the same
    :func:`calibrate` as local calibration: the highest threshold reaching ``target``
    sensitivity there, or with ``confidence`` the highest whose lower confidence bound of the
    sensitivity reaches it."""
    scores, labels = read_scores_csv(out / 'scores_internal.csv')
    rule = (f'{target:.0%} sensitivity' if confidence is None else
            f'{target:.0%} = lower {confidence:.0%} confidence bound of sensitivity')
    return calibrate(scores, labels, target, confidence=confidence,
                     chosen_on=f'internal test split of {internal_data_root(out)}, {rule}')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the trained config (the .py in the work dir)')
    parser.add_argument('checkpoint')
    parser.add_argument('--img-size', type=int)
    parser.add_argument('--external', action='append', default=[], metavar='NAME=DATA_ROOT',
                        type=external_set)
    parser.add_argument('--out', default='checkpoints/default')
    parser.add_argument('--note', action='append', default=[],
                        help='a known limit to add to the card (repeatable), e.g. how the '
                             'model was chosen')
    parser.add_argument('--fp16', action='store_true',
                        help='store the weights as float16 (half the file; for seed ensembles, '
                             'which hold several networks; --card-only reads it from model.pth)')
    parser.add_argument('--int8', action='store_true',
                        help='store convolution and linear weights as per-channel int8, the '
                             'rest as float16 (a quarter of float32; seed ensembles only)')
    parser.add_argument('--sensitivity-confidence', type=float,
                        help='choose the threshold where 90%% is the lower confidence bound '
                             '(e.g. 0.95) of the internal sensitivity, not its point estimate')
    parser.add_argument('--card-only', action='store_true',
                        help='only re-render model_card.md from the files already in --out')
    args = parser.parse_args(argv)
    out = (REPO / args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if args.card_only:
        ckpt_meta = torch.load(args.checkpoint, map_location='cpu').get('meta', {})
        # how the weights were stored is read from the published file, not asked again
        published = torch.load(out / 'model.pth', map_location='cpu', mmap=True)['state_dict']
        fp16 = any(v.dtype == torch.float16 for v in published.values())
        int8 = any(k.endswith(SCALE_SUFFIX) for k in published)
        write_card(out, args.config, dict(epoch=ckpt_meta.get('epoch'), source=args.checkpoint,
                                          members=ckpt_meta.get('seed_ensemble', []),
                                          fp16=fp16, int8=int8), args.note)
        return
    if args.int8 and Config.fromfile(args.config).model.get('type') != 'SeedEnsembleClassifier':
        parser.error('--int8 is for seed ensembles (SeedEnsembleClassifier dequantizes on load)')
    source = write_weights(Path(args.checkpoint), out, fp16=args.fp16, int8=args.int8)
    write_config(Path(args.config), out, args.img_size)
    evaluate(out, 'internal', args.img_size)
    point = operating_point(out, args.sensitivity_confidence)
    (out / 'operating_point.json').write_text(json.dumps(point, indent=2) + '\n')
    for name, root in args.external:
        evaluate(out, name, args.img_size, root, point['threshold'])
        if 'screening/auc' in json.loads((out / f'eval_{name}.json').read_text())['metrics']:
            write_local_calibration(out, name)  # needs TB and normal X-rays
    write_card(out, args.config, source, args.note)
    # the borderline band depends on the weights and the threshold: measured after publishing
    print(f'next: python tools/analysis_tools/borderline_band.py data/tbcxr/meta/test.json '
          f'--checkpoint {out / "model.pth"} --operating-point {out / "operating_point.json"} '
          f'--jitter-csv {out / "retest_jitter_internal.csv"} (docs/app.md#the-borderline-band)')


def write_local_calibration(out: Path, name: str) -> None:
    """How calibrating on a few of the external hospital's X-rays would do on the rest: the
    plain rule at 90 and 95 % and, with 50 TB cases, the 95 %-confidence rule at 90 %."""
    scores, labels = read_scores_csv(out / f'scores_{name}.csv')
    rows = [simulate_local_calibration(scores, labels, n, n, target)
            for n in (25, 50) for target in (0.9, 0.95)]
    rows.append(simulate_local_calibration(scores, labels, 50, 50, 0.9, confidence=0.95))
    (out / f'local_calibration_{name}.json').write_text(json.dumps(dict(
        scores=str((out / f'scores_{name}.csv').relative_to(REPO)), settings=rows,
        table=local_calibration_table(rows)), indent=2))


def write_roc_plots(out: Path, threshold: float, names) -> dict:
    """``roc_<set>.png`` for every set with per-image scores; ``{set: png name}``."""
    plots = {}
    for name in names:
        if (out / f'scores_{name}.csv').is_file():
            scores, labels = read_scores_csv(out / f'scores_{name}.csv')
            plot_roc(scores, labels, threshold, name, out / f'roc_{name}.png')
            plots[name] = f'roc_{name}.png'
    return plots


def write_card(out: Path, config: str, source: dict, notes=()) -> None:
    """Render model_card.md (:mod:`mmtb.apis.model_card`, its template) from the evaluation
    files in ``out`` (and nothing else), after the ROC plots it links."""
    inputs = card_inputs(out)
    point, externals = inputs['point'], inputs['externals']
    roc_plots = write_roc_plots(out, point['threshold'],
                                ['internal'] + [n for n, m in externals.items()
                                                if 'screening/auc' in m])
    (out / 'model_card.md').write_text(render_card(
        run_name(config, input_size_of(inputs['cfg'])), inputs['cfg'], source,
        inputs['internal'], externals, point, inputs['sha256'], inputs['local_calibration'],
        notes, roc_plots, inputs['cam']))
    print(f'wrote {out / "model_card.md"} (threshold {point["threshold"]:.4f})')


if __name__ == '__main__':
    main()
