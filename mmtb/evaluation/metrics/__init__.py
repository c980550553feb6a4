from .screening import ScreeningMetric, rates_at, screening_report, threshold_for_sensitivity

__all__ = ['ScreeningMetric', 'rates_at', 'screening_report', 'threshold_for_sensitivity']
