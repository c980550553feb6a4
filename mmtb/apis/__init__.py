"""Inference for the app and the CLIs: one path from a decoded X-ray to P(TB) and Grad-CAM.

Where things are: ``screener`` (:class:`TBScreener`, the one inference path), ``cam``
(Grad-CAM), ``operating_point`` (thresholds and their JSON), ``checkpoints`` (the default
model, work-dir discovery), ``overlay`` (heat-map overlays), ``triage`` (not screened /
borderline rules and plain-language summaries), ``report`` (the PDF), ``model_card`` (the
published model's card, from ``templates/``); ``train`` / ``test`` are the library side of
``tools/train.py`` / ``tools/test.py`` (``python -m mmtb.apis.train`` runs the same command).
"""
from .cam import (
    GradCAMExplainer,
    backbone_last_stage,
    default_target_layer,
    default_target_layers,
)
from .checkpoints import (
    DEFAULT_MODEL_DIR,
    CheckpointLoadError,
    ModelNotFoundError,
    default_model_dir,
    list_checkpoints,
)
from .operating_point import read_operating_point
from .overlay import cam_scale_bar, overlay_cam
from .screener import Prediction, TBScreener
from .triage import (
    NOT_SCREENED,
    borderline_band,
    clinician_summary,
    is_borderline,
    operating_point_sentence,
    screening_refusal,
)

__all__ = [
    'CheckpointLoadError', 'DEFAULT_MODEL_DIR', 'GradCAMExplainer', 'ModelNotFoundError',
    'Prediction', 'TBScreener', 'backbone_last_stage', 'default_model_dir',
    'default_target_layer', 'default_target_layers', 'list_checkpoints', 'overlay_cam',
    'read_operating_point',
    'NOT_SCREENED', 'borderline_band', 'cam_scale_bar', 'clinician_summary', 'is_borderline',
    'operating_point_sentence', 'screening_refusal'
]
