"""The TBX11K reader (``tbx11k``) on generated images in the real TBX11K folder layout."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmtb.data_prep.sources import (
    NORMAL,
    TUBERCULOSIS,
    DataSourceError,
    read_source,
    source_kinds,
)


def write_png(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    grey = np.random.default_rng(seed).integers(0, 256, (40, 40), dtype=np.uint8)
    assert cv2.imwrite(str(path), grey)


def make_tbx11k(root: Path, with_lists: bool) -> Path:
    """imgs/{health,sick,tb,test,extra/da}/ like the real download, plus lists/ if asked."""
    files = {
        'health': [f'h{i:04d}.png' for i in range(1, 6)],
        'sick': [f's{i:04d}.png' for i in range(1, 5)],
        'tb': [f'tb{i:04d}.png' for i in range(1, 4)],
        'test': [f'test{i:04d}.png' for i in range(1, 4)],
        'extra/da': ['p_1.png', 'p_2.png'],
    }
    seed = 0
    for folder, names in files.items():
        for name in names:
            seed += 1
            write_png(root / 'imgs' / folder / name, seed)
    (root / 'annotations' / 'xml').mkdir(parents=True)   # present in the download, not read
    if with_lists:
        lists = root / 'lists'
        lists.mkdir()
        # The official split leaves h0005 and tb0003 for validation, nothing in train/val
        # names the test images; sick and extra entries are in the lists but must be skipped.
        (lists / 'TBX11K_train.txt').write_text(
            'health/h0001.png\nhealth/h0002.png\nsick/s0001.png\ntb/tb0001.png\n'
            'health/h0003.png\nsick/s0002.png\ntb/tb0002.png\n')
        (lists / 'TBX11K_val.txt').write_text('health/h0004.png\r\nsick/s0003.png\r\n'
                                              'tb/tb0003.png\r\n\r\n')
        (lists / 'TBX11K_trainval.txt').write_text('health/h0005.png\n')   # not preferred
        (lists / 'all_train.txt').write_text('extra/da/p_1.png\nhealth/h0001.png\n')
        (lists / 'all_test.txt').write_text('test/test0001.png\nextra/da/p_2.png\n')
        (lists / 'TBX11K_test.txt').write_text('test/test0001.png\n')
    return root


def names_and_labels(records):
    return [(Path(r['img_path']).parent.name + '/' + Path(r['img_path']).name, r['gt_label'])
            for r in records]


def test_tbx11k_is_registered():
    assert 'tbx11k' in source_kinds()


def test_lists_choose_the_images_and_sick_test_extra_are_skipped(tmp_path):
    root = make_tbx11k(tmp_path / 'TBX11K', with_lists=True)
    records = read_source('tbx11k', root)
    assert names_and_labels(records) == [
        ('health/h0001.png', NORMAL), ('health/h0002.png', NORMAL),
        ('health/h0003.png', NORMAL), ('health/h0004.png', NORMAL),
        ('tb/tb0001.png', TUBERCULOSIS), ('tb/tb0002.png', TUBERCULOSIS),
        ('tb/tb0003.png', TUBERCULOSIS)]
    assert {r['source'] for r in records} == {'tbx11k'}
    for record in records:
        assert set(record) == {'img_path', 'gt_label', 'source', 'age', 'sex', 'finding'}
        assert Path(record['img_path']).is_absolute() and Path(record['img_path']).is_file()


def test_trainval_list_is_used_when_train_and_val_are_absent(tmp_path):
    root = make_tbx11k(tmp_path / 'TBX11K', with_lists=True)
    (root / 'lists' / 'TBX11K_train.txt').unlink()
    (root / 'lists' / 'TBX11K_trainval.txt').unlink()
    # list names are matched in any case; an 'imgs/' prefix on an entry is tolerated
    (root / 'lists' / 'tbx11k_trainval.txt').write_text('health/h0005.png\nsick/s0004.png\n'
                                                       'imgs/tb/tb0001.png\n')
    records = read_source('tbx11k', root)
    assert names_and_labels(records) == [('health/h0005.png', NORMAL),
                                         ('tb/tb0001.png', TUBERCULOSIS)]


def test_without_lists_the_class_folders_are_read(tmp_path):
    root = make_tbx11k(tmp_path / 'TBX11K', with_lists=False)
    records = read_source('tbx11k', root)
    labels = [r['gt_label'] for r in records]
    assert labels.count(NORMAL) == 5 and labels.count(TUBERCULOSIS) == 3 and len(labels) == 8
    folders = {Path(r['img_path']).parent.name for r in records}
    assert folders == {'health', 'tb'}                 # no sick, test or extra image
    # the imgs/ folder itself is accepted as ROOT too
    assert names_and_labels(read_source('tbx11k', root / 'imgs')) == names_and_labels(records)


def test_a_listed_image_that_is_missing_is_an_error(tmp_path):
    root = make_tbx11k(tmp_path / 'TBX11K', with_lists=True)
    (root / 'imgs' / 'tb' / 'tb0002.png').unlink()
    with pytest.raises(DataSourceError, match=r'1 image\(s\) named in TBX11K_train.txt \+ '
                                              r'TBX11K_val.txt are missing.*tb/tb0002.png'):
        read_source('tbx11k', root)


def test_only_sick_images_give_a_clear_error(tmp_path):
    write_png(tmp_path / 'TBX11K' / 'imgs' / 'sick' / 's0001.png', 1)
    with pytest.raises(DataSourceError, match='no class folder found'):
        read_source('tbx11k', tmp_path / 'TBX11K')
