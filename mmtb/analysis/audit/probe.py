"""The shortcut probe: can a deliberately weak classifier separate TB from normal on trivial
features (image statistics, a 16x16 thumbnail)? If so, part of any score on the data may be a
shortcut, and the audit warns (ROC AUC >= :data:`PROBE_WARNING_AUC`).
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from .measurement import STAT_NAMES, THUMBNAIL_SIDE, TINT_SPREAD, Measurements

PROBE_FOLDS = 5
PROBE_WARNING_AUC = 0.8

# The probes' features (each fed to a standardised logistic regression). The colour ones run
# only where some image is really colour: (c) the RGB thumbnail, (d) its colour alone.
PROBES = {
    'image_statistics': 'height, width, aspect, channel spread, colourfulness, mean, std, '
                        'percentiles, saturated-block area',
    'grey_thumbnail': f'{THUMBNAIL_SIDE}x{THUMBNAIL_SIDE} grey thumbnail (what the model sees)',
    'colour_thumbnail': f'{THUMBNAIL_SIDE}x{THUMBNAIL_SIDE} RGB thumbnail',
    'colour_only_thumbnail': f'{THUMBNAIL_SIDE}x{THUMBNAIL_SIDE} RGB minus grey thumbnail '
                             '(colour alone)',
}
_COLOUR_PROBES = ('colour_thumbnail', 'colour_only_thumbnail')


def shortcut_probe(features: np.ndarray, labels: np.ndarray, folds: int = PROBE_FOLDS,
                   seed: int = 0, feature_names=None) -> dict:
    """Stratified k-fold ROC AUC of a standardised logistic regression on ``features``.

    Deliberately weak and simple: it is meant to find what is trivially there, not to classify.
    With ``feature_names``, the three features with the largest standardised weights of a fit
    on all images are reported too (positive = more TB), to say *what* separates the classes.
    """
    labels = np.asarray(labels)
    n_splits = min(folds, int(np.bincount(labels, minlength=2).min()))
    if n_splits < 2:
        return {'auc': None, 'skipped': 'each class needs at least 2 images'}
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    # One BLAS thread: the solver stops at max_iter on thumbnails, where its result depends on
    # the thread count (a fold AUC moved by 0.006 between 1 and 2 threads), so a committed
    # audit would not regenerate identically on another machine. Non-convergence does not
    # matter here, so its warning is silenced.
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        scores = cross_val_score(model, features, labels, scoring='roc_auc',
                                 cv=StratifiedKFold(n_splits, shuffle=True, random_state=seed))
        auc = float(scores.mean())
        result = {'auc': round(auc, 4), 'auc_std': round(float(scores.std()), 4),
                  'fold_aucs': [round(float(score), 4) for score in scores],
                  'folds': n_splits, 'warning': auc >= PROBE_WARNING_AUC}
        if feature_names is not None:
            weights = model.fit(features, labels)[-1].coef_[0]
            top = np.argsort(-np.abs(weights))[:3]
            result['top_features'] = {feature_names[k]: round(float(weights[k]), 3)
                                      for k in top}
    return result



def run_probes(measurements: Measurements, folds: int = PROBE_FOLDS, seed: int = 0) -> dict:
    """Every probe on all sources together (if several) and on each source alone."""
    labels = np.array([record['gt_label'] for record in measurements.records])
    sources = np.array([record['source'] for record in measurements.records])
    stats = measurements.array('stats')
    tinted = stats[:, STAT_NAMES.index('channel_spread')] >= TINT_SPREAD
    grey, colour = measurements.array('grey_thumbnail'), measurements.array('colour_thumbnail')
    features = {
        'image_statistics': stats,
        'grey_thumbnail': grey,
        'colour_thumbnail': colour,
        'colour_only_thumbnail': colour - np.repeat(
            grey.reshape(len(grey), THUMBNAIL_SIDE, THUMBNAIL_SIDE, 1), 3, axis=3
        ).reshape(len(grey), -1),
    }
    scopes = ([('all sources', np.ones(len(labels), bool))] if len(set(sources)) > 1 else [])
    scopes += [(source, sources == source) for source in sorted(set(sources))]
    results = {}
    for scope, selected in scopes:
        results[scope] = {}
        for name in PROBES:
            if name in _COLOUR_PROBES and not tinted[selected].any():
                # RGB-stored grey images: the colour thumbnails would repeat the grey probe
                results[scope][name] = {'auc': None, 'skipped': 'no colour image'}
                continue
            results[scope][name] = shortcut_probe(
                features[name][selected], labels[selected], folds=folds, seed=seed,
                feature_names=STAT_NAMES if name == 'image_statistics' else None)
    return results
