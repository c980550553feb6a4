"""External evaluation as a setup: val split, leave-one-source-out, val-chosen thresholds.

Covers prepare_tbcxr.py --val-ratio / --hold-out-source, the tbdb-val-to-pakistan config and
tools/run_ablation.py --threshold-split val, on small generated images in real layouts.
"""
import json
from pathlib import Path

import cv2
import pytest
from conftest import REPO, run_tool
from mmengine.config import Config
from test_prepare_tbcxr import (
    Seeds,
    make_pakistan,
    make_shenzhen,
    make_tbdb,
    prepare_tbcxr,
    resized_jpeg,
    write,
)

from mmtb.utils import load_config

CONFIG = ('configs/efficientnet/'
          'efficientnet-b0-fpn_re-ra-rf_1xb32-adamw-10e_tbdb-val-to-pakistan-512px.py')
SPLITS = ('train', 'val', 'test')


def data_list(out: Path, split: str) -> list[dict]:
    return json.loads((out / 'meta' / f'{split}.json').read_text())['data_list']


def paths(out: Path, split: str) -> set[str]:
    return {str((out / item['img_path']).resolve()) for item in data_list(out, split)}


# --------------------------------------------------------------------------- --val-ratio
@pytest.fixture(scope='module')
def two_sources(tmp_path_factory):
    root = tmp_path_factory.mktemp('val_split')
    seeds = Seeds(700)
    return (make_tbdb(root / 'tbdb', 20, 10, seeds),
            make_shenzhen(root / 'ChinaSet_AllFiles', [0] * 6 + [1] * 6, seeds))


@pytest.mark.slow
def test_val_ratio_gives_stratified_reproducible_three_way_split(tmp_path, two_sources):
    tbdb, shenzhen = two_sources
    inputs = ['--input', f'tbdb:{tbdb}', '--input', f'shenzhen:{shenzhen}']
    for name, extra in (('a', ['--val-ratio', '0.1']), ('b', ['--val-ratio', '0.1']),
                        ('c', ['--val-ratio', '0.1', '--seed', '1']), ('plain', [])):
        assert prepare_tbcxr.main([*inputs, '--out', str(tmp_path / name), *extra]) == 0
    a, plain = tmp_path / 'a', tmp_path / 'plain'

    assert sorted(p.name for p in (a / 'meta').iterdir()) == ['test.json', 'train.json',
                                                              'val.json']
    parts = {split: paths(a, split) for split in SPLITS}
    assert not (parts['train'] & parts['val'] or parts['train'] & parts['test']
                or parts['val'] & parts['test'])
    summary = json.loads((a / 'summary.json').read_text())
    kept = summary['totals']['kept']
    assert sum(len(p) for p in parts.values()) == kept == 42
    assert {split: summary['totals'][split] for split in SPLITS} == {
        split: len(p) for split, p in parts.items()}
    assert list(summary['counts']) == list(SPLITS) and summary['val_ratio'] == 0.1
    assert abs(len(parts['val']) - 0.1 * kept) <= 1 and abs(len(parts['test']) - 0.2 * kept) <= 1
    for (source, label), n in {('tbdb', 0): 20, ('tbdb', 1): 10, ('shenzhen', 0): 6,
                               ('shenzhen', 1): 6}.items():
        in_val = sum(item['source'] == source and item['gt_label'] == label
                     for item in data_list(a, 'val'))
        assert abs(in_val - 0.1 * n) <= 1, (source, label)   # stratified by label x source

    # reproducible, seed-dependent, and the test split is the one a plain 80:20 run gives
    for split in SPLITS:
        assert (a / 'meta' / f'{split}.json').read_bytes() == \
            (tmp_path / 'b' / 'meta' / f'{split}.json').read_bytes()
    assert (a / 'meta' / 'val.json').read_bytes() != (tmp_path / 'c' / 'meta' / 'val.json'
                                                       ).read_bytes()
    assert (a / 'meta' / 'test.json').read_bytes() == (plain / 'meta' / 'test.json').read_bytes()
    assert paths(a, 'train') | paths(a, 'val') == paths(plain, 'train')
    plain_summary = json.loads((plain / 'summary.json').read_text())
    assert 'val_ratio' not in plain_summary and 'val' not in plain_summary['counts']


# --------------------------------------------------------------------------- --hold-out-source
def test_hold_out_source_is_whole_in_test_and_its_twins_leave_training(tmp_path):
    seeds = Seeds(800)
    tbdb = make_tbdb(tmp_path / 'tbdb', 10, 6, seeds)
    pakistan = make_pakistan(tmp_path / 'pakistan', 4, 4, seeds)
    # twins of held-out images planted in the training source: one larger (the plain
    # keep-the-largest rule would keep it and drop the held-out original), one re-encoded
    tb_1 = cv2.imread(str(pakistan / 'TB' / 'TB.1.jpg'), cv2.IMREAD_GRAYSCALE)
    larger = write(tbdb / 'Tuberculosis' / 'Tuberculosis-99.png',
                   cv2.resize(tb_1, None, fx=1.25, fy=1.25, interpolation=cv2.INTER_LINEAR))
    normal_1 = cv2.imread(str(pakistan / 'Normal' / 'others (1).jpg'), cv2.IMREAD_GRAYSCALE)
    smaller = write(tbdb / 'Normal' / 'Normal-99.jpg', resized_jpeg(normal_1))
    out = tmp_path / 'loso'
    assert prepare_tbcxr.main(['--input', f'tbdb:{tbdb}', '--input', f'pakistan:{pakistan}',
                               '--out', str(out), '--hold-out-source', 'pakistan',
                               '--val-ratio', '0.25', '--test-ratio', '0.9']) == 0

    held_out = {str(p.resolve()) for p in pakistan.rglob('*.jpg')}
    assert paths(out, 'test') == held_out                    # all of it, nothing else
    training = paths(out, 'train') | paths(out, 'val')
    assert not training & held_out
    assert not training & {str(larger.resolve()), str(smaller.resolve())}
    assert {item['source'] for split in ('train', 'val') for item in data_list(out, split)} == {
        'tbdb'}
    assert paths(out, 'val') and len(training) == 16        # 10 + 6 tbdb, the twins dropped
    summary = json.loads((out / 'summary.json').read_text())
    assert (summary['hold_out_source'], summary['test_ratio']) == ('pakistan', None)
    kept_for = {Path(row['dropped']).name: row['kept'] for row in summary['duplicates']['dropped']}
    assert kept_for == {larger.name: str((pakistan / 'TB' / 'TB.1.jpg').resolve()),
                        smaller.name: str((pakistan / 'Normal' / 'others (1).jpg').resolve())}


@pytest.mark.parametrize('extra, message', [
    (['--hold-out-source', 'shenzhen'], "'shenzhen' is not among the sources read"),
    (['--hold-out-source', 'pakistan', '--only-pakistan'], 'leaves no training images'),
    (['--val-ratio', '1.5'], '--val-ratio must be between'),
    (['--val-ratio', '0.5', '--test-ratio', '0.5'], 'leave no training images'),
    (['--val-ratio', '0.1', '--all-test'], 'cannot be combined'),
])
def test_user_errors_exit_2_and_write_nothing(tmp_path, capsys, extra, message):
    seeds = Seeds(900)
    inputs = ['--input', f'pakistan:{make_pakistan(tmp_path / "pakistan", 2, 2, seeds)}']
    if '--only-pakistan' in extra:
        extra = [arg for arg in extra if arg != '--only-pakistan']
    else:
        inputs += ['--input', f'tbdb:{make_tbdb(tmp_path / "tbdb", 2, 2, seeds)}']
    out = tmp_path / 'out'
    assert prepare_tbcxr.main([*inputs, '--out', str(out), *extra]) == 2
    stderr = capsys.readouterr().err
    assert message in stderr and len(stderr.strip().splitlines()) == 1
    assert not out.exists()


# --------------------------------------------------------------------------- config
def test_external_config_validates_on_val_and_tests_externally():
    cfg = Config.fromfile(str(REPO / CONFIG))
    train, val, test = (cfg[f'{split}_dataloader'].dataset for split in ('train', 'val', 'test'))
    assert (train.data_root, train.ann_file) == ('data/tbdb_val', 'meta/train.json')
    assert (val.data_root, val.ann_file) == ('data/tbdb_val', 'meta/val.json')
    assert (test.data_root, test.ann_file) == ('data/pakistan256', 'meta/test.json')
    assert [step['type'] for step in train.pipeline] == [
        'LoadGreyXray', 'RandAugment', 'RandomFlip', 'RandomErasing', 'PackInputs']
    assert [step['type'] for step in test.pipeline] == ['LoadGreyXray', 'PackInputs']
    assert cfg.test_dataloader.sampler.shuffle is False and cfg.test_dataloader.batch_size == 32
    sized = load_config(str(REPO / CONFIG), img_size=224)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert sized[key].dataset.pipeline[0].size == 224
    assert sized.work_dir.endswith('tbdb-val-to-pakistan-224px')


# --------------------------------------------------------------------------- runner
@pytest.mark.slow
def test_run_ablation_takes_the_threshold_from_val(tmp_path, tiny_dataset):
    seeds = Seeds(1000)
    training, external = tmp_path / 'tbdb_val', tmp_path / 'pakistan_ext'
    assert prepare_tbcxr.main(['--input', f'tbdb:{make_tbdb(tmp_path / "tbdb", 8, 8, seeds)}',
                               '--out', str(training), '--test-ratio', '0.25',
                               '--val-ratio', '0.25']) == 0
    assert prepare_tbcxr.main(['--input', f'pakistan:{make_pakistan(tmp_path / "pk", 3, 3, seeds)}',
                               '--out', str(external), '--all-test']) == 0
    results, work = tmp_path / 'results', tmp_path / 'work'
    result = run_tool(
        'tools/run_ablation.py', CONFIG, '--img-size', '64', '--threshold-split', 'val',
        '--results-dir', results, '--work-root', work, '--external', f'tiny={tiny_dataset}',
        '--train-args', '--cfg-options', 'train_cfg.max_epochs=1',
        'train_dataloader.batch_size=8', 'val_dataloader.batch_size=8',
        'test_dataloader.batch_size=8', 'train_dataloader.num_workers=0',
        'val_dataloader.num_workers=0', 'test_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'val_dataloader.persistent_workers=False',
        'test_dataloader.persistent_workers=False',
        f'train_dataloader.dataset.data_root={training}',
        f'val_dataloader.dataset.data_root={training}',
        f'test_dataloader.dataset.data_root={external}', timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = results / 'efficientnet-b0-fpn_re-ra-rf_1xb32-adamw-10e_tbdb-val-to-pakistan-64px'
    record = json.loads((run_dir / 'metrics.json').read_text())
    assert record['status'] == 'ok' and record['threshold_split'] == 'val'
    metrics = record['metrics']
    assert list(metrics) == ['val', 'internal', 'tiny']
    # each result was computed on the set it names
    assert metrics['val']['screening/num_samples'] == len(data_list(training, 'val'))
    assert metrics['internal']['screening/num_samples'] == len(data_list(external, 'test'))
    assert metrics['tiny']['screening/num_samples'] == len(data_list(tiny_dataset, 'test'))
    threshold = metrics['val']['screening/thr_sens90']
    for name in ('internal', 'tiny'):
        assert metrics[name]['screening/op/threshold'] == threshold, name
    table = (results / 'table.md').read_text()
    assert 'Threshold from' in table and f'val ({threshold:.3f})' in table
    assert 'tiny AUC (95% CI)' in table and 'val AUC' not in table
