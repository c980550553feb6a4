from .distill import DistillImageClassifier
from .seed_ensemble import SeedEnsembleClassifier

__all__ = ['DistillImageClassifier', 'SeedEnsembleClassifier']
