from .screening import (
    ScreeningMetric,
    compare_scores,
    min_tb_cases,
    paired_bootstrap_auc_delta,
    proportion_ci,
    rates_at,
    read_scores,
    screening_report,
    sensitivity_lower_bound,
    threshold_for_sensitivity,
    write_scores,
)

__all__ = ['ScreeningMetric', 'compare_scores', 'min_tb_cases', 'paired_bootstrap_auc_delta',
           'proportion_ci', 'rates_at', 'read_scores', 'screening_report',
           'sensitivity_lower_bound', 'threshold_for_sensitivity', 'write_scores']
