"""mmtb: tuberculosis screening on chest X-rays, built on MMPretrain.

Importing mmtb registers its transforms, neck and metric in mmpretrain's registries (configs
do it through ``custom_imports``) and allow-lists mmengine checkpoints for weights-only loading.
"""
from . import datasets, engine, evaluation, models  # noqa: F401  (registration side effects)
from .utils import allow_mmengine_checkpoints

__version__ = '0.1.0'

allow_mmengine_checkpoints()
