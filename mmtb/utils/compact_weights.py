"""Int8 weights for shipping a many-member ensemble in a file small enough to commit.

A Lite0-FPN member is 7 MB in float16; an ensemble of ten would be 70 MB. Storing each
convolution and linear weight as int8 with one float32 scale per output channel (symmetric,
``weight ~ int8 * scale``) halves that again; everything else stays float16. Plain int8 and
float tensors, not PyTorch's quantized tensors (deprecated), so weights-only ``torch.load``
reads the file without warnings. The model computes in float32 as always: the weights are
dequantized once, when the checkpoint is loaded (:func:`dequantize_on_load`).
"""
import torch

__all__ = ['SCALE_SUFFIX', 'dequantize_on_load', 'quantize_weights']

SCALE_SUFFIX = '.int8_scale'  # key of the per-channel scales of the int8 tensor ``key``


def quantize_weights(state_dict: dict) -> dict:
    """``state_dict`` with float tensors of 2+ dims as per-output-channel symmetric int8 (plus
    their scales under ``key + SCALE_SUFFIX``), other floats as float16 and the rest (e.g.
    BatchNorm's counters) unchanged."""
    out = {}
    for key, value in state_dict.items():
        if not value.is_floating_point():
            out[key] = value
        elif value.ndim < 2:
            out[key] = value.to(torch.float16)
        else:
            weight = value.float()
            scale = weight.abs().flatten(1).amax(dim=1).clamp_min(1e-12) / 127
            shape = (-1,) + (1,) * (weight.ndim - 1)
            out[key] = torch.round(weight / scale.view(shape)).clamp(-127, 127).to(torch.int8)
            out[key + SCALE_SUFFIX] = scale
    return out


def dequantize_on_load(module, state_dict, prefix, *args) -> None:
    """``load_state_dict`` pre-hook: int8 tensors under ``prefix`` with their scales become
    float32 in place (the scales are removed)."""
    for key in [k for k in state_dict if k.startswith(prefix) and k.endswith(SCALE_SUFFIX)]:
        scale = state_dict.pop(key)
        name = key[:-len(SCALE_SUFFIX)]
        values = state_dict[name]
        shape = (-1,) + (1,) * (values.ndim - 1)
        state_dict[name] = values.float() * scale.float().view(shape)
