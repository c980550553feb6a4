"""Screening through ONNX Runtime, behind the prediction interface of ``TBScreener``.

What is shared with the PyTorch path, so that both give the same P(TB) (a test holds them to
1e-4): the one decoder (:func:`mmtb.io.decode.decode_xray`), the config's test pipeline built
as mmpretrain's inferencer builds it (the config travels inside the ``.onnx`` file), and the
model's own data_preprocessor, which is part of the graph. Grad-CAM needs gradients at a
layer inside the network and stays on PyTorch (``TBScreener``).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import numpy as np
from mmcv.transforms import Compose
from mmengine.config import Config
from mmpretrain.datasets import remove_transform
from mmpretrain.registry import TRANSFORMS

import mmtb  # noqa: F401  (registers mmtb's transforms, which the embedded config uses)
from mmtb.apis.checkpoints import ModelNotFoundError
from mmtb.apis.operating_point import operating_point_of, resolve_threshold
from mmtb.apis.screener import (
    RANDOM_WEIGHTS_WARNING,
    Prediction,
    ScreenerDecisions,
    TBScreener,
)
from mmtb.apis.triage import borderline_band

from .onnx_export import INPUT_NAME, METADATA_PREFIX, OUTPUT_NAME

BACKENDS = ('pytorch', 'onnxruntime')
NO_CAM = ('Grad-CAM needs the PyTorch backend (ONNX Runtime has no gradients): use '
          "backend='pytorch' / --backend pytorch for heat maps")

__all__ = ['BACKENDS', 'NO_CAM', 'OnnxScreener', 'load_screener']


def read_metadata(path) -> dict:
    """The ``mmtb.*`` metadata that :func:`export_onnx` wrote, without the prefix."""
    import onnx
    model = onnx.load(str(path), load_external_data=False)
    return {p.key[len(METADATA_PREFIX):]: p.value for p in model.metadata_props
            if p.key.startswith(METADATA_PREFIX)}


def test_pipeline(cfg: Config) -> Compose:
    """The config's test pipeline as ``ImageClassificationInferencer`` builds it."""
    steps = remove_transform(cfg.test_dataloader.dataset.pipeline, 'LoadImageFromFile')
    return Compose([TRANSFORMS.build(step) for step in steps])


class OnnxScreener(ScreenerDecisions):
    """An exported model (``tools/deployment/pytorch2onnx.py``) in an ONNX Runtime session.

    Args:
        onnx_model: the ``.onnx`` file.
        threshold: as for ``TBScreener``; None -> ``operating_point.json`` beside the file,
            else the threshold the exported screener used (stored in the file), else 0.5.
        device: 'cpu', or 'cuda' when onnxruntime-gpu is installed.
        threads: ONNX Runtime intra-op threads (None: its default, one per core).
    """

    bf16 = False

    def __init__(self, onnx_model, threshold=None, device: str = 'cpu',
                 threads: Optional[int] = None):
        import onnxruntime as ort
        path = Path(onnx_model)
        if not path.is_file():
            raise ModelNotFoundError(f'ONNX model not found: {path}')
        meta = read_metadata(path)
        if 'config' not in meta:
            raise ValueError(f'{path} has no mmtb metadata (its test pipeline is unknown): '
                             'export it with tools/deployment/pytorch2onnx.py')
        self.onnx_path = path
        self.checkpoint_path = None
        self.config = Config.fromstring(meta['config'], '.py')
        self.name = meta.get('config_name', path.stem)
        self.input_size = int(meta['input_size'])
        self.tb_index = int(meta['tb_index'])
        self.classes = json.loads(meta.get('classes', '[]'))
        self.checkpoint_sha256 = meta.get('checkpoint_sha256', '')
        self.model_warnings = [] if meta.get('checkpoint') != 'random' else [
            RANDOM_WEIGHTS_WARNING]
        card = path.parent / 'model_card.md'
        self.card_path: Optional[Path] = card if card.is_file() else None
        self.threshold, self.threshold_source = resolve_threshold(threshold, path)
        if threshold is None and self.threshold_source.startswith('default') and (
                'threshold' in meta):
            self.threshold = float(meta['threshold'])
            self.threshold_source = f"stored at export ({meta.get('threshold_source', '?')})"
        self.operating_point = operating_point_of(threshold, path)
        self.borderline_band = borderline_band(self.operating_point)

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        providers = (['CUDAExecutionProvider', 'CPUExecutionProvider']
                     if str(device).startswith('cuda') else ['CPUExecutionProvider'])
        self.session = ort.InferenceSession(str(path), options, providers=providers)
        self.pipeline = test_pipeline(self.config)
        expected = self.session.get_inputs()[0].shape[1:]
        packed = self.pixels([np.full((self.input_size,) * 2, 128, np.uint8)]).shape[1:]
        if list(packed) != list(expected):
            raise ValueError(f'{path}: its test pipeline packs {tuple(packed)} but the graph '
                             f'takes {tuple(expected)}; re-export the model')

    def pixels(self, greys: list[np.ndarray]) -> np.ndarray:
        """N x C x H x W uint8: the test pipeline's packed inputs (what the graph takes)."""
        batch = []
        for grey in greys:
            if not isinstance(grey, np.ndarray) or grey.dtype != np.uint8 or grey.ndim != 2:
                raise ValueError('predict needs a uint8 HxW grey array (decode files with '
                                 'mmtb.io.decode.decode_xray or use predict_source)')
            packed = self.pipeline(dict(img=grey, img_shape=grey.shape[:2],
                                        ori_shape=grey.shape[:2]))
            batch.append(packed['inputs'].numpy())
        return np.ascontiguousarray(np.stack(batch))

    def predict_batch(self, greys: list[np.ndarray]) -> list[float]:
        if not len(greys):
            return []
        (probs,) = self.session.run([OUTPUT_NAME], {INPUT_NAME: self.pixels(greys)})
        return [float(p) for p in probs]

    def predict(self, grey: np.ndarray, with_cam: bool = False) -> Prediction:
        if with_cam:
            raise NotImplementedError(NO_CAM)
        prob = self.predict_batch([grey])[0]
        return Prediction(prob_tb=prob, decision=self.decide(prob), threshold=self.threshold,
                          warnings=list(self.model_warnings),
                          borderline=self.is_borderline(prob))

    def __repr__(self) -> str:
        return (f'OnnxScreener(name={self.name!r}, input_size={self.input_size}, '
                f'threshold={self.threshold:g} [{self.threshold_source}])')


def load_screener(config=None, checkpoint=None, threshold=None, device='cpu',
                  backend: str = 'pytorch', onnx_model=None, bf16: bool = False,
                  random_weights: bool = False, threads: Optional[int] = None):
    """A screener for the app and the CLIs: ``TBScreener`` or ``OnnxScreener``.

    With ``backend='onnxruntime'`` and no ``onnx_model``, the model that ``TBScreener`` would
    load (config / checkpoint / shipped default, and its threshold) is exported to a temporary
    file first (seconds; export once with ``tools/deployment/pytorch2onnx.py`` to skip that).
    """
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
    if backend == 'pytorch':
        if onnx_model is not None:
            raise ValueError('an ONNX model runs on the onnxruntime backend')
        return TBScreener(config, checkpoint, threshold, device, random_weights=random_weights,
                          bf16=bf16)
    if bf16:
        raise ValueError('bf16 is a PyTorch autocast option; the ONNX graph runs in fp32')
    if onnx_model is not None:
        if config is not None or checkpoint is not None:
            raise ValueError('an ONNX model carries its own config and weights: pass it '
                             'without a config or checkpoint')
        return OnnxScreener(onnx_model, threshold, device, threads)
    import tempfile

    from .onnx_export import export_onnx
    torch_screener = TBScreener(config, checkpoint, threshold, 'cpu',
                                random_weights=random_weights)
    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(torch_screener, os.path.join(tmp, 'model.onnx'))
        screener = OnnxScreener(path, torch_screener.threshold, device, threads)
    screener.threshold_source = torch_screener.threshold_source
    screener.card_path = torch_screener.card_path
    screener.checkpoint_path = torch_screener.checkpoint_path
    return screener
