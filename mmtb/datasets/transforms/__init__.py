from .loading import LoadGreyXray, grey_to_model_input

__all__ = ['LoadGreyXray', 'grey_to_model_input']
