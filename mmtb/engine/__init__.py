from .hooks import ChannelsLastHook, WarmCachesHook
from .optimizers import CPUAutocastOptimWrapper

__all__ = ['ChannelsLastHook', 'CPUAutocastOptimWrapper', 'WarmCachesHook']
