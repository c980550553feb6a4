"""Checkpoint discovery: the shipped default model, the checkpoint and config of a work dir,
the models the app lists, and the errors that say what to pass when none is usable.

The default model is a folder holding ``config.py`` + ``model.pth`` (+ ``operating_point.json``
and ``model_card.md``), found in this order:

1. the folder named by the environment variable ``MMTB_DEFAULT_MODEL``;
2. the package's own copy, ``mmtb/.mim/checkpoints/default`` (package data: ``setup.py``
   copies the repository's ``checkpoints/default`` there when it builds a wheel, as
   OpenMMLab packages ship their configs under ``.mim``);
3. in a source checkout (an editable install, or ``PYTHONPATH`` on the repository), the
   repository's ``checkpoints/default``, the one copy kept in git.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Optional

MODEL_ENV = 'MMTB_DEFAULT_MODEL'
PACKAGE_MODEL_DIR = Path(__file__).resolve().parents[1] / '.mim' / 'checkpoints' / 'default'
REPO = Path(__file__).resolve().parents[2]  # the source checkout, when mmtb is imported from one


def _shipped_model_dir() -> Path:
    """The package's copy of the default model, else a source checkout's."""
    in_source_checkout = (REPO / 'setup.py').is_file()
    if (PACKAGE_MODEL_DIR / 'model.pth').is_file() or not in_source_checkout:
        return PACKAGE_MODEL_DIR
    return REPO / 'checkpoints' / 'default'


DEFAULT_MODEL_DIR = _shipped_model_dir()
NO_DEFAULT_MODEL = (f'no default model shipped; pass --checkpoint, or set {MODEL_ENV} to a '
                    'folder holding config.py + model.pth (+ operating_point.json)')

__all__ = ['CheckpointLoadError', 'DEFAULT_MODEL_DIR', 'MODEL_ENV', 'ModelNotFoundError',
           'checkpoint_in', 'checkpoint_version', 'config_beside', 'default_model',
           'default_model_dir', 'list_checkpoints']


class ModelNotFoundError(FileNotFoundError):
    """No usable config/checkpoint (e.g. no default model shipped); str(e) says what to pass."""


class CheckpointLoadError(ValueError):
    """A checkpoint file exists but cannot be read: corrupt, truncated, not a checkpoint, or it
    holds objects outside the weights-only allow-list (never loaded unsafely instead)."""


# What torch.load raises for a corrupt/truncated zip, a pickle with disallowed globals or
# arbitrary bytes. Its own message suggests weights_only=False, unsafe advice for an upload.
_UNREADABLE_CHECKPOINT = (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile)


def _unreadable(checkpoint, error: BaseException) -> CheckpointLoadError:
    return CheckpointLoadError(
        f'{checkpoint} is not a readable mmengine checkpoint ({type(error).__name__}): the file '
        'is corrupt, truncated, not a checkpoint, or holds objects mmtb does not load')


def default_model_dir() -> Path:
    """Where the default model is looked for: ``$MMTB_DEFAULT_MODEL``, else the shipped copy
    (read at every call, so a server or test can point it elsewhere)."""
    folder = os.environ.get(MODEL_ENV)
    return Path(folder).expanduser() if folder else DEFAULT_MODEL_DIR


def default_model() -> tuple[Path, Path]:
    """(config.py, model.pth) of the default model; ModelNotFoundError says what to pass."""
    folder = default_model_dir()
    config, checkpoint = folder / 'config.py', folder / 'model.pth'
    if config.is_file() and checkpoint.is_file():
        return config, checkpoint
    if os.environ.get(MODEL_ENV):
        raise ModelNotFoundError(f'no default model shipped; pass --checkpoint ({MODEL_ENV}='
                                 f'{folder} holds no config.py + model.pth)')
    raise ModelNotFoundError(NO_DEFAULT_MODEL)


def checkpoint_version(checkpoint: Optional[Path]) -> str:
    """The first 12 hex digits of the checkpoint's SHA-256: names the exact weights in a
    report ('random' for a benchmark model without weights)."""
    if not checkpoint:
        return 'random'
    digest = hashlib.sha256()
    with open(checkpoint, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()[:12]


def _newest(paths) -> Optional[Path]:
    paths = [p for p in paths if p.is_file()]
    return max(paths, key=lambda p: (p.stat().st_mtime, p.name)) if paths else None


def config_beside(checkpoint: Path) -> Optional[Path]:
    """The config mmengine dumped into the checkpoint's work dir (``<work_dir>/<config>.py``).

    The newest one when several runs shared the work dir: mmengine rewrites it at every start,
    and TBScreener refuses a checkpoint whose weights do not fit the config anyway.
    """
    return _newest(Path(checkpoint).parent.glob('*.py'))


def checkpoint_in(work_dir: Path) -> Optional[Path]:
    """The checkpoint to use from a work dir: best_*.pth, else the last one saved."""
    best = _newest(work_dir.glob('best_*.pth'))
    if best:
        return best
    last = work_dir / 'last_checkpoint'  # mmengine writes the latest checkpoint's path here
    if last.is_file():
        recorded = Path(last.read_text().strip())
        for candidate in (recorded, work_dir / recorded.name):
            if candidate.is_file() and candidate.suffix == '.pth':
                return candidate
    epochs = [(int(m.group(1)), p) for p in work_dir.glob('epoch_*.pth')
              if (m := re.fullmatch(r'epoch_(\d+)\.pth', p.name))]
    if epochs:
        return max(epochs)[1]
    return _newest(work_dir.glob('*.pth'))


def list_checkpoints(work_dirs='work_dirs') -> list[dict]:
    """Models to choose from in the app: the shipped default (if any), the other models shipped
    beside it (``checkpoints/<name>/`` with ``config.py`` + ``model.pth``, e.g. the distilled
    student), then every ``work_dirs/*/`` holding a config ``.py`` and a ``.pth``, as
    ``{'name', 'config', 'checkpoint'}`` (paths as strings)."""
    models = []
    try:
        default_config, default_ckpt = default_model()
    except ModelNotFoundError:
        pass
    else:
        models.append(dict(name='default', config=str(default_config),
                           checkpoint=str(default_ckpt)))
    shipped = DEFAULT_MODEL_DIR.parent
    for folder in sorted(shipped.iterdir()) if shipped.is_dir() else ():
        config, checkpoint = folder / 'config.py', folder / 'model.pth'
        if folder != DEFAULT_MODEL_DIR and config.is_file() and checkpoint.is_file():
            models.append(dict(name=folder.name, config=str(config), checkpoint=str(checkpoint)))
    root = Path(work_dirs)
    if not root.is_absolute() and not root.is_dir():
        root = REPO / root  # the app may be started from another directory
    if root.is_dir():
        for work_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            config, checkpoint = _newest(work_dir.glob('*.py')), checkpoint_in(work_dir)
            if config and checkpoint:
                models.append(dict(name=work_dir.name, config=str(config),
                                   checkpoint=str(checkpoint)))
    return models

