"""tools/screen.py: one CSV row per file, bad files reported and skipped, exit codes."""
import csv
import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import load_script, run_tool, synthetic_xray
from PIL import Image

import mmtb.apis.checkpoints as checkpoints
from mmtb.apis import TBScreener

pytestmark = pytest.mark.usefixtures('one_thread')  # conftest: one torch thread


def load_screen():
    return load_script('tools/screen.py', 'screen_tool')


def read_rows(path):
    with open(path, newline='') as f:
        return {row['file']: row for row in csv.DictReader(f)}


@pytest.fixture
def scans(tmp_path):
    """A folder as a user might have it: good images (8-bit, 16-bit, in a subfolder), a
    truncated PNG, a text file named .png, and a file that is not an image at all."""
    rng = np.random.default_rng(3)
    root = tmp_path / 'scans'
    (root / 'ward_b').mkdir(parents=True)
    good = []
    for name in ('a.png', 'ward_b/c.jpg'):
        img, _ = synthetic_xray(rng, 64, lesion=name == 'a.png')
        cv2.imwrite(str(root / name), img)
        good.append(root / name)
    img16 = (synthetic_xray(rng, 72)[0].astype(np.uint16) * 16 + 100)
    cv2.imwrite(str(root / 'ward_b' / 'd16.png'), img16)
    good.append(root / 'ward_b' / 'd16.png')
    buf = io.BytesIO()
    Image.fromarray(synthetic_xray(rng, 64)[0]).save(buf, format='PNG')
    (root / 'broken.png').write_bytes(buf.getvalue()[:150])
    (root / 'notes.png').write_text('not an image')
    (root / 'readme.txt').write_text('ignored: not an image extension')
    return root, good, [root / 'broken.png', root / 'notes.png']


def test_screen_folder_with_bad_files(tiny_checkpoint, scans, tmp_path):
    root, good, bad = scans
    out, cam_dir = tmp_path / 'results.csv', tmp_path / 'cams'
    before = {p: p.read_bytes() for p in root.rglob('*') if p.is_file()}
    result = run_tool('tools/screen.py', root, '--out', out, '--checkpoint',
                      tiny_checkpoint.checkpoint, '--cam-dir', cam_dir, '--batch-size', '2')
    assert result.returncode == 0, result.stderr[-3000:]
    rows = read_rows(out)
    assert set(rows) == {str(p) for p in good + bad}  # readme.txt is not screened
    for path in good:
        row = rows[str(path)]
        assert row['error'] == '' and 0 <= float(row['prob_tb']) <= 1
        assert row['decision'] == ('tuberculosis' if float(row['prob_tb']) >= 0.5 else 'normal')
        assert float(row['threshold']) == 0.5
        cam = np.asarray(Image.open(row['cam']))
        assert cam.shape == cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape[:2] + (3, )
    for path in bad:
        row = rows[str(path)]
        assert row['error'] and row['prob_tb'] == '' and row['decision'] == ''
    # overlays mirror the input names under --cam-dir; inputs are untouched
    assert (cam_dir / 'scans' / 'ward_b' / 'c_cam.png').is_file()
    assert {p: p.read_bytes() for p in root.rglob('*') if p.is_file()} == before
    assert 'screened 3 of 5 images (2 unreadable, 0 not radiographs)' in result.stderr


def test_batched_probabilities_match_the_app(tiny_checkpoint, scans, tmp_path):
    """Without --cam-dir images go through predict_batch; the numbers equal predict()."""
    root, good, _ = scans
    out = tmp_path / 'results.csv'
    screen = load_screen()
    assert screen.main([str(p) for p in good] + ['--out', str(out), '--batch-size', '2',
                                                  '--checkpoint',
                                                  str(tiny_checkpoint.checkpoint),
                                                  '--threshold', '0.25']) == 0
    rows = read_rows(out)
    screener = TBScreener(checkpoint=tiny_checkpoint.checkpoint, threshold=0.25)
    for path in good:
        expected = screener.predict_source(path)
        row = rows[str(path)]
        assert float(row['prob_tb']) == pytest.approx(expected.prob_tb, abs=1e-5)
        assert row['decision'] == expected.decision and float(row['threshold']) == 0.25


def test_screen_exits_1_when_nothing_can_be_read(tiny_checkpoint, scans, tmp_path, capsys):
    _, _, bad = scans
    out = tmp_path / 'results.csv'
    screen = load_screen()
    args = ['--out', str(out), '--checkpoint', str(tiny_checkpoint.checkpoint)]
    assert screen.main([str(p) for p in bad] + [str(tmp_path / 'missing.png')] + args) == 1
    assert 'none of the inputs could be screened' in capsys.readouterr().err
    assert len(read_rows(out)) == 3  # the errors are still reported per file
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert screen.main([str(empty)] + args) == 1
    assert 'no images' in capsys.readouterr().err


def test_screen_without_a_model_says_so(scans, tmp_path, monkeypatch, capsys):
    root, _, _ = scans
    monkeypatch.setattr(checkpoints, 'DEFAULT_MODEL_DIR', tmp_path / 'no_default')
    monkeypatch.delenv(checkpoints.MODEL_ENV, raising=False)
    assert load_screen().main([str(root), '--out', str(tmp_path / 'r.csv')]) == 1
    assert 'no default model shipped; pass --checkpoint' in capsys.readouterr().err


def test_folders_yield_dicom_files_without_an_extension(tmp_path):
    """PACS exports name DICOM files by UID or number: the content, not the name, decides."""
    from pydicom.data import get_testdata_file
    dicom = open(get_testdata_file('MR_small.dcm'), 'rb').read()
    for name in ('IM0001', '1.2.840.113619.2.5', 'scan.dicom', 'scan.DCM'):
        (tmp_path / name).write_bytes(dicom)
    (tmp_path / 'notes').write_text('no extension, not DICOM')
    (tmp_path / 'export.txt').write_bytes(dicom)  # oddly named, but DICOM by content
    (tmp_path / 'readme.txt').write_text('a text file stays out')
    found = {rel.name for _, rel in load_screen().collect([tmp_path])}
    assert found == {'IM0001', '1.2.840.113619.2.5', 'scan.dicom', 'scan.DCM', 'export.txt'}


def test_bf16_with_grad_cam_is_refused(tmp_path, capsys):
    """Grad-CAM's forward is fp32: mixing it with --bf16 would give P(TB) of two precisions."""
    with pytest.raises(SystemExit) as e:
        load_screen().parse_args([str(tmp_path), '--out', 'x.csv', '--bf16', '--cam-dir', 'c'])
    assert e.value.code == 2
    assert '--bf16 cannot be combined with --cam-dir' in capsys.readouterr().err


def test_cam_names_keep_dotted_file_names(tmp_path):
    """'TB.100.jpg' and 'TB.101.jpg' (the Pakistani set's naming) get their own overlays;
    a second file with the same stem is numbered."""
    cam_target = load_screen().cam_target
    used = set()
    names = [cam_target(tmp_path, Path(name), used, set()).name
             for name in ('scr/TB.100.jpg', 'scr/TB.101.jpg', 'scr/TB.100.png')]
    assert names == ['TB.100_cam.png', 'TB.101_cam.png', 'TB.100_cam2.png']
