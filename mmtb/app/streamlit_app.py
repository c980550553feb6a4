"""mmtb clinician app: upload a chest X-ray, get a TB triage score with a heat map and a report.

Run:  mmtb-app [-- --checkpoint PATH [--config CFG] [--threshold T]]   (installed command)
      streamlit run demo/streamlit_app.py [-- ...]                    (from the repository)

Model defaults (the command line after ``--`` wins over the environment):
  --checkpoint / MMTB_CHECKPOINT   a trained .pth (its config is found by mmtb.apis if omitted)
  --config     / MMTB_CONFIG       the config of that checkpoint
  --threshold  / MMTB_THRESHOLD    a number or the path of an operating-point JSON
  --work-dirs  / MMTB_WORK_DIRS    where trained models are listed from (default: work_dirs)
The sidebar lists those models (the shipped default and every checkpoint under work_dirs/);
users pick from the list, they never type a server path. Uploads, operating points and reports
stay in memory: nothing a user sends or downloads is written to the server's disk.

All decoding, screening rules (not screened / borderline), Grad-CAM and the PDF report come from
``mmtb`` (``mmtb.io``, ``mmtb.apis``), so the app, ``mmtb-demo`` (``demo/image_demo.py``) and
``mmtb-screen`` (``tools/screen.py``) answer alike; this module is only the user interface,
a page that Streamlit executes from the top at every rerun (``demo/streamlit_app.py`` runs it
as ``__main__`` with :func:`runpy.run_module`).
"""

from __future__ import annotations

import base64
import io
import logging
import sys
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import streamlit as st
from PIL import Image
from streamlit.runtime.scriptrunner import get_script_run_ctx

from mmtb.apis import (
    TBScreener,
    cam_scale_bar,
    clinician_summary,
    list_checkpoints,
    operating_point_sentence,
    overlay_cam,
    screening_refusal,
)
from mmtb.apis.operating_point import parse_operating_point
from mmtb.apis.report import ReportInfo, build_report
from mmtb.apis.triage import CAM_CAPTION, outside_lung_notice
from mmtb.app.components import crop_box_component
from mmtb.app.helpers import (
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
    probability_bar_html,
    side_by_side,
)
from mmtb.app.model_cache import load_screener, screener_args
from mmtb.io.decode import MIN_SIDE, XrayDecodeError

EDIT_DEFAULTS = dict(edit_crop=False, edit_scale=100, edit_brightness=1.0,
                     edit_contrast=1.0, edit_sharpness=1.0, view_window=(0, 255))
NO_MODEL_HELP = ('No model is installed on this server yet, so images cannot be screened. '
                 'Please ask the person who runs this app to install one.')
LOAD_FAILED = ('The selected model could not be loaded. Choose another model in the sidebar '
               'or ask the person who runs this app.')
EDITS_CHANGE_INPUT = ('These edits change what the model sees (and so the score). To look at '
                      'the image without changing the score, use "Display window" instead.')
# Streamlit's button that opens a collapsed sidebar (phones) is an unlabelled "»": name it
SIDEBAR_BUTTON_LABEL = 'Model'
SIDEBAR_BUTTON_CSS = ('<style>[data-testid="stExpandSidebarButton"]::after {content: "%s"; '
                      'margin-left: 0.25rem; font-size: 0.9rem;}</style>' % SIDEBAR_BUTTON_LABEL)
CROPPER_WIDTH = 600  # px: the cropper shows a copy at most this wide; its box is scaled back
log = logging.getLogger('mmtb.demo')


# ------------------------------------------------------------------------------------ model
def cli_args() -> list[str] | None:
    """Arguments after ``--`` when started by ``streamlit run`` on the page being run (this
    module under ``mmtb-app``, or its wrapper ``demo/streamlit_app.py``), else None.

    Under AppTest or another host, sys.argv belongs to someone else (e.g. pytest).
    """
    ctx = get_script_run_ctx()
    try:
        ours = ctx is not None and (Path(sys.argv[0]).resolve()
                                    == Path(ctx.main_script_path).resolve())
    except (IndexError, OSError):
        return None
    return sys.argv[1:] if ours else None


def sidebar_model(defaults: ModelDefaults, side) -> tuple[TBScreener | None, str]:
    """Pick a model from the list and load it; explain (never crash) when none loads.

    Returns the screener (or None) and a label saying which calibration sets its threshold.
    """
    side.header('Model')
    choices = model_choices(defaults, list_checkpoints(defaults.work_dirs))
    if not choices:
        st.info(NO_MODEL_HELP)
        return None, ''
    names = [c['name'] for c in choices]
    picked = side.selectbox('Model', names, key='model_choice')
    entry = choices[names.index(picked)]
    more = side.expander('Threshold', expanded=False)
    threshold, threshold_label = threshold_inputs(defaults, more)
    try:
        screener = load_screener(*screener_args(entry, threshold))
    except Exception:  # a broken or mismatched file: say so, keep the app up, tell no paths
        log.exception('model loading failed')
        st.error(LOAD_FAILED)
        return None, ''
    label = threshold_label or screener.threshold_source
    side.caption(f'**{screener.name}** (weights {screener.version})  \n'
                 f'Threshold {format_probability(screener.threshold)}  \n'
                 f'Calibration in use: {label}')
    return screener, label


def threshold_inputs(defaults: ModelDefaults, side):
    """(threshold argument for TBScreener, label shown to the user or None).

    An uploaded operating-point JSON wins over the number; no number keeps the model's own
    operating point (or the one the app was started with).
    """
    value = side.number_input('Threshold (0-1, optional)', min_value=0.0, max_value=1.0,
                              value=None, step=0.01, format='%.3f', key='threshold_value',
                              help="Empty: the model's own operating point.")
    uploaded = side.file_uploader('...or upload an operating-point JSON', type=['json'],
                                  key='threshold_upload')
    if uploaded is not None:
        try:  # parsed in memory: an upload is never written to the server's disk
            point = parse_operating_point(uploaded.getvalue(), uploaded.name)
        except ValueError as e:  # malformed JSON from the user
            side.error(f'{uploaded.name} is not a usable operating point: {_one_line(e)}')
        else:
            return point, f'uploaded {uploaded.name}'
    if value is not None:
        return float(value), None
    return defaults.threshold, None


# ------------------------------------------------------------------------------------ edits
def edit_controls(box) -> tuple[bool, Edits, tuple[int, int]]:
    """The labelled edit controls; returns (crop enabled, edits without the crop box, display
    window)."""
    for key, value in EDIT_DEFAULTS.items():
        st.session_state.setdefault(key, value)
    window = box.slider('Display window (view only, the score does not change)', 0, 255,
                        key='view_window')
    box.markdown('**Edits for the model**')
    box.caption(EDITS_CHANGE_INPUT)
    crop = box.checkbox('Crop', key='edit_crop', help='Draw a box on the image; exactly what '
                        'is inside it is screened.')
    scale = box.slider('Size (%)', 25, 200, step=5, key='edit_scale')
    brightness = box.slider('Brightness', 0.2, 3.0, step=0.05, key='edit_brightness')
    contrast = box.slider('Contrast', 0.2, 3.0, step=0.05, key='edit_contrast')
    sharpness = box.slider('Sharpness', 0.0, 4.0, step=0.1, key='edit_sharpness')
    box.button('Reset edits', on_click=reset_edits, key='reset_edits')
    return crop, Edits(scale=scale / 100.0, brightness=brightness, contrast=contrast,
                       sharpness=sharpness), tuple(window)


def reset_edits() -> None:
    """Button callback: widgets keyed in session_state can only be reset before they render."""
    st.session_state.update(EDIT_DEFAULTS)
    st.session_state['crop_nonce'] = st.session_state.get('crop_nonce', 0) + 1


def crop_box(grey, key: str, where):
    """(left, top, width, height) in the image's pixels from the crop box, None for the whole
    image (also where the component cannot run, e.g. under AppTest).

    The box starts on the whole image, so ticking Crop alone changes nothing; the component
    (``crop_box/index.html`` beside this module) keeps it on the image and its corners are
    handles from the start. It gets a copy at most ``CROPPER_WIDTH`` wide; the box is scaled
    back and trimmed.
    """
    h, w = grey.shape
    ratio = max(1.0, w / CROPPER_WIDTH)
    shown = Image.fromarray(grey)
    if ratio > 1:
        shown = shown.resize((round(w / ratio), round(h / ratio)), Image.Resampling.LANCZOS)
    whole = dict(left=0, top=0, width=shown.width, height=shown.height)
    nonce = st.session_state.get('crop_nonce', 0)  # a new box after "Reset edits"
    with where:
        st.caption('Drag a corner of the red box to resize it, or its inside to move it: '
                   'exactly what is inside the box is screened.')
        box = crop_box_component(image=_data_url(shown), image_key=f'{key}_{nonce}',
                              width=shown.width, height=shown.height,
                              min_side=max(1, round(MIN_SIDE / ratio)), box=whole,
                              default=whole, key=f'crop_box_{key}_{nonce}')
    try:
        return box_on_image(box or whole, ratio, w, h)
    except (KeyError, TypeError, ValueError):  # a malformed value from the browser
        log.warning('ignoring a malformed crop box: %r', box)
        return None


def _data_url(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, format='PNG')
    return 'data:image/png;base64,' + base64.b64encode(buf.getvalue()).decode()


# ----------------------------------------------------------------------------------- upload
def uploaded_xray():
    """(decoded upload, file name) decoded once per file in memory, or None after telling
    the user. Any file is accepted: the decoder recognises it by content, and every refusal
    is a message in the page."""
    uploaded = st.file_uploader(
        'Chest X-ray: PNG, JPEG or DICOM (any file name)', key='upload',
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
        st.error(f'{uploaded.name}: {result}')
        return None
    return result, uploaded.name


# ----------------------------------------------------------------------------------- result
def screen(screener: TBScreener, model_id: str, decoded, name: str, edited, edits_on: bool,
           action, view, window) -> bool:
    """The Screen button (with the "screen anyway" override for non-radiographs) and the
    result, kept until the image, the model or the override changes. Returns whether a result
    is on the page."""
    refusal = screening_refusal(decoded)
    forced = False
    if refusal is not None:
        action.error(f'Cannot screen this image. {refusal}')
        forced = action.checkbox('Screen anyway (the result is not reliable)', key='force')
    key = (model_id, image_key(edited), forced)
    if action.button('Screen for TB', type='primary', key='predict', width='stretch',
                     disabled=refusal is not None and not forced):
        try:
            with action, st.spinner('Screening...'):
                pred = screener.predict(edited, with_cam=True)
                unedited = screener.predict(decoded.grey).prob_tb if edits_on else None
            screened_at = datetime.now(timezone.utc)
            st.session_state['_result'] = (key, pred, unedited, screened_at)
        except Exception as e:
            log.exception('prediction failed')
            action.error(f'Screening failed: {_one_line(e)}')
            return False
    stored = st.session_state.get('_result')
    if stored is None or stored[0] != key:
        if refusal is None:
            action.caption('Press "Screen for TB" to score this image.')
        return False
    _, pred, unedited, screened_at = stored
    warnings = list(decoded.warnings) + pred.warnings + ([refusal] if forced else [])
    with view:
        show_result(screener, pred, edited, name, screened_at, unedited, warnings, window)
    return True


def verdict(pred) -> str:
    if pred.borderline:
        side = 'above' if pred.decision == 'tuberculosis' else 'below'
        return f':orange[Borderline — review] (just {side} the threshold)'
    return ':red[TB suspected]' if pred.decision == 'tuberculosis' else ':green[No TB detected]'


def show_result(screener, pred, grey, name, screened_at, unedited, warnings, window) -> None:
    """Verdict, probability bar with the threshold, what the threshold means, heat map with its
    colour scale, the outside-lung warning and the report download."""
    st.subheader(verdict(pred), anchor=False)
    st.caption(f'{name} · screened {screened_at:%Y-%m-%d %H:%M:%S} UTC')
    left, right = st.columns(2)
    left.metric('TB probability', format_probability(pred.prob_tb))
    right.metric('Decision threshold', format_probability(pred.threshold))
    st.markdown(probability_bar_html(pred.prob_tb, pred.threshold, screener.borderline_band),
                unsafe_allow_html=True)
    sentence = _operating_point_sentence(screener)
    if sentence:
        st.caption(sentence)
    if screener.borderline_band is not None:
        low, high = screener.borderline_band
        st.caption(f'Borderline: between {format_probability(low)} and '
                   f'{format_probability(high)}, where one slider step (size 5 %, brightness '
                   f'or contrast 0.05) moved scores across the threshold on test X-rays.')
    if unedited is not None:
        st.info(f'Your edits changed what the model saw. Unedited image: TB probability '
                f'{format_probability(unedited)}.')
    notice = outside_lung_notice(pred.cam, grey)
    for warning in warnings + ([notice] if notice else []):
        st.warning(warning)
    alpha = st.slider('Heat-map opacity', 0.0, 1.0, 0.4, step=0.05, key='cam_alpha')
    shown = display_window(grey, *window)
    overlay = overlay_cam(shown, pred.cam, alpha=alpha) if pred.cam is not None else None
    if overlay is not None:
        st.image(side_by_side(shown, overlay), width='stretch',
                 caption='Left: the image as screened. Right: ' + CAM_CAPTION)
        st.image(cam_scale_bar(), width=256, caption='Heat-map colours: low (blue) to high (red)')
    else:
        st.image(shown, caption='The image as screened', width='stretch')
    info = ReportInfo(
        file_name=name, model_name=screener.name, model_version=screener.version,
        threshold=pred.threshold, calibration=st.session_state.get('_calibration', ''),
        prob_tb=pred.prob_tb, decision=pred.decision, borderline=pred.borderline,
        disclaimer=NOTE, created=screened_at,
        notes=tuple(warnings + ([notice] if notice else [])
                    + ([f'Edits were applied; unedited image: TB probability '
                        f'{format_probability(unedited)}.'] if unedited is not None else [])
                    + ([sentence] if sentence else [])))
    report_overlay = overlay_cam(grey, pred.cam) if pred.cam is not None else None
    st.download_button('Download report (PDF)', key='report',
                       data=lambda: build_report(info, grey, report_overlay),
                       file_name=f'tb_report_{Path(name).stem}_{screened_at:%Y%m%d_%H%M%S}.pdf',
                       mime='application/pdf', on_click='ignore', width='stretch')
    st.info(NOTE)


def _operating_point_sentence(screener) -> str | None:
    """The plain sentence for the model's own operating point only (not for a typed number
    or an uploaded JSON, whose tests the JSONs beside the model do not describe)."""
    if screener.operating_point is None or not screener.threshold_source.endswith(
            'operating_point.json'):
        return None
    return operating_point_sentence(screener.checkpoint_path.parent)


def model_details(screener: TBScreener, calibration: str) -> None:
    """Name, threshold and its source, the clinician summary and the technical card."""
    st.caption(f'Model: {screener.name} (weights {screener.version}) | threshold '
               f'{format_probability(screener.threshold)} (calibration in use: {calibration})')
    with st.expander('About this model'):
        folder = screener.checkpoint_path.parent if screener.checkpoint_path else None
        summary = clinician_summary(folder) if folder else None
        st.markdown(summary or 'This model has no published test results.')
        card = Path(screener.card_path) if screener.card_path else None
        if card is not None and card.is_file():
            st.markdown('---\n**Technical model card**')
            st.markdown(card.read_text(encoding='utf-8', errors='replace'))


# ------------------------------------------------------------------------------------- page
def main() -> None:
    st.set_page_config(page_title='mmtb: TB screening', page_icon=':lungs:', layout='centered',
                       initial_sidebar_state='auto')
    st.markdown(SIDEBAR_BUTTON_CSS, unsafe_allow_html=True)
    st.title('TB screening on chest X-rays')
    st.caption(NOTE)
    defaults = model_defaults(cli_args())
    screener, calibration = sidebar_model(defaults, st.sidebar)
    st.session_state['_calibration'] = calibration

    upload = uploaded_xray()
    if upload is not None:
        decoded, name = upload
        action, view = st.container(), st.container()  # the button right below the upload
        edits_box = st.expander('Adjust the image (crop, size, brightness, display window)')
        crop_on, edits, window = edit_controls(edits_box)
        if crop_on:
            edits = replace(edits, crop=crop_box(decoded.grey, image_key(decoded.grey)[:8],
                                                 view))
        edited = apply_edits(decoded.grey, edits)
        edits_on = edits != Edits()
        preview = view.empty()  # stays on the page while screening runs
        h, w = edited.shape
        preview.image(display_window(edited, *window), width='stretch',
                      caption=f'Image to screen ({w} x {h} px)'
                      + (' — edited: the model sees this version' if edits_on else ''))
        if screener is not None and screen(
                screener, f'{screener.checkpoint_path}|{screener.threshold}', decoded, name,
                edited, edits_on, action, view, window):
            preview.empty()  # the result shows the screened image beside its heat map
    if screener is not None:
        model_details(screener, calibration)


def _one_line(e: BaseException) -> str:
    return ' '.join(str(e).split())[:300] or type(e).__name__


if __name__ == '__main__':  # `streamlit run` (mmtb-app, demo/streamlit_app.py) runs this page
    main()
