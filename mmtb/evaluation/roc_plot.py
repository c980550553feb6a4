"""A ROC curve with the operating point marked, as a PNG for a model card.

The point is where the model's own threshold falls on this set's curve, so a reader sees both
how well the set is ranked (the curve) and what the shipped decision rule does there (the mark).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score, roc_curve


def plot_roc(scores, labels, threshold: float, title: str, path) -> dict:
    """Write the ROC curve of ``scores`` (P(TB)) against ``labels`` (1 = TB) to ``path``, with
    the point at ``threshold``; return that point's sensitivity and specificity (fractions)."""
    scores, labels = np.asarray(scores, float), np.asarray(labels, int)
    if len(np.unique(labels)) < 2:
        raise ValueError(f'{title}: a ROC curve needs TB and normal X-rays')
    fpr, tpr, _ = roc_curve(labels, scores)
    flagged = scores >= threshold
    sensitivity = float(flagged[labels == 1].mean())
    specificity = float(1 - flagged[labels == 0].mean())
    figure = Figure(figsize=(4, 4), dpi=100)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    ax.plot(fpr, tpr, color='tab:blue',
            label=f'ROC, AUC {roc_auc_score(labels, scores):.3f}')
    ax.plot([0, 1], [0, 1], color='grey', linestyle=':', linewidth=1)
    ax.plot(1 - specificity, sensitivity, 'o', color='tab:red',
            label=f'threshold {threshold:.3f}: sens {100 * sensitivity:.1f} %, '
                  f'spec {100 * specificity:.1f} %')
    ax.axhspan(0.9, 1.0, xmax=0.3, color='tab:green', alpha=0.12,
               label='WHO triage target (sens ≥ 90 %, spec ≥ 70 %)')
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel='1 − specificity', ylabel='sensitivity',
           title=title)
    ax.legend(loc='lower right', fontsize=7)
    figure.tight_layout()
    figure.savefig(Path(path))
    return {'sensitivity': sensitivity, 'specificity': specificity}
