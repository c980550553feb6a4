"""Cue-removing preprocessing and shift-robust augmentation, on generated chest-like images."""
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REPO, chest, chest_in_border
from mmcv.transforms import Compose
from mmpretrain.registry import TRANSFORMS

import mmtb  # noqa: F401  (registers the transforms)
from mmtb.apis.cam import cam_on_original
from mmtb.datasets.transforms import (
    CropLungField,
    IntensityStandardize,
    LoadGreyXray,
    MaskBurntInBlocks,
)
from mmtb.utils.config import load_config

ROBUST_CONFIG = (REPO / 'configs' / 'efficientnet'
                 / 'efficientnet-b0-fpn_re-ra-rf-robust_1xb32-adamw-10e_tbcxr-512px.py')
CUE_REMOVAL = ['IntensityStandardize', 'MaskBurntInBlocks', 'CropLungField']
AUGMENTATIONS = ['RandomGamma', 'RandomContrastBrightness', 'RandomBlur', 'RandomNoise',
                 'RandomJPEG', 'PasteSyntheticBlocks']


# ----------------------------------------------------------------------------- fixtures
def bright_normal_chest(size: int = 128, seed: int = 0) -> np.ndarray:
    """A normal chest with bright but not burnt-in anatomy: a soft-edged spine/mediastinum
    near saturation (noise pushes single pixels to >= 250), a saturated, rounded shoulder and
    a small saturated calcified spot in a lung."""
    rng = np.random.default_rng(seed)
    img = chest(size, seed).astype(np.float32)
    spine = np.zeros_like(img)
    spine[:, size // 2 - size // 16:size // 2 + size // 16] = 1
    spine = cv2.GaussianBlur(spine, (0, 0), size / 40)
    img = img * (1 - spine) + (238 + rng.normal(0, 6, img.shape)) * spine
    cv2.ellipse(img, (size // 10, size // 12), (size // 6, size // 10), 20, 0, 360, 253, -1)
    for radius, centre in ((2, (int(0.3 * size), size // 2)), (3, (int(0.7 * size), size // 3))):
        cv2.circle(img, centre, radius, 255, -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def three_channels(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[:, :, None], 3, axis=2)


def exposed(grey: np.ndarray, gamma: float) -> np.ndarray:
    lut = np.clip(np.rint(255 * (np.arange(256) / 255) ** gamma), 0, 255).astype(np.uint8)
    return cv2.LUT(grey, lut)


def run(transform, img: np.ndarray) -> dict:
    return transform(dict(img=img.copy(), img_shape=img.shape[:2]))


# ----------------------------------------------------------------------------- MaskBurntInBlocks
@pytest.mark.parametrize('fill', ['median', 'inpaint'])
def test_planted_block_and_text_are_neutralised(fill):
    clean = chest(128)
    marked = clean.copy()
    marked[100:116, 8:48] = 255  # a redaction block (3.9% of the image)
    # burnt-in text: aliased thin strokes, and anti-aliased thicker ones
    cv2.putText(marked, 'L 12/3', (70, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4, 255, 1, cv2.LINE_8)
    cv2.putText(marked, 'AP', (80, 60), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 255, 2, cv2.LINE_AA)
    results = run(MaskBurntInBlocks(fill=fill), three_channels(marked))
    out = results['img']
    assert out.shape == (128, 128, 3) and out.dtype == np.uint8
    assert (out[:, :, 1] == out[:, :, 0]).all() and (out[:, :, 2] == out[:, :, 0]).all()
    grey = out[:, :, 0]
    assert grey.max() < 250  # neither the block nor any text stroke survives
    if fill == 'median':
        assert (grey[100:116, 8:48] == grey[100, 8]).all()
        assert abs(int(grey[100, 8]) - int(np.median(clean))) <= 3
    # only the marks (and a few pixels of their anti-aliased edges) changed
    planted = cv2.dilate((marked != clean).astype(np.uint8), np.ones((7, 7), np.uint8))
    changed = grey != marked
    assert not (changed & (planted == 0)).any()
    assert 0.04 < results['burnt_in_fraction'] < 0.15


def test_union_of_overlapping_blocks_is_found():
    marked = chest(128)
    marked[96:112, 20:60] = 255
    marked[104:124, 50:90] = 255  # overlaps the first: an L-shaped union
    grey = run(MaskBurntInBlocks(), marked)['img']
    assert grey.shape == (128, 128)  # HxW in, HxW out
    assert grey.max() < 250


@pytest.mark.parametrize('make', [bright_normal_chest, lambda: chest(128, lesion=True)],
                         ids=['bright-anatomy', 'tb-lesion'])
def test_normal_bright_anatomy_is_left_bit_identical(make):
    img = three_channels(make())
    assert img.max() >= 250  # there is saturated, but not burnt-in, content
    for fill in ('median', 'inpaint'):
        results = run(MaskBurntInBlocks(fill=fill), img)
        assert np.array_equal(results['img'], img)
        assert results['burnt_in_fraction'] == 0


def test_min_area_decides_what_counts_as_a_block():
    marked = chest(128)
    marked[10:20, 10:20] = 255  # 100 px = 0.6% of the image, too thick for a text stroke
    assert run(MaskBurntInBlocks(min_area=0.002), marked)['img'].max() < 250
    assert (run(MaskBurntInBlocks(min_area=0.01), marked)['img'][10:20, 10:20] == 255).all()


# ----------------------------------------------------------------------------- IntensityStandardize
@pytest.mark.parametrize('method,max_ratio', [('clahe', 0.25), ('equalize', 0.1),
                                              ('zscore', 0.1)])
def test_standardisation_brings_exposures_together(method, max_ratio):
    grey = cv2.GaussianBlur(chest(128), (0, 0), 1.0)
    bright, dark = exposed(grey, 0.6), exposed(grey, 1.6)
    before = np.abs(bright.astype(int) - dark).mean()
    transform = IntensityStandardize(method=method)
    a = run(transform, three_channels(bright))['img']
    b = run(transform, three_channels(dark))['img']
    assert a.shape == (128, 128, 3) and a.dtype == np.uint8
    assert (a[:, :, 0] == a[:, :, 2]).all()
    after = np.abs(a.astype(int) - b).mean()
    assert before > 50 and after < max_ratio * before


def test_zscore_targets_mean_and_std():
    out = run(IntensityStandardize(method='zscore'), exposed(chest(128), 1.6))['img']
    assert abs(out.mean() - 128) < 3 and abs(out.std() - 48) < 4
    flat = run(IntensityStandardize(method='zscore'), np.full((32, 32), 7, np.uint8))['img']
    assert (flat == 128).all()


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match='method'):
        IntensityStandardize(method='magic')


# ----------------------------------------------------------------------------- CropLungField
@pytest.mark.parametrize('border_value', [15, 215], ids=['dark-air-border', 'bright-border'])
def test_lung_crop_keeps_both_lungs_and_drops_the_border(border_value):
    img, lungs = chest_in_border(border_value)
    side = img.shape[0]
    results = run(CropLungField(margin=0.05), three_channels(img))
    box = results['lung_box']
    assert box is not None
    x0, y0, x1, y1 = box
    for lx0, ly0, lx1, ly1 in lungs:  # both lungs inside the crop
        assert x0 <= lx0 and y0 <= ly0 and lx1 <= x1 and ly1 <= y1
    assert (x1 - x0) * (y1 - y0) < 0.5 * side * side  # most of the 40 px border is gone
    assert x0 >= 20 and y0 >= 20 and x1 <= side - 20
    out = results['img']
    assert out.shape == img.shape + (3,) and out.dtype == np.uint8  # resized back
    assert (out[:, :, 0] == out[:, :, 1]).all()
    expected = cv2.resize(img[y0:y1, x0:x1], (side, side), interpolation=cv2.INTER_LINEAR)
    assert np.array_equal(out[:, :, 0], expected)


def test_lung_crop_falls_back_to_the_full_image_when_unsure():
    gradient = np.tile(np.linspace(0, 255, 96).astype(np.uint8), (96, 1))
    for img in (gradient, np.full((96, 96), 120, np.uint8)):
        results = run(CropLungField(), img)
        assert results['lung_box'] is None
        assert np.array_equal(results['img'], img)


# ----------------------------------------------------------------------------- registry / Compose
@pytest.fixture
def png_file(tmp_path) -> Path:
    path = tmp_path / 'chest.png'
    img, _ = chest_in_border(215)
    img[150:165, 20:70] = 255  # a burnt-in block on the border
    cv2.imwrite(str(path), img)
    return path


@pytest.mark.parametrize('name', CUE_REMOVAL + AUGMENTATIONS)
def test_registered_and_runs_after_load_grey_xray_in_compose(name, png_file):
    step = TRANSFORMS.build(dict(type=name))
    assert step.__class__.__name__ == name
    pipeline = Compose([LoadGreyXray(size=96, cache=False), step])
    results = pipeline(dict(img_path=str(png_file)))
    img = results['img']
    assert img.shape == (96, 96, 3) and img.dtype == np.uint8
    assert (img[:, :, 0] == img[:, :, 1]).all() and (img[:, :, 0] == img[:, :, 2]).all()


# ----------------------------------------------------------------------------- augmentations
def _always(name: str):
    return TRANSFORMS.build(dict(type=name, prob=1.0))


@pytest.mark.parametrize('name', AUGMENTATIONS)
@pytest.mark.parametrize('layout', ['HxW', 'HxWx3'])
def test_augmentation_keeps_shape_dtype_and_grey_channels(name, layout):
    grey = chest(96)
    img = grey if layout == 'HxW' else three_channels(grey)
    np.random.seed(3)
    out = run(_always(name), img)['img']
    assert out.shape == img.shape and out.dtype == np.uint8
    if layout == 'HxWx3':
        assert (out[:, :, 0] == out[:, :, 1]).all() and (out[:, :, 0] == out[:, :, 2]).all()
    assert not np.array_equal(out, img)  # prob=1 really changes the image


@pytest.mark.parametrize('name', AUGMENTATIONS)
def test_augmentation_is_reproducible_with_the_numpy_seed(name):
    img = three_channels(chest(96))
    outputs = []
    for _ in range(2):
        np.random.seed(7)
        transform = TRANSFORMS.build(dict(type=name, prob=0.5))
        outputs.append([run(transform, img)['img'] for _ in range(4)])
    for first, second in zip(*outputs):
        assert np.array_equal(first, second)


@pytest.mark.parametrize('name', AUGMENTATIONS)
def test_probability_zero_is_the_identity(name):
    img = three_channels(chest(96))
    transform = TRANSFORMS.build(dict(type=name, prob=0.0))
    for _ in range(5):
        assert np.array_equal(run(transform, img)['img'], img)


def test_pasted_blocks_are_white_and_label_independent():
    img = three_channels(chest(96))
    np.random.seed(0)
    transform = _always('PasteSyntheticBlocks')
    for label in (0, 1):
        results = transform(dict(img=img.copy(), gt_label=label))
        assert (results['img'] >= 250).sum() > 10  # something white was pasted
        assert results['gt_label'] == label


def test_gamma_range_is_respected():
    grey = chest(96)
    np.random.seed(1)
    out = run(TRANSFORMS.build(dict(type='RandomGamma', gamma_range=(1.5, 1.5), prob=1)),
              grey)['img']
    assert np.array_equal(out, exposed(grey, 1.5))
    with pytest.raises(ValueError):
        TRANSFORMS.build(dict(type='RandomGamma', gamma_range=(1.5, 0.7)))


# ----------------------------------------------------------------------------- configs
SHIFT_AUGMENT = ['RandomResizedCrop', 'RandomContrastBrightness', 'RandomGamma', 'RandomBlur',
                 'RandomNoise', 'RandomJPEG']
PAPER_AUGMENT = ['RandAugment', 'RandomFlip', 'RandomErasing']
STUDY = REPO / 'configs' / 'robust'
STUDY_NAME = 'efficientnet-lite0-in1k-pre-fpn_re-ra-rf{}_1xb32-adamw-5e_tbcxr-512px.py'
# each config of the shortcut study: (steps in every pipeline, training-only steps)
STUDY_STEPS = {
    '': ([], []),
    '-clahe': (['IntensityStandardize'], []),
    '-mask': (['MaskBurntInBlocks'], []),
    '-lungcrop': (['CropLungField'], []),
    '-shift': ([], SHIFT_AUGMENT),
    '-paste': ([], ['PasteSyntheticBlocks']),
    '-robust': (['MaskBurntInBlocks', 'CropLungField', 'IntensityStandardize'],
                ['PasteSyntheticBlocks', *SHIFT_AUGMENT]),
}
STUDY_STEPS['-mask-clahe'] = (['MaskBurntInBlocks', 'IntensityStandardize'], [])
STUDY_STEPS['-clahe-bblr'] = STUDY_STEPS['-clahe']  # with a slower backbone (checked below)


def steps_of(cfg, key):
    return [s['type'] for s in cfg[key].dataset.pipeline]


@pytest.mark.parametrize('suffix', list(STUDY_STEPS))
def test_each_study_config_adds_only_its_steps(suffix):
    """The study measures one step at a time: same model, schedule and paper augmentation."""
    cfg = load_config(str(STUDY / STUDY_NAME.format(suffix)), img_size=224)
    everywhere, train_only = STUDY_STEPS[suffix]
    assert steps_of(cfg, 'train_dataloader') == [
        'LoadGreyXray', *everywhere, *train_only, *PAPER_AUGMENT, 'PackInputs']
    for key in ('val_dataloader', 'test_dataloader'):
        assert steps_of(cfg, key) == ['LoadGreyXray', *everywhere, 'PackInputs']
    assert cfg.train_cfg.max_epochs == 5
    assert cfg.model.backbone.model_name == 'tf_efficientnet_lite0'
    lr_mults = cfg.optim_wrapper.get('paramwise_cfg', {}).get('custom_keys', {})
    assert lr_mults == ({'backbone': {'lr_mult': 0.1}} if 'bblr' in suffix else {})
    # --img-size reaches the crop that resizes back, not only the loader
    for step in cfg.train_dataloader.dataset.pipeline:
        if step['type'] == 'RandomResizedCrop':
            assert step['scale'] == 224


@pytest.mark.parametrize('config', [ROBUST_CONFIG, STUDY / STUDY_NAME.format('-robust')])
def test_robust_config_pipelines_run_on_an_image_file(config, png_file):
    cfg = load_config(str(config), img_size=64)
    assert steps_of(cfg, 'test_dataloader') == [
        'LoadGreyXray', 'MaskBurntInBlocks', 'CropLungField', 'IntensityStandardize',
        'PackInputs']
    assert cfg.test_dataloader.dataset.ann_file == 'meta/test.json'
    np.random.seed(0)
    for key in ('train_dataloader', 'test_dataloader'):
        steps = [dict(step) for step in cfg[key].dataset.pipeline]
        steps[0].update(cache=False)
        pipeline = Compose([TRANSFORMS.build(step) for step in steps])
        for _ in range(3):  # random augmentations vary; the output shape must not
            packed = pipeline(dict(img_path=str(png_file), gt_label=1))
            assert tuple(packed['inputs'].shape) == (3, 64, 64)
            assert int(packed['data_samples'].gt_label) == 1


@pytest.mark.slow
def test_grad_cam_of_a_cropping_config_lands_inside_the_crop():
    """The model only sees the lung crop, so its heat map must sit on the crop, not be
    stretched over the whole image."""
    from mmtb.apis import TBScreener
    img, _ = chest_in_border(215)  # 176 px: the input size below, so pixels map 1:1
    screener = TBScreener(config=load_config(str(ROBUST_CONFIG), img_size=img.shape[0]),
                          random_weights=True)
    x0, y0, x1, y1 = screener._batch([img])['data_samples'][0].metainfo['lung_box']
    assert (x1 - x0) * (y1 - y0) < 0.5 * img.size  # the crop dropped the border
    cam = screener.predict(img, with_cam=True).cam
    assert cam.shape == img.shape
    outside = np.ones(img.shape, bool)
    outside[y0:y1, x0:x1] = False
    assert cam[outside].max() == 0 and cam[~outside].max() > 0


def test_cam_on_original_puts_the_map_back_into_the_crop_box():
    cam = np.zeros((64, 64), np.float32)
    cam[28:36, 28:36] = 1  # a peak at the centre of the (cropped) input
    plain = cam_on_original(cam, (128, 96))
    assert plain.shape == (128, 96)
    assert np.unravel_index(plain.argmax(), plain.shape)[0] in range(56, 72)
    placed = cam_on_original(cam, (128, 128), crop_box=(0, 0, 32, 32))  # top-left quarter
    peak_y, peak_x = np.unravel_index(placed.argmax(), placed.shape)
    assert peak_y < 64 and peak_x < 64 and placed[64:, :].max() == 0
