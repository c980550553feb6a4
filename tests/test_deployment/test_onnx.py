"""mmtb.deployment: the ONNX Runtime backend gives PyTorch's P(TB) (to 1e-4) through the same
decoder and test pipeline; tools/screen.py --backend onnxruntime; its refusals."""
import csv

import numpy as np
import pytest
import torch
from conftest import REPO, SHARED_DATA, load_script, requires_shared_data, run_tool, synthetic_xray

from mmtb.apis import DEFAULT_MODEL_DIR, TBScreener
from mmtb.deployment import NO_CAM, OnnxScreener, export_onnx, load_screener, read_metadata
from mmtb.io.decode import decode_xray
from mmtb.utils import load_config

pytest.importorskip('onnxruntime')

# the default's recipe (cue removal, lung crop, FPN) on a small random-weight Lite0
LITE0_ROBUST = ('configs/robust/efficientnet-lite0-in1k-pre-fpn_re-ra-rf-robust_1xb32-adamw-5e_'
                'tbcxr-512px.py')
TOLERANCE = 1e-4
requires_default = pytest.mark.skipif(
    not (DEFAULT_MODEL_DIR / 'model.pth').is_file(), reason='no shipped default model')


pytestmark = pytest.mark.usefixtures('one_thread')  # conftest: one torch thread


def generated_xrays(n=4):
    """Chest-like images of several sizes and one flat and one noise image."""
    rng = np.random.default_rng(7)
    greys = [synthetic_xray(rng, size, lesion=i % 2 == 1)[0]
             for i, size in enumerate((64, 97, 160, 300)[:n])]
    return greys + [np.full((80, 120), 90, np.uint8),
                    rng.integers(0, 256, (130, 110), dtype=np.uint8)]


def real_xrays(n=6):
    paths = sorted((SHARED_DATA / 'pakistan256' / 'TB').iterdir())[:n // 2] + sorted(
        (SHARED_DATA / 'tbdb256' / 'Normal').iterdir())[:n - n // 2]
    return [decode_xray(p).grey for p in paths]


def max_difference(torch_screener, onnx_screener, greys):
    return float(np.max(np.abs(np.subtract(torch_screener.predict_batch(greys),
                                           onnx_screener.predict_batch(greys)))))


@pytest.fixture(scope='module')
def small(tmp_path_factory):
    """A random-weight Lite0-FPN (64 px, the default's test pipeline) and its ONNX export."""
    screener = TBScreener(load_config(str(REPO / LITE0_ROBUST), img_size=64),
                          random_weights=True)
    path = export_onnx(screener, tmp_path_factory.mktemp('onnx') / 'small.onnx')
    return screener, OnnxScreener(path)


@pytest.fixture(scope='module')
def default(tmp_path_factory):
    """The shipped ten-network ensemble, exported once for this module."""
    screener = TBScreener()
    path = export_onnx(screener, tmp_path_factory.mktemp('onnx') / 'default.onnx')
    return screener, OnnxScreener(path)


@pytest.mark.slow
def test_small_model_matches_pytorch_on_generated_xrays(small):
    torch_screener, onnx_screener = small
    assert max_difference(torch_screener, onnx_screener, generated_xrays()) <= TOLERANCE
    # one image and a batch of one give the same answer as in a batch
    grey = generated_xrays(1)[0]
    assert abs(onnx_screener.predict(grey).prob_tb
               - torch_screener.predict(grey).prob_tb) <= TOLERANCE


@pytest.mark.slow
@requires_shared_data
def test_small_model_matches_pytorch_on_real_xrays(small):
    assert max_difference(*small, real_xrays()) <= TOLERANCE


@pytest.mark.slow
@requires_default
def test_default_ensemble_matches_pytorch(default):
    torch_screener, onnx_screener = default
    assert max_difference(torch_screener, onnx_screener, generated_xrays()) <= TOLERANCE
    assert onnx_screener.name == 'default' and onnx_screener.input_size == 128
    # the default's threshold travels with the file (operating_point.json is not beside it)
    assert onnx_screener.threshold == torch_screener.threshold
    assert 'stored at export' in onnx_screener.threshold_source


@pytest.mark.slow
@requires_default
@requires_shared_data
def test_default_ensemble_matches_pytorch_on_real_xrays(default):
    assert max_difference(*default, real_xrays()) <= TOLERANCE


@pytest.mark.slow
def test_metadata_and_interface(small):
    torch_screener, onnx_screener = small
    meta = read_metadata(onnx_screener.onnx_path)
    assert meta['checkpoint'] == 'random' and meta['input_size'] == '64'
    assert onnx_screener.model_warnings == torch_screener.model_warnings  # random weights
    pred = onnx_screener.predict(generated_xrays(1)[0])
    assert pred.decision == onnx_screener.decide(pred.prob_tb) and pred.cam is None
    with pytest.raises(NotImplementedError, match='PyTorch backend'):
        onnx_screener.predict(generated_xrays(1)[0], with_cam=True)
    with pytest.raises(ValueError, match='uint8'):
        onnx_screener.predict(np.zeros((8, 8), np.float32))
    assert onnx_screener.predict_batch([]) == []
    assert 'PyTorch' in NO_CAM


@pytest.mark.slow
def test_load_screener_backends(small):
    cfg = load_config(str(REPO / LITE0_ROBUST), img_size=64)
    assert isinstance(load_screener(cfg, random_weights=True), TBScreener)
    exported = load_screener(cfg, backend='onnxruntime', random_weights=True, threshold=0.3)
    assert isinstance(exported, OnnxScreener) and exported.threshold == 0.3
    from_file = load_screener(backend='onnxruntime', onnx_model=small[1].onnx_path)
    assert from_file.input_size == 64
    with pytest.raises(ValueError, match='backend'):
        load_screener(backend='tensorrt')
    with pytest.raises(ValueError, match='bf16'):
        load_screener(cfg, backend='onnxruntime', random_weights=True, bf16=True)
    with pytest.raises(ValueError, match='own config'):
        load_screener(cfg, backend='onnxruntime', onnx_model=small[1].onnx_path)


@pytest.mark.slow
def test_export_tool(tmp_path):
    """pytorch2onnx.py compares ONNX Runtime with PyTorch itself and says by how much."""
    result = run_tool('tools/deployment/pytorch2onnx.py', LITE0_ROBUST, 'none', '--out',
                      tmp_path / 'model.onnx', '--img-size', '48')
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'max |dP(TB)| vs PyTorch' in result.stderr
    assert read_metadata(tmp_path / 'model.onnx')['input_size'] == '48'


@pytest.fixture(scope='module')
def small_checkpoint(small, tmp_path_factory):
    """The small model's random weights saved as a checkpoint + config, as a work dir holds."""
    torch_screener = small[0]
    work_dir = tmp_path_factory.mktemp('small_work_dir')
    torch_screener.inferencer.config.dump(str(work_dir / 'small.py'))
    torch.save(dict(state_dict=torch_screener.model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=['normal', 'tuberculosis']))),
               work_dir / 'small.pth')
    return work_dir / 'small.py', work_dir / 'small.pth'


@pytest.mark.slow
def test_screen_backends_give_the_same_csv(small_checkpoint, tmp_path):
    import cv2
    config, checkpoint = small_checkpoint
    scans = tmp_path / 'scans'
    scans.mkdir()
    for i, grey in enumerate(generated_xrays()):
        cv2.imwrite(str(scans / f'{i}.png'), grey)
    (scans / 'broken.png').write_text('not an image')
    screen = load_script('tools/screen.py', 'screen_tool')
    tables = {}
    for backend in ('pytorch', 'onnxruntime'):
        out = tmp_path / f'{backend}.csv'
        assert screen.main([str(scans), '--out', str(out), '--config', str(config),
                            '--checkpoint', str(checkpoint), '--batch-size', '3',
                            '--backend', backend]) == 0
        with open(out, newline='') as f:
            tables[backend] = list(csv.DictReader(f))
    torch_rows, onnx_rows = tables['pytorch'], tables['onnxruntime']
    assert [r['file'] for r in onnx_rows] == [r['file'] for r in torch_rows]
    for torch_row, onnx_row in zip(torch_rows, onnx_rows):
        assert onnx_row.keys() == torch_row.keys()
        assert onnx_row['error'] == torch_row['error']
        if not torch_row['error']:
            assert abs(float(onnx_row['prob_tb']) - float(torch_row['prob_tb'])) <= TOLERANCE


def test_screen_refuses_cam_with_onnxruntime(tmp_path, capsys):
    screen = load_script('tools/screen.py', 'screen_tool')
    with pytest.raises(SystemExit):
        screen.parse_args(['x', '--out', 'y.csv', '--backend', 'onnxruntime', '--cam-dir', 'c'])
    assert 'PyTorch backend only' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        screen.parse_args(['x', '--out', 'y.csv', '--onnx', 'm.onnx'])


@pytest.mark.slow
def test_benchmark_measures_onnxruntime(tmp_path):
    from conftest import load_script
    bench = load_script('tools/analysis_tools/benchmark_inference.py', 'bench_inference')
    out = tmp_path / 'bench.json'
    assert bench.main(['--config', str(REPO / LITE0_ROBUST), '--img-size', '48', '--repeats',
                       '1', '--batch-size', '2', '--threads', '1', '--onnxruntime',
                       '--out', str(out)]) == 0
    import json
    run = json.loads(out.read_text())['runs'][0]
    onnx = run['onnxruntime']
    assert onnx['predict_ms'] > 0 and onnx['batched_img_per_s'] > 0
    assert onnx['prob_tb_abs_diff_vs_pytorch'] <= TOLERANCE
    assert onnx['predict_speedup_vs_pytorch'] > 0
