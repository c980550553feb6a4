"""The one inference path of mmtb: the Streamlit app, demo/image_demo.py and tools/screen.py
all predict through :class:`TBScreener`.

Why one path: the model is only valid on input prepared exactly as in training, so nothing
here resizes or normalises by hand. Files and bytes are decoded by
:func:`mmtb.io.decode.decode_xray` (the one decoder); the decoded grey array goes to
mmpretrain's ``ImageClassificationInferencer``, whose pipeline is the config's test pipeline
(``LoadGreyXray`` resizes and replicates the grey image); the model's own data_preprocessor
normalises. Grad-CAM reuses that same pipeline and data_preprocessor (see :mod:`mmtb.apis.cam`).

Thresholds come from :mod:`mmtb.apis.operating_point`, checkpoints and the default model from
:mod:`mmtb.apis.checkpoints`, heat-map overlays from :mod:`mmtb.apis.overlay`.
"""
from __future__ import annotations

import logging
import sys
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmpretrain.apis import ImageClassificationInferencer
from mmpretrain.datasets.transforms import PackInputs

import mmtb  # noqa: F401  (registers mmtb's modules; allow-lists mmengine checkpoints)
from mmtb.apis.cam import GradCAMExplainer, default_target_layers, member_crop_boxes
from mmtb.apis.checkpoints import (
    _UNREADABLE_CHECKPOINT,
    ModelNotFoundError,
    _unreadable,
    checkpoint_version,
    config_beside,
    default_model,
    default_model_dir,
)
from mmtb.apis.operating_point import operating_point_of, resolve_threshold
from mmtb.apis.triage import borderline_band, is_borderline
from mmtb.engine.hooks.channels_last import to_channels_last
from mmtb.io.decode import DecodedXray, decode_xray
from mmtb.utils import input_size_of

TB_CLASS = 'tuberculosis'
RANDOM_WEIGHTS_WARNING = 'The model has random weights (benchmarking only): ignore its output.'

__all__ = ['Prediction', 'ScreenerDecisions', 'TBScreener']


@dataclass
class Prediction:
    """One screening result; ``decision`` is what the threshold makes of ``prob_tb``."""

    prob_tb: float  # softmax P(tuberculosis)
    decision: str  # 'tuberculosis' if prob_tb >= threshold else 'normal'
    threshold: float
    cam: Optional[np.ndarray] = None  # HxW float32 in [0, 1], HxW of the grey image, or None
    warnings: list[str] = field(default_factory=list)  # decoder warnings + model warnings
    borderline: bool = False  # prob_tb inside the threshold's confidence interval (triage.py)


CROP_META_KEYS = ('lung_box', 'view_lung_boxes')


def keep_crop_box(pipeline) -> None:
    """Make the test pipeline's ``PackInputs`` keep ``lung_box`` (set by ``CropLungField``) and
    ``view_lung_boxes`` (``PreprocessingViews``), which Grad-CAM needs to put its map back
    where the cropped input came from."""
    for transform in getattr(pipeline, 'transforms', []):
        if isinstance(transform, PackInputs):
            transform.meta_keys = (*transform.meta_keys,
                                   *(k for k in CROP_META_KEYS if k not in transform.meta_keys))


@contextmanager
def _model_loading_messages_to_stderr():
    """mmengine prints 'Loads checkpoint ...' to stdout and logs INFO lines there; CLIs print
    JSON on stdout, so while the model loads stdout goes to stderr and INFO is dropped."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with redirect_stdout(sys.stderr):
            yield
    finally:
        logger.setLevel(level)


class ScreenerDecisions:
    """What every screener backend shares: the decision and borderline rules on its
    ``threshold`` / ``borderline_band``, and the one decoder in front of its ``predict``."""

    def decide(self, prob_tb: float) -> str:
        """'tuberculosis' at or above the threshold, else 'normal'."""
        return TB_CLASS if prob_tb >= self.threshold else 'normal'

    def is_borderline(self, prob_tb: float) -> bool:
        """Whether ``prob_tb`` is in the threshold's confidence interval (see triage.py)."""
        return is_borderline(prob_tb, self.borderline_band)

    def predict_decoded(self, decoded: DecodedXray, with_cam: bool = False) -> Prediction:
        """``predict`` on a decoder result, with the decoder's warnings first."""
        pred = self.predict(decoded.grey, with_cam=with_cam)
        pred.warnings = list(decoded.warnings) + pred.warnings
        return pred

    def predict_source(self, source, with_cam: bool = False) -> Prediction:
        """Decode bytes / a path / a binary file with the one decoder, then predict.

        :class:`mmtb.io.decode.XrayDecodeError` propagates (its message is for the user).
        """
        return self.predict_decoded(decode_xray(source), with_cam=with_cam)


class TBScreener(ScreenerDecisions):
    """A loaded TB classifier plus its operating threshold; load once, predict many times.

    Args:
        config: config file (or a loaded mmengine ``Config``); None -> the config beside
            ``checkpoint`` (the one mmengine wrote into its work dir), or the shipped default
            model when ``checkpoint`` is None too.
        checkpoint: ``.pth`` file; None -> the default model (``$MMTB_DEFAULT_MODEL``, else the
            shipped copy: :func:`mmtb.apis.checkpoints.default_model`).
        threshold: None -> ``operating_point.json`` beside the checkpoint if present, else 0.5;
            a number; a path to an operating-point JSON (see :func:`read_operating_point`); or
            such a JSON already parsed (a dict).
        device: torch device, e.g. 'cpu' or 'cuda'.
        random_weights: allow ``checkpoint=None`` with a ``config`` (benchmarks only: latency
            does not depend on the weights); every prediction then carries a warning.
        bf16: run predictions (not Grad-CAM) under CPU bf16 autocast, faster for ResNet50 on
            CPUs with bf16 units; P(TB) moves slightly (``benchmark_inference.py`` records
            how much). Grad-CAM stays fp32: its maps are computed in numpy, which has no
            bf16, and an explanation should not carry rounding of its own.
    """

    def __init__(self, config=None, checkpoint=None, threshold=None, device='cpu',
                 random_weights: bool = False, bf16: bool = False):
        config, checkpoint = self._resolve_model(config, checkpoint, random_weights)
        self.config_path = (Path(config.filename or 'config') if isinstance(config, Config)
                            else config)
        self.checkpoint_path = checkpoint
        self.threshold, self.threshold_source = resolve_threshold(threshold, checkpoint)
        self.operating_point = operating_point_of(threshold, checkpoint)
        self.borderline_band = borderline_band(self.operating_point)
        self.version = checkpoint_version(checkpoint)
        self.device = torch.device(device)
        self.bf16 = bool(bf16)
        if self.config_path == default_model_dir() / 'config.py':
            self.name = 'default'
        elif self.config_path.name == 'config.py' and checkpoint and \
                checkpoint.parent == self.config_path.parent:
            self.name = self.config_path.parent.name  # a published folder, e.g. 'distilled'
        else:
            self.name = self.config_path.stem
        card = checkpoint.parent / 'model_card.md' if checkpoint else None
        self.card_path: Optional[Path] = card if card and card.is_file() else None
        self.model_warnings = [] if checkpoint else [RANDOM_WEIGHTS_WARNING]

        try:
            with _model_loading_messages_to_stderr():
                self.inferencer = ImageClassificationInferencer(
                    model=config if isinstance(config, Config) else str(config),
                    pretrained=str(checkpoint) if checkpoint else False, device=str(self.device))
        except _UNREADABLE_CHECKPOINT as e:
            if not checkpoint:
                raise
            raise _unreadable(checkpoint, e) from None
        self.model = self.inferencer.model
        keep_crop_box(self.inferencer.pipeline)
        if checkpoint:
            self._check_weights_fit(checkpoint)
        self.input_size = input_size_of(self.inferencer.config)
        self.tb_index = self._tb_index()
        # Inference only: no parameter needs a gradient (Grad-CAM starts its graph at the target
        # layer instead), and oneDNN runs channels-last convolutions faster on CPUs.
        self.model.requires_grad_(False)
        if self.device.type == 'cpu':
            to_channels_last(self.model)
        self.explainer = GradCAMExplainer(self.model, default_target_layers(self.model),
                                          self.tb_index)

    @staticmethod
    def _resolve_model(config, checkpoint, random_weights):
        if config is None and checkpoint is None:
            return default_model()
        if checkpoint is not None:
            checkpoint = Path(checkpoint)
            if not checkpoint.is_file():
                raise ModelNotFoundError(f'checkpoint not found: {checkpoint}')
        elif not random_weights:
            raise ModelNotFoundError('a config alone has no trained weights; pass --checkpoint')
        if config is None:
            config = config_beside(checkpoint)
            if config is None:
                raise ModelNotFoundError(
                    f'no config (*.py) beside {checkpoint} (mmengine saves one in the work '
                    'dir); pass --config')
        if isinstance(config, Config):  # e.g. benchmarks, which change the input size
            return config, checkpoint
        config = Path(config)
        if not config.is_file():
            raise ModelNotFoundError(f'config not found: {config}')
        return config, checkpoint

    def _check_weights_fit(self, checkpoint: Path) -> None:
        """Refuse a checkpoint that does not fit the config (mmengine only logs a warning and
        would leave those layers random)."""
        try:  # mmap: only the key names are needed, not a second copy of the weights
            ckpt = torch.load(checkpoint, map_location='cpu', mmap=True)
        except RuntimeError:  # legacy (non-zip) files cannot be memory-mapped
            ckpt = torch.load(checkpoint, map_location='cpu')
        saved = set(ckpt.get('state_dict', ckpt))
        expected = set(self.model.state_dict())
        missing = sorted(expected - saved)
        if missing:
            raise ValueError(
                f'{checkpoint} does not fit the config {self.config_path}: {len(missing)} '
                f'weights are missing (e.g. {missing[0]}); pass the matching --config')

    def _tb_index(self) -> int:
        num_classes = getattr(self.model.head, 'num_classes', None)
        if num_classes != 2:
            raise ValueError(f'expected a 2-class (normal / tuberculosis) model, the config has '
                             f'{num_classes} classes')
        classes = list(self.inferencer.classes or [])
        return classes.index(TB_CLASS) if TB_CLASS in classes else 1

    # ------------------------------------------------------------------ prediction
    def _batch(self, greys: list[np.ndarray]) -> dict:
        """The inferencer's own preprocessing (config test pipeline + collate) of grey arrays."""
        for grey in greys:
            if not isinstance(grey, np.ndarray) or grey.dtype != np.uint8 or grey.ndim != 2:
                raise ValueError('predict needs a uint8 HxW grey array (decode files with '
                                 'mmtb.io.decode.decode_xray or use predict_source)')
        return next(iter(self.inferencer.preprocess(list(greys), batch_size=len(greys))))

    def predict_batch(self, greys: list[np.ndarray]) -> list[float]:
        """P(TB) of several grey images in one forward pass (throughput for batch screening)."""
        if not len(greys):
            return []
        data = self._batch(greys)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            samples = self.inferencer.forward(data)
        return [float(s.pred_score[self.tb_index]) for s in samples]

    def predict(self, grey: np.ndarray, with_cam: bool = False) -> Prediction:
        """Screen one decoded grey image (uint8 HxW); optionally with its Grad-CAM heat map."""
        if with_cam:
            data = self._batch([grey])
            inputs = self.model.data_preprocessor(data, False)['inputs']
            meta = data['data_samples'][0].metainfo
            prob, cam = self.explainer(inputs, grey.shape[:2], crop_box=meta.get('lung_box'),
                                       layer_crop_boxes=member_crop_boxes(self.model, meta))
        else:
            prob, cam = self.predict_batch([grey])[0], None
        return Prediction(prob_tb=prob, decision=self.decide(prob),
                          threshold=self.threshold, cam=cam,
                          warnings=list(self.model_warnings),
                          borderline=self.is_borderline(prob))

    def warm_up(self) -> None:
        """One throw-away screening with Grad-CAM: the first call pays for lazy set-up (oneDNN
        kernel choice, hooks, allocator), so a server that calls this at start answers its
        first user as fast as the later ones."""
        side = max(64, int(self.input_size))
        grey = np.full((side, side), 128, np.uint8)
        grey[side // 4:3 * side // 4, side // 8:7 * side // 8] = 60  # a dark "chest"
        self.predict(grey, with_cam=True)
        self.predict_batch([grey])

    def __repr__(self) -> str:
        precision = 'bf16, ' if self.bf16 else ''
        return (f'TBScreener(name={self.name!r}, input_size={self.input_size}, {precision}'
                f'threshold={self.threshold:g} [{self.threshold_source}])')

