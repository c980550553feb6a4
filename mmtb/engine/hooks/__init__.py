from .channels_last import ChannelsLastHook, to_channels_last

__all__ = ['ChannelsLastHook', 'to_channels_last']
