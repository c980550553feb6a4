"""Deployment: ONNX export and an ONNX Runtime screener with ``TBScreener``'s interface, and
screening one folder on several processes (:mod:`mmtb.deployment.sharding`)."""
from .onnx_export import ProbabilityOfTB, export_onnx
from .onnxruntime_screener import BACKENDS, NO_CAM, OnnxScreener, load_screener, read_metadata

__all__ = ['BACKENDS', 'NO_CAM', 'OnnxScreener', 'ProbabilityOfTB', 'export_onnx',
           'load_screener', 'read_metadata']
