"""Seed ensembles: SeedEnsembleClassifier, make_seed_ensemble.py and the inference path."""
import json

import numpy as np
import pytest
import torch
from conftest import load_script, run_tool, synthetic_xray

from mmtb.apis import TBScreener, default_target_layers


@pytest.fixture(scope='module')
def members(tiny_checkpoint, tmp_path_factory):
    """The tiny checkpoint and a second 'seed' of it (head weights shifted)."""
    second = tmp_path_factory.mktemp('second_seed') / 'epoch_2.pth'
    ckpt = torch.load(tiny_checkpoint.checkpoint, map_location='cpu')
    for key, value in ckpt['state_dict'].items():
        if key.startswith('head.') and value.is_floating_point():
            value.add_(0.5 * torch.randn_like(value, generator=torch.Generator().manual_seed(1)))
    torch.save(ckpt, second)
    return [tiny_checkpoint.checkpoint, second]


@pytest.fixture(scope='module')
def ensemble(tiny_checkpoint, members, tmp_path_factory):
    out = tmp_path_factory.mktemp('ensemble')
    tool = load_script('tools/model_converters/make_seed_ensemble.py', 'make_seed_ensemble')
    assert tool.main([str(tiny_checkpoint.config), *map(str, members), '--out', str(out)]) == 0
    (config,) = out.glob('*_seed-ensemble2.py')
    return TBScreener(config=config, checkpoint=out / 'seed_ensemble.pth')


def test_ensemble_is_evaluated_by_tools_test(ensemble, tiny_dataset, tmp_path):
    out = tmp_path / 'metrics.json'
    result = run_tool('tools/test.py', ensemble.config_path, ensemble.checkpoint_path,
                      '--work-dir', tmp_path, '--out', out, '--img-size', '64',
                      '--data-root', tiny_dataset, '--cfg-options',
                      'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False')
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(out.read_text())['metrics']['screening/num_samples'] == 8


def test_ensemble_predicts_the_mean_of_its_members(tiny_checkpoint, members, ensemble):
    grey, _ = synthetic_xray(np.random.default_rng(3), 64, lesion=True)
    singles = [TBScreener(config=tiny_checkpoint.config, checkpoint=c).predict(grey).prob_tb
               for c in members]
    assert singles[0] != pytest.approx(singles[1], abs=1e-4)  # the members really differ
    assert ensemble.predict(grey).prob_tb == pytest.approx(np.mean(singles), abs=1e-5)
    assert ensemble.predict_batch([grey, grey]) == pytest.approx([np.mean(singles)] * 2,
                                                                 abs=1e-5)


def test_ensemble_grad_cam_averages_one_map_per_member(ensemble):
    assert len(default_target_layers(ensemble.model)) == 2
    grey, _ = synthetic_xray(np.random.default_rng(4), 64, lesion=True)
    plain, with_cam = ensemble.predict(grey), ensemble.predict(grey, with_cam=True)
    assert with_cam.prob_tb == pytest.approx(plain.prob_tb, abs=1e-5)
    assert with_cam.cam.shape == grey.shape and 0 <= with_cam.cam.min() <= with_cam.cam.max() <= 1


def test_ensemble_is_not_trained_as_one_model(ensemble):
    with pytest.raises(RuntimeError, match='make_seed_ensemble'):
        ensemble.model(torch.zeros(1, 3, 64, 64), mode='loss')


def test_members_of_different_architectures_are_refused(tiny_checkpoint, tmp_path, capsys):
    other = tmp_path / 'other.pth'
    ckpt = torch.load(tiny_checkpoint.checkpoint, map_location='cpu')
    ckpt['state_dict'].pop(next(iter(ckpt['state_dict'])))
    torch.save(ckpt, other)
    tool = load_script('tools/model_converters/make_seed_ensemble.py', 'make_seed_ensemble')
    assert tool.main([str(tiny_checkpoint.config), str(tiny_checkpoint.checkpoint), str(other),
                      '--out', str(tmp_path / 'out')]) == 2
    assert 'does not have the architecture' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.main([str(tiny_checkpoint.config), str(other), '--out', str(tmp_path / 'out')])


def test_int8_weights_load_and_predict_like_the_float_ones(ensemble, tmp_path):
    from mmtb.utils.compact_weights import quantize_weights
    ckpt = torch.load(ensemble.checkpoint_path, map_location='cpu')
    compact = tmp_path / 'model_int8.pth'
    torch.save(dict(state_dict=quantize_weights(ckpt['state_dict']), meta=ckpt['meta']), compact)
    assert torch.load(compact, map_location='cpu', weights_only=True)  # loads weights-only
    int8 = TBScreener(config=ensemble.config_path, checkpoint=compact)
    assert all(p.dtype == torch.float32 for p in int8.model.parameters())
    grey, _ = synthetic_xray(np.random.default_rng(7), 64, lesion=True)
    assert int8.predict(grey).prob_tb == pytest.approx(ensemble.predict(grey).prob_tb, abs=0.02)


def test_int8_round_trip_is_within_half_a_step_per_channel():
    from mmtb.utils.compact_weights import SCALE_SUFFIX, dequantize_on_load, quantize_weights
    weight = torch.randn(8, 4, 3, 3, generator=torch.Generator().manual_seed(0))
    weight[3] = 0  # a dead channel must not divide by zero
    packed = quantize_weights({'m.conv.weight': weight, 'm.bn.bias': torch.ones(8),
                               'm.bn.num_batches_tracked': torch.tensor(5)})
    assert packed['m.conv.weight'].dtype == torch.int8
    assert packed['m.bn.bias'].dtype == torch.float16
    dequantize_on_load(None, packed, 'm.')
    assert 'm.conv.weight' + SCALE_SUFFIX not in packed
    step = weight.abs().flatten(1).amax(1).clamp_min(1e-12) / 127
    assert ((packed['m.conv.weight'] - weight).abs() <= step.view(-1, 1, 1, 1) / 2 + 1e-7).all()
    assert packed['m.bn.num_batches_tracked'] == 5
