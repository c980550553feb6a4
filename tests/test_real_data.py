"""Short real training on ../shared/data/tbdb256 (skipped when the real X-rays are absent)."""
import json

import pytest
from conftest import SHARED_DATA, requires_shared_data, run_tool

CONFIG = 'configs/efficientnet/efficientnet-b0-fpn_noaug_1xb32-adamw-10e_tbcxr-512px.py'


@pytest.mark.slow
@requires_shared_data
def test_short_real_training_beats_chance(tmp_path):
    data = tmp_path / 'tbcxr'
    convert = run_tool('tools/dataset_converters/prepare_tbcxr.py',
                       '--input', f'tbdb:{SHARED_DATA / "tbdb256"}', '--out', data)
    assert convert.returncode == 0, convert.stderr
    # 2 epochs at 96 px, batch 32: ~145 iterations, about a minute on 2 cores
    options = ['--img-size', '96', '--cfg-options', 'train_cfg.max_epochs=2',
               'train_cfg.val_interval=100', 'param_scheduler.0.T_max=2',
               'param_scheduler.0.end=2', 'train_dataloader.num_workers=1',
               'val_dataloader.num_workers=1',
               f'train_dataloader.dataset.data_root={data}',
               f'val_dataloader.dataset.data_root={data}',
               f'test_dataloader.dataset.data_root={data}']
    work = tmp_path / 'work'
    train = run_tool('tools/train.py', CONFIG, '--work-dir', work, *options, timeout=900)
    assert train.returncode == 0, train.stderr[-3000:]
    out = tmp_path / 'metrics.json'
    test = run_tool('tools/test.py', CONFIG, work / 'epoch_2.pth', '--work-dir', work,
                    '--out', out, *options, timeout=600)
    assert test.returncode == 0, test.stderr[-3000:]
    metrics = json.loads(out.read_text())['metrics']
    assert metrics['screening/num_samples'] == 578
    assert metrics['screening/auc'] > 0.8
