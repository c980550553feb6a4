"""mmtb.apis: TBScreener (the one inference path), thresholds, Grad-CAM and demo/image_demo.py."""
import io
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import CAM_SIZE, REPO, load_script, synthetic_xray
from PIL import Image

import mmtb.apis.checkpoints as checkpoints
from mmtb.apis import (
    CheckpointLoadError,
    GradCAMExplainer,
    ModelNotFoundError,
    TBScreener,
    backbone_last_stage,
    list_checkpoints,
    overlay_cam,
    read_operating_point,
)
from mmtb.io.decode import XrayDecodeError

EFFNET = 'configs/efficientnet/efficientnet-b0-fpn_noaug_1xb32-adamw-10e_tbcxr-512px.py'
RESNET = 'configs/resnet/resnet50-fpn_noaug_1xb32-adamw-10e_tbcxr-512px.py'


pytestmark = pytest.mark.usefixtures('one_thread')  # conftest: one torch thread


@pytest.fixture(scope='module')
def screener(tiny_checkpoint):
    # config=None: the config mmengine saved in the work dir is found beside the checkpoint
    return TBScreener(checkpoint=tiny_checkpoint.checkpoint)


@pytest.fixture
def model_copy(tiny_checkpoint, tmp_path):
    """The tiny model's config and checkpoint in a private folder (free to add files to)."""
    shutil.copy(tiny_checkpoint.config, tmp_path / tiny_checkpoint.config.name)
    (tmp_path / 'model.pth').symlink_to(tiny_checkpoint.checkpoint)
    return tmp_path


def grey_image(h=80, w=70, seed=0):
    img, _ = synthetic_xray(np.random.default_rng(seed), 64, lesion=True)
    return cv2.resize(img, (w, h))


def png_bytes(arr, mode=None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, format='PNG')
    return buf.getvalue()


# ------------------------------------------------------------------ loading and predicting
def test_screener_loads_a_work_dir_checkpoint(screener, tiny_checkpoint):
    assert screener.name == tiny_checkpoint.config.stem
    assert screener.config_path == tiny_checkpoint.config
    assert screener.input_size == 64  # from the saved config's LoadGreyXray
    assert screener.threshold == 0.5 and screener.threshold_source == 'default 0.5'
    assert screener.card_path is None


def test_predict_gives_a_probability_and_follows_the_threshold(screener, monkeypatch):
    grey = grey_image()
    pred = screener.predict(grey)
    assert 0.0 <= pred.prob_tb <= 1.0 and pred.cam is None and pred.warnings == []
    assert pred.threshold == 0.5
    assert pred.decision == ('tuberculosis' if pred.prob_tb >= 0.5 else 'normal')
    # the threshold decides: at the probability -> TB, just above it -> normal
    monkeypatch.setattr(screener, 'threshold', pred.prob_tb)
    assert screener.predict(grey).decision == 'tuberculosis'
    if pred.prob_tb < 1.0:
        monkeypatch.setattr(screener, 'threshold', float(np.nextafter(pred.prob_tb, 2.0)))
        assert screener.predict(grey).decision == 'normal'


def test_batch_and_cam_paths_give_the_same_probability(screener):
    greys = [grey_image(seed=i) for i in range(3)] + [grey_image(120, 90)]
    batch = screener.predict_batch(greys)
    single = [screener.predict(g).prob_tb for g in greys]
    with_cam = [screener.predict(g, with_cam=True) for g in greys]
    np.testing.assert_allclose(batch, single, atol=1e-5)
    np.testing.assert_allclose([p.prob_tb for p in with_cam], single, atol=1e-5)
    for grey, pred in zip(greys, with_cam):
        assert pred.cam.shape == grey.shape and pred.cam.dtype == np.float32
        assert 0.0 <= pred.cam.min() and pred.cam.max() <= 1.0
    assert screener.predict_batch([]) == []


def test_bf16_predicts_close_to_fp32_and_keeps_grad_cam_in_fp32(tiny_checkpoint, screener):
    fast = TBScreener(checkpoint=tiny_checkpoint.checkpoint, bf16=True)
    assert 'bf16' in repr(fast) and 'bf16' not in repr(screener)
    greys = [grey_image(seed=i) for i in range(3)]
    np.testing.assert_allclose(fast.predict_batch(greys), screener.predict_batch(greys),
                               atol=0.05)  # bf16 keeps 8 bits of mantissa
    cam_fast, cam_fp32 = (s.predict(greys[0], with_cam=True) for s in (fast, screener))
    np.testing.assert_allclose(cam_fast.cam, cam_fp32.cam, atol=1e-5)
    assert cam_fast.prob_tb == pytest.approx(cam_fp32.prob_tb, abs=1e-6)


@pytest.mark.slow
def test_inference_benchmark_compares_baseline_fp32_and_bf16(tmp_path, capsys):
    bench = load_script('tools/analysis_tools/benchmark_inference.py', 'benchmark_inference')
    out = tmp_path / 'inference.json'
    assert bench.main(['--config', str(REPO / EFFNET), '--img-size', '48', '--repeats', '1',
                       '--batch-size', '2', '--threads', '1', '--out', str(out)]) == 0
    (run,) = json.loads(out.read_text())['runs']
    assert run['weights'] == 'random' and run['img_size'] == 48
    for row in (run, run['bf16']):
        assert row['predict_ms'] > 0 and row['file_predict_ms'] > 0
    assert run['baseline_file_predict_ms'] > 0 and run['file_speedup_bf16'] > 0
    assert 0 <= run['bf16_prob_tb_abs_diff'] < 0.5
    table = capsys.readouterr().out
    assert '| fp32 |' in table and '| bf16 |' in table


def test_predict_wants_a_decoded_grey_array(screener):
    with pytest.raises(ValueError, match='uint8 HxW'):
        screener.predict(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match='uint8 HxW'):
        screener.predict(np.zeros((64, 64), np.float32))


def test_predict_source_uses_the_one_decoder(screener, tmp_path):
    ramp = np.tile(np.linspace(1000, 4000, 96, dtype=np.uint16), (80, 1))  # 12 bits of 16
    ok, sixteen = cv2.imencode('.png', ramp)
    assert ok
    pred = screener.predict_source(sixteen.tobytes(), with_cam=True)
    assert 0.0 <= pred.prob_tb <= 1.0 and pred.cam.shape == (80, 96)

    rgba = np.zeros((70, 60, 4), np.uint8)
    rgba[..., :3], rgba[..., 3] = grey_image(70, 60)[..., None], 255
    rgba[:10, :, 3] = 0  # transparent band
    path = tmp_path / 'rgba.png'
    path.write_bytes(png_bytes(rgba, 'RGBA'))
    assert 0.0 <= screener.predict_source(path).prob_tb <= 1.0

    # a colour photograph still gets a prediction, with the decoder's warning first
    photo = np.zeros((64, 64, 3), np.uint8)
    photo[:, :32] = (230, 30, 30)
    photo[:, 32:] = (30, 200, 40)
    assert 'colour photograph' in screener.predict_source(png_bytes(photo)).warnings[0]

    text = tmp_path / 'notes.png'
    text.write_text('not an image')
    for bad in (b'', text, sixteen.tobytes()[:200], tmp_path / 'missing.png'):
        with pytest.raises(XrayDecodeError):
            screener.predict_source(bad)


# ------------------------------------------------------------------ thresholds and model files
def test_read_operating_point_validates(tmp_path):
    path = tmp_path / 'op.json'
    path.write_text(json.dumps({'threshold': 0.31, 'target_sensitivity': 0.9, 'chosen_on': 'x'}))
    assert read_operating_point(path)['threshold'] == 0.31
    for bad in ({'threshold': 1.5}, {'threshold': -0.1}, {'threshold': 'high'},
                {'threshold': True}, {'sensitivity': 0.9}, [0.3]):
        path.write_text(json.dumps(bad))
        with pytest.raises(ValueError, match='threshold'):
            read_operating_point(path)
    path.write_text('{not json')
    with pytest.raises(ValueError, match='operating-point'):
        read_operating_point(path)
    with pytest.raises(FileNotFoundError):
        read_operating_point(tmp_path / 'none.json')


def test_threshold_sources(model_copy):
    ckpt = model_copy / 'model.pth'
    calib = model_copy / 'local.json'
    calib.write_text(json.dumps({'threshold': 0.2, 'target_sensitivity': 0.9}))
    s = TBScreener(checkpoint=ckpt, threshold=str(calib))
    assert (s.threshold, s.threshold_source) == (0.2, 'calibration: local.json')
    pred = s.predict(grey_image())
    assert pred.threshold == 0.2
    assert pred.decision == ('tuberculosis' if pred.prob_tb >= 0.2 else 'normal')

    s = TBScreener(checkpoint=ckpt, threshold='0.7')
    assert (s.threshold, s.threshold_source) == (0.7, 'given 0.7')
    with pytest.raises(ValueError, match='between 0 and 1'):
        TBScreener(checkpoint=ckpt, threshold=2.0)
    with pytest.raises(FileNotFoundError, match='neither a number'):
        TBScreener(checkpoint=ckpt, threshold='calib.json')

    # operating_point.json beside the checkpoint is the default
    (model_copy / 'operating_point.json').write_text(json.dumps({'threshold': 0.42}))
    s = TBScreener(checkpoint=ckpt)
    assert s.threshold == 0.42 and s.threshold_source.endswith('operating_point.json')


@pytest.mark.slow
def test_default_model(model_copy, tmp_path_factory, monkeypatch):
    missing = tmp_path_factory.mktemp('empty') / 'default'
    monkeypatch.delenv(checkpoints.MODEL_ENV, raising=False)
    monkeypatch.setattr(checkpoints, 'DEFAULT_MODEL_DIR', missing)
    with pytest.raises(ModelNotFoundError, match='no default model shipped.*--checkpoint'):
        TBScreener()
    assert list_checkpoints(missing) == []

    # the shipped layout: config.py, model.pth, operating_point.json, model_card.md
    next(model_copy.glob('*.py')).rename(model_copy / 'config.py')
    (model_copy / 'operating_point.json').write_text(json.dumps({'threshold': 0.35}))
    (model_copy / 'model_card.md').write_text('# tiny\n')
    monkeypatch.setattr(checkpoints, 'DEFAULT_MODEL_DIR', model_copy)
    s = TBScreener()
    assert s.name == 'default' and s.threshold == 0.35
    assert s.card_path == model_copy / 'model_card.md'
    assert list_checkpoints(missing)[0] == dict(
        name='default', config=str(model_copy / 'config.py'),
        checkpoint=str(model_copy / 'model.pth'))


def test_the_default_model_can_be_named_by_the_environment(model_copy, tmp_path_factory,
                                                          monkeypatch):
    """MMTB_DEFAULT_MODEL (a folder with config.py + model.pth) wins over the shipped copy; a
    folder without them is a clear error naming the variable, never the shipped model."""
    next(model_copy.glob('*.py')).rename(model_copy / 'config.py')
    # no models shipped beside the default here
    monkeypatch.setattr(checkpoints, 'DEFAULT_MODEL_DIR',
                        tmp_path_factory.mktemp('no_shipped') / 'default')
    monkeypatch.setenv(checkpoints.MODEL_ENV, str(model_copy))
    s = TBScreener()
    assert s.name == 'default' and s.checkpoint_path == model_copy / 'model.pth'
    assert list_checkpoints(tmp_path_factory.mktemp('none'))[0]['config'] == str(
        model_copy / 'config.py')
    empty = tmp_path_factory.mktemp('empty')
    monkeypatch.setenv(checkpoints.MODEL_ENV, str(empty))
    with pytest.raises(ModelNotFoundError, match=f'--checkpoint.*MMTB_DEFAULT_MODEL={empty}'):
        TBScreener()
    assert list_checkpoints(empty) == []


def test_the_shipped_default_is_found_without_the_repository_layout(tmp_path, monkeypatch):
    """A wheel ships the default as package data (mmtb/.mim/checkpoints/default, copied by
    setup.py): found there first, so a non-editable install works from any directory."""
    packaged = tmp_path / '.mim' / 'checkpoints' / 'default'
    packaged.mkdir(parents=True)
    (packaged / 'model.pth').write_bytes(b'')
    monkeypatch.setattr(checkpoints, 'PACKAGE_MODEL_DIR', packaged)
    assert checkpoints._shipped_model_dir() == packaged
    monkeypatch.setattr(checkpoints, 'PACKAGE_MODEL_DIR', tmp_path / 'not_built')
    assert checkpoints._shipped_model_dir() == REPO / 'checkpoints' / 'default'  # source tree


@pytest.mark.slow
def test_the_shipped_default_model_loads_and_screens():
    """The committed checkpoints/default: weights-only loading, its own threshold, a P(TB) and
    a Grad-CAM map for a generated image (what the app does first)."""
    shipped = REPO / 'checkpoints' / 'default'
    s = TBScreener()
    assert s.name == 'default' and s.card_path == shipped / 'model_card.md'
    assert s.threshold == read_operating_point(shipped / 'operating_point.json')['threshold']
    grey, _ = synthetic_xray(np.random.default_rng(5), 256, lesion=True)
    pred = s.predict(grey, with_cam=True)
    assert 0 <= pred.prob_tb <= 1 and pred.cam.shape == grey.shape
    assert pred.prob_tb == pytest.approx(s.predict(grey).prob_tb, abs=1e-4)


def test_model_errors_are_clear(tiny_checkpoint, tmp_path):
    with pytest.raises(ModelNotFoundError, match='checkpoint not found'):
        TBScreener(checkpoint=tmp_path / 'none.pth')
    (tmp_path / 'x.pth').symlink_to(tiny_checkpoint.checkpoint)
    with pytest.raises(ModelNotFoundError, match='no config'):
        TBScreener(checkpoint=tmp_path / 'x.pth')
    with pytest.raises(ModelNotFoundError, match='pass --checkpoint'):
        TBScreener(config=EFFNET)
    with pytest.raises(ValueError, match='does not fit the config'):
        TBScreener(config=RESNET, checkpoint=tiny_checkpoint.checkpoint)


@pytest.mark.parametrize('content', [b'not a checkpoint', b'PK\x03\x04truncated zip'])
def test_unreadable_checkpoint_is_a_clear_error_not_unsafe_advice(tmp_path, content):
    bad = tmp_path / 'bad.pth'
    bad.write_bytes(content)
    with pytest.raises(CheckpointLoadError, match='not a readable mmengine checkpoint') as e:
        TBScreener(config=EFFNET, checkpoint=bad)
    assert 'weights_only' not in str(e.value)


def test_checkpoint_with_a_disallowed_object_is_refused(tmp_path):
    bad = tmp_path / 'pickled.pth'
    torch.save({'state_dict': {}, 'payload': Path('.')}, bad)  # not on the allow-list
    with pytest.raises(CheckpointLoadError):
        TBScreener(config=EFFNET, checkpoint=bad)


def test_random_weights_are_flagged():
    from mmtb.utils import load_config
    s = TBScreener(config=load_config(str(REPO / EFFNET), img_size=48), random_weights=True)
    assert s.input_size == 48 and s.name == Path(EFFNET).stem
    assert 'random weights' in s.predict(grey_image()).warnings[0]


def test_list_checkpoints_prefers_best_then_latest(tmp_path):
    runs = tmp_path / 'work_dirs'
    for name, files in {'a_run': ['cfg_a.py', 'epoch_2.pth', 'epoch_10.pth'],
                        'b_run': ['cfg_b.py', 'epoch_3.pth', 'best_auc_epoch_2.pth'],
                        'c_run': ['cfg_c.py', 'epoch_1.pth', 'epoch_2.pth', 'last_checkpoint'],
                        'no_config': ['epoch_1.pth'], 'no_weights': ['cfg.py']}.items():
        (runs / name).mkdir(parents=True)
        for f in files:
            (runs / name / f).write_text('')
    (runs / 'c_run' / 'last_checkpoint').write_text(str(runs / 'c_run' / 'epoch_1.pth'))
    found = {m['name']: m for m in list_checkpoints(runs)}
    assert {'a_run', 'b_run', 'c_run'} <= set(found)
    assert not {'no_config', 'no_weights'} & set(found)
    assert found['a_run']['checkpoint'].endswith('epoch_10.pth')
    assert found['a_run']['config'].endswith('cfg_a.py')
    assert found['b_run']['checkpoint'].endswith('best_auc_epoch_2.pth')
    assert found['c_run']['checkpoint'].endswith('epoch_1.pth')


def test_a_published_model_folder_is_named_by_the_folder(model_copy, tmp_path_factory):
    """A model published as FOLDER/config.py + FOLDER/model.pth (e.g. checkpoints/distilled)
    reports FOLDER as its name in CSV rows, reports and the app, not 'config'."""
    folder = tmp_path_factory.mktemp('shipped') / 'distilled'
    folder.mkdir()
    next(model_copy.glob('*.py')).rename(folder / 'config.py')
    (model_copy / 'model.pth').rename(folder / 'model.pth')
    assert TBScreener(checkpoint=folder / 'model.pth').name == 'distilled'


def test_list_checkpoints_lists_the_models_shipped_beside_the_default(tmp_path, monkeypatch):
    shipped = tmp_path / 'checkpoints'
    for name, files in {'default': ['config.py', 'model.pth'],
                        'distilled': ['config.py', 'model.pth'],
                        'pretrained': ['lite0.pth']}.items():  # weights without a config
        (shipped / name).mkdir(parents=True)
        for f in files:
            (shipped / name / f).write_text('')
    monkeypatch.delenv(checkpoints.MODEL_ENV, raising=False)
    monkeypatch.setattr(checkpoints, 'DEFAULT_MODEL_DIR', shipped / 'default')
    found = list_checkpoints(tmp_path / 'no_work_dirs')
    assert [m['name'] for m in found] == ['default', 'distilled']
    assert found[1]['checkpoint'] == str(shipped / 'distilled' / 'model.pth')


def test_overlay_cam():
    grey = grey_image(50, 40)
    cam = np.zeros(grey.shape, np.float32)
    cam[10:20, 10:20] = 1.0
    out = overlay_cam(grey, cam)
    assert out.shape == (50, 40, 3) and out.dtype == np.uint8
    # red (hot) where the CAM is high, blue-ish (cold) elsewhere
    assert out[15, 15, 0] > out[15, 15, 2] and out[40, 30, 2] >= out[40, 30, 0]
    with pytest.raises(ValueError):
        overlay_cam(grey, cam[:10])


# ------------------------------------------------------------------ Grad-CAM points at the lesion
def cam_peak_on_lesion(cam, spot, margin=1.5) -> bool:
    y, x = np.unravel_index(np.argmax(cam), cam.shape)
    cx, cy, r = spot
    return bool(np.hypot(x - cx, y - cy) <= margin * r)


def test_grad_cam_peak_falls_on_the_lesion(lesion_screener):
    """The CAM is checked, not only drawn: on held-out images with one lesion its peak lies
    on the lesion; the backbone's last stage (stride 32), the alternative target, cannot."""
    screener, rng = lesion_screener.screener, lesion_screener.rng()
    last_stage = GradCAMExplainer(screener.model, backbone_last_stage(screener.model),
                                  screener.tb_index)
    correct, fpn_hits, stage_hits, n_lesion = 0, 0, 0, 0
    for i in range(30):
        img, spot = synthetic_xray(rng, CAM_SIZE, lesion=bool(i % 2))
        pred = screener.predict(img, with_cam=True)
        correct += pred.decision == ('tuberculosis' if spot else 'normal')
        if spot is None:
            continue
        n_lesion += 1
        fpn_hits += cam_peak_on_lesion(pred.cam, spot)
        inputs = screener.model.data_preprocessor(screener._batch([img]), False)['inputs']
        stage_hits += cam_peak_on_lesion(last_stage(inputs, img.shape)[1], spot)
    assert correct >= 27, f'the lesion model is not accurate enough ({correct}/30)'
    assert fpn_hits >= 0.8 * n_lesion, f'CAM peak on the lesion in {fpn_hits}/{n_lesion}'
    assert stage_hits < fpn_hits


# ------------------------------------------------------------------ demo/image_demo.py
def load_demo():
    return load_script('demo/image_demo.py', 'image_demo')


def test_image_demo_prints_json_and_writes_the_overlay(tiny_checkpoint, tmp_path, capsys):
    image = tmp_path / 'xray.png'
    cv2.imwrite(str(image), grey_image(90, 72))
    out = tmp_path / 'cams' / 'cam.png'
    assert load_demo().main([str(image), '--checkpoint', str(tiny_checkpoint.checkpoint),
                             '--threshold', '0.3', '--out', str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)  # stdout holds the JSON and nothing else
    assert set(printed) >= {'file', 'prob_tb', 'decision', 'threshold', 'threshold_source',
                            'model', 'warnings'}
    assert 0 <= printed['prob_tb'] <= 1 and printed['threshold'] == 0.3
    assert printed['decision'] == ('tuberculosis' if printed['prob_tb'] >= 0.3 else 'normal')
    assert printed['model'] == tiny_checkpoint.config.stem
    assert printed['threshold_source'] == 'given 0.3'
    overlay = np.asarray(Image.open(out))
    assert overlay.shape == (90, 72, 3) and overlay.dtype == np.uint8


def test_image_demo_bad_image_exits_2(tiny_checkpoint, tmp_path, capsys):
    demo = load_demo()
    text = tmp_path / 'report.png'
    text.write_text('this is a report, not an image')
    for bad in (text, tmp_path / 'missing.png'):
        assert demo.main([str(bad), '--checkpoint', str(tiny_checkpoint.checkpoint)]) == 2
        captured = capsys.readouterr()
        assert captured.out == ''
        assert captured.err.startswith('error: ') and captured.err.count('\n') == 1
    image = tmp_path / 'ok.png'
    cv2.imwrite(str(image), grey_image())
    assert demo.main([str(image), '--out', str(image),
                      '--checkpoint', str(tiny_checkpoint.checkpoint)]) == 2
    assert 'overwrite' in capsys.readouterr().err
