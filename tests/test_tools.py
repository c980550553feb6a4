"""tools/train.py, tools/test.py, --resume and tools/dist_train.sh on tiny generated images."""
import json
import os
import subprocess
from pathlib import Path

import pytest
import torch
from conftest import REPO, load_script, run_tool

CONFIG = 'configs/efficientnet/efficientnet-b0-fpn_re-ra-rf_1xb32-adamw-10e_tbcxr-512px.py'


def tiny_options(data_root, epochs):
    return ['--img-size', '64', '--cfg-options', f'train_cfg.max_epochs={epochs}',
            'train_dataloader.batch_size=8', 'val_dataloader.batch_size=8',
            'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False',
            'val_dataloader.persistent_workers=False',
            f'train_dataloader.dataset.data_root={data_root}',
            f'val_dataloader.dataset.data_root={data_root}',
            f'test_dataloader.dataset.data_root={data_root}']


@pytest.fixture(scope='module')
def trained(tiny_dataset, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('work')
    result = run_tool('tools/train.py', CONFIG, '--work-dir', work_dir,
                      *tiny_options(tiny_dataset, epochs=1))
    assert result.returncode == 0, result.stderr[-3000:]
    return work_dir


@pytest.mark.slow
def test_train_writes_a_checkpoint(trained):
    assert (trained / 'epoch_1.pth').is_file()
    # the checkpoint loads under PyTorch's default weights-only loading once mmtb is imported
    import mmtb  # noqa: F401
    ckpt = torch.load(trained / 'epoch_1.pth', map_location='cpu')
    assert ckpt['meta']['epoch'] == 1
    assert any(k.startswith('neck.fpn') for k in ckpt['state_dict'])


@pytest.mark.slow
def test_test_tool_prints_all_metrics(trained, tiny_dataset, tmp_path):
    out = tmp_path / 'metrics.json'
    result = run_tool('tools/test.py', CONFIG, trained / 'epoch_1.pth', '--work-dir', tmp_path,
                      '--out', out, '--operating-threshold', '0.5',
                      *tiny_options(tiny_dataset, epochs=1))
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads(out.read_text())['metrics']
    for key in ('accuracy', 'precision', 'recall', 'sensitivity', 'specificity', 'f1', 'auc',
                'auc_ci_low', 'auc_ci_high', 'op/sensitivity', 'op/who_target_met'):
        assert f'screening/{key}' in metrics
        assert f'screening/{key}' in result.stdout
    assert metrics['screening/num_samples'] == 8


@pytest.mark.slow
def test_resume_continues_from_the_last_checkpoint(trained, tiny_dataset):
    result = run_tool('tools/train.py', CONFIG, '--work-dir', trained, '--resume',
                      *tiny_options(tiny_dataset, epochs=2))
    # stdout shows how far training got before a failure
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert 'resumed epoch: 1' in log
    assert 'Epoch(train) [1]' not in log  # epoch 1 was not trained again
    assert (trained / 'epoch_2.pth').is_file()


# A hook each rank runs: which images it trained on, and a checksum of its weights at the end.
SEEN_IMAGES_HOOK = """
import json, os
from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class RecordSeenImagesHook(Hook):
    def before_train(self, runner):
        self.images = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.images += [s.img_path for s in data_batch['data_samples']]

    def after_train(self, runner):
        weights = sum(float(p.detach().double().sum()) for p in runner.model.parameters())
        with open(os.path.join(runner.work_dir, f'seen_rank{get_rank()}.json'), 'w') as f:
            json.dump(dict(rank=get_rank(), world_size=get_world_size(), images=self.images,
                           weights=weights), f)
"""


@pytest.mark.slow
def test_dist_train_with_two_cpu_processes(tiny_dataset, tmp_path):
    """Two gloo ranks really train: each sees its half of the images (disjoint, together the
    whole training set) and DDP leaves both with the same weights."""
    (tmp_path / 'seen_images_hook.py').write_text(SEEN_IMAGES_HOOK)
    config = tmp_path / 'recorded.py'
    config.write_text(f"_base_ = ['{REPO / CONFIG}']\n"
                      "custom_imports = dict(imports=['mmtb', 'seen_images_hook'], "
                      "allow_failed_imports=False)\n"
                      "custom_hooks = [dict(type='ChannelsLastHook'), "
                      "dict(type='RecordSeenImagesHook')]\n")
    work_dir = tmp_path / 'work'
    env = dict(os.environ, PYTHONPATH=f'{REPO}:{tmp_path}', OMP_NUM_THREADS='1', PORT='29561')
    result = subprocess.run(
        ['bash', 'tools/dist_train.sh', str(config), '2', '--work-dir', str(work_dir),
         *map(str, tiny_options(tiny_dataset, epochs=1))],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    # stdout shows how far training got before a failure
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert "'backend': 'gloo'" in log
    assert (work_dir / 'epoch_1.pth').is_file()
    ranks = [json.loads((work_dir / f'seen_rank{r}.json').read_text()) for r in (0, 1)]
    assert [(r['rank'], r['world_size']) for r in ranks] == [(0, 2), (1, 2)]
    seen = [set(r['images']) for r in ranks]
    assert all(len(r['images']) == 12 for r in ranks)  # 24 training images, half each
    assert not seen[0] & seen[1]
    train = json.loads((tiny_dataset / 'meta' / 'train.json').read_text())['data_list']
    assert {'/'.join(Path(p).parts[-3:]) for p in seen[0] | seen[1]} == {
        d['img_path'] for d in train}
    assert 'Epoch(train) [1][2/2]' in log  # 12 images per rank at batch size 8
    assert ranks[0]['weights'] == pytest.approx(ranks[1]['weights'], rel=1e-6)


@pytest.mark.slow
def test_dist_test_with_two_cpu_processes(trained, tiny_dataset, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1', PORT='29562')
    out = tmp_path / 'metrics.json'
    result = subprocess.run(
        ['bash', 'tools/dist_test.sh', CONFIG, str(trained / 'epoch_1.pth'), '2',
         '--work-dir', str(tmp_path), '--out', str(out),
         *map(str, tiny_options(tiny_dataset, epochs=1))],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    # every test image is counted once although two processes shared the work
    assert json.loads(out.read_text())['metrics']['screening/num_samples'] == 8


def test_fast_path_switches_set_the_config(tmp_path):
    train_tool = load_script('tools/train.py', 'train_tool')
    plain = train_tool.train_config(train_tool.parse_args(
        [str(REPO / CONFIG), '--work-dir', str(tmp_path)]))
    assert not plain.get('compile')
    assert plain.optim_wrapper.get('type', 'OptimWrapper') == 'OptimWrapper'
    fast = train_tool.train_config(train_tool.parse_args(
        [str(REPO / CONFIG), '--work-dir', str(tmp_path), '--amp', '--compile']))
    assert fast.compile is True
    expected = 'AmpOptimWrapper' if torch.cuda.is_available() else 'CPUAutocastOptimWrapper'
    assert fast.optim_wrapper.type == expected


@pytest.mark.slow
def test_a_tb_only_set_reports_sensitivity_per_kind_without_auc(trained, tmp_path):
    """TBX11K-style TB-only films with lesion boxes: prepare_tbcxr reads the folder and the
    boxes; tools/test.py then reports sensitivity with its CI, overall and per TB kind, and no
    AUC or specificity (there are no normals to compute them on)."""
    import cv2
    import numpy as np
    from conftest import synthetic_xray
    root = tmp_path / 'tbx11k'
    (root / 'TB').mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = ['file,kind,x0,y0,x1,y1']
    for i in range(6):
        img, (cx, cy, r) = synthetic_xray(rng, 64, lesion=True)
        cv2.imwrite(str(root / 'TB' / f'tb{i:04d}.png'), img)
        kind = ('ActiveTuberculosis', 'ObsoletePulmonaryTuberculosis')[i % 2]
        rows.append(f'tb{i:04d}.png,{kind},{cx - r},{cy - r},{cx + r},{cy + r}')
    (root / 'boxes.csv').write_text('\n'.join(rows) + '\n')
    data = tmp_path / 'data'
    result = run_tool('tools/dataset_converters/prepare_tbcxr.py', '--input',
                      f'tbx11k-boxes:{root}', '--out', data, '--all-test')
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / 'metrics.json'
    result = run_tool('tools/test.py', CONFIG, trained / 'epoch_1.pth', '--work-dir', tmp_path,
                      '--out', out, '--operating-threshold', '0.5',
                      *tiny_options(data, epochs=1))
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads(out.read_text())['metrics']
    assert metrics['screening/num_tb'] == metrics['screening/num_samples'] == 6
    for key in ('op/sensitivity', 'op/sensitivity_ci_low', 'op/sensitivity_ci_high',
                'group/active/op/sensitivity', 'group/obsolete/op/sensitivity_ci_high'):
        assert f'screening/{key}' in metrics, sorted(metrics)
    assert metrics['screening/group/active/num_samples'] == 3
    assert not [key for key in metrics if 'auc' in key or 'specificity' in key
                or 'who' in key or 'precision' in key]
    assert 'auc' not in result.stdout
