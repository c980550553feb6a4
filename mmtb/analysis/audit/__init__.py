"""Dataset audit: what a TB classifier could learn from a dataset other than tuberculosis.

Public TB sets are assembled from different hospitals, scanners and redistributors, and the
class often coincides with how an image was stored or edited: the TB images of the Kaggle TB
database are partly colour-tinted and carry burnt-in white redaction blocks, while its normals
are plain grey. A network learns such shortcuts happily and scores well on an internal test
split that shares them. The audit measures them per source x class (counts, sizes, storage,
tint, intensity, burnt-in blocks, duplicates) and runs a **shortcut probe**: deliberately weak
classifiers (logistic regression) on trivial features, cross-validated. If image statistics or
a 16x16 thumbnail already separate the classes (ROC AUC >= :data:`PROBE_WARNING_AUC`), part of
any score on this data may be a shortcut, so the audit warns.

One job per module: :mod:`.measurement` (per-image numbers and group summaries),
:mod:`.probe` (the shortcut probe), :mod:`.plots` (PNGs, never image pixels) and
:mod:`.report` (findings, ``report.md``, ``audit.json`` and :func:`run_audit`, which runs it
all). ``tools/analysis_tools/dataset_audit.py`` is the command line.
"""
from .measurement import Measurements, measure_image, measure_inputs
from .plots import write_plots
from .probe import PROBE_FOLDS, PROBE_WARNING_AUC, PROBES, run_probes, shortcut_probe
from .report import format_terminal_summary, run_audit, write_report

__all__ = ['PROBES', 'PROBE_FOLDS', 'PROBE_WARNING_AUC', 'Measurements', 'format_terminal_summary',
           'measure_image', 'measure_inputs', 'run_audit', 'run_probes', 'shortcut_probe',
           'write_plots', 'write_report']
