"""Inference for the app and the CLIs: one path from a decoded X-ray to P(TB) and Grad-CAM."""
from .cam import (
    GradCAMExplainer,
    backbone_last_stage,
    default_target_layer,
    default_target_layers,
)
from .inference import (
    DEFAULT_MODEL_DIR,
    CheckpointLoadError,
    ModelNotFoundError,
    Prediction,
    TBScreener,
    list_checkpoints,
    overlay_cam,
    read_operating_point,
)

__all__ = [
    'CheckpointLoadError', 'DEFAULT_MODEL_DIR', 'GradCAMExplainer', 'ModelNotFoundError',
    'Prediction', 'TBScreener', 'backbone_last_stage', 'default_target_layer',
    'default_target_layers', 'list_checkpoints', 'overlay_cam', 'read_operating_point'
]
