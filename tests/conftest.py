"""Shared fixtures: tiny generated chest-X-ray-like datasets (never real images).

Quick suite: ``pytest -m "not slow"`` (under a minute; what to run while editing). The full
suite, ``pytest``, also runs the ``slow`` tests: every test over about a second (it trains a
tiny model, runs a tool as a subprocess, ...), marked where it is defined, and every test that
needs one of the trained models below (``SLOW_FIXTURES``), marked here.
"""
import io
import json
import os
import sys
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / 'shared' / 'data'
requires_shared_data = pytest.mark.skipif(
    not (SHARED_DATA / 'tbdb256').is_dir(), reason='../shared/data (real X-rays) not present')


def synthetic_xray(rng: np.random.Generator, size: int = 64, lesion: bool = False):
    """A grey chest-like image: dark lungs in a brighter body; TB adds one bright lesion.

    Returns the image and the lesion's (x, y, radius) or None.
    """
    img = np.full((size, size), 150, np.float32)
    for cx in (0.32, 0.68):
        cv2.ellipse(img, (int(cx * size), size // 2), (size // 6, size // 3), 0, 0, 360,
                    60, -1)
    img += rng.normal(0, 12, img.shape)
    spot = None
    if lesion:
        cx = int(rng.choice([0.32, 0.68]) * size + rng.integers(-size // 16, size // 16 + 1))
        cy = int(size // 2 + rng.integers(-size // 6, size // 6 + 1))
        r = max(2, size // 10)
        cv2.circle(img, (cx, cy), r, 250, -1)
        spot = (cx, cy, r)
    return np.clip(img, 0, 255).astype(np.uint8), spot


def write_dataset(root: Path, n_train: int = 24, n_test: int = 8, size: int = 64, seed: int = 0):
    """Write PNGs and meta/{train,test}.json in the converter's format; return ``root``."""
    rng = np.random.default_rng(seed)
    (root / 'meta').mkdir(parents=True, exist_ok=True)
    classes = ['normal', 'tuberculosis']
    for split, n in (('train', n_train), ('test', n_test)):
        data_list = []
        for i in range(n):
            label = i % 2
            img, _ = synthetic_xray(rng, size, lesion=bool(label))
            rel = f'{split}/{classes[label]}/{i:03d}.png'
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / rel), img)
            data_list.append(dict(img_path=rel, gt_label=label, source='synthetic'))
        ann = dict(metainfo=dict(classes=classes), data_list=data_list)
        (root / 'meta' / f'{split}.json').write_text(json.dumps(ann))
    return root


# Fixtures that train a model (once per session, 10-60 s): every test using one, directly or
# through another fixture, is slow.
SLOW_FIXTURES = frozenset({'tiny_checkpoint', 'lesion_screener'})


def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, 'fixturenames', ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope='session')
def tiny_dataset(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp('tiny_tbcxr'))


def load_script(relative: str, name: str):
    """A repo script (tools/..., demo/...) imported in-process, to call its functions."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, REPO / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tool(*args, timeout: int = 300, env_extra=None):
    """Run a repo script as a user would (python tools/x.py ...), from the repo root."""
    import subprocess
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1', **(env_extra or {}))
    return subprocess.run([sys.executable, *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


class TinyCheckpoint(NamedTuple):
    """A model trained by tools/train.py, laid out as a real work dir."""

    config: Path  # the config mmengine saved into the work dir (input size 64)
    checkpoint: Path  # its last checkpoint, epoch_<epochs>.pth
    work_dir: Path


TINY_CHECKPOINT_CONFIG = (
    'configs/efficientnet/efficientnet-b0-fpn_re-ra-rf_1xb32-adamw-10e_tbcxr-512px.py')


@pytest.fixture(scope='session')
def tiny_checkpoint(tiny_dataset, tmp_path_factory) -> TinyCheckpoint:
    """EfficientNet-b0-FPN at 64 px trained for 2 epochs on ``tiny_dataset``, once per session.

    Only the loading and prediction paths are tested with it: 2 epochs on 24 images do not
    make a useful classifier (tests/test_inference.py trains its own lesion detector).
    """
    epochs = 2
    work_dir = tmp_path_factory.mktemp('tiny_checkpoint')
    result = run_tool(
        'tools/train.py', TINY_CHECKPOINT_CONFIG, '--work-dir', work_dir, '--img-size', '64',
        '--cfg-options', f'train_cfg.max_epochs={epochs}',
        'train_dataloader.batch_size=8', 'val_dataloader.batch_size=8',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'val_dataloader.persistent_workers=False',
        f'train_dataloader.dataset.data_root={tiny_dataset}',
        f'val_dataloader.dataset.data_root={tiny_dataset}',
        f'test_dataloader.dataset.data_root={tiny_dataset}')
    assert result.returncode == 0, result.stderr[-3000:]
    ckpt = TinyCheckpoint(work_dir / Path(TINY_CHECKPOINT_CONFIG).name,
                          work_dir / f'epoch_{epochs}.pth', work_dir)
    assert ckpt.config.is_file() and ckpt.checkpoint.is_file(), sorted(os.listdir(work_dir))
    return ckpt


@pytest.fixture(scope='module')
def one_thread():
    """One torch thread for a module: CPU use stays modest, and it is faster than two on busy
    cores (use with ``pytestmark = pytest.mark.usefixtures('one_thread')``)."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ------------------------------------------------------------------ a model that finds a lesion
CAM_SIZE = 96  # stride-8 FPN level: 12 x 12 cells; lesion radius CAM_SIZE // 10 = 9 px
LESION_MODEL_CONFIG = (
    'configs/efficientnet/efficientnet-b0-fpn_noaug_1xb32-adamw-10e_tbcxr-512px.py')


def lesion_sample(rng, pipeline, label):
    img, spot = synthetic_xray(rng, CAM_SIZE, lesion=bool(label))
    data = pipeline(dict(img=img))
    data['data_samples'].set_gt_label(label)
    return data, img, spot


class LesionModel(NamedTuple):
    screener: object  # mmtb.apis.TBScreener
    work_dir: Path  # holds lesion.py and epoch_3.pth
    rng_state: dict  # the generator's state after training: held-out images follow from it

    def rng(self) -> np.random.Generator:
        """A fresh generator continuing where training stopped (same images for every test)."""
        rng = np.random.default_rng()
        rng.bit_generator.state = self.rng_state
        return rng


@pytest.fixture(scope='session')
def lesion_screener(tmp_path_factory) -> LesionModel:
    """A tiny EfficientNet-b0-FPN trained in-process to detect the one bright lesion.

    Trained from scratch for 3 epochs on 48 images (5-10 s on 1 thread). Its BatchNorm
    running statistics are then recomputed on the training images ("precise BN"): after so few,
    large updates the running averages lag far behind the weights and the eval-mode model
    would predict one class for everything.
    """
    import torch
    from mmengine.dataset import Compose, default_collate
    from mmengine.optim import OptimWrapper
    from mmpretrain.registry import MODELS, TRANSFORMS

    from mmtb.apis import TBScreener
    from mmtb.utils import load_config

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = load_config(str(REPO / LESION_MODEL_CONFIG), img_size=CAM_SIZE)
    model_cfg = cfg.model.copy()
    model_cfg['data_preprocessor'] = cfg.data_preprocessor
    model = MODELS.build(model_cfg)
    pipeline = Compose([TRANSFORMS.build(t) for t in cfg.test_dataloader.dataset.pipeline])
    rng = np.random.default_rng(1)
    train = [lesion_sample(rng, pipeline, i % 2)[0] for i in range(48)]
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05))
    model.train()
    for _ in range(3):
        order = rng.permutation(len(train))
        for start in range(0, len(train), 16):
            model.train_step(default_collate([train[i] for i in order[start:start + 16]]),
                             optim)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the passes below
    with torch.no_grad():
        for start in range(0, len(train), 16):
            model(model.data_preprocessor(default_collate(train[start:start + 16]),
                                          True)['inputs'])
    model.eval()
    torch.set_num_threads(threads)

    work_dir = tmp_path_factory.mktemp('lesion_model')
    cfg.dump(str(work_dir / 'lesion.py'))
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': {'classes': ('normal', 'tuberculosis')}}},
               work_dir / 'epoch_3.pth')
    return LesionModel(TBScreener(checkpoint=work_dir / 'epoch_3.pth'), work_dir,
                       rng.bit_generator.state)


def chest(size: int = 128, seed: int = 0, lesion: bool = False) -> np.ndarray:
    """The synthetic chest above (dark lungs in a brighter body), uint8 HxW."""
    return synthetic_xray(np.random.default_rng(seed), size, lesion=lesion)[0]


def chest_with_mediastinum(size: int = 96, seed: int = 1) -> np.ndarray:
    """The chest above with a brighter mediastinum band between the lungs (its two ellipses
    almost touch, real lungs do not)."""
    rng = np.random.default_rng(seed)
    img = chest(size, seed)
    band = slice(int(0.44 * size), int(0.56 * size))
    img[:, band] = np.clip(rng.normal(150, 12, img[:, band].shape), 0, 255)
    return img


def chest_in_border(border_value: int, size: int = 96, border: int = 40) -> tuple:
    """A chest pasted into a wide uniform border; returns (image, the two lungs' boxes)."""
    rng = np.random.default_rng(1)
    canvas = np.clip(rng.normal(border_value, 4, (size + 2 * border,) * 2), 0, 255)
    canvas[border:border + size, border:border + size] = chest_with_mediastinum(size)
    half_w, top, bottom = size // 6, size // 2 - size // 3, size // 2 + size // 3
    lungs = [  # the ellipses synthetic_xray draws, cut by the mediastinum band
        (border + int(0.32 * size) - half_w, border + top, border + int(0.44 * size),
         border + bottom),
        (border + int(0.56 * size), border + top, border + int(0.68 * size) + half_w,
         border + bottom)]
    return canvas.astype(np.uint8), lungs


def dicom_bytes(arr=None, photometric='MONOCHROME2', rows=None, cols=None, samples=1, bits=12,
                pixel_data=True, preamble=True, **extra) -> bytes:
    """A DX DICOM of ``arr`` (uint16, HxW or HxWxC with ``samples``); ``extra`` sets more
    attributes (e.g. WindowCenter); without ``preamble`` the file starts at its first tag."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    arr = np.zeros((40, 48), np.uint16) if arr is None else arr
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = '1.2.840.10008.5.1.4.1.1.1.1'  # Digital X-Ray, presentation
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset('test.dcm', {}, file_meta=meta, preamble=b'\0' * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = 'DX'
    ds.Rows, ds.Columns = rows or arr.shape[0], cols or arr.shape[1]
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16 if bits > 8 else 8
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits - 1, 0
    if samples > 1:
        ds.PlanarConfiguration = 0
    for key, value in extra.items():
        setattr(ds, key, value)
    if pixel_data:
        ds.PixelData = arr.astype('<u2' if bits > 8 else np.uint8).tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    data = buf.getvalue()
    return data if preamble else data[132:]
