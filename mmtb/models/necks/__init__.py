from .fpn import FPNNeck

__all__ = ['FPNNeck']
