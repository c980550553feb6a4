"""The model card of a published model, rendered from the evaluation files beside it.

The prose is a Jinja2 template shipped with the package (``templates/model_card.md``); this
module reads the files (:func:`card_inputs`) and formats their numbers (:func:`render_card`).
``tools/model_converters/publish_default_model.py`` writes the files and calls both.
"""
from __future__ import annotations

import datetime
import hashlib
import json
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from mmengine.config import Config

from mmtb.utils import input_size_of

TEMPLATE = 'model_card.md'

__all__ = ['card_inputs', 'render_card', 'single_model']


def single_model(cfg: Config):
    """The config of one network: a seed ensemble's member, else the model itself."""
    return cfg.model.member if cfg.model.get('type') == 'SeedEnsembleClassifier' else cfg.model


def card_inputs(folder) -> dict:
    """What the card is rendered from, read from a published model's folder: its config, the
    evaluation, operating-point, local-calibration and heat-map JSONs and the weights' sha256."""
    folder = Path(folder)
    internal = json.loads((folder / 'eval_internal.json').read_text())['metrics']
    externals = {p.stem[len('eval_'):]: json.loads(p.read_text())['metrics']
                 for p in sorted(folder.glob('eval_*.json')) if p.stem != 'eval_internal'}
    cam_file = folder / 'cam_localization.json'
    return dict(
        cfg=Config.fromfile(str(folder / 'config.py')), internal=internal, externals=externals,
        point=json.loads((folder / 'operating_point.json').read_text()),
        local_calibration={p.stem[len('local_calibration_'):]: json.loads(p.read_text())
                           for p in sorted(folder.glob('local_calibration_*.json'))},
        sha256=hashlib.sha256((folder / 'model.pth').read_bytes()).hexdigest(),
        cam=json.loads(cam_file.read_text()) if cam_file.is_file() else None)


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


def _metric_row(title, m, point) -> dict:
    if 'screening/op/sensitivity' in m:
        op = f"{_pct(m, 'op/sensitivity')} / {_pct(m, 'op/specificity')}"
        who = 'met' if m['screening/op/who_target_met'] else '**not met**'
    else:  # the set the threshold was chosen on
        op = (f"{100 * point['sensitivity']:.1f} / {100 * point['specificity']:.1f} "
              '(chosen here)') if 'sensitivity' in point else \
            f"≥ 90 / {_pct(m, 'spec_at_sens90')} (chosen here)"
        who = ''
    return dict(title=title, n=m['screening/num_samples'], n_tb=m['screening/num_tb'],
                auc=f"{m['screening/auc']:.3f}", auc_low=f"{m['screening/auc_ci_low']:.3f}",
                auc_high=f"{m['screening/auc_ci_high']:.3f}",
                sensitivity=_pct(m, 'sensitivity'), specificity=_pct(m, 'specificity'),
                op=op, who=who)


def _tb_only_row(name, m) -> dict:
    """A TB-only set has no AUC or specificity: sensitivity at the threshold, per TB kind."""
    kinds = sorted({k.split('/')[2] for k in m
                    if k.startswith('screening/group/') and k.endswith('/op/sensitivity')})
    per_kind = '; '.join(
        f"{kind} {_pct(m, f'group/{kind}/op/sensitivity')} "
        f"({_pct(m, f'group/{kind}/op/sensitivity_ci_low')}–"
        f"{_pct(m, f'group/{kind}/op/sensitivity_ci_high')}, "
        f"n {m[f'screening/group/{kind}/num_samples']})" for kind in kinds)
    return dict(name=name, n=m['screening/num_samples'], sensitivity=_pct(m, 'op/sensitivity'),
                low=_pct(m, 'op/sensitivity_ci_low'), high=_pct(m, 'op/sensitivity_ci_high'),
                per_kind=per_kind)


def _cam_row(title, s) -> dict:
    return dict(title=title, n=s['num_images'], pointing_game=f"{s['pointing_game']:.3f}",
                energy=f"{s['energy_in_boxes']:.3f}", chance=f"{s['box_area_fraction']:.3f}",
                outside_lung='–' if s['outside_lung'] is None else f"{s['outside_lung']:.3f}")


def render_card(name, cfg, source, internal, externals, point, sha256,
                local_calibration=None, notes=(), roc_plots=None, cam=None,
                published=None) -> str:
    """The model card; ``point`` is the operating-point dict (``operating_point.json``),
    ``source`` says what the weights were published from (``source``/``epoch``, a seed
    ensemble's ``members``, ``fp16``/``int8``), ``published`` the date (default today)."""
    backbone = single_model(cfg).backbone
    members = source.get('members') or []
    views = cfg.model.get('member_views')
    test_pipeline = cfg.test_dataloader.dataset.pipeline
    test_steps = _step_types(test_pipeline)
    train_steps = [s for s in cfg.train_dataloader.dataset.pipeline
                   if s not in test_pipeline and not (views and s['type'] in test_steps)]
    tb_only = {n: m for n, m in externals.items() if 'screening/auc' not in m}
    externals = {n: m for n, m in externals.items() if n not in tb_only}
    confidence = point.get('sensitivity_confidence')
    context = dict(
        name=name, size=input_size_of(cfg),
        tb_only_warnings=[
            dict(name=n, sensitivity=_pct(m, 'op/sensitivity'),
                 low=_pct(m, 'op/sensitivity_ci_low'), high=_pct(m, 'op/sensitivity_ci_high'))
            for n, m in tb_only.items() if m['screening/op/sensitivity'] < 90],
        external_warnings=[
            dict(name=n, auc=f"{m['screening/auc']:.2f}", sensitivity=_pct(m, 'op/sensitivity'),
                 specificity=_pct(m, 'op/specificity'))
            for n, m in externals.items() if not m.get('screening/op/who_target_met')],
        backbone_type=backbone.type,
        backbone_arch=backbone.get('arch', backbone.get('model_name', '')),
        pretrained_from=cfg.get('pretrained_from'), members=members,
        member_sources=', '.join(f"`{m['source']}`" for m in members),
        member_epoch=members[0].get('epoch') if members else None,
        views=views, num_views=len(set(views)) if views else 0,
        preprocessing=_steps(test_pipeline), augmentation=_steps(train_steps),
        sha256=sha256, source=source,
        precision=(', int8 per-channel convolution and linear weights, the rest float16'
                   if source.get('int8') else ', float16' if source.get('fp16') else ''),
        point=point, threshold=f"{point['threshold']:.4f}",
        threshold_too_high=point['threshold'] > 0.99,
        confidence=None if confidence is None else f'{100 * confidence:.0f}',
        point_sensitivity=f"{100 * point['sensitivity']:.1f}" if confidence is not None else '',
        point_specificity=f"{100 * point['specificity']:.1f}" if confidence is not None else '',
        local_calibration=[dict(name=n, repeats=r['settings'][0]['repeats'], table=r['table'])
                           for n, r in (local_calibration or {}).items()],
        metric_rows=[_metric_row('Internal test split (tbdb256, 20 %)', internal, point)] + [
            _metric_row(f'External: {n} (never trained or tuned on)', m, point)
            for n, m in externals.items()],
        tb_only_rows=[_tb_only_row(n, m) for n, m in tb_only.items()],
        roc_plots=roc_plots or {}, cam=cam,
        cam_rows=[_cam_row('all', cam['overall'])] + [
            _cam_row(kind, k) for kind, k in cam.get('per_kind', {}).items()] if cam else [],
        internal={k: _pct(internal, k) for k in ('accuracy', 'precision', 'recall', 'f1')},
        masks_blocks='MaskBurntInBlocks' in test_steps,
        crops_lung_field='CropLungField' in test_steps, notes=list(notes),
        published=published or datetime.date.today().isoformat())
    return _environment().get_template(TEMPLATE).render(**context)


def _environment() -> Environment:
    return Environment(loader=PackageLoader('mmtb.apis', 'templates'), trim_blocks=True,
                       lstrip_blocks=True, keep_trailing_newline=True,
                       undefined=StrictUndefined, autoescape=False)
