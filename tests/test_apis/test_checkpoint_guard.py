"""mmtb's checkpoint allow-list (mmtb/utils/checkpoint.py) against checkpoints that carry code.

Weights-only loading stays on everywhere a checkpoint is read: ``tools/train.py --resume``,
``load_from`` and ``TBScreener``. Each payload below really runs when loaded unsafely (the first
test shows it), so a refusal with no marker file means the guard held, not that the payload was
a dud. The ``getattr`` payload is the one the stand-in exists for: a method descriptor pickles
as ``getattr(type, name)``, and ``numpy.ndarray`` is on the allow-list, so a plain ``getattr``
would hand out ``ndarray.tofile`` and write a file.
"""
import os
import pickle

import numpy as np
import pytest
import torch
from conftest import run_tool
from mmengine.logging import HistoryBuffer
from test_tools import CONFIG, tiny_options

import mmtb  # noqa: F401  (registers the allow-list)
from mmtb.apis import CheckpointLoadError, TBScreener
from mmtb.utils.checkpoint import history_buffer_method


class WritesFile:
    """Unpickles to ``ndarray.tofile(array, marker)``: via ``getattr(numpy.ndarray, 'tofile')``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return np.ndarray.tofile, (np.arange(3), self.marker)


class RunsShell:
    """Unpickles to ``os.system('touch marker')``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


PAYLOADS = {'getattr-tofile': WritesFile, 'os-system': RunsShell}


def code_carrying_checkpoint(tmp_path, payload: str):
    """An mmengine-shaped checkpoint whose meta holds the payload; returns (path, marker)."""
    marker = tmp_path / f'{payload}.marker'
    path = tmp_path / f'{payload}.pth'
    torch.save({'meta': {'epoch': 1, 'iter': 3, 'hook': PAYLOADS[payload](marker)},
                'state_dict': {}, 'message_hub': {}}, path)
    return path, marker


@pytest.mark.parametrize('payload', sorted(PAYLOADS))
def test_the_payloads_run_when_loaded_unsafely(tmp_path, payload):
    path, marker = code_carrying_checkpoint(tmp_path, payload)
    torch.load(path, map_location='cpu', weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize('payload', sorted(PAYLOADS))
def test_torch_load_refuses_code_carrying_checkpoints(tmp_path, payload):
    path, marker = code_carrying_checkpoint(tmp_path, payload)
    with pytest.raises(pickle.UnpicklingError) as e:
        torch.load(path, map_location='cpu')
    assert not marker.exists()
    expected = ("getattr(<class 'numpy.ndarray'>, 'tofile'); refused"
                if payload == 'getattr-tofile' else 'posix.system')
    assert expected in str(e.value)


def test_the_getattr_stand_in_hands_out_history_buffer_statistics_only():
    assert history_buffer_method(HistoryBuffer, 'mean') is HistoryBuffer.mean
    for owner, name in [(HistoryBuffer, '__init__'), (HistoryBuffer, '_set_default_statistics'),
                        (HistoryBuffer, 'no_such_method'), (np.ndarray, 'tofile'),
                        (os, 'system')]:
        with pytest.raises(pickle.UnpicklingError, match='refused'):
            history_buffer_method(owner, name)


@pytest.mark.slow
def test_train_resume_refuses_a_code_carrying_checkpoint(tiny_dataset, tmp_path):
    path, marker = code_carrying_checkpoint(tmp_path, 'getattr-tofile')
    result = run_tool('tools/train.py', CONFIG, '--work-dir', tmp_path / 'work',
                      '--resume', path, *tiny_options(tiny_dataset, epochs=1))
    assert result.returncode != 0
    assert not marker.exists()
    assert 'UnpicklingError' in result.stderr
    assert "getattr(<class 'numpy.ndarray'>, 'tofile'); refused" in result.stderr
    assert 'Epoch(train)' not in result.stdout + result.stderr  # refused before training
    assert 'Traceback' not in result.stderr and 'weights_only' not in result.stderr  # one line


@pytest.mark.slow
def test_train_load_from_refuses_a_code_carrying_checkpoint(tiny_dataset, tmp_path):
    path, marker = code_carrying_checkpoint(tmp_path, 'os-system')
    options = tiny_options(tiny_dataset, epochs=1)
    result = run_tool('tools/train.py', CONFIG, '--work-dir', tmp_path / 'work',
                      *options, f'load_from={path}')  # appended to --cfg-options
    assert result.returncode != 0
    assert not marker.exists()
    assert 'UnpicklingError' in result.stderr and 'posix.system' in result.stderr
    assert 'Epoch(train)' not in result.stdout + result.stderr
    assert 'Traceback' not in result.stderr and 'weights_only' not in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize('payload', sorted(PAYLOADS))
def test_screener_refuses_a_code_carrying_checkpoint(tiny_checkpoint, tmp_path, payload):
    path, marker = code_carrying_checkpoint(tmp_path, payload)
    with pytest.raises(CheckpointLoadError, match='not a readable mmengine checkpoint') as e:
        TBScreener(config=tiny_checkpoint.config, checkpoint=path)
    assert not marker.exists()
    assert 'weights_only' not in str(e.value)  # no advice to switch the guard off


@pytest.mark.slow
def test_a_checkpoint_written_by_mmengine_still_loads(tiny_checkpoint):
    """What tools/train.py wrote (message hub with HistoryBuffers and their getattr'd
    statistics methods) loads weights-only, through load_from's loader and TBScreener."""
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint
    from mmpretrain.registry import MODELS

    ckpt = torch.load(tiny_checkpoint.checkpoint, map_location='cpu')
    buffers = ckpt['message_hub']['log_scalars']
    assert buffers and all(isinstance(b, HistoryBuffer) for b in buffers.values())
    model = MODELS.build(Config.fromfile(str(tiny_checkpoint.config)).model)
    loaded = load_checkpoint(model, str(tiny_checkpoint.checkpoint), map_location='cpu')
    assert loaded['meta']['epoch'] == 2
    weights = model.state_dict()
    assert all(torch.equal(weights[k], v) for k, v in ckpt['state_dict'].items())
    screener = TBScreener(config=tiny_checkpoint.config, checkpoint=tiny_checkpoint.checkpoint)
    assert 0 <= screener.predict(np.full((64, 64), 100, np.uint8)).prob_tb <= 1
