from .bf16_autocast import CPUAutocastOptimWrapper

__all__ = ['CPUAutocastOptimWrapper']
