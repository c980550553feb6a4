"""tools/dist_screen.sh: 2 CPU processes (torchrun, gloo) write screen.py's CSV byte for byte;
a crashed shard is named and the run fails; the sharding and merging on their own."""
import csv
import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import REPO, run_tool, synthetic_xray

from mmtb.apis import TBScreener
from mmtb.deployment.sharding import (
    ShardError,
    ShardRun,
    merge_shards,
    shard_assignment,
    shard_csv,
    shard_report,
)
from mmtb.utils import load_config

SMALL = 'configs/efficientnet/efficientnet-b0-fpn_noaug_1xb32-adamw-10e_tbcxr-512px.py'
# kills the rank named by MMTB_TEST_KILL_RANK when it opens the file named by MMTB_TEST_KILL_AT:
# a process dying mid-shard, as an out-of-memory kill would
KILLER = '''import os, signal, sys
if os.environ.get('RANK') == os.environ.get('MMTB_TEST_KILL_RANK'):
    def _kill(event, args):
        if event == 'open' and str(args[0]).endswith(os.environ['MMTB_TEST_KILL_AT']):
            os.kill(os.getpid(), signal.SIGKILL)
    sys.addaudithook(_kill)
'''


@pytest.fixture(scope='module')
def small_checkpoint(tmp_path_factory):
    """Random weights of a 48-px EfficientNet-b0-FPN saved as a work dir holds them."""
    torch.manual_seed(0)
    screener = TBScreener(load_config(str(REPO / SMALL), img_size=48), random_weights=True)
    work_dir = tmp_path_factory.mktemp('small')
    screener.inferencer.config.dump(str(work_dir / 'small.py'))
    torch.save(dict(state_dict=screener.model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=['normal', 'tuberculosis']))),
               work_dir / 'small.pth')
    return work_dir / 'small.py', work_dir / 'small.pth'


@pytest.fixture(scope='module')
def scans(tmp_path_factory):
    """Nine images in two folders (one stem twice), and one unreadable file."""
    rng = np.random.default_rng(5)
    root = tmp_path_factory.mktemp('dist') / 'scans'
    (root / 'ward').mkdir(parents=True)
    names = [f'img-{i:02d}.png' for i in range(6)] + ['ward/x.png', 'ward/x.jpg', 'ward/y.png']
    for i, name in enumerate(names):
        cv2.imwrite(str(root / name), synthetic_xray(rng, 56 + 4 * i, lesion=i % 2 == 0)[0])
    (root / 'ward' / 'broken.png').write_text('not an image')
    return root


def dist_screen(folder, nproc, out, *options, env_extra=None):
    env = {**os.environ, 'PYTHONPATH': str(REPO), 'OMP_NUM_THREADS': '1', **(env_extra or {})}
    return subprocess.run(['bash', 'tools/dist_screen.sh', str(folder), str(nproc), '--out',
                           str(out), *map(str, options)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_two_processes_write_the_single_process_csv(small_checkpoint, scans, tmp_path):
    config, checkpoint = small_checkpoint
    options = ['--config', config, '--checkpoint', checkpoint, '--batch-size', '2']
    single, merged = tmp_path / 'single.csv', tmp_path / 'merged.csv'
    result = run_tool('tools/screen.py', scans, '--out', single, *options)
    assert result.returncode == 0, result.stderr[-3000:]
    result = dist_screen(scans, 2, merged, *options, env_extra=dict(PORT='29631'))
    assert result.returncode == 0, result.stderr[-3000:]
    assert merged.read_bytes() == single.read_bytes()
    assert 'merged 2 shards: 10 rows (9 screened)' in result.stderr
    assert not (tmp_path / 'merged.csv.shards').exists()


@pytest.mark.slow
def test_a_crashed_shard_is_reported(small_checkpoint, scans, tmp_path):
    config, checkpoint = small_checkpoint
    hooks = tmp_path / 'hooks'
    hooks.mkdir()
    (hooks / 'sitecustomize.py').write_text(KILLER)
    out = tmp_path / 'results.csv'
    # shard 1 gets img-01, -03, -05, ward/x.jpg, ward/x.png: it dies at its third image, after
    # two rows; torchrun then stops rank 0 too (finished or not, depending on timing)
    result = dist_screen(scans, 2, out, '--config', small_checkpoint[0], '--checkpoint',
                         checkpoint, '--batch-size', '1', env_extra=dict(
                             PORT='29632', PYTHONPATH=f'{REPO}:{hooks}',
                             MMTB_TEST_KILL_RANK='1', MMTB_TEST_KILL_AT='img-05.png'))
    assert result.returncode != 0
    assert 'shard 1 of 2 did not finish: 2 of its 5 images written' in result.stderr
    assert not out.exists()  # nothing merged, nothing silently short


def files_of(names):
    return [(Path(n), Path('scans') / n) for n in names]


def test_assignment_is_balanced_and_keeps_one_stem_together():
    files = files_of(['a.png', 'b.dcm', 'b.png', 'c.png', 'd/a.png', 'e.png'])
    assert shard_assignment(files, 2) == [0, 1, 1, 0, 1, 0]
    assert shard_assignment(files, 1) == [0] * 6
    assert shard_assignment(files, 9) == [0, 1, 1, 2, 3, 4]  # more ranks than files
    # in blocks of the batch size: each rank screens the batches one process would form
    assert shard_assignment(files, 2, batch_size=2) == [0, 0, 0, 1, 1, 0]  # groups a b | c d/a | e
    assert shard_assignment(files_of([f'{i}.png' for i in range(7)]), 2, batch_size=3) == [
        0, 0, 0, 1, 1, 1, 0]


def write_shard(path, rows, header=('file', 'prob_tb')):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w', newline='') as f:
        csv.writer(f).writerows([header, *rows])


def test_merge_restores_the_order_and_refuses_incomplete_shards(tmp_path):
    files = files_of(['a.png', 'b.png', 'c.png'])
    run0, run1 = (ShardRun(tmp_path / 'out.csv', files, rank, 2) for rank in (0, 1))
    assert [f for f, _ in run0.files] == [Path('a.png'), Path('c.png')]
    write_shard(run0.csv, [['a.png', '0.1'], ['c.png', '0.3']])
    write_shard(run1.partial_csv, [])
    with pytest.raises(ShardError, match='shard 1 of 2 did not finish: 0'):
        merge_shards(run0.assignment, 2, run0.shard_dir, tmp_path / 'out.csv')
    assert not (tmp_path / 'out.csv').exists()
    write_shard(run1.partial_csv, [['b.png', '0.2']])
    run1.publish()
    assert shard_report(run0.shard_dir, 2) == []
    assert run0.merge() == 3 and not run0.shard_dir.exists()
    with open(tmp_path / 'out.csv', newline='') as f:
        assert list(csv.reader(f)) == [['file', 'prob_tb'], ['a.png', '0.1'], ['b.png', '0.2'],
                                       ['c.png', '0.3']]
    # a shard that lost rows is refused too
    write_shard(shard_csv(run0.shard_dir, 0, 2), [['a.png', '0.1']])
    write_shard(shard_csv(run0.shard_dir, 1, 2), [['b.png', '0.2']])
    with pytest.raises(ShardError, match='shard 0 of 2 has 1 rows of its 2 images'):
        merge_shards(run0.assignment, 2, run0.shard_dir, tmp_path / 'again.csv')
