"""What a screening result means for a clinician: when not to give a verdict, when a verdict is
borderline, and what the operating point promises, in plain sentences.

Why here and not in the app: the app, ``demo/image_demo.py`` and ``tools/screen.py`` must
refuse the same images and flag the same scores, so each rule is one function.

* Not screened: an image the decoder finds colourful (Hasler-Suesstrunk colourfulness at or
  above ``COLOUR_PHOTO_THRESHOLD``, see :mod:`mmtb.io.decode`) is a photograph, not a
  radiograph; the model was never tested on such images, so it gets no TB / no-TB verdict
  unless the user explicitly forces screening.
* Borderline: a score inside the band that ``operating_point.json`` stores as
  ``borderline_band`` (written by ``tools/analysis_tools/borderline_band.py``): the threshold
  ± how far one-step slider edits (size ±5 %, brightness/contrast ±0.05, sharpness ±0.1)
  moved the model's scores on a labelled set, 95th percentile on the logit scale
  (:mod:`mmtb.analysis.retest`). A score there could have been called either way after an edit
  that should not matter. An operating point without a measured band has no band (nothing is
  flagged), rather than an invented one. (The threshold's bootstrap interval, the first rule,
  is far wider for the default: it would call most scores borderline; docs/app.md.)
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np

from mmtb.analysis.cam_localization import mass_outside_lung
from mmtb.io.decode import COLOUR_PHOTO_THRESHOLD, DecodedXray

NOT_SCREENED = 'not_screened'
NOT_A_RADIOGRAPH = ('This looks like a colour photograph, not a chest X-ray: the model was not '
                    'made or tested for such images, so it gives no TB / no-TB verdict.')

OUTSIDE_LUNG = ('Most of the heat map lies outside the lung field: the score may rest on '
                'something outside the lungs (neck, chest wall, a label or the border).')
CAM_CAPTION = ('Heat map (Grad-CAM): where the image pushed the TB score up most, red high, '
               'blue low. It is not a lesion outline.')

__all__ = ['CAM_CAPTION', 'NOT_SCREENED', 'NOT_A_RADIOGRAPH', 'OUTSIDE_LUNG', 'borderline_band',
           'clinician_summary', 'is_borderline', 'operating_point_sentence',
           'outside_lung_notice', 'screening_refusal']


def screening_refusal(decoded: DecodedXray) -> Optional[str]:
    """Why this image must not get a verdict (one sentence for the user), or None to screen it."""
    if decoded.colourfulness >= COLOUR_PHOTO_THRESHOLD:
        return NOT_A_RADIOGRAPH
    return None


def borderline_band(operating_point: Optional[dict]) -> Optional[tuple[float, float]]:
    """(low, high) of the operating point's measured ``borderline_band``, or None without one.

    The band always contains the threshold itself (a band that misses it is widened to it).
    """
    band = (operating_point or {}).get('borderline_band')
    if not isinstance(band, dict):
        return None
    try:
        low, high = sorted(float(band[key]) for key in ('low', 'high'))
    except (KeyError, TypeError, ValueError):
        return None
    threshold = float(operating_point['threshold'])
    return min(low, threshold), max(high, threshold)


def is_borderline(prob_tb: float, band: Optional[tuple[float, float]]) -> bool:
    """Whether ``prob_tb`` lies inside the borderline band (False without a band)."""
    return band is not None and band[0] <= float(prob_tb) <= band[1]


def outside_lung_notice(cam: Optional[np.ndarray], grey: np.ndarray) -> Optional[str]:
    """``OUTSIDE_LUNG`` when more than half of the heat map's mass lies outside the lung field
    (``mass_outside_lung``), else None (also when the lung field cannot be found)."""
    if cam is None:
        return None
    outside = mass_outside_lung(cam, grey)
    return OUTSIDE_LUNG if outside is not None and outside > 0.5 else None


def _read_json(path: Path) -> Optional[dict]:
    try:
        data = json.loads(Path(path).read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _pct(value) -> str:
    value = float(value)
    return f'{100 * value if value <= 1 else value:.0f} %'


def operating_point_sentence(model_dir) -> Optional[str]:
    """One plain sentence: what the shipped threshold found and cleared, internally and on an
    external hospital's X-rays; None without the JSONs beside the model."""
    model_dir = Path(model_dir)
    point = _read_json(model_dir / 'operating_point.json')
    if not point or 'sensitivity' not in point or 'specificity' not in point:
        return None
    sentence = (f'At this threshold the model found {_pct(point["sensitivity"])} of TB X-rays '
                f'and cleared {_pct(point["specificity"])} of healthy ones on its internal test '
                f'set ({point.get("n_tb", "?")} TB, {point.get("n_normal", "?")} healthy)')
    external = _external_metrics(model_dir)
    if external:
        name, m = external
        sentence += (f', and {_pct(m["screening/op/sensitivity"])} and '
                     f'{_pct(m["screening/op/specificity"])} on X-rays from another hospital '
                     f'({name}, {m["screening/num_tb"]:.0f} TB, '
                     f'{m["screening/num_samples"] - m["screening/num_tb"]:.0f} healthy)')
    return sentence + '.'


def _external_metrics(model_dir: Path) -> Optional[tuple[str, dict]]:
    """(dataset name, metrics at the shipped threshold) of the first external evaluation."""
    for path in sorted(model_dir.glob('eval_*.json')):
        if path.stem == 'eval_internal':
            continue
        metrics = (_read_json(path) or {}).get('metrics', {})
        if all(k in metrics for k in ('screening/op/sensitivity', 'screening/op/specificity',
                                      'screening/num_tb', 'screening/num_samples')):
            return path.stem[len('eval_'):], metrics
    return None


def _tb_only_metrics(model_dir: Path) -> list[tuple[str, dict]]:
    """(dataset name, metrics) of every TB-only evaluation (sensitivity, no specificity)."""
    found = []
    for path in sorted(model_dir.glob('eval_*.json')):
        metrics = (_read_json(path) or {}).get('metrics', {})
        if 'screening/op/sensitivity' in metrics and 'screening/op/specificity' not in metrics:
            found.append((path.stem[len('eval_'):], metrics))
    return found


def clinician_summary(model_dir) -> Optional[str]:
    """A short plain-language Markdown summary for clinicians, built from the JSONs beside the
    model (never typed by hand, so it cannot drift from them); None without them."""
    model_dir = Path(model_dir)
    tested = operating_point_sentence(model_dir)
    if tested is None:
        return None
    internal = (_read_json(model_dir / 'eval_internal.json') or {}).get('metrics', {})
    lines = [
        '**Intended use.** Triage support for frontal (PA/AP) chest X-rays: it flags '
        'images for a clinician to review first. It does not diagnose TB and does not replace '
        'reading the image, sputum tests or clinical judgement.',
        f'**How it was tested.** {tested}',
    ]
    if 'screening/auc' in internal:
        lines.append(f'Its ability to rank TB above healthy X-rays (AUC) was '
                     f'{internal["screening/auc"]:.2f} internally'
                     + (f' and {m["screening/auc"]:.2f} on the other hospital.'
                        if (ext := _external_metrics(model_dir)) and 'screening/auc' in
                        (m := ext[1]) else '.'))
    for name, m in _tb_only_metrics(model_dir):
        lines.append(f'**It misses subtle TB.** On TB-only X-rays from other hospitals ({name}, '
                     f'{m["screening/num_samples"]:.0f} TB, many subtle or healed) it found '
                     f'{_pct(m["screening/op/sensitivity"])} at this threshold: a "no TB" '
                     'result does not rule TB out.')
    lines.append(
        '**Known failure modes.** It was evaluated on frontal chest X-rays only; photographs, '
        'lateral views and children were not evaluated separately, and photographs get no '
        'verdict. The score can rest on burnt-in labels, rulers, the neck or the chest wall '
        'rather than the lungs (the heat map warns when most of it lies outside the lung '
        'field). Results near the threshold are flagged "borderline": there, an edit as small as '
        'one slider step moved test X-rays across the threshold. Edits (crop, size, '
        'brightness) change what the model sees.')
    return '\n\n'.join(lines)
