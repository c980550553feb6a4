from .necks import FPNNeck

__all__ = ['FPNNeck']
