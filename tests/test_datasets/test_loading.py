"""LoadGreyXray: grey 3-channel input of the configured size; the cache changes nothing."""
import os

import cv2
import numpy as np
from mmcv.transforms import Compose

from mmtb.datasets import LoadGreyXray
from mmtb.io.decode import read_grey


def write_png(path, value_shift=0, size=(80, 100)):
    rng = np.random.default_rng(value_shift)
    img = rng.integers(0, 200, size=(*size, 3), dtype=np.uint8) + value_shift
    cv2.imwrite(str(path), img)
    return path


def test_output_is_grey_three_channel_of_the_configured_size(tmp_path):
    path = write_png(tmp_path / 'x.png')
    out = LoadGreyXray(size=48)(dict(img_path=str(path)))
    assert out['img'].shape == (48, 48, 3) and out['img'].dtype == np.uint8
    assert np.array_equal(out['img'][..., 0], out['img'][..., 2])
    assert out['ori_shape'] == (80, 100)


def test_cache_is_bit_identical_to_the_stock_path(tmp_path):
    path = write_png(tmp_path / 'x.png')
    stock = Compose([dict(type='LoadImageFromFile'), dict(type='Resize', scale=(48, 48),
                                                          interpolation='area')])
    expected = cv2.cvtColor(stock(dict(img_path=str(path)))['img'], cv2.COLOR_BGR2GRAY)
    uncached = LoadGreyXray(size=48, cache=False)(dict(img_path=str(path)))['img']
    cached = LoadGreyXray(size=48)
    first = cached(dict(img_path=str(path)))['img']
    second = cached(dict(img_path=str(path)))['img']
    assert np.array_equal(uncached, first) and np.array_equal(first, second)
    # grey-then-resize equals the decoder's grey resized; the stock colour path is within 1 level
    assert np.array_equal(first[..., 0], cv2.resize(read_grey(str(path)), (48, 48),
                                                    interpolation=cv2.INTER_AREA))
    assert np.abs(first[..., 0].astype(int) - expected).max() <= 1


def test_cache_is_rebuilt_when_the_source_changes(tmp_path):
    path = write_png(tmp_path / 'x.png')
    load = LoadGreyXray(size=32)
    before = load(dict(img_path=str(path)))['img']
    write_png(path, value_shift=40)
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    after = load(dict(img_path=str(path)))['img']
    assert not np.array_equal(before, after)
    assert np.array_equal(after, LoadGreyXray(size=32, cache=False)(
        dict(img_path=str(path)))['img'])


def test_cache_keys_on_size(tmp_path):
    path = write_png(tmp_path / 'x.png')
    assert LoadGreyXray(size=32)(dict(img_path=str(path)))['img'].shape[0] == 32
    assert LoadGreyXray(size=40)(dict(img_path=str(path)))['img'].shape[0] == 40


def test_decoded_array_input_is_used_as_is():
    grey = np.full((60, 70), 90, np.uint8)
    out = LoadGreyXray(size=16)(dict(img=grey))
    assert out['img'].shape == (16, 16, 3) and int(out['img'].mean()) == 90
