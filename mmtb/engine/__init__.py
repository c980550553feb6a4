from .hooks import ChannelsLastHook
from .optimizers import CPUAutocastOptimWrapper

__all__ = ['ChannelsLastHook', 'CPUAutocastOptimWrapper']
