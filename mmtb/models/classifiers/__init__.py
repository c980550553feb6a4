from .seed_ensemble import SeedEnsembleClassifier

__all__ = ['SeedEnsembleClassifier']
