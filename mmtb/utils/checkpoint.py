"""Let PyTorch's weights-only loading (default since 2.6) read mmengine's own checkpoints.

mmengine pickles a few non-tensor objects into every checkpoint: its message hub's
``HistoryBuffer`` (numpy arrays of logged scalars, and its statistics methods, pickled as
``getattr(HistoryBuffer, 'mean')``). Rather than switching weights-only loading off, exactly
those classes are allow-listed, and ``getattr`` is replaced by a function that only returns
HistoryBuffer's public statistics methods, so a tampered checkpoint still cannot run code.
"""
import pickle

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from numpy._core.multiarray import _reconstruct, scalar


def history_buffer_method(owner, name: str):
    """Stand-in for ``builtins.getattr`` while unpickling: HistoryBuffer methods only."""
    if owner is HistoryBuffer and not name.startswith('_') and callable(
            vars(HistoryBuffer).get(name)):
        return getattr(owner, name)
    raise pickle.UnpicklingError(f'checkpoint asks for getattr({owner!r}, {name!r}); refused')


# What checkpoints written by mmengine 0.10.7 + mmpretrain 1.2.0 contain beyond tensors
# (found with torch.serialization.get_unsafe_globals_in_checkpoint; tests round-trip one).
SAFE_CHECKPOINT_GLOBALS = [
    HistoryBuffer,
    _reconstruct,
    scalar,
    np.ndarray,
    np.dtype,
    np.dtypes.Float64DType,
    np.dtypes.Float32DType,
    np.dtypes.Int64DType,
    np.dtypes.Int32DType,
    np.dtypes.BoolDType,
    (history_buffer_method, 'builtins.getattr'),
]


def allow_mmengine_checkpoints() -> None:
    """Register the allow-list with torch.serialization (idempotent)."""
    torch.serialization.add_safe_globals(SAFE_CHECKPOINT_GLOBALS)
