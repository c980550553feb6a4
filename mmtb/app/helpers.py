"""Pure helpers for the clinician app (:mod:`mmtb.app.streamlit_app`), kept free of Streamlit.

Why a separate module: the image edits, the command line / environment defaults and the
model list are the parts of the app where a silent mistake would change what the model sees
or which model answers, so they live here as plain functions that unit tests call directly.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

from mmtb.io.decode import MIN_SIDE, DecodedXray, decode_xray

# Environment variables the app reads as defaults (the command line after ``--`` wins).
ENV_CHECKPOINT = 'MMTB_CHECKPOINT'
ENV_CONFIG = 'MMTB_CONFIG'
ENV_THRESHOLD = 'MMTB_THRESHOLD'
ENV_WORK_DIRS = 'MMTB_WORK_DIRS'

NOTE = 'Triage support for research use, not a diagnosis: a clinician must review the image.'


@dataclass(frozen=True)
class Edits:
    """What the user changed; the defaults leave the image untouched.

    ``crop`` is (left, top, width, height) in pixels of the decoded image, or None.
    ``scale`` is the size factor (1.0 = 100 %); the enhancement factors follow Pillow's
    ``ImageEnhance`` (1.0 = unchanged, 0 = black / flat grey / blurred).
    """

    crop: tuple[int, int, int, int] | None = None
    scale: float = 1.0
    brightness: float = 1.0
    contrast: float = 1.0
    sharpness: float = 1.0


def apply_edits(grey: np.ndarray, edits: Edits) -> np.ndarray:
    """Return the edited copy of a uint8 HxW grey image (crop, resize, then enhance).

    Crop comes first so the box refers to the image the user saw in the cropper; resizing
    never goes below ``MIN_SIDE`` pixels a side, the decoder's own minimum, so an edit cannot
    turn a valid image into one the model refuses. Default edits return the input unchanged.
    """
    if grey.dtype != np.uint8 or grey.ndim != 2:
        raise ValueError(f'expected a uint8 HxW grey image, got {grey.dtype} {grey.shape}')
    if edits == Edits():
        return grey
    img = Image.fromarray(grey, mode='L')
    if edits.crop is not None:
        img = img.crop(_clamp_box(edits.crop, img.width, img.height))
    if edits.scale != 1.0:
        img = img.resize(_scaled_size(img.width, img.height, edits.scale),
                         Image.Resampling.LANCZOS)
    for enhancer, factor in ((ImageEnhance.Brightness, edits.brightness),
                             (ImageEnhance.Contrast, edits.contrast),
                             (ImageEnhance.Sharpness, edits.sharpness)):
        if factor != 1.0:
            img = enhancer(img).enhance(factor)
    return np.ascontiguousarray(np.asarray(img))


def _clamp_box(box, width: int, height: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom): the box trimmed to the image, never shifted onto it.

    A box dragged partly off the image keeps exactly the part that lies on the image, so what
    is outlined is what is screened. A box thinner than MIN_SIDE is widened around its centre
    (within the image) so the decoder's minimum still holds.
    """
    left, top, w, h = (int(round(float(v))) for v in box)
    left, right = _trimmed_span(left, left + w, width)
    top, bottom = _trimmed_span(top, top + h, height)
    return left, top, right, bottom


def _trimmed_span(start: int, stop: int, size: int) -> tuple[int, int]:
    start, stop = max(start, 0), min(stop, size)
    short = min(MIN_SIDE, size) - (stop - start)
    if short > 0:  # too thin (or entirely off the image): grow it, staying on the image
        start = min(max(0, start - short // 2), size - min(MIN_SIDE, size))
        stop = start + min(MIN_SIDE, size)
    return start, stop


def box_on_image(box: dict, ratio: float, width: int, height: int):
    """The cropper's box (in the pixels of its display copy, shrunk by ``ratio``) in the
    decoded image's pixels, trimmed to it; None when it covers the whole image (no crop)."""
    scaled = [box['left'] * ratio, box['top'] * ratio, box['width'] * ratio,
              box['height'] * ratio]
    left, top, right, bottom = _clamp_box(scaled, width, height)
    if (left, top, right, bottom) == (0, 0, width, height):
        return None
    return left, top, right - left, bottom - top


def display_window(grey: np.ndarray, low: int, high: int) -> np.ndarray:
    """A display copy with grey levels low..high stretched to 0..255 (the model input is not
    touched): radiology's window, for looking at the image only."""
    if (low, high) == (0, 255):
        return grey
    low, high = int(low), max(int(high), int(low) + 1)
    scaled = (grey.astype(np.float32) - low) * (255.0 / (high - low))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def side_by_side(left: np.ndarray, right: np.ndarray, gap: int = 8) -> np.ndarray:
    """One RGB image, ``left`` | white gap | ``right``: the input and its heat map stay beside
    each other on a phone too (Streamlit stacks columns on narrow screens)."""
    left = np.repeat(left[:, :, None], 3, axis=2) if left.ndim == 2 else left
    right = np.repeat(right[:, :, None], 3, axis=2) if right.ndim == 2 else right
    spacer = np.full((left.shape[0], gap, 3), 255, np.uint8)
    return np.concatenate([left, spacer, right], axis=1)


def probability_bar_html(prob: float, threshold: float, band) -> str:
    """An HTML bar for P(TB) with the threshold marked and the borderline band shaded."""
    def pct(v):
        return f'{100 * min(max(float(v), 0.0), 1.0):.2f}%'
    shade = ''
    if band is not None:
        shade = (f'<div style="position:absolute;left:{pct(band[0])};width:calc('
                 f'{pct(band[1])} - {pct(band[0])});top:0;bottom:0;background:'
                 f'rgba(255,170,0,0.25)" title="borderline band"></div>')
    return (
        '<div class="mmtb-bar" style="position:relative;height:22px;border-radius:4px;'
        'background:#e6e9ef;margin:4px 0 2px 0">'
        f'{shade}<div style="position:absolute;left:0;top:5px;height:12px;width:{pct(prob)};'
        'background:#31333f;border-radius:3px"></div>'
        f'<div style="position:absolute;left:{pct(threshold)};top:-3px;bottom:-3px;width:3px;'
        'background:#d62728" title="threshold"></div></div>'
        '<div style="font-size:0.8em;color:#555">dark bar: TB probability; red line: decision '
        'threshold' + ('; shaded: borderline band' if band is not None else '') + '</div>')


def _scaled_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """New (width, height) for ``scale``, keeping the aspect ratio and >= MIN_SIDE a side."""
    scale = max(scale, MIN_SIDE / min(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def decode_upload(data: bytes, name: str | None = None) -> DecodedXray:
    """Decode uploaded bytes in memory, recognised by content (the name is only a fallback).

    Raises ``XrayDecodeError`` (a one-line message for the user) for unusable input.
    """
    buf = io.BytesIO(data)
    buf.name = name or ''
    return decode_xray(buf)


def image_key(grey: np.ndarray) -> str:
    """A short fingerprint of an image, so a stored result is shown only for that image."""
    digest = hashlib.sha1(grey.tobytes())
    digest.update(repr(grey.shape).encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class ModelDefaults:
    """The model asked for before the user touches the sidebar (command line or env)."""

    checkpoint: str | None = None
    config: str | None = None
    threshold: str | float | None = None
    work_dirs: str = 'work_dirs'


def parse_threshold(value: str | None) -> str | float | None:
    """A number stays a number; anything else is taken as a path to an operating-point JSON."""
    if value is None or not str(value).strip():
        return None
    value = str(value).strip()
    try:
        return float(value)
    except ValueError:
        return value


def model_defaults(argv: list[str] | None, environ=os.environ,
                   default_work_dirs: str = 'work_dirs') -> ModelDefaults:
    """Merge ``MMTB_*`` environment variables with the script's own arguments.

    ``argv`` is what follows ``--`` in ``mmtb-app -- ...`` / ``streamlit run ... -- ...`` (or
    None when the app was not started that way). Unknown arguments are ignored and
    abbreviations are off, so another program's options are never misread as ours.
    """
    parser = argparse.ArgumentParser(prog='streamlit_app.py', allow_abbrev=False,
                                     add_help=False)
    parser.add_argument('--checkpoint', default=environ.get(ENV_CHECKPOINT) or None)
    parser.add_argument('--config', default=environ.get(ENV_CONFIG) or None)
    parser.add_argument('--threshold', default=environ.get(ENV_THRESHOLD) or None)
    parser.add_argument('--work-dirs', default=environ.get(ENV_WORK_DIRS) or default_work_dirs)
    argv = list(argv or [])
    if argv[:1] == ['--']:
        argv = argv[1:]
    args, _unknown = parser.parse_known_args(argv)
    return ModelDefaults(args.checkpoint, args.config, parse_threshold(args.threshold),
                         str(args.work_dirs))


def model_choices(defaults: ModelDefaults, listed: list[dict]) -> list[dict]:
    """The sidebar's model list: the command-line/env model first, then ``list_checkpoints``.

    Each entry is a dict(name, config, checkpoint); duplicates of the first entry are dropped.
    """
    choices = []
    if defaults.checkpoint:
        ckpt = Path(defaults.checkpoint)
        choices.append(dict(name=f'{ckpt.parent.name}/{ckpt.name} (command line)',
                            config=defaults.config, checkpoint=str(ckpt)))
    seen = {_same_file_key(c['checkpoint']) for c in choices}
    for entry in listed:
        if _same_file_key(entry.get('checkpoint')) not in seen:
            choices.append(dict(name=str(entry['name']), config=entry.get('config'),
                                checkpoint=entry.get('checkpoint')))
    return choices


def _same_file_key(path) -> str | None:
    if path is None:
        return None
    try:
        return str(Path(path).resolve())
    except OSError:
        return str(path)


def format_probability(prob: float) -> str:
    """A probability as a percentage with one decimal (what the clinician reads); values that
    would round to 0 or 100 % keep two more decimals, so a threshold of 0.9999 never reads as
    '100.0 %' (which would mean nothing can be called TB)."""
    percent = 100.0 * float(prob)
    if 0 < percent < 0.05 or 99.95 < percent < 100:
        return f'{percent:.3f} %'
    return f'{percent:.1f} %'
