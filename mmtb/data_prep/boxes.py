"""Radiologists' lesion boxes (``file,kind,x0,y0,x1,y1``, as in ``tbx11k256/boxes.csv``).

Used to check where heat maps land and, for lesion-aware augmentation, to cut lesion and
control patches. The CSV is checked strictly: a wrong column or coordinate would silently
move every box, so :func:`read_lesion_boxes` refuses it with a one-line message instead.
The TBX11K kinds are shortened to ``active``, ``obsolete`` (healed) and ``pulmonary``.
"""
from __future__ import annotations

import csv
import hashlib
import math
from collections import defaultdict
from pathlib import Path

from mmtb.data_prep.sources import DataSourceError

BOX_COLUMNS = ('file', 'kind', 'x0', 'y0', 'x1', 'y1')
TB_KINDS = {'ActiveTuberculosis': 'active', 'ObsoletePulmonaryTuberculosis': 'obsolete',
            'PulmonaryTuberculosis': 'pulmonary', 'active': 'active', 'obsolete': 'obsolete',
            'pulmonary': 'pulmonary'}
LESION_SPLITS = ('patch', 'eval')
LESION_KINDS = frozenset(TB_KINDS.values())


def read_lesion_boxes(path) -> dict[str, list[tuple[str, tuple[float, float, float, float]]]]:
    """``{file name: [(kind, (x0, y0, x1, y1)), ...]}``; DataSourceError on a malformed file."""
    path = Path(path)
    if not path.is_file():
        raise DataSourceError(f'lesion boxes file not found: {path}')
    try:
        with open(path, newline='', encoding='utf-8') as f:
            reader = csv.DictReader(f)
            if tuple(reader.fieldnames or ()) != BOX_COLUMNS:
                raise DataSourceError(
                    f'{path}: expected the columns {",".join(BOX_COLUMNS)}, got '
                    f'{",".join(reader.fieldnames or ()) or "none"}')
            boxes = defaultdict(list)
            for line, row in enumerate(reader, start=2):
                boxes[row['file']].append(_parse_box(path, line, row))
    except UnicodeDecodeError:
        raise DataSourceError(f'{path} is not a UTF-8 CSV file') from None
    if not boxes:
        raise DataSourceError(f'{path} holds no boxes')
    return dict(boxes)


def _parse_box(path: Path, line: int, row: dict):
    if not row['file'] or None in row.values():
        raise DataSourceError(f'{path}, line {line}: expected 6 fields '
                              f'({",".join(BOX_COLUMNS)})')
    kind = TB_KINDS.get(row['kind'])
    if kind is None:
        raise DataSourceError(f'{path}, line {line}: unknown TB kind {row["kind"]!r} '
                              f'(expected one of {", ".join(sorted(set(TB_KINDS)))})')
    try:
        x0, y0, x1, y1 = (float(row[k]) for k in BOX_COLUMNS[2:])
    except ValueError:
        raise DataSourceError(f'{path}, line {line}: box coordinates must be numbers') from None
    if not all(map(math.isfinite, (x0, y0, x1, y1))) or min(x0, y0) < 0 or not (
            x1 > x0 and y1 > y0):
        raise DataSourceError(f'{path}, line {line}: a box needs 0 <= x0 < x1 and '
                              f'0 <= y0 < y1, got {x0}, {y0}, {x1}, {y1}')
    return kind, (x0, y0, x1, y1)


def kinds_of(boxes) -> list[str]:
    """The TB kinds of one image's boxes, sorted and unique (``['active', 'obsolete']``)."""
    return sorted({kind for kind, _ in boxes})


def lesion_split(file_name: str) -> str:
    """'patch' or 'eval': a fixed half of the boxed images lends lesion patches to training
    (``PasteLesionPatches``), the other half stays unseen for evaluation. Decided by a hash of
    the file name, so it does not depend on order, count or a seed."""
    digest = hashlib.sha256(Path(file_name).name.encode()).digest()
    return LESION_SPLITS[digest[0] & 1]


def tb_kinds_by_image(ann_file, data_root) -> dict[str, list[str]] | None:
    """``{absolute image path: [TB kind, ...]}`` from an annotation file whose ``finding``
    fields are TB kinds (``'active+obsolete'``, as ``tbx11k-boxes`` writes them); None when any
    finding is something else (free-text readings of other sources are no subgroups)."""
    import json
    data = json.loads(Path(ann_file).read_text())
    kinds = {}
    for item in data.get('data_list', []):
        finding = item.get('finding')
        names = finding.split('+') if finding else []
        if any(name not in LESION_KINDS for name in names):
            return None
        kinds[str((Path(data_root) / item['img_path']).resolve())] = names
    return kinds if any(kinds.values()) else None
