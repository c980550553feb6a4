"""How far a model's score moves under edits that should not change it: the borderline band.

A score next to the threshold is not a verdict: a labelled-TB X-ray just under the threshold
flipped when it was resized to 95 % (issue #17). So the band around the threshold is measured,
not chosen. Every image of a labelled set is screened as it is and after each one-step edit of
the app's sliders (``RETEST_EDITS``: size ±5 %, brightness and contrast ±0.05, sharpness ±0.1);
an image's *jitter* is the largest change of its score on the logit scale, where one change
means as much at 5 % as at 50 %. The band is the threshold ± the 95th percentile of the
jitters, mapped back to probabilities: a score inside it could have landed on the other side
of the threshold after an edit as small as one slider step.

The threshold's own bootstrap interval was the first rule; with a hundred-odd TB cases it is so
wide that most scores would be borderline (docs/app.md compares the two).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from mmtb.app.helpers import Edits, apply_edits

__all__ = ['RETEST_EDITS', 'band_from_jitter', 'logit', 'retest_band', 'retest_jitter',
           'scores_and_retest_jitter']

RETEST_EDITS = (Edits(scale=0.95), Edits(scale=1.05), Edits(brightness=0.95),
                Edits(brightness=1.05), Edits(contrast=0.95), Edits(contrast=1.05),
                Edits(sharpness=0.9), Edits(sharpness=1.1))
EPS = 1e-4  # scores are clipped to [EPS, 1 - EPS] before the logit: 0 and 1 are not finite
RULE = ('threshold ± the {quantile:.0%} quantile of the scores\' largest logit change under '
        'one-step slider edits (size ±5 %, brightness/contrast ±0.05, sharpness ±0.1), '
        'measured on {measured_on}')


def logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, float), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def _sigmoid(x: float) -> float:
    return float(1 / (1 + np.exp(-x)))


def retest_jitter(predict_batch, greys: Sequence[np.ndarray],
                  edits: Sequence[Edits] = RETEST_EDITS, batch_size: int = 16) -> np.ndarray:
    """Each image's largest |logit change| of P(TB) over ``edits`` (``predict_batch``: a list
    of uint8 HxW grey images to P(TB), e.g. :meth:`TBScreener.predict_batch`)."""
    return scores_and_retest_jitter(predict_batch, greys, edits, batch_size)[1]


def scores_and_retest_jitter(predict_batch, greys: Sequence[np.ndarray],
                             edits: Sequence[Edits] = RETEST_EDITS,
                             batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """(P(TB) of each unedited image, its retest jitter): the jitter needs the unedited
    scores anyway, so a caller that wants both screens each image once."""
    scores, jitter = np.zeros(len(greys)), np.zeros(len(greys))
    for start in range(0, len(greys), batch_size):
        batch = list(greys[start:start + batch_size])
        scores[start:start + len(batch)] = predict_batch(batch)
        base = logit(scores[start:start + len(batch)])
        for edit in edits:
            moved = logit(predict_batch([apply_edits(grey, edit) for grey in batch]))
            jitter[start:start + len(batch)] = np.maximum(jitter[start:start + len(batch)],
                                                          np.abs(moved - base))
    return scores, jitter


def band_from_jitter(threshold: float, jitter, quantile: float = 0.95) -> tuple[float, float]:
    """(low, high): the threshold ± the ``quantile`` of the jitters, on the logit scale."""
    half = float(np.quantile(np.asarray(jitter, float), quantile))
    centre = float(logit(threshold))
    return _sigmoid(centre - half), _sigmoid(centre + half)


def retest_band(threshold: float, jitter, measured_on: str, quantile: float = 0.95) -> dict:
    """The ``borderline_band`` entry of an operating-point JSON (read by
    :func:`mmtb.apis.triage.borderline_band`)."""
    low, high = band_from_jitter(threshold, jitter, quantile)
    jitter = np.asarray(jitter, float)
    return dict(low=low, high=high, logit_halfwidth=float(np.quantile(jitter, quantile)),
                quantile=quantile, n_images=int(jitter.size),
                median_logit_jitter=float(np.median(jitter)),
                rule=RULE.format(quantile=quantile, measured_on=measured_on))
