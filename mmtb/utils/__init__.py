from .checkpoint import allow_mmengine_checkpoints
from .config import input_size_of, load_config, set_input_size

__all__ = ['allow_mmengine_checkpoints', 'input_size_of', 'load_config', 'set_input_size']
