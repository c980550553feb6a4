"""mmtb clinician app: upload a chest X-ray, adjust it, and get a TB triage score with Grad-CAM.

Run:  streamlit run demo/streamlit_app.py [-- --checkpoint PATH [--config CFG] [--threshold T]]

Model defaults (the command line after ``--`` wins over the environment):
  --checkpoint / MMTB_CHECKPOINT   a trained .pth (its config is found by mmtb.apis if omitted)
  --config     / MMTB_CONFIG       the config of that checkpoint
  --threshold  / MMTB_THRESHOLD    a number or the path of an operating-point JSON
  --work-dirs  / MMTB_WORK_DIRS    where trained models are listed from (default: work_dirs)
Without any of these the sidebar offers the shipped default model and every checkpoint found
under work_dirs/. Uploaded images are decoded in memory and never written to disk.

All model loading, decoding, resizing and Grad-CAM goes through ``mmtb.apis`` / ``mmtb.io`` so
the app sees exactly what the evaluated model saw; this file is only the user interface.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import streamlit as st
from PIL import Image

# `streamlit run` puts this folder on sys.path, Streamlit's AppTest does not: do it for both.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from app_helpers import (  # noqa: E402
    NOTE,
    Edits,
    ModelDefaults,
    apply_edits,
    decode_upload,
    format_probability,
    image_key,
    model_choices,
    model_defaults,
    parse_threshold,
)

from mmtb.apis import TBScreener, list_checkpoints, overlay_cam, read_operating_point  # noqa: E402
from mmtb.io.decode import XrayDecodeError  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
UPLOAD_TYPES = ['png', 'jpg', 'jpeg', 'dcm', 'dicom', 'tif', 'tiff', 'bmp']
EDIT_DEFAULTS = dict(edit_crop=False, edit_scale=100, edit_brightness=1.0,
                     edit_contrast=1.0, edit_sharpness=1.0)
NO_MODEL_HELP = (
    'No model is available yet. Train one with `python tools/train.py CONFIG` (its checkpoints '
    'appear under `work_dirs/` and in the sidebar), enter the path of a trained `.pth` in the '
    'sidebar, or start the app with `streamlit run demo/streamlit_app.py -- --checkpoint PATH '
    '[--config CONFIG]`.')
log = logging.getLogger('mmtb.demo')


# ------------------------------------------------------------------------------------ model
@st.cache_resource(max_entries=3, show_spinner='Loading the model...')
def load_screener(config: str | None, checkpoint: str | None, threshold) -> TBScreener:
    """Load once per (config, checkpoint, threshold): reruns happen on every click."""
    return TBScreener(config=config, checkpoint=checkpoint, threshold=threshold)


def cli_args() -> list[str] | None:
    """Arguments after ``--`` when started by ``streamlit run`` on this file, else None.

    Under AppTest or another host, sys.argv belongs to someone else (e.g. pytest).
    """
    try:
        ours = Path(sys.argv[0]).resolve() == Path(__file__).resolve()
    except (IndexError, OSError):
        return None
    return sys.argv[1:] if ours else None


def sidebar_model(defaults: ModelDefaults, side) -> tuple[TBScreener | None, str]:
    """Pick and load the model; explain (never crash) when none is available or loadable.

    Returns the screener (or None) and a label saying which calibration sets its threshold.
    """
    side.header('Model')
    choices = model_choices(defaults, list_checkpoints(defaults.work_dirs))
    names = [c['name'] for c in choices]
    picked = side.selectbox('Model', names, key='model_choice') if names else None
    more = side.expander('Another checkpoint or threshold', expanded=not names)
    typed = more.text_input('Checkpoint path (.pth)', key='ckpt_path').strip()
    typed_cfg = more.text_input('Config for that checkpoint (optional)', key='cfg_path').strip()
    threshold, threshold_label = threshold_inputs(defaults, more)

    if typed:
        config, checkpoint = typed_cfg or None, typed
    elif picked is not None:
        entry = choices[names.index(picked)]
        config, checkpoint = entry['config'], entry['checkpoint']
    else:
        st.info(NO_MODEL_HELP)
        return None, ''
    try:
        screener = load_screener(_str_or_none(config), _str_or_none(checkpoint), threshold)
    except Exception as e:  # a wrong path or a broken file: tell the user, keep the app up
        log.exception('model loading failed')
        st.error(f'The model or its threshold could not be loaded: {_one_line(e)}')
        return None, ''
    label = threshold_label or screener.threshold_source
    side.caption(f'**{screener.name}**  \nThreshold {screener.threshold:.3f}  \n'
                 f'Calibration in use: {label}')
    return screener, label


def threshold_inputs(defaults: ModelDefaults, side):
    """(threshold argument for TBScreener, label shown to the user or None).

    An uploaded operating-point JSON wins over the text field; an empty field keeps the
    model's own operating point.
    """
    st.session_state.setdefault('threshold_text', '' if defaults.threshold is None
                                else str(defaults.threshold))
    text = side.text_input('Threshold or operating-point JSON path (optional)',
                           key='threshold_text',
                           help="Empty: the model's own operating point.")
    uploaded = side.file_uploader('...or upload an operating-point JSON', type=['json'],
                                  key='threshold_upload')
    if uploaded is not None:
        try:
            value = uploaded_operating_point(uploaded.getvalue())
        except (OSError, ValueError) as e:  # malformed JSON from the user
            side.error(f'{uploaded.name} is not a usable operating point: {_one_line(e)}')
        else:
            return value, f'uploaded {uploaded.name}'
    return parse_threshold(text), None


def uploaded_operating_point(data: bytes) -> float:
    """The threshold of an uploaded operating-point JSON, validated by mmtb.apis.

    ``read_operating_point`` reads a path, so the small JSON (never an image) goes through a
    private temporary file that is deleted at once.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / 'operating_point.json'
        path.write_bytes(data)
        return read_operating_point(path)['threshold']


# ------------------------------------------------------------------------------------ edits
def sidebar_edits(side) -> tuple[bool, Edits]:
    """The edit controls; returns (crop enabled, edits without the crop box)."""
    for key, value in EDIT_DEFAULTS.items():
        st.session_state.setdefault(key, value)
    side.header('Image edits')
    crop = side.checkbox('Crop', key='edit_crop', help='Show a box on the image to crop it.')
    scale = side.slider('Size (%)', 25, 200, step=5, key='edit_scale')
    brightness = side.slider('Brightness', 0.2, 3.0, step=0.05, key='edit_brightness')
    contrast = side.slider('Contrast', 0.2, 3.0, step=0.05, key='edit_contrast')
    sharpness = side.slider('Sharpness', 0.0, 4.0, step=0.1, key='edit_sharpness')
    side.button('Reset edits', on_click=reset_edits, key='reset_edits')
    return crop, Edits(scale=scale / 100.0, brightness=brightness, contrast=contrast,
                       sharpness=sharpness)


def reset_edits() -> None:
    """Button callback: widgets keyed in session_state can only be reset before they render."""
    st.session_state.update(EDIT_DEFAULTS)
    st.session_state['crop_nonce'] = st.session_state.get('crop_nonce', 0) + 1


def crop_box(grey, key: str):
    """(left, top, width, height) from the interactive cropper, or None if it is unavailable.

    The box starts just inside the border (a box on the very edge cannot be grabbed on a
    phone). The cropper is a custom component; where it cannot run, the whole image is used.
    """
    try:
        from streamlit_cropper import st_cropper
        h, w = grey.shape
        dx, dy = max(1, w // 40), max(1, h // 40)
        nonce = st.session_state.get('crop_nonce', 0)  # a new key after "Reset edits"
        st.caption('Drag the box or its corners to crop; the cropped image is screened.')
        box = st_cropper(Image.fromarray(grey), return_type='box', box_color='#ff4b4b',
                         default_coords=(dx, w - dx, dy, h - dy), key=f'cropper_{key}_{nonce}')
        return box['left'], box['top'], box['width'], box['height']
    except Exception as e:
        log.warning('cropper unavailable: %s', e)
        st.caption('Cropping is not available here; the whole image is used.')
        return None


# ----------------------------------------------------------------------------------- upload
def uploaded_xray():
    """The decoded upload (decoded once per file, in memory), or None after telling the user."""
    uploaded = st.file_uploader(
        'Chest X-ray: PNG, JPEG or DICOM', type=UPLOAD_TYPES, key='upload',
        help='From a computer or a phone. The image is processed in memory and never saved.')
    if uploaded is None:
        for key in ('_decoded', '_result'):  # keep no image of a removed upload in memory
            st.session_state.pop(key, None)
        st.caption('Upload a frontal chest radiograph to start.')
        return None
    cached = st.session_state.get('_decoded')
    if cached is None or cached[0] != uploaded.file_id:
        try:
            result = decode_upload(uploaded.getvalue(), uploaded.name)
        except XrayDecodeError as e:
            result = e
        st.session_state['_decoded'] = cached = (uploaded.file_id, result)
    result = cached[1]
    if isinstance(result, XrayDecodeError):
        st.error(str(result))
        return None
    for warning in result.warnings:
        st.warning(warning)
    return result.grey


# ----------------------------------------------------------------------------------- result
def screen(screener: TBScreener, model_id: str, grey) -> bool:
    """The Screen button and the result, kept until the image or the model changes.

    Returns whether a result is on the page (then it already shows the input image).
    """
    key = (model_id, image_key(grey))
    if st.button('Screen for TB', type='primary', key='predict', width='stretch'):
        try:
            with st.spinner('Screening...'):
                st.session_state['_result'] = (key, screener.predict(grey, with_cam=True))
        except Exception as e:
            log.exception('prediction failed')
            st.error(f'Screening failed: {_one_line(e)}')
            return False
    stored = st.session_state.get('_result')
    if stored is None or stored[0] != key:
        st.caption('Press "Screen for TB" to score this image.')
        return False
    show_result(stored[1], grey)
    return True


def show_result(pred, grey) -> None:
    """Decision, probability, Grad-CAM beside the input, and the not-a-diagnosis note."""
    tb = pred.decision == 'tuberculosis'
    st.subheader(':red[TB suspected]' if tb else ':green[No TB detected]', anchor=False)
    pct = format_probability(pred.prob_tb)
    left, right = st.columns(2)
    left.metric('TB probability', pct)
    right.metric('Decision threshold', format_probability(pred.threshold))
    st.progress(min(max(float(pred.prob_tb), 0.0), 1.0), text=f'TB probability: {pct}')
    for warning in pred.warnings:
        st.warning(warning)
    alpha = st.slider('Grad-CAM opacity', 0.0, 1.0, 0.4, step=0.05, key='cam_alpha')
    left, right = st.columns(2)
    left.image(grey, caption='Input (as screened)', width='stretch')
    if pred.cam is not None:
        right.image(overlay_cam(grey, pred.cam, alpha=alpha), width='stretch',
                    caption='Grad-CAM: regions that raised the TB score')
    else:
        right.caption('No Grad-CAM for this result.')
    st.info(NOTE)


def model_details(screener: TBScreener, calibration: str) -> None:
    """Name, threshold and its source, and the model card one click away."""
    st.caption(f'Model: {screener.name} | threshold {screener.threshold:.3f} '
               f'(calibration in use: {calibration})')
    with st.expander('Model card'):
        card = Path(screener.card_path) if screener.card_path else None
        if card is not None and card.is_file():
            st.markdown(card.read_text(encoding='utf-8', errors='replace'))
        else:
            st.write('This model has no model card.')


# ------------------------------------------------------------------------------------- page
def main() -> None:
    st.set_page_config(page_title='mmtb: TB screening', page_icon=':lungs:', layout='centered')
    st.title('TB screening on chest X-rays')
    st.caption(NOTE)
    defaults = model_defaults(cli_args(), default_work_dirs=str(REPO / 'work_dirs'))
    edits_panel, model_panel = st.sidebar.container(), st.sidebar.container()  # edits on top
    screener, calibration = sidebar_model(defaults, model_panel)
    crop_on, edits = sidebar_edits(edits_panel)

    grey = uploaded_xray()
    if grey is not None:
        if crop_on:
            edits = replace(edits, crop=crop_box(grey, image_key(grey)[:8]))
        edited = apply_edits(grey, edits)
        preview = st.empty()  # filled below unless the result already shows the image
        shown = screener is not None and screen(
            screener, f'{screener.checkpoint_path}|{screener.threshold}', edited)
        if not shown:
            h, w = edited.shape
            preview.image(edited, caption=f'Image to screen ({w} x {h} px)', width='stretch')
    if screener is not None:
        model_details(screener, calibration)


def _str_or_none(value) -> str | None:
    return None if value is None else str(value)


def _one_line(e: BaseException) -> str:
    return ' '.join(str(e).split())[:300] or type(e).__name__


main()
