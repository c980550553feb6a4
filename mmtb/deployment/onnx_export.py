"""Export a TB classifier to ONNX with its input normalisation: raw pixels in, P(TB) out.

Why the normalisation is in the graph: a consumer outside this Python stack (a hospital's
ONNX Runtime, C#, Java) then only has to hand over what the config's test pipeline produced,
and cannot get mean/std or the channel order wrong. The test pipeline itself (decoding,
``LoadGreyXray`` resizing, cue removal, ``PreprocessingViews``) stays in Python: it is numpy /
OpenCV code with no ONNX equivalent, and :class:`mmtb.deployment.OnnxScreener` runs the very
same transforms from the config embedded in the file.

The graph: ``pixels`` (N x C x H x W uint8, what ``PackInputs`` packs) -> the model's own
``data_preprocessor`` -> the network -> softmax -> ``prob_tb`` (N). A ``SeedEnsembleClassifier``
exports its members' mean probability, so the ten-network default is one graph too.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import torch
from torch import nn

INPUT_NAME, OUTPUT_NAME = 'pixels', 'prob_tb'
OPSET = 17
METADATA_PREFIX = 'mmtb.'

__all__ = ['INPUT_NAME', 'OUTPUT_NAME', 'ProbabilityOfTB', 'export_onnx', 'file_sha256']


class ProbabilityOfTB(nn.Module):
    """Raw packed pixels -> P(TB), through the model's own data_preprocessor."""

    def __init__(self, model: nn.Module, tb_index: int):
        super().__init__()
        self.model = model
        self.tb_index = int(tb_index)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        inputs = self.model.data_preprocessor({'inputs': pixels}, False)['inputs']
        if hasattr(self.model, 'mean_probability'):  # an ensemble averages probabilities
            probs = self.model.mean_probability(inputs)
        else:
            probs = torch.softmax(self.model(inputs, mode='tensor').float(), dim=1)
        return probs[:, self.tb_index]


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def export_onnx(screener, out, opset: int = OPSET) -> Path:
    """Write ``screener``'s model (a loaded :class:`mmtb.apis.TBScreener`) to ``out``.

    The file's metadata carries what the ONNX backend needs besides the graph: the config
    (for its test pipeline), the classes, the input size, the threshold the screener used and
    where it came from, and the checkpoint's name and SHA-256 (to tell which weights these are).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    wrapper = ProbabilityOfTB(screener.model, screener.tb_index).eval()
    wrapper.to(memory_format=torch.contiguous_format)  # channels-last is a CPU-torch choice
    pixels = example_pixels(screener)
    with warnings.catch_warnings(), torch.no_grad():
        # the TorchScript exporter warns that it is deprecated and about traced shape
        # arithmetic (timm's 'same' padding); the input size is fixed, the batch is dynamic
        warnings.simplefilter('ignore')
        torch.onnx.export(wrapper, (pixels,), str(out), input_names=[INPUT_NAME],
                          output_names=[OUTPUT_NAME], opset_version=opset, dynamo=False,
                          dynamic_axes={INPUT_NAME: {0: 'batch'}, OUTPUT_NAME: {0: 'batch'}})
    if screener.device.type == 'cpu':
        from mmtb.engine.hooks.channels_last import to_channels_last
        to_channels_last(screener.model)  # the screener keeps predicting as before
    _write_metadata(out, screener)
    return out


def example_pixels(screener) -> torch.Tensor:
    """What the test pipeline packs for one image (its shape and dtype), from a flat grey."""
    import numpy as np
    data = screener._batch([np.full((screener.input_size,) * 2, 128, np.uint8)])
    inputs = data['inputs']
    return (inputs if isinstance(inputs, torch.Tensor) else torch.stack(inputs)).to(
        screener.device)


def _write_metadata(path: Path, screener) -> None:
    import onnx
    model = onnx.load(str(path))
    config = screener.inferencer.config
    checkpoint = screener.checkpoint_path
    meta = dict(
        config=config.pretty_text, config_name=screener.name,
        classes=json.dumps(list(screener.inferencer.classes or [])),
        tb_index=str(screener.tb_index), input_size=str(screener.input_size),
        threshold=repr(screener.threshold), threshold_source=screener.threshold_source,
        checkpoint=checkpoint.name if checkpoint else 'random',
        checkpoint_sha256=file_sha256(checkpoint) if checkpoint else '')
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = METADATA_PREFIX + key, value
    model.producer_name = 'mmtb'
    onnx.save(model, str(path))
