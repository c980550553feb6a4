"""Compare two configurations each trained with several seeds, on the same test images.

One run per configuration cannot separate a preprocessing step's effect from training noise:
on an external set, runs of one config that differ only in their seed spread over 0.3 ROC AUC
here, while the paired image bootstrap (:func:`paired_bootstrap_auc_delta`) covers only the
sampling of test images.
This module answers with every seed: the mean AUC of each configuration and their difference,
with a two-level bootstrap CI that resamples the seeds of each configuration (training noise)
and, shared by both, the images within each class (test-set sampling). It also scores each
configuration's seed ensemble (the mean P(TB) of its runs), the cheap way to remove most of
that noise from a shipped model.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from sklearn.metrics import roc_auc_score

from .screening import (
    WHO_SENSITIVITY,
    paired_bootstrap_auc_delta,
    rates_at,
    stratified_resamples,
    threshold_for_sensitivity,
)

Scores = Dict[str, Tuple[int, float]]  # read_scores' {file: (label, prob_tb)}


def stack_runs(runs: Sequence[Scores], files: Sequence[str]) -> np.ndarray:
    """P(TB) of every run on ``files`` as an array (runs x images)."""
    return np.array([[run[f][1] for f in files] for run in runs], dtype=float)


def mean_of_runs(runs: Sequence[Scores]) -> Scores:
    """The ensemble of ``runs`` scored from their scores: mean P(TB) on the images all scored."""
    files, labels = shared_images([runs])
    return {f: (int(label), float(p))
            for f, label, p in zip(files, labels, stack_runs(runs, files).mean(0))}


def shared_images(groups: Sequence[Sequence[Scores]]) -> Tuple[List[str], np.ndarray]:
    """The images every run of every group scored, and their labels; ValueError when runs
    disagree on a label or the shared images lack a class."""
    runs = [run for group in groups for run in group]
    if not runs:
        raise ValueError('no runs given')
    files = sorted(set.intersection(*(set(run) for run in runs)))
    labels = np.array([runs[0][f][0] for f in files])
    for run in runs[1:]:
        if any(run[f][0] != label for f, label in zip(files, labels)):
            raise ValueError('two runs label the same image differently')
    if len(set(labels.tolist())) < 2:
        raise ValueError(f'the {len(files)} images all runs score need both classes')
    return files, labels


def compare_seed_groups(reference: Sequence[Scores], other: Sequence[Scores],
                        n_boot: int = 1000, seed: int = 0, alpha: float = 0.05) -> dict:
    """Mean AUC of each group's runs and the difference (other - reference), with a CI that
    resamples both seeds (within each group) and images (stratified, shared by the groups);
    plus each group's seed ensemble and the paired image-bootstrap CI of its AUC change."""
    if len(reference) < 2 or len(other) < 2:
        raise ValueError('each group needs at least two runs (seeds) to measure training noise')
    files, labels = shared_images([reference, other])
    ref, oth = stack_runs(reference, files), stack_runs(other, files)
    ref_auc = np.array([roc_auc_score(labels, s) for s in ref])
    oth_auc = np.array([roc_auc_score(labels, s) for s in oth])
    rng = np.random.default_rng(seed)
    deltas = []
    for idx in stratified_resamples(labels, n_boot, seed):
        pick_ref = rng.integers(len(ref), size=len(ref))
        pick_oth = rng.integers(len(oth), size=len(oth))
        auc_ref = np.mean([roc_auc_score(labels[idx], ref[i, idx]) for i in pick_ref])
        auc_oth = np.mean([roc_auc_score(labels[idx], oth[i, idx]) for i in pick_oth])
        deltas.append(auc_oth - auc_ref)
    low, high = np.quantile(deltas, [alpha / 2, 1 - alpha / 2])
    ens_delta, ens_low, ens_high = paired_bootstrap_auc_delta(
        ref.mean(0), oth.mean(0), labels, n_boot=n_boot, seed=seed, alpha=alpha)
    return dict(
        num_images=len(files), num_tb=int(labels.sum()),
        reference_aucs=ref_auc.tolist(), aucs=oth_auc.tolist(),
        reference_mean_auc=float(ref_auc.mean()), mean_auc=float(oth_auc.mean()),
        reference_sd_auc=float(ref_auc.std(ddof=1)), sd_auc=float(oth_auc.std(ddof=1)),
        delta_mean_auc=float(oth_auc.mean() - ref_auc.mean()),
        delta_ci_low=float(low), delta_ci_high=float(high),
        reference_ensemble_auc=float(roc_auc_score(labels, ref.mean(0))),
        ensemble_auc=float(roc_auc_score(labels, oth.mean(0))),
        ensemble_delta_auc=ens_delta, ensemble_delta_ci_low=ens_low,
        ensemble_delta_ci_high=ens_high)


def ensemble_operating_point(internal: Sequence[Scores], external: Sequence[Scores],
                             sensitivity: float = WHO_SENSITIVITY,
                             confidence: Optional[float] = None) -> dict:
    """A seed ensemble screened like a single model: its threshold for ``sensitivity`` chosen on
    the internal test scores (with ``confidence``: where ``sensitivity`` is the lower bound,
    :func:`threshold_for_sensitivity`), then applied unchanged to the external ones."""
    int_files, int_labels = shared_images([internal])
    ext_files, ext_labels = shared_images([external])
    int_scores = stack_runs(internal, int_files).mean(0)
    ext_scores = stack_runs(external, ext_files).mean(0)
    threshold = threshold_for_sensitivity(int_scores, int_labels, sensitivity, confidence)
    external_rates = rates_at(ext_scores, ext_labels, threshold)
    best = threshold_for_sensitivity(ext_scores, ext_labels, sensitivity)
    return dict(threshold=threshold, sensitivity=external_rates['sensitivity'],
                specificity=external_rates['specificity'],
                specificity_at_target_best_threshold=rates_at(
                    ext_scores, ext_labels, best)['specificity'])
