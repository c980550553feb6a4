"""tools/dataset_converters/prepare_tbcxr.py and mmtb.datasets.{sources,dedup,split}.

Everything runs on small chest-like images generated in tmp_path, laid out like the real
downloads; one test converts the real ../shared/data/tbdb256 when it is present.
"""
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REPO, load_script

from mmtb.data_prep.dedup import DEFAULT_NEAR_THRESHOLD, hamming_distance, perceptual_hash
from mmtb.data_prep.sources import DataSourceError, parse_clinical_reading, read_source
from mmtb.data_prep.split import stratified_split, write_dataset_files

TOOL = REPO / 'tools' / 'dataset_converters' / 'prepare_tbcxr.py'
SHARED_DATA = Path(__file__).resolve().parents[3] / 'shared' / 'data'


def load_tool():
    return load_script(TOOL, 'prepare_tbcxr')


prepare_tbcxr = load_tool()


# --------------------------------------------------------------------------- synthetic data
def chest_like(seed: int, size: int = 160) -> np.ndarray:
    """A distinct grey chest-like image: two dark striped 'lungs' plus random smooth blobs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = 0.6 + 0.2 * yy + rng.normal(0, 0.05) * xx
    lungs = np.zeros_like(img)
    for cx in (0.3 + rng.normal(0, 0.03), 0.7 + rng.normal(0, 0.03)):
        a, b = rng.uniform(0.12, 0.18), rng.uniform(0.25, 0.35)
        lungs += ((xx - cx) / a) ** 2 + ((yy - 0.45) / b) ** 2 < 1
    ribs = 0.5 + 0.5 * np.sin(2 * np.pi * (rng.uniform(7, 11) * yy + 2 * (xx - 0.5) ** 2
                                           + rng.uniform()))
    img -= lungs * (0.45 - 0.15 * ribs)
    for _ in range(12):
        x0, y0, r = rng.uniform(0.05, 0.95), rng.uniform(0.05, 0.95), rng.uniform(0.03, 0.12)
        img += rng.uniform(-0.25, 0.25) * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * r * r))
    img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), 1.5)
    return np.clip(img * 255, 0, 255).astype(np.uint8)


def resized_jpeg(grey: np.ndarray, scale: float = 0.8, quality: int = 75) -> np.ndarray:
    """What a redistributor does to an image: downsize and re-encode as JPEG."""
    small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode('.jpg', small, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)


def write(path: Path, grey: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), grey), path
    return path


class Seeds:
    """Hands out fresh seeds so every generated image in a test is distinct."""

    def __init__(self, start: int = 0):
        self.next = start

    def __call__(self) -> int:
        self.next += 1
        return self.next


def make_tbdb(root: Path, n_normal: int, n_tb: int, seeds: Seeds) -> Path:
    for i in range(n_normal):
        write(root / 'Normal' / f'Normal-{i + 1}.png', chest_like(seeds()))
    for i in range(n_tb):
        write(root / 'Tuberculosis' / f'Tuberculosis-{i + 1}.png', chest_like(seeds()))
    return root


def make_shenzhen(root: Path, labels, seeds: Seeds) -> Path:
    (root / 'ClinicalReadings').mkdir(parents=True, exist_ok=True)
    for i, label in enumerate(labels, start=1):
        stem = f'CHNCXR_{i:04d}_{label}'
        write(root / 'CXR_png' / f'{stem}.png', chest_like(seeds()))
        finding = 'STB,ATB in the right upper field' if label else 'normal'
        (root / 'ClinicalReadings' / f'{stem}.txt').write_text(f'male 35yrs\n{finding}\n')
    return root


def make_pakistan(root: Path, n_normal: int, n_tb: int, seeds: Seeds) -> Path:
    for i in range(n_normal):
        write(root / 'Normal' / f'others ({i + 1}).jpg', chest_like(seeds()))
    for i in range(n_tb):
        write(root / 'TB' / f'TB.{i + 1}.jpg', chest_like(seeds()))
    return root


def load_json(path: Path):
    return json.loads(path.read_text())


# --------------------------------------------------------------------------- readers
def test_readers_give_labels_sources_and_uniform_keys(tmp_path):
    seeds = Seeds()
    tbdb = make_tbdb(tmp_path / 'tbdb', 3, 2, seeds)
    (tbdb / 'Normal.metadata.xlsx').write_text('not an image')   # as in the Kaggle download
    shenzhen = make_shenzhen(tmp_path / 'shenzhen', [0, 1, 1], seeds)
    pakistan = make_pakistan(tmp_path / 'pakistan', 2, 3, seeds)
    generic = tmp_path / 'generic'
    write(generic / 'Healthy' / 'a.bmp', chest_like(seeds()))
    write(generic / 'POSITIVE' / 'nested' / 'b.tif', chest_like(seeds()))
    montgomery = tmp_path / 'MontgomerySet'
    write(montgomery / 'CXR_png' / 'MCUCXR_0001_1.png', chest_like(seeds()))
    write(montgomery / 'ManualMask' / 'leftMask' / 'MCUCXR_0001_1.png', chest_like(seeds()))
    (montgomery / 'ClinicalReadings').mkdir()
    (montgomery / 'ClinicalReadings' / 'MCUCXR_0001_1.txt').write_text(
        "Patient's Sex: F\nPatient's Age: 035Y\nright upper lobe cavity\n")

    expected = {  # kind: (root, [labels in path order])
        'tbdb': (tbdb, [0, 0, 0, 1, 1]),
        'shenzhen': (shenzhen, [0, 1, 1]),
        'pakistan': (pakistan, [0, 0, 1, 1, 1]),
        'folder': (generic, [0, 1]),
        'montgomery': (montgomery, [1]),
    }
    for kind, (root, labels) in expected.items():
        records = read_source(kind, root)
        assert [r['gt_label'] for r in records] == labels, kind
        assert {r['source'] for r in records} == {kind}
        for record in records:
            assert set(record) == {'img_path', 'gt_label', 'source', 'age', 'sex', 'finding'}
            assert Path(record['img_path']).is_absolute() and Path(record['img_path']).is_file()

    shenzhen_tb = read_source('shenzhen', shenzhen)[1]
    assert (shenzhen_tb['age'], shenzhen_tb['sex']) == (35, 'M')
    assert shenzhen_tb['finding'] == 'STB,ATB in the right upper field'
    assert any(' ' in Path(r['img_path']).name for r in read_source('pakistan', pakistan))
    (montgomery_tb,) = read_source('montgomery', montgomery)    # the mask is not an image
    assert (montgomery_tb['age'], montgomery_tb['sex']) == (35, 'F')
    assert montgomery_tb['finding'] == 'right upper lobe cavity'


def test_clinical_reading_parser_is_best_effort():
    assert parse_clinical_reading('female 23yrs\n\nnormal\n') == (23, 'F', 'normal')
    assert parse_clinical_reading("Patient's Sex: M\nPatient's Age: 075Y\nnormal") == (
        75, 'M', 'normal')
    assert parse_clinical_reading('') == (None, None, None)
    assert parse_clinical_reading('\x00\ufffd???\n') == (None, None, '\x00\ufffd???')


def test_user_errors_name_the_problem(tmp_path):
    generic = tmp_path / 'generic'
    write(generic / 'normal' / 'a.png', chest_like(1))
    write(generic / 'sick' / 'b.png', chest_like(2))
    with pytest.raises(DataSourceError, match="unknown class folder.*'sick'"):
        read_source('folder', generic)
    with pytest.raises(DataSourceError, match='unknown source kind'):
        read_source('kaggle', generic)
    with pytest.raises(DataSourceError, match='no images in the expected layout'):
        read_source('shenzhen', generic)


@pytest.mark.parametrize('argv, message', [
    (['--input', 'kaggle:{tmp}'], 'unknown source kind'),
    (['--input', '{tmp}'], 'KIND:PATH'),
    (['--input', 'folder:{tmp}/generic'], "unknown class folder(s) 'sick'"),
    (['--input', 'folder:{tmp}/generic', '--test-ratio', '1.5'], 'test-ratio'),
])
def test_cli_user_errors_exit_2_with_one_line(tmp_path, capsys, argv, message):
    write(tmp_path / 'generic' / 'sick' / 'b.png', chest_like(2))
    out = tmp_path / 'out'
    argv = [arg.format(tmp=tmp_path) for arg in argv] + ['--out', str(out)]
    assert prepare_tbcxr.main(argv) == 2
    stderr = capsys.readouterr().err
    assert message in stderr and len(stderr.strip().splitlines()) == 1
    assert not out.exists()


def run_cli(*args):
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize('case', ['missing folder', 'empty folder'])
def test_cli_missing_or_empty_folder_exits_2_and_writes_nothing(tmp_path, case):
    source = tmp_path / 'tbdb'
    if case == 'empty folder':
        (source / 'Normal').mkdir(parents=True)
    out = tmp_path / 'out'
    result = run_cli('--input', f'tbdb:{source}', '--out', out)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and 'Traceback' not in result.stderr
    assert ('folder not found' if case == 'missing folder' else 'no images found') in lines[0]
    assert str(source) in lines[0]
    assert not out.exists()


# --------------------------------------------------------------------------- dedup
def test_perceptual_hash_separates_copies_from_distinct_images():
    """The threshold's premise on generated images (the real-data margin is in dedup.py)."""
    originals = [chest_like(seed) for seed in range(40)]
    hashes = np.array([perceptual_hash(grey) for grey in originals])
    distinct = hamming_distance(hashes[:, None], hashes[None])
    np.fill_diagonal(distinct, 10 ** 6)
    copies = [hamming_distance(perceptual_hash(resized_jpeg(grey)), h)
              for grey, h in zip(originals, hashes)]
    assert max(copies) <= DEFAULT_NEAR_THRESHOLD < distinct.min()


@pytest.fixture
def merged_inputs(tmp_path):
    """tbdb + Shenzhen layouts with an exact, a near and a label-conflicting twin planted."""
    seeds = Seeds(100)
    tbdb = make_tbdb(tmp_path / 'tbdb', 20, 10, seeds)
    shenzhen = make_shenzhen(tmp_path / 'ChinaSet_AllFiles', [0] * 6 + [1] * 6, seeds)
    planted = {}
    # exact: tbdb's Normal-1 re-saved (lossless, other format) as a Shenzhen normal
    grey = cv2.imread(str(tbdb / 'Normal' / 'Normal-1.png'), cv2.IMREAD_GRAYSCALE)
    planted['exact'] = (tbdb / 'Normal' / 'Normal-1.png',
                        write(shenzhen / 'CXR_png' / 'CHNCXR_0101_0.tif', grey))
    # near: Shenzhen's TB image 0007 resized 0.8x + JPEG re-encoded into tbdb's TB folder
    original = shenzhen / 'CXR_png' / 'CHNCXR_0007_1.png'
    grey = cv2.imread(str(original), cv2.IMREAD_GRAYSCALE)
    planted['near'] = (original, write(tbdb / 'Tuberculosis' / 'Tuberculosis-99.jpg',
                                       resized_jpeg(grey)))
    # conflict: tbdb's Normal-2 re-appears in Shenzhen labelled TB
    grey = cv2.imread(str(tbdb / 'Normal' / 'Normal-2.png'), cv2.IMREAD_GRAYSCALE)
    planted['conflict'] = (tbdb / 'Normal' / 'Normal-2.png',
                           write(shenzhen / 'CXR_png' / 'CHNCXR_0102_1.png', grey))
    return tbdb, shenzhen, planted


def convert(tbdb, shenzhen, out, **kwargs):
    return prepare_tbcxr.convert([f'tbdb:{tbdb}', f'shenzhen:{shenzhen}'], out,
                                 progress=False, **kwargs)


def test_duplicates_are_dropped_before_the_split_and_reported(tmp_path, merged_inputs):
    tbdb, shenzhen, planted = merged_inputs
    out = tmp_path / 'out'
    summary = convert(tbdb, shenzhen, out)

    rows = {Path(row['dropped']).name: row for row in summary['duplicates']['dropped']}
    assert summary['duplicates']['counts'] == {'exact': 1, 'near': 1, 'label conflict': 2}
    exact_kept, exact_dropped = planted['exact']
    assert rows[exact_dropped.name]['reason'] == 'exact'
    assert rows[exact_dropped.name]['kept'] == str(exact_kept.resolve())   # first input wins
    assert rows[exact_dropped.name]['distance'] == 0
    near_kept, near_dropped = planted['near']
    assert rows[near_dropped.name]['reason'] == 'near'
    assert rows[near_dropped.name]['kept'] == str(near_kept.resolve())     # the larger one
    assert 0 < rows[near_dropped.name]['distance'] <= summary['near_threshold']
    for path in planted['conflict']:
        assert rows[path.name]['reason'] == 'label conflict'
        assert rows[path.name]['kept'] is None

    # 30 tbdb + 1 near copy, 12 Shenzhen + 2 planted: only the 4 planted rows go
    totals = summary['totals']
    assert totals == {'read': 45, 'dropped': 4, 'kept': 41, 'train': 32, 'test': 9}
    listed = [item['img_path'] for split in ('train', 'test')
              for item in load_json(out / 'meta' / f'{split}.json')['data_list']]
    assert len(listed) == len(set(listed)) == 41
    dropped_names = set(rows)
    assert not dropped_names & {Path(p).name for p in listed}

    csv_lines = (out / 'duplicates.csv').read_text().splitlines()
    assert csv_lines[0].split(',')[:2] == ['dropped', 'dropped_source'] and len(csv_lines) == 5
    assert load_json(out / 'summary.json')['duplicates'] == summary['duplicates']


@pytest.mark.slow
def test_output_loads_in_mmpretrain_and_counts_add_up(tmp_path, merged_inputs):
    from mmpretrain.datasets import BaseDataset
    from mmpretrain.registry import DATASETS
    tbdb, shenzhen, _ = merged_inputs
    out = tmp_path / 'data' / 'tbcxr'
    summary = convert(tbdb, shenzhen, out, test_ratio=0.25, seed=3)

    assert DATASETS.get('BaseDataset') is BaseDataset
    for split in ('train', 'test'):
        ann = load_json(out / 'meta' / f'{split}.json')
        assert ann['metainfo'] == {'classes': ['normal', 'tuberculosis']}
        paths = [item['img_path'] for item in ann['data_list']]
        assert paths == sorted(paths) and not any(os.path.isabs(p) for p in paths)
        dataset = DATASETS.build(dict(type='BaseDataset', data_root=str(out),
                                      ann_file=f'meta/{split}.json'))
        assert len(dataset) == summary['totals'][split]
        info = dataset.get_data_info(0)
        assert Path(info['img_path']).is_file() and info['gt_label'] in (0, 1)
        by_class = summary['counts'][split]
        assert sum(sum(by_source.values()) for by_source in by_class.values()) == len(dataset)
        assert sum(by_class['tuberculosis'].values()) == sum(dataset.get_gt_labels())

    saved = load_json(out / 'summary.json')
    assert (saved['seed'], saved['test_ratio']) == (3, 0.25)
    assert [item['kind'] for item in saved['inputs']] == ['tbdb', 'shenzhen']
    assert set(saved['counts']['train']['normal']) == {'tbdb', 'shenzhen'}


# --------------------------------------------------------------------------- split
def fake_records(n_per_stratum):
    return [{'img_path': f'/data/{source}/{label}/{i:03d}.png', 'gt_label': label,
             'source': source}
            for (source, label), n in n_per_stratum.items() for i in range(n)]


def test_split_is_stratified_by_label_and_source():
    strata = {('tbdb', 0): 230, ('tbdb', 1): 59, ('shenzhen', 0): 33, ('shenzhen', 1): 34}
    result = stratified_split(fake_records(strata), test_ratio=0.2, seed=0)
    assert result.stratified_by == 'label+source'
    assert len(result.test) == math.ceil(0.2 * sum(strata.values()))   # sklearn rounds up
    for (source, label), n in strata.items():
        in_test = sum(r['source'] == source and r['gt_label'] == label for r in result.test)
        assert abs(in_test - 0.2 * n) <= 1, (source, label)
    # a stratum too small to split falls back to label-only stratification
    tiny = stratified_split(fake_records({('a', 0): 20, ('a', 1): 10, ('b', 1): 1}), 0.2, 0)
    assert tiny.stratified_by == 'label'


def test_split_is_reproducible(tmp_path, merged_inputs):
    tbdb, shenzhen, _ = merged_inputs
    for name, seed in (('a', 0), ('b', 0), ('c', 1)):
        convert(tbdb, shenzhen, tmp_path / name, seed=seed)
    meta = {name: (tmp_path / name / 'meta' / 'test.json').read_text() for name in 'abc'}
    assert meta['a'] == meta['b'] != meta['c']
    assert (tmp_path / 'a' / 'meta' / 'train.json').read_bytes() == \
        (tmp_path / 'b' / 'meta' / 'train.json').read_bytes()
    test = load_json(tmp_path / 'a' / 'meta' / 'test.json')['data_list']
    n_tb = sum(item['gt_label'] for item in test)
    assert abs(n_tb - 0.2 * 16) <= 1      # 16 TB images survive dedup (10 + 6)


def test_all_test_writes_only_test_json_and_still_dedups(tmp_path):
    seeds = Seeds(500)
    pakistan = make_pakistan(tmp_path / 'pakistan 256', 4, 6, seeds)
    grey = cv2.imread(str(pakistan / 'TB' / 'TB.1.jpg'), cv2.IMREAD_GRAYSCALE)
    write(pakistan / 'TB' / 'TB.1 (copy).png', grey)
    out = tmp_path / 'external'
    (out / 'meta').mkdir(parents=True)
    (out / 'meta' / 'train.json').write_text('{}')          # stale, from an earlier run
    summary = prepare_tbcxr.convert([f'pakistan:{pakistan}'], out, all_test=True,
                                    progress=False)
    assert sorted(p.name for p in (out / 'meta').iterdir()) == ['test.json']
    assert summary['totals'] == {'read': 11, 'dropped': 1, 'kept': 10, 'test': 10}
    assert len(load_json(out / 'meta' / 'test.json')['data_list']) == 10
    assert not [p for p in out.iterdir() if p.name.startswith('.')]


def test_failed_write_leaves_previous_output_and_nothing_new(tmp_path):
    meta = {'test.json': '{}'}
    fresh = tmp_path / 'fresh'
    with pytest.raises(OSError):
        write_dataset_files(fresh, meta, {'missing-dir/summary.json': '{}'})
    assert not fresh.exists()
    existing = tmp_path / 'existing'
    write_dataset_files(existing, {'train.json': 'old'}, {'summary.json': 'old'})
    with pytest.raises(OSError):
        write_dataset_files(existing, meta, {'missing-dir/summary.json': '{}'})
    assert (existing / 'meta' / 'train.json').read_text() == 'old'
    assert sorted(p.name for p in existing.iterdir()) == ['meta', 'summary.json']


# --------------------------------------------------------------------------- real data
@pytest.mark.slow
@pytest.mark.skipif(not (SHARED_DATA / 'tbdb256').is_dir(),
                    reason='../shared/data/tbdb256 (real X-rays) not present')
def test_real_tbdb256_converts(tmp_path):
    start = time.perf_counter()
    summary = prepare_tbcxr.convert([f'tbdb:{SHARED_DATA / "tbdb256"}'], tmp_path,
                                    progress=False)
    totals = summary['totals']
    assert totals['read'] == 2889
    assert totals['kept'] == 2889 - totals['dropped'] == totals['train'] + totals['test']
    assert abs(totals['test'] - 0.2 * totals['kept']) <= 1
    assert sum(summary['counts']['test']['tuberculosis'].values()) == pytest.approx(
        0.2 * sum(sum(split['tuberculosis'].values()) for split in summary['counts'].values()),
        abs=1)
    print(f'tbdb256: {totals}, duplicates {summary["duplicates"]["counts"]}, '
          f'{time.perf_counter() - start:.1f} s')
