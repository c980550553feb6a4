from .metrics import ScreeningMetric

__all__ = ['ScreeningMetric']
