"""The clinician app (demo/streamlit_app.py), driven headless by Streamlit's AppTest.

Uploads go through AppTest's own ``file_uploader`` driver (Streamlit >= 1.5x has one), so the
app's real ``st.file_uploader`` -> ``decode_xray`` path runs. The model is the real TBScreener
on the tiny model that ``tests/conftest.py`` trains; the app gets it through MMTB_CHECKPOINT /
MMTB_CONFIG, the same environment defaults a user can set. Every image is generated here.
"""
import io
import json
import struct
import zlib

import numpy as np
import pytest
from conftest import REPO, dicom_bytes, synthetic_xray
from PIL import Image

from mmtb.app.helpers import (  # noqa: E402
    NOTE,
    Edits,
    ModelDefaults,
    apply_edits,
    box_on_image,
    decode_upload,
    display_window,
    format_probability,
    image_key,
    model_choices,
    model_defaults,
    parse_threshold,
)

AppTest = pytest.importorskip('streamlit.testing.v1').AppTest
APP = str(REPO / 'demo' / 'streamlit_app.py')


# ------------------------------------------------------------------------------- images
def png_bytes(arr) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, 'PNG')
    return buf.getvalue()


def xray_png(size=128, seed=0, lesion=True) -> bytes:
    return png_bytes(synthetic_xray(np.random.default_rng(seed), size, lesion=lesion)[0])


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height but holds almost no data (a decompression bomb)."""
    def chunk(kind, data):
        return (struct.pack('>I', len(data)) + kind + data
                + struct.pack('>I', zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 0, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(b'\0'))
            + chunk(b'IEND', b''))


BAD_UPLOADS = {  # name, bytes, what the message must say
    'empty': ('empty.png', b'', 'empty'),
    'text': ('notes.png', b'This is a text file, not an image.\n' * 4, 'not an image'),
    'truncated': ('cut.png', xray_png()[:400], 'truncated'),
    'one_pixel': ('dot.png', png_bytes(np.zeros((1, 1), np.uint8)), 'too small'),
    'bomb': ('bomb.png', png_header_only(20000, 20000), 'too large'),
    'colour_dicom': ('rgb.dcm', dicom_bytes(np.zeros((40, 48, 3), np.uint16), 'RGB', samples=3),
                     'Colour DICOM images are not supported'),
}


# ------------------------------------------------------------------------ pure helpers
def test_default_edits_return_the_image_unchanged():
    grey = synthetic_xray(np.random.default_rng(1), 64)[0]
    assert apply_edits(grey, Edits()) is grey


def test_edits_crop_resize_and_enhance():
    grey = synthetic_xray(np.random.default_rng(2), 100)[0]
    assert apply_edits(grey, Edits(crop=(10, 20, 50, 40))).shape == (40, 50)
    np.testing.assert_array_equal(apply_edits(grey, Edits(crop=(10, 20, 50, 40))),
                                  grey[20:60, 10:60])
    assert apply_edits(grey, Edits(scale=0.5)).shape == (50, 50)
    assert apply_edits(grey, Edits(scale=1.5)).shape == (150, 150)
    assert apply_edits(grey, Edits(brightness=1.5)).mean() > grey.mean() + 20
    assert apply_edits(grey, Edits(brightness=0.5)).mean() < grey.mean() - 20
    assert apply_edits(grey, Edits(contrast=2.0)).std() > grey.std() * 1.5
    assert apply_edits(grey, Edits(contrast=0.0)).std() < 1
    blurred = apply_edits(grey, Edits(sharpness=0.0))
    assert np.abs(np.diff(blurred.astype(float))).mean() < np.abs(
        np.diff(grey.astype(float))).mean()
    out = apply_edits(grey, Edits(crop=(0, 0, 80, 80), scale=0.5, brightness=1.2))
    assert out.dtype == np.uint8 and out.shape == (40, 40)


def test_edits_never_make_an_image_the_model_refuses():
    grey = synthetic_xray(np.random.default_rng(3), 64)[0]
    assert min(apply_edits(grey, Edits(scale=0.1)).shape) == 32  # decoder's MIN_SIDE
    assert apply_edits(grey, Edits(crop=(60, 60, 2, 2))).shape == (32, 32)  # grown, inside
    assert apply_edits(grey, Edits(crop=(-10, -10, 500, 500))).shape == (64, 64)
    with pytest.raises(ValueError):
        apply_edits(grey.astype(np.float32), Edits())


def test_an_off_image_crop_box_is_trimmed_not_shifted():
    # what the issue saw: a box dragged past the top-left corner of a 256 px image
    assert box_on_image(dict(left=-64, top=-64, width=247, height=247), 1.0, 256, 256) == (
        0, 0, 183, 183)
    assert box_on_image(dict(left=0, top=0, width=256, height=256), 1.0, 256, 256) is None
    # the cropper shows a half-size copy: its box is scaled back to the image's pixels
    assert box_on_image(dict(left=10, top=20, width=50, height=60), 2.0, 256, 256) == (
        20, 40, 100, 120)


def test_display_window_changes_the_view_only():
    grey = np.array([[0, 50, 100, 200, 255]], np.uint8)
    assert display_window(grey, 0, 255) is grey
    np.testing.assert_array_equal(display_window(grey, 50, 100), [[0, 0, 255, 255, 255]])


def test_command_line_wins_over_environment():
    env = dict(MMTB_CHECKPOINT='env.pth', MMTB_CONFIG='env.py', MMTB_THRESHOLD='0.3')
    assert model_defaults(None, env) == ModelDefaults('env.pth', 'env.py', 0.3, 'work_dirs')
    got = model_defaults(['--', '--checkpoint', 'cli.pth', '--threshold', 'op.json',
                          '--unknown', 'x'], env)
    assert got == ModelDefaults('cli.pth', 'env.py', 'op.json', 'work_dirs')
    # no abbreviations: another program's --conf is not our --config
    assert model_defaults(['--conf', 'x.py'], {}).config is None
    assert model_defaults(['--work-dirs', '/w'], {}).work_dirs == '/w'
    assert parse_threshold('') is None and parse_threshold(' 0.25 ') == 0.25


def test_model_choices_put_the_command_line_model_first_without_duplicates(tmp_path):
    ckpt = tmp_path / 'run' / 'best.pth'
    listed = [dict(name='default', config='d.py', checkpoint=str(tmp_path / 'd.pth')),
              dict(name='run', config='r.py', checkpoint=str(ckpt))]
    choices = model_choices(ModelDefaults(checkpoint=str(ckpt), config='c.py'), listed)
    assert [c['name'] for c in choices] == ['run/best.pth (command line)', 'default']
    assert choices[0]['config'] == 'c.py'
    assert model_choices(ModelDefaults(), []) == []


def test_upload_decoding_and_small_helpers():
    decoded = decode_upload(xray_png(64), 'x.png')
    assert decoded.grey.shape == (64, 64)
    assert image_key(decoded.grey) == image_key(decoded.grey.copy())
    assert image_key(decoded.grey) != image_key(decoded.grey.T.copy())
    assert format_probability(0.1234) == '12.3 %'
    assert format_probability(0.99993) == '99.993 %'
    assert format_probability(1.0) == '100.0 %'


# ------------------------------------------------------------------------------ the app
@pytest.fixture
def app_env(monkeypatch, tmp_path, tiny_checkpoint):
    """The tiny real model as the app's default; no other model is offered."""
    config, checkpoint, _work_dir = tiny_checkpoint
    monkeypatch.setenv('MMTB_CHECKPOINT', str(checkpoint))
    monkeypatch.setenv('MMTB_CONFIG', str(config))
    monkeypatch.delenv('MMTB_THRESHOLD', raising=False)
    monkeypatch.setenv('MMTB_WORK_DIRS', str(tmp_path / 'no_work_dirs'))
    return tiny_checkpoint


def new_app():
    return AppTest.from_file(APP, default_timeout=60)


def upload(at, name, data, mime='image/png'):
    at.file_uploader(key='upload').upload(name, data, mime)
    return at.run()


def texts(elements):
    return [e.value for e in elements]


def test_upload_edit_predict_shows_probability_and_grad_cam(app_env):
    at = new_app().run()
    assert not at.exception and not at.error
    assert 'command line' in at.selectbox(key='model_choice').value
    assert not at.sidebar.text_input  # models are picked from a list, never typed as paths

    upload(at, 'chest.png', xray_png(128))
    assert not at.exception and not at.error
    assert at.image[0].captions == ['Image to screen (128 x 128 px)']
    before = at.image[0].value

    at.slider(key='view_window').set_value((40, 200)).run()  # display only: same model input
    assert at.image[0].value != before
    assert at.image[0].captions == ['Image to screen (128 x 128 px)']
    at.slider(key='view_window').set_value((0, 255)).run()

    at.slider(key='edit_brightness').set_value(1.4).run()
    assert at.image[0].value != before  # the edited image is what is shown (and screened)
    assert 'the model sees this version' in at.image[0].captions[0]
    assert any('change what the model sees' in c for c in texts(at.caption))
    assert any('Press "Screen for TB"' in c for c in texts(at.caption))

    at.button(key='predict').click().run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics['TB probability'].endswith(' %')
    prob = float(metrics['TB probability'].rstrip(' %'))
    threshold = float(metrics['Decision threshold'].rstrip(' %'))
    assert 0 <= prob <= 100 and 0 <= threshold <= 100
    assert at.subheader[0].value in (':red[TB suspected]', ':green[No TB detected]')
    if abs(prob - threshold) > 0.1:  # the shown numbers are rounded
        assert (prob > threshold) == (at.subheader[0].value == ':red[TB suspected]')
    bar = next(m.value for m in at.markdown if 'mmtb-bar' in m.value)
    assert 'red line: decision threshold' in bar
    assert any('chest.png · screened ' in c for c in texts(at.caption))
    assert any('Unedited image: TB probability' in i for i in texts(at.info))
    captions = [c for img in at.image for c in img.captions]
    assert captions[0].startswith('Left: the image as screened. Right: Heat map (Grad-CAM)')
    assert 'Heat-map colours' in captions[1]
    assert NOTE in texts(at.info)
    assert any(f'threshold {format_probability(threshold / 100)} (calibration in use: ' in c
               for c in texts(at.caption))
    assert 'About this model' in [e.label for e in at.expander]
    report = at.get('download_button')
    assert report and report[0].proto.label == 'Download report (PDF)'

    overlay = at.image[0].value
    at.slider(key='cam_alpha').set_value(0.8).run()  # the result stays; the overlay changes
    assert not at.exception and at.metric[0].value == metrics['TB probability']
    assert at.image[0].value != overlay

    at.slider(key='edit_contrast').set_value(1.6).run()  # a new image needs a new screening
    assert not at.metric

    at.button(key='reset_edits').click().run()
    assert at.slider(key='edit_brightness').value == 1.0
    assert at.slider(key='edit_contrast').value == 1.0

    # The cropper does not render under AppTest: its default box is the whole image, so
    # ticking Crop alone leaves the model input unchanged
    at.checkbox(key='edit_crop').check().run()
    assert not at.exception and at.image[0].captions == ['Image to screen (128 x 128 px)']

    at.file_uploader(key='upload').clear().run()  # removing the upload forgets the image
    assert not at.exception and not at.image
    assert '_decoded' not in at.session_state and '_result' not in at.session_state


@pytest.mark.parametrize('case', sorted(BAD_UPLOADS))
def test_bad_upload_shows_an_error_not_a_traceback(app_env, case):
    name, data, says = BAD_UPLOADS[case]
    at = upload(new_app().run(), name, data)
    assert not at.exception
    assert len(at.error) == 1 and says in at.error[0].value
    assert 'predict' not in [b.key for b in at.button]  # nothing to screen


@pytest.mark.parametrize('name,preamble', [('chest.dcm', True), ('IM000001', True),
                                            ('IM000002', False), ('chest.dcm', False)])
def test_dicom_upload_is_recognised_by_content(app_env, name, preamble):
    # 12-bit values; a PACS export names files by number, without an extension
    grey = synthetic_xray(np.random.default_rng(5), 64)[0].astype(np.uint16) * 16
    at = upload(new_app().run(), name, dicom_bytes(grey, preamble=preamble),
                'application/octet-stream')
    assert not at.exception and not at.error
    assert at.image[0].captions == ['Image to screen (64 x 64 px)']
    at.button(key='predict').click().run()
    assert not at.exception and at.metric[0].label == 'TB probability'


def test_any_file_is_accepted_and_a_refusal_is_a_message_in_the_page(app_env):
    at = new_app().run()
    assert at.file_uploader(key='upload').proto.type == []  # no extension filter (no tooltip)
    gif = io.BytesIO()
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(gif, 'GIF')
    upload(at, 'anim.gif', gif.getvalue(), 'image/gif')
    assert not at.exception
    upload(at, 'scan.dat', xray_png(64), 'application/octet-stream')  # a PNG by content
    assert not at.exception and not at.error and at.image


@pytest.fixture
def model_loads(monkeypatch):
    """The arguments of every TBScreener the app's model cache builds (empty cache first)."""
    import streamlit as st

    from mmtb.app import model_cache
    loads = []

    class CountingScreener(model_cache.TBScreener):
        def __init__(self, *args, **kwargs):
            loads.append(args or kwargs)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(model_cache, 'TBScreener', CountingScreener)
    st.cache_resource.clear()
    yield loads
    st.cache_resource.clear()  # later tests must not get the counting class


def test_the_model_is_loaded_once_not_on_every_rerun(app_env, model_loads):
    at = upload(new_app().run(), 'chest.png', xray_png(64))
    at.slider(key='edit_sharpness').set_value(2.0).run()
    at.button(key='predict').click().run()
    at.slider(key='cam_alpha').set_value(0.6).run()
    assert not at.exception and len(model_loads) == 1


def test_the_model_warmed_up_at_start_is_the_one_the_first_user_gets(app_env, model_loads,
                                                                     capsys):
    """mmtb-app warms the sidebar's first model up while the server starts: the page's first
    run finds it in the cache and loads nothing."""
    from mmtb.app.model_cache import warm_up_in_background
    warm_up_in_background(None).join(timeout=120)
    assert len(model_loads) == 1 and 'mmtb-app: model ready' in capsys.readouterr().err
    at = upload(new_app().run(), 'chest.png', xray_png(64))
    at.button(key='predict').click().run()
    assert not at.exception and at.metric and len(model_loads) == 1


def test_colour_photo_gets_no_verdict_unless_screened_anyway(app_env):
    rng = np.random.default_rng(4)
    blocks = rng.integers(0, 256, (4, 4, 3)).astype(np.uint8)
    photo = np.asarray(Image.fromarray(blocks).resize((96, 96), Image.Resampling.NEAREST))
    at = upload(new_app().run(), 'holiday.png', png_bytes(photo))
    assert not at.exception
    assert len(at.error) == 1 and 'Cannot screen this image' in at.error[0].value
    assert 'colour photograph' in at.error[0].value
    assert at.button(key='predict').disabled  # no TB / no-TB verdict without the override
    assert not at.metric and not at.subheader

    at.checkbox(key='force').check().run()
    at.button(key='predict').click().run()
    assert not at.exception and at.metric[0].label == 'TB probability'
    assert any('colour photograph' in w for w in texts(at.warning))


def test_borderline_scores_are_flagged_and_the_band_explained(app_env):
    at = upload(new_app().run(), 'chest.png', xray_png(96))
    band = dict(low=0.0, high=1.0)
    op = json.dumps(dict(threshold=0.5, borderline_band=band)).encode()
    at.file_uploader(key='threshold_upload').upload('op.json', op, 'application/json')
    at.run()
    at.button(key='predict').click().run()
    assert not at.exception and not at.error
    assert at.subheader[0].value.startswith(':orange[Borderline — review]')
    assert any('one slider step' in c for c in texts(at.caption))
    assert any('shaded: borderline band' in m.value for m in at.markdown)


def test_threshold_from_the_environment_and_from_an_uploaded_operating_point(
        app_env, monkeypatch):
    monkeypatch.setenv('MMTB_THRESHOLD', '0')
    at = upload(new_app().run(), 'chest.png', xray_png(96))
    at.button(key='predict').click().run()
    assert at.subheader[0].value == ':red[TB suspected]'  # every P(TB) >= 0
    assert any('given 0' in c for c in texts(at.caption))

    op = json.dumps(dict(threshold=1.0, target_sensitivity=0.9)).encode()
    at.file_uploader(key='threshold_upload').upload('op.json', op, 'application/json')
    at.run()
    assert not at.exception and not at.error
    assert any('Calibration in use: uploaded op.json' in c for c in texts(at.sidebar.caption))
    at.button(key='predict').click().run()
    assert at.metric[1].value == '100.0 %'

    bad = json.dumps(dict(threshold=3)).encode()
    at.file_uploader(key='threshold_upload').set_value(('bad.json', bad, 'application/json'))
    at.run()
    assert not at.exception and 'bad.json is not a usable operating point' in at.error[0].value


def test_no_model_available_says_so_without_command_line_advice(monkeypatch, tmp_path):
    import mmtb.apis.checkpoints as checkpoints
    monkeypatch.setattr(checkpoints, 'DEFAULT_MODEL_DIR', tmp_path / 'not_shipped')
    monkeypatch.delenv(checkpoints.MODEL_ENV, raising=False)
    for var in ('MMTB_CHECKPOINT', 'MMTB_CONFIG', 'MMTB_THRESHOLD'):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv('MMTB_WORK_DIRS', str(tmp_path / 'empty'))
    at = new_app().run()
    assert not at.exception and not at.error
    assert len(at.info) == 1 and 'No model is installed' in at.info[0].value
    assert '--' not in at.info[0].value and 'tools/' not in at.info[0].value
    upload(at, 'chest.png', xray_png(64))  # the image still shows; there is nothing to press
    assert not at.exception and at.image and 'predict' not in [b.key for b in at.button]


def test_a_broken_model_is_an_error_message_that_discloses_nothing(app_env, monkeypatch,
                                                                   tmp_path):
    bad = tmp_path / 'model.pth'
    bad.write_bytes(b'not a checkpoint')
    (tmp_path / 'config.py').write_bytes(app_env.config.read_bytes())
    monkeypatch.setenv('MMTB_CHECKPOINT', str(bad))
    monkeypatch.setenv('MMTB_CONFIG', str(tmp_path / 'config.py'))
    at = new_app().run()
    assert not at.exception
    message = at.error[0].value
    assert 'could not be loaded' in message
    assert str(tmp_path) not in message and '--' not in message and 'weights_only' not in message


def test_the_model_card_opens_with_a_clinician_summary(app_env):
    at = new_app().run()
    about = next(e for e in at.expander if e.label == 'About this model')
    # the tiny model has no evaluation JSONs beside it: the summary says so, invents nothing
    assert 'no published test results' in about.markdown[0].value
