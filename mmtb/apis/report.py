"""A one-page PDF report of one screening, rendered in memory (bytes), never on disk.

Why matplotlib's PDF backend: it is already a dependency (no new package to pin and audit),
draws the image, the heat map and its colour scale on one page, and writes to a BytesIO, so
the app can offer the report as a download without the upload ever touching the server's disk.
The app and ``demo/image_demo.py --report`` both call :func:`build_report`.
"""
from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

A4_INCHES = (8.27, 11.69)
# matplotlib's 'jet' is the colour map of overlay_cam (OpenCV's COLORMAP_JET via grad-cam)
CAM_COLOUR_MAP = 'jet'

__all__ = ['ReportInfo', 'build_report', 'decision_text']


@dataclass
class ReportInfo:
    """What the report states besides the images; every field is shown as given."""

    file_name: str
    model_name: str
    model_version: str
    threshold: float
    calibration: str
    prob_tb: Optional[float]  # None when the image was not screened
    decision: str  # 'tuberculosis', 'normal' or 'not_screened'
    borderline: bool
    disclaimer: str
    notes: tuple[str, ...] = ()  # warnings, edits, outside-lung notice, operating point
    created: Optional[datetime] = None  # default: now (UTC)


def decision_text(decision: str, borderline: bool) -> str:
    """The verdict in words, as the app shows it."""
    if decision == 'not_screened':
        return 'Not screened (not a chest X-ray)'
    text = 'TB suspected' if decision == 'tuberculosis' else 'No TB detected'
    return f'{text} (borderline: review)' if borderline else text


def build_report(info: ReportInfo, image: np.ndarray, overlay: Optional[np.ndarray],
                 fmt: str = 'pdf') -> bytes:
    """The PDF bytes: facts on top, the screened image and its heat map (with colour scale)
    side by side, the notes, and the disclaimer at the bottom (``fmt='png'`` for a preview)."""
    created = info.created or datetime.now(timezone.utc)
    fig = Figure(figsize=A4_INCHES)
    fig.text(0.07, 0.955, 'TB screening report', fontsize=18, weight='bold')
    prob = ('-' if info.prob_tb is None else f'{100 * info.prob_tb:.1f} %')
    facts = [
        ('File', info.file_name),
        ('Date and time', created.strftime('%Y-%m-%d %H:%M:%S %Z').strip()),
        ('Model', f'{info.model_name} (weights {info.model_version})'),
        ('Threshold', f'{100 * info.threshold:.1f} %  (calibration: {info.calibration})'),
        ('Result', decision_text(info.decision, info.borderline)),
        ('TB probability', prob),
        ('Borderline', 'yes: review' if info.borderline else 'no'),
    ]
    y = 0.92
    for label, value in facts:
        fig.text(0.07, y, f'{label}:', fontsize=10.5, weight='bold')
        fig.text(0.27, y, textwrap.shorten(str(value), 90), fontsize=10.5)
        y -= 0.024
    top, height = y - 0.01, 0.36
    ax = fig.add_axes((0.06, top - height, 0.42, height))
    ax.imshow(image, cmap='gray', vmin=0, vmax=255)
    ax.set_title('Image as screened', fontsize=10)
    ax.axis('off')
    if overlay is not None:
        ax = fig.add_axes((0.52, top - height, 0.42, height))
        ax.imshow(overlay)
        ax.set_title('Heat map (Grad-CAM)', fontsize=10)
        ax.axis('off')
        bar = fig.add_axes((0.56, top - height - 0.025, 0.34, 0.012))
        scale = fig.colorbar(ScalarMappable(Normalize(0, 1), CAM_COLOUR_MAP), cax=bar,
                             orientation='horizontal', ticks=[0, 1])
        scale.ax.set_xticklabels(['low', 'high'], fontsize=8)
    y = top - height - 0.07
    for note in info.notes:
        for line in textwrap.wrap(note, 105):
            fig.text(0.07, y, line, fontsize=9)
            y -= 0.018
        y -= 0.006
    y = min(y, 0.08)  # the disclaimer at the foot of the page
    for line in textwrap.wrap(info.disclaimer, 95):
        fig.text(0.07, y, line, fontsize=10, weight='bold')
        y -= 0.02
    buf = io.BytesIO()
    metadata = {'Title': 'TB screening report', 'Creator': 'mmtb'} if fmt == 'pdf' else None
    fig.savefig(buf, format=fmt, metadata=metadata)
    return buf.getvalue()
