"""mmtb.apis.triage and mmtb.apis.report: the rules the app, image_demo.py and screen.py share
(no verdict for photographs, the borderline band, what the operating point means), the
in-memory PDF report, and content sniffing in the one decoder."""
import csv
import io
import json

import numpy as np
import pytest
from conftest import REPO, load_script, synthetic_xray
from PIL import Image

from mmtb.apis import (
    borderline_band,
    clinician_summary,
    is_borderline,
    operating_point_sentence,
    screening_refusal,
)
from mmtb.apis.report import ReportInfo, build_report, decision_text
from mmtb.apis.triage import NOT_A_RADIOGRAPH, outside_lung_notice
from mmtb.io.decode import decode_xray, sniff_format

DEFAULT_DIR = REPO / 'checkpoints' / 'default'


def png_bytes(arr, fmt='PNG') -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, fmt)
    return buf.getvalue()


def colour_photo(size=96) -> np.ndarray:
    blocks = np.random.default_rng(4).integers(0, 256, (4, 4, 3)).astype(np.uint8)
    return np.asarray(Image.fromarray(blocks).resize((size, size), Image.Resampling.NEAREST))


def test_a_colour_photo_is_refused_and_an_xray_is_not():
    assert screening_refusal(decode_xray(png_bytes(colour_photo()))) == NOT_A_RADIOGRAPH
    grey = synthetic_xray(np.random.default_rng(0), 64)[0]
    assert screening_refusal(decode_xray(png_bytes(grey))) is None


def test_borderline_band_is_the_measured_band_of_the_operating_point():
    assert borderline_band(None) is None
    assert borderline_band(dict(threshold=0.4)) is None  # nothing measured: nothing invented
    # the threshold's bootstrap interval is no longer a band (far too wide)
    assert borderline_band(dict(threshold=0.4, threshold_ci=[0.1, 0.9])) is None
    assert borderline_band(dict(threshold=0.4, borderline_band=dict(low=0.6, high=0.3))) == (
        0.3, 0.6)
    assert borderline_band(dict(threshold=0.7, borderline_band=dict(low=0.3, high=0.6))) == (
        0.3, 0.7)
    assert borderline_band(dict(threshold=0.4, borderline_band=dict(low='x'))) is None
    band = (0.3, 0.6)
    assert is_borderline(0.3, band) and is_borderline(0.6, band)
    assert not is_borderline(0.29, band) and not is_borderline(0.5, None)


def test_operating_point_sentence_and_summary_come_from_the_jsons(tmp_path):
    if not (DEFAULT_DIR / 'operating_point.json').is_file():
        pytest.skip('no shipped default model')
    point = json.loads((DEFAULT_DIR / 'operating_point.json').read_text())
    sentence = operating_point_sentence(DEFAULT_DIR)
    assert f'{100 * point["sensitivity"]:.0f} % of TB X-rays' in sentence
    assert f'cleared {100 * point["specificity"]:.0f} % of healthy' in sentence
    assert 'another hospital (pakistan256' in sentence
    summary = clinician_summary(DEFAULT_DIR)
    for heading in ('Intended use', 'How it was tested', 'Known failure modes'):
        assert f'**{heading}.**' in summary
    assert 'work_dirs' not in summary
    assert operating_point_sentence(tmp_path) is None and clinician_summary(tmp_path) is None


def test_outside_lung_notice_without_a_map_is_none():
    assert outside_lung_notice(None, np.zeros((64, 64), np.uint8)) is None


def test_report_is_a_one_page_pdf_in_memory(tmp_path):
    grey = synthetic_xray(np.random.default_rng(1), 64)[0]
    overlay = np.repeat(grey[:, :, None], 3, axis=2)
    info = ReportInfo(file_name='IM000001', model_name='default', model_version='abc123',
                      threshold=0.363, calibration='operating_point.json', prob_tb=0.359,
                      decision='normal', borderline=True, disclaimer='not a diagnosis',
                      notes=('note one', ))
    before = set(tmp_path.iterdir())
    pdf = build_report(info, grey, overlay)
    assert pdf.startswith(b'%PDF') and pdf.rstrip().endswith(b'%%EOF')
    assert b'/Count 1' in pdf  # one page
    assert set(tmp_path.iterdir()) == before
    assert decision_text('normal', True) == 'No TB detected (borderline: review)'
    assert decision_text('not_screened', False).startswith('Not screened')


@pytest.mark.parametrize('fmt', ['PNG', 'JPEG', 'TIFF', 'BMP', 'GIF'])
def test_sniff_format_reads_the_content_not_the_name(fmt):
    data = png_bytes(synthetic_xray(np.random.default_rng(2), 48)[0], fmt)
    assert sniff_format(data) == fmt
    assert decode_xray(io.BytesIO(data)).grey.shape == (48, 48)
    assert sniff_format(b'plain text, not an image') is None


def test_image_demo_report_and_not_screened(tiny_checkpoint, tmp_path, capsys):
    demo = load_script('demo/image_demo.py', 'image_demo_triage')
    xray = tmp_path / 'IM000001'  # no extension: recognised by content
    xray.write_bytes(png_bytes(synthetic_xray(np.random.default_rng(3), 64, lesion=True)[0]))
    report = tmp_path / 'out.pdf'
    assert demo.main([str(xray), '--checkpoint', str(tiny_checkpoint.checkpoint),
                      '--report', str(report)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result['decision'] in ('normal', 'tuberculosis') and 'borderline' in result
    assert report.read_bytes().startswith(b'%PDF')

    photo = tmp_path / 'holiday.jpg'
    photo.write_bytes(png_bytes(colour_photo(), 'JPEG'))
    args = [str(photo), '--checkpoint', str(tiny_checkpoint.checkpoint)]
    assert demo.main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result['decision'] == 'not_screened' and result['prob_tb'] is None
    assert 'colour photograph' in result['warnings'][0]
    assert demo.main(args + ['--force']) == 0
    assert json.loads(capsys.readouterr().out)['decision'] in ('normal', 'tuberculosis')


def test_screen_tool_writes_not_screened_and_borderline(tiny_checkpoint, tmp_path):
    screen = load_script('tools/screen.py', 'screen_triage')
    root = tmp_path / 'in'
    root.mkdir()
    (root / 'holiday.png').write_bytes(png_bytes(colour_photo()))
    (root / 'scan.dat').write_bytes(png_bytes(synthetic_xray(np.random.default_rng(5), 64)[0]))
    op = tmp_path / 'op.json'
    band = dict(low=0.0, high=1.0)
    op.write_text(json.dumps(dict(threshold=0.5, borderline_band=band)))
    out = tmp_path / 'r.csv'
    base = [str(root), '--out', str(out), '--checkpoint', str(tiny_checkpoint.checkpoint),
            '--threshold', str(op)]
    assert screen.main(base) == 0
    rows = {r['file']: r for r in csv.DictReader(open(out))}
    photo, scan = rows[str(root / 'holiday.png')], rows[str(root / 'scan.dat')]
    assert photo['decision'] == 'not_screened' and photo['prob_tb'] == ''
    assert 'colour photograph' in photo['warnings']
    assert scan['decision'] in ('normal', 'tuberculosis') and scan['borderline'] == '1'
    assert screen.main(base + ['--force']) == 0
    rows = {r['file']: r for r in csv.DictReader(open(out))}
    assert rows[str(root / 'holiday.png')]['decision'] in ('normal', 'tuberculosis')
