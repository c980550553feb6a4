from .classifiers import DistillImageClassifier, SeedEnsembleClassifier
from .necks import FPNNeck

__all__ = ['DistillImageClassifier', 'FPNNeck', 'SeedEnsembleClassifier']
