"""Operating points: the P(TB) threshold a model screens at, read from the JSON that
calibration writes (``operating_point.json`` beside a checkpoint) or given as a number.

A wrong threshold silently changes every decision, so every source is checked here.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[2]
DEFAULT_THRESHOLD = 0.5

__all__ = ['DEFAULT_THRESHOLD', 'operating_point_of', 'parse_operating_point',
           'read_operating_point', 'resolve_threshold']


def read_operating_point(path) -> dict:
    """Read an operating-point JSON (``{"threshold": 0.37, "target_sensitivity": 0.9, ...}``).

    Written by calibration on a validation set; refused unless ``threshold`` is a number in
    [0, 1], since a wrong threshold silently changes every decision.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise FileNotFoundError(f'operating-point file not found: {path}') from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f'{path} is not a readable operating-point JSON file ({e})') from None
    return parse_operating_point(text, str(path))


def parse_operating_point(text, where: str = 'the operating point') -> dict:
    """``read_operating_point`` on JSON text or bytes already in memory (e.g. an upload)."""
    try:
        data = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f'{where} is not a readable operating-point JSON file ({e})') from None
    if not isinstance(data, dict) or 'threshold' not in data:
        raise ValueError(f'{where} has no "threshold" entry (an operating-point JSON looks like '
                         '{"threshold": 0.37, "target_sensitivity": 0.9, "chosen_on": "..."})')
    threshold = data['threshold']
    if (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
            or not math.isfinite(threshold) or not 0 <= threshold <= 1):
        raise ValueError(f'{where}: "threshold" must be a number between 0 and 1, '
                         f'got {threshold!r}')
    data['threshold'] = float(threshold)
    return data


def _display_path(path: Path) -> str:
    """``path`` relative to the working directory or the repo when inside them (for display)."""
    path = Path(path).resolve()
    for base in (Path.cwd(), REPO):
        try:
            return path.relative_to(base.resolve()).as_posix()
        except ValueError:
            pass
    return str(path)


def _checked_threshold(value: float, what: str) -> float:
    if not math.isfinite(value) or not 0 <= value <= 1:
        raise ValueError(f'{what} must be between 0 and 1, got {value}')
    return float(value)


def resolve_threshold(threshold, checkpoint: Optional[Path]) -> tuple[float, str]:
    """(threshold, where it came from) for TBScreener's ``threshold`` argument.

    A string is a path when such a file exists, else a number (so CLIs can pass
    ``--threshold 0.4`` and ``--threshold calib.json`` alike).
    """
    if threshold is None:
        beside = checkpoint.parent / 'operating_point.json' if checkpoint else None
        if beside is not None and beside.is_file():
            return read_operating_point(beside)['threshold'], _display_path(beside)
        return DEFAULT_THRESHOLD, f'default {DEFAULT_THRESHOLD:g}'
    if isinstance(threshold, dict):  # an operating point already read (e.g. uploaded)
        point = parse_operating_point(json.dumps(threshold))
        return point['threshold'], 'given operating point'
    if isinstance(threshold, bool):
        raise TypeError('threshold must be a number or a path, not a bool')
    if isinstance(threshold, (int, float)):
        return _checked_threshold(float(threshold), 'threshold'), f'given {threshold:g}'
    path = Path(threshold)
    if isinstance(threshold, str) and not path.is_file():
        try:
            value = float(threshold)
        except ValueError:
            raise FileNotFoundError(
                f'threshold {threshold!r} is neither a number nor an existing operating-point '
                'JSON file') from None
        return _checked_threshold(value, 'threshold'), f'given {value:g}'
    return read_operating_point(path)['threshold'], f'calibration: {path.name}'


def operating_point_of(threshold, checkpoint: Optional[Path]) -> Optional[dict]:
    """The operating-point JSON behind ``resolve_threshold``'s answer, or None for a number."""
    if threshold is None:
        beside = checkpoint.parent / 'operating_point.json' if checkpoint else None
        return read_operating_point(beside) if beside is not None and beside.is_file() else None
    if isinstance(threshold, dict):
        return parse_operating_point(json.dumps(threshold))
    if isinstance(threshold, (str, Path)) and Path(threshold).is_file():
        return read_operating_point(threshold)
    return None

