from .classifiers import SeedEnsembleClassifier
from .necks import FPNNeck

__all__ = ['FPNNeck', 'SeedEnsembleClassifier']
