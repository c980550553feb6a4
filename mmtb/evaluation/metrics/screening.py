"""Screening metrics for TB triage, with tuberculosis as the positive class.

The paper reports accuracy, precision, recall and F1; screening studies also need ROC AUC with
a confidence interval, specificity, and the sensitivity/specificity at an operating threshold
chosen on one set and applied unchanged to another (WHO triage target: sensitivity >= 90% with
specificity >= 70%). ROC/AUC come from scikit-learn.
"""
import csv
import math
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmpretrain.registry import METRICS
from scipy.stats import beta, rankdata
from sklearn.metrics import roc_auc_score, roc_curve

WHO_SENSITIVITY = 0.90
WHO_SPECIFICITY = 0.70


def sensitivity_lower_bound(detected: int, n_tb: int, confidence: float) -> float:
    """One-sided Clopper-Pearson lower confidence bound of a sensitivity ``detected / n_tb``."""
    if not 0 < confidence < 1:
        raise ValueError(f'confidence must be between 0 and 1, got {confidence}')
    return float(beta.ppf(1 - confidence, detected, n_tb - detected + 1)) if detected else 0.0


def proportion_ci(successes: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Clopper-Pearson (exact binomial) CI of ``successes / total``, as fractions."""
    if total <= 0:
        return 0.0, 1.0
    tail = (1 - confidence) / 2
    low = float(beta.ppf(tail, successes, total - successes + 1)) if successes else 0.0
    high = float(beta.ppf(1 - tail, successes + 1, total - successes)) if successes < total \
        else 1.0
    return low, high


def min_tb_cases(sensitivity: float, confidence: float) -> int:
    """Fewest TB cases that can show ``sensitivity`` with ``confidence`` (all of them found)."""
    return math.ceil(math.log(1 - confidence) / math.log(sensitivity) - 1e-9)


def threshold_for_sensitivity(scores, labels, sensitivity: float = WHO_SENSITIVITY,
                              confidence: Optional[float] = None) -> float:
    """Highest threshold on P(TB) whose sensitivity (score >= threshold) reaches the target.

    With ``confidence`` (e.g. 0.95) the *lower confidence bound* of the sensitivity must reach
    it (one-sided Clopper-Pearson), so the target still holds on new cases like these with that
    confidence. The plain rule stops exactly at the target, so on new cases from the same
    population the sensitivity falls short about half the time. Raises ``ValueError`` when there
    are too few TB cases to show the target with that confidence.
    """
    if confidence is None:
        fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)
        reached = np.flatnonzero(tpr >= sensitivity - 1e-12)
        return float(min(thresholds[reached[0]], 1.0))
    tb_scores = np.sort(np.asarray(scores, float)[np.asarray(labels) == 1])[::-1]
    for detected in range(1, len(tb_scores) + 1):
        if sensitivity_lower_bound(detected, len(tb_scores), confidence) >= sensitivity:
            return float(tb_scores[detected - 1])
    raise ValueError(
        f'{len(tb_scores)} TB cases cannot show a sensitivity of {sensitivity:.0%} with '
        f'{confidence:.0%} confidence; that needs at least '
        f'{min_tb_cases(sensitivity, confidence)} TB cases')


def meets_who_target(sensitivity, specificity):
    """WHO triage target (fractions; works elementwise on arrays)."""
    return ((np.asarray(sensitivity) >= WHO_SENSITIVITY)
            & (np.asarray(specificity) >= WHO_SPECIFICITY))


def rates_at(scores, labels, threshold: float) -> dict:
    """Confusion-matrix rates (fractions) when P(TB) >= threshold means TB."""
    scores, labels = np.asarray(scores), np.asarray(labels).astype(bool)
    pred = scores >= threshold
    tp, fp = np.sum(pred & labels), np.sum(pred & ~labels)
    fn, tn = np.sum(~pred & labels), np.sum(~pred & ~labels)

    def ratio(a, b):
        return float(a / b) if b else 0.0  # scikit-learn's zero_division=0 convention

    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    return dict(
        accuracy=ratio(tp + tn, len(labels)), precision=precision, sensitivity=recall,
        specificity=ratio(tn, tn + fp),
        f1=ratio(2 * tp, 2 * tp + fp + fn), tp=int(tp), fp=int(fp), fn=int(fn), tn=int(tn))


def write_scores(path: str, files: Sequence[str], labels: Sequence[int],
                 scores: Sequence[float]) -> None:
    """Per-image scores as CSV (``file,label,prob_tb``), the input of paired comparisons."""
    with open(path, 'w', newline='') as out:
        writer = csv.writer(out)
        writer.writerow(['file', 'label', 'prob_tb'])
        for row in sorted(zip(files, labels, scores)):
            writer.writerow([row[0], int(row[1]), f'{row[2]:.9g}'])


def score_file_names(paths: Sequence[str]) -> List[str]:
    """How images are named in a scores CSV: file names, or, when two share a name, paths
    relative to the images' common folder, so that no two rows collapse when read back."""
    names = [osp.basename(p) for p in paths]
    if len(set(names)) == len(names):
        return names
    common = osp.commonpath([osp.abspath(p) for p in paths])
    return [osp.relpath(osp.abspath(p), common) for p in paths]


def read_scores(path: str) -> dict:
    """``write_scores``' CSV back as {file: (label, prob_tb)}."""
    with open(path, newline='') as f:
        return {row['file']: (int(row['label']), float(row['prob_tb']))
                for row in csv.DictReader(f)}


def stratified_resamples(labels, n_boot: int, seed: int = 0):
    """Yield ``n_boot`` bootstrap index arrays, resampling within each class, so every
    resample keeps the set's TB / normal counts (shared by every bootstrap CI in mmtb)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    for _ in range(n_boot):
        yield np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])


def _resampled_aucs(scores: np.ndarray, labels: np.ndarray, n_boot: int, seed: int):
    """ROC AUC of each of :func:`stratified_resamples`' resamples, all at once: the
    Mann-Whitney form (mean rank of the TB images, ties averaged), which is the AUC that
    ``roc_auc_score`` computes, without its per-call cost (a bootstrap makes thousands)."""
    n_pos = int(np.sum(labels == 1))
    n_neg = int(np.sum(labels == 0))
    resamples = np.stack(list(stratified_resamples(labels, n_boot, seed)))  # TB columns first
    ranks = rankdata(scores[resamples], axis=1)
    return (ranks[:, :n_pos].sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def bootstrap_auc_ci(scores, labels, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05):
    """Percentile bootstrap CI of ROC AUC, resampling within each class (stratified)."""
    scores, labels = np.asarray(scores, float), np.asarray(labels)
    aucs = _resampled_aucs(scores, labels, n_boot, seed)
    low, high = np.quantile(aucs, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def paired_bootstrap_auc_delta(scores_a, scores_b, labels, n_boot: int = 1000, seed: int = 0,
                               alpha: float = 0.05):
    """AUC(b) - AUC(a) on the same images, with a paired percentile bootstrap CI.

    Two models scored on one test set are correlated; resampling the images once for both
    (stratified by class) gives a CI of the difference that is much narrower and more honest
    than comparing two separate CIs.
    """
    scores_a, scores_b = np.asarray(scores_a, float), np.asarray(scores_b, float)
    labels = np.asarray(labels)
    deltas = (_resampled_aucs(scores_b, labels, n_boot, seed)
              - _resampled_aucs(scores_a, labels, n_boot, seed))
    low, high = np.quantile(deltas, [alpha / 2, 1 - alpha / 2])
    delta = roc_auc_score(labels, scores_b) - roc_auc_score(labels, scores_a)
    return float(delta), float(low), float(high)


def compare_scores(reference: dict, other: dict, n_boot: int = 1000) -> dict:
    """Two models' :func:`read_scores` results on the images both scored: their AUCs, the
    paired AUC change (other - reference) with its 95 % CI, and the largest and median change
    of P(TB) per image.

    Raises ValueError when the files label an image differently or the shared images lack a
    class. The CI covers the sampling of test images, not training noise (another seed).
    """
    files = sorted(set(reference) & set(other))
    labels = [reference[f][0] for f in files]
    if any(other[f][0] != label for f, label in zip(files, labels)):
        raise ValueError('the two scores files label the same image differently')
    if len(set(labels)) < 2:
        raise ValueError(f'the {len(files)} images both files score need both classes')
    ref, oth = [reference[f][1] for f in files], [other[f][1] for f in files]
    delta, low, high = paired_bootstrap_auc_delta(ref, oth, labels, n_boot=n_boot)
    moved = np.abs(np.subtract(oth, ref))  # e.g. what rounding the weights did to P(TB)
    return dict(num_images=len(files), num_tb=int(sum(labels)),
                reference_auc=float(roc_auc_score(labels, ref)),
                auc=float(roc_auc_score(labels, oth)),
                delta_auc=delta, delta_ci_low=low, delta_ci_high=high,
                max_abs_diff=float(moved.max()), median_abs_diff=float(np.median(moved)))


def _one_class_rates(scores, labels, threshold: float, prefix: str = '') -> dict:
    """Sensitivity (TB cases) and/or specificity (normals) at ``threshold``, in %, each with its
    exact 95 % CI and count: the only rates that mean something on a single-class set."""
    report = {}
    for name, cls, hits in (('sensitivity', 1, scores >= threshold),
                            ('specificity', 0, scores < threshold)):
        members = labels == cls
        if members.any():
            k, n = int(np.sum(hits & members)), int(members.sum())
            low, high = proportion_ci(k, n)
            report.update({f'{prefix}{name}': 100 * k / n, f'{prefix}{name}_ci_low': 100 * low,
                           f'{prefix}{name}_ci_high': 100 * high})
    return report


def screening_report(scores: Sequence[float], labels: Sequence[int], threshold: float = 0.5,
                     operating_threshold: Optional[float] = None, n_boot: int = 1000,
                     seed: int = 0, groups: Optional[Sequence[Sequence[str]]] = None) -> dict:
    """All screening numbers for TB probabilities ``scores`` and 0/1 ``labels``.

    Percentages (0-100) for rates, as the paper and mmpretrain report them; AUC in 0-1.
    ``threshold`` gives the paper's metrics; ``operating_threshold`` (chosen on another set)
    gives ``op/*`` rates and whether the WHO target is met there. A set with one class only
    (e.g. TB-only TBX11K) gets no AUC, precision, F1 or WHO verdict, only the rate of the class
    it has, with an exact 95 % CI. ``groups``: per image, the subgroups it belongs to (e.g.
    its TB kinds); each subgroup gets ``group/<name>/...`` rates at both thresholds.
    """
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels, dtype=int)
    both_classes = 0 < labels.sum() < len(labels)
    if both_classes:
        report = {k: 100 * v for k, v in rates_at(scores, labels, threshold).items()
                  if k in ('accuracy', 'precision', 'sensitivity', 'specificity', 'f1')}
        report['recall'] = report['sensitivity']
    else:
        report = _one_class_rates(scores, labels, threshold)
        if 'sensitivity' in report:
            report['recall'] = report['sensitivity']
    report.update(num_samples=int(len(labels)), num_tb=int(labels.sum()))
    if both_classes:
        report['auc'] = float(roc_auc_score(labels, scores))
        report['auc_ci_low'], report['auc_ci_high'] = bootstrap_auc_ci(
            scores, labels, n_boot=n_boot, seed=seed)
        thr90 = threshold_for_sensitivity(scores, labels)
        report['thr_sens90'] = thr90
        report['spec_at_sens90'] = 100 * rates_at(scores, labels, thr90)['specificity']
    if operating_threshold is not None:
        report['op/threshold'] = float(operating_threshold)
        if both_classes:
            op = rates_at(scores, labels, operating_threshold)
            for key in ('accuracy', 'sensitivity', 'specificity', 'f1'):
                report[f'op/{key}'] = 100 * op[key]
            report['op/who_target_met'] = bool(meets_who_target(op['sensitivity'],
                                                                op['specificity']))
        report.update(_one_class_rates(scores, labels, operating_threshold, 'op/'))
    if groups is not None:
        if len(groups) != len(labels):
            raise ValueError(f'{len(groups)} group entries for {len(labels)} images')
        for name in sorted({g for member in groups for g in member}):
            inside = np.array([name in member for member in groups])
            report[f'group/{name}/num_samples'] = int(inside.sum())
            report.update(_one_class_rates(scores[inside], labels[inside], threshold,
                                           f'group/{name}/'))
            if operating_threshold is not None:
                report.update(_one_class_rates(scores[inside], labels[inside],
                                               operating_threshold, f'group/{name}/op/'))
    return report


@METRICS.register_module()
class ScreeningMetric(BaseMetric):
    """mmpretrain metric wrapper around :func:`screening_report` (usable in any evaluator).

    Args:
        positive_index: class index of tuberculosis in ``pred_score``.
        threshold: P(TB) threshold for the paper's metrics (0.5 = argmax for two classes).
        operating_threshold: a threshold chosen on another set, applied unchanged here.
        n_boot: bootstrap resamples for the AUC confidence interval.
        scores_file: also write every image's P(TB) and label to this CSV (``file, label,
            prob_tb``; names only, no pixels: see :func:`score_file_names`), for paired
            comparisons between models.
        subgroups: ``{image path: [subgroup, ...]}`` (e.g. TB kinds, see
            :func:`mmtb.data_prep.boxes.tb_kinds_by_image`): rates per subgroup as well.
    """
    default_prefix = 'screening'

    def __init__(self, positive_index: int = 1, threshold: float = 0.5,
                 operating_threshold: Optional[float] = None, n_boot: int = 1000,
                 seed: int = 0, scores_file: Optional[str] = None,
                 subgroups: Optional[dict] = None, collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.scores_file = scores_file
        self.positive_index = positive_index
        self.threshold = threshold
        self.operating_threshold = operating_threshold
        self.n_boot = n_boot
        self.seed = seed
        self.subgroups = None if subgroups is None else {
            osp.normpath(osp.abspath(path)): list(names) for path, names in subgroups.items()}

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append((float(sample['pred_score'][self.positive_index]),
                                 int(sample['gt_label'][0]),
                                 sample.get('img_path') or ''))

    def compute_metrics(self, results: list) -> dict:
        scores, labels, paths = zip(*results)
        if self.scores_file:
            write_scores(self.scores_file, score_file_names(paths), labels, scores)
        groups = None if self.subgroups is None else [
            self.subgroups.get(osp.normpath(osp.abspath(path)), []) for path in paths]
        return screening_report(scores, labels, threshold=self.threshold,
                                operating_threshold=self.operating_threshold,
                                n_boot=self.n_boot, seed=self.seed, groups=groups)
