"""Deterministic steps remembered per image content: same output as computing, less work."""
import numpy as np
import pytest
from conftest import chest
from mmpretrain.registry import TRANSFORMS

import mmtb  # noqa: F401  (registers the transforms)
from mmtb.datasets.transforms import memo

STEPS = [dict(type='MaskBurntInBlocks'), dict(type='CropLungField'),
         dict(type='IntensityStandardize')]


def with_block(seed: int) -> np.ndarray:
    img = np.repeat(chest(96, seed)[:, :, None], 3, axis=2)
    img[4:20, 60:90] = 255  # a burnt-in label, so the mask step changes the image
    return img


def results_of(img, path='a.png') -> dict:
    results = dict(img=img.copy(), img_shape=img.shape[:2])
    if path:
        results['img_path'] = path
    return results


def counting(step: dict):
    """The built step, counting the times it really computes."""
    transform = TRANSFORMS.build(step)
    calls = []
    compute = transform.transform
    transform.transform = lambda results: calls.append(1) or compute(results)
    return transform, calls


@pytest.mark.parametrize('step', STEPS, ids=[s['type'] for s in STEPS])
def test_a_remembered_step_gives_what_it_computes_and_computes_once(step):
    remembered, calls = counting(step)
    computing = TRANSFORMS.build(step)
    computing.remember = False
    for seed in (0, 1, 0, 1, 0):
        got = remembered(results_of(with_block(seed)))
        expected = computing(results_of(with_block(seed)))
        assert set(got) == set(expected)
        for key, value in expected.items():
            assert np.array_equal(got[key], value) if isinstance(value, np.ndarray) \
                else got[key] == value
    assert len(calls) == 2  # one per distinct image


def test_the_caller_may_change_its_image_without_changing_what_is_remembered():
    crop, _ = counting(dict(type='CropLungField'))
    first = crop(results_of(with_block(0)))['img']
    kept = first.copy()
    first[:] = 0  # e.g. RandomErasing writing into the array
    assert np.array_equal(crop(results_of(with_block(0)))['img'], kept)


def test_arrays_without_a_file_are_never_remembered():
    """The app and screen.py hand over decoded arrays: a server must not grow per upload."""
    crop, calls = counting(dict(type='CropLungField'))
    for _ in range(3):
        crop(results_of(with_block(0), path=None))
    assert len(calls) == 3 and not crop.__dict__.get('_memo')


def test_the_memory_bound_stops_remembering(monkeypatch):
    monkeypatch.setattr(memo, 'MAX_MEMO_MB', 0)
    crop, calls = counting(dict(type='CropLungField'))
    for _ in range(2):
        crop(results_of(with_block(0)))
    assert len(calls) == 2


def test_the_key_is_the_content_not_the_path():
    """Whatever came before (a random step, another size), other pixels are another entry."""
    crop, calls = counting(dict(type='CropLungField'))
    crop(results_of(with_block(0), path='same.png'))
    crop(results_of(with_block(1), path='same.png'))
    crop(results_of(with_block(0)[:, :, 0], path='same.png'))  # the same pixels, HxW
    assert len(calls) == 3
