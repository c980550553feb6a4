from .channels_last import ChannelsLastHook, to_channels_last
from .warm_caches import WarmCachesHook

__all__ = ['ChannelsLastHook', 'WarmCachesHook', 'to_channels_last']
