from .screening import (
    ScreeningMetric,
    compare_scores,
    paired_bootstrap_auc_delta,
    rates_at,
    read_scores,
    screening_report,
    threshold_for_sensitivity,
    write_scores,
)

__all__ = ['ScreeningMetric', 'compare_scores', 'paired_bootstrap_auc_delta', 'rates_at',
           'read_scores', 'screening_report', 'threshold_for_sensitivity', 'write_scores']
