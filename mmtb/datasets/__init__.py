from .transforms import LoadGreyXray

__all__ = ['LoadGreyXray']
