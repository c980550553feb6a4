# DistillImageClassifier (.distill) is not imported here: it subclasses mmpretrain's
# ImageClassifier, whose import loads every mmpretrain model family (and mmcv's op warnings)
# into every mmtb command; the distillation configs import it through custom_imports.
from .seed_ensemble import SeedEnsembleClassifier

__all__ = ['SeedEnsembleClassifier']
