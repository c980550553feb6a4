"""Readers that turn a chest X-ray dataset folder into uniform records.

Every public TB dataset ships in its own layout (class folders, label-in-the-file-name, clinical
reading text files). Each layout gets one small reader registered by name in
:data:`DATA_SOURCES`, and all readers return the same record contract, so merging, de-duplicating
and splitting never need to know where an image came from::

    {'img_path': '/abs/path.png', 'gt_label': 0 or 1, 'source': 'tbdb',
     'age': int or None, 'sex': 'M'/'F' or None, 'finding': str or None}

Use :func:`read_source` rather than the readers directly: it adds the checks a user needs
(folder exists, kind is known, at least one image found) and raises :class:`DataSourceError`
with a one-line message on any of them.

Each reader's docstring says where its dataset is downloaded and under which terms / citation;
``mmtb.data_prep.download`` fetches the public ones.
"""
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from mmengine.registry import Registry

from mmtb.io import IMAGE_EXTENSIONS, has_image_extension

CLASSES = ('normal', 'tuberculosis')
NORMAL, TUBERCULOSIS = 0, 1
METADATA_KEYS = ('age', 'sex', 'finding')

DATA_SOURCES = Registry('tb data source')

# Folder names (lower-case) that name a class, per layout. The generic ``folder`` reader is
# the most permissive; the dataset-specific ones accept what the real downloads contain.
_TBDB_CLASS_FOLDERS = {'normal': NORMAL, 'tuberculosis': TUBERCULOSIS, 'tb': TUBERCULOSIS}
_PAKISTAN_CLASS_FOLDERS = {'normal': NORMAL, 'tb': TUBERCULOSIS, 'tuberculosis': TUBERCULOSIS}
_GENERIC_CLASS_FOLDERS = {
    'normal': NORMAL, 'healthy': NORMAL, 'negative': NORMAL, '0': NORMAL,
    'tuberculosis': TUBERCULOSIS, 'tb': TUBERCULOSIS, 'positive': TUBERCULOSIS,
    '1': TUBERCULOSIS,
}


class DataSourceError(ValueError):
    """A mistake in the user's input (missing/empty folder, unknown kind or class folder).

    The message is a single line meant to be shown to the user as is.
    """


def make_record(img_path: Path, gt_label: int, source: str, age: int | None = None,
                sex: str | None = None, finding: str | None = None) -> dict:
    """Build one record with every key present, so all sources share one schema."""
    return {'img_path': str(Path(img_path).resolve()), 'gt_label': int(gt_label),
            'source': source, 'age': age, 'sex': sex, 'finding': finding}


def is_image_file(path: Path) -> bool:
    """True for visible image files with a known extension (skips ``._x.png`` and friends)."""
    return path.is_file() and not path.name.startswith('.') and has_image_extension(path)


def _images_under(folder: Path) -> list[Path]:
    """All images below ``folder`` (recursively), sorted so record order is reproducible."""
    return sorted(p for p in folder.rglob('*') if is_image_file(p))


def _visible_subfolders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith('.'))


def _read_class_folders(root: Path, source: str, class_folders: dict[str, int],
                        reject_unknown: bool) -> list[dict]:
    """Shared reader for folder-per-class layouts.

    Folder names are matched case-insensitively. Dataset downloads often carry extra folders
    (masks, metadata), so unknown folders are ignored unless ``reject_unknown`` - the generic
    layout has no other way to tell a typo from an extra folder, so it rejects them.
    """
    labelled, unknown = [], []
    for folder in _visible_subfolders(root):
        label = class_folders.get(folder.name.lower())
        if label is None:
            unknown.append(folder.name)
        else:
            labelled.append((folder, label))
    expected = ', '.join(sorted(class_folders))
    if reject_unknown and unknown:
        raise DataSourceError(
            f'{root}: unknown class folder(s) {", ".join(map(repr, unknown))}; '
            f'expected folder names (any case): {expected}')
    if not labelled:
        raise DataSourceError(
            f'{root}: no class folder found for source {source!r}; '
            f'expected folder names (any case): {expected}')
    return [make_record(path, label, source)
            for folder, label in labelled for path in _images_under(folder)]


@DATA_SOURCES.register_module('tbdb')
def read_tbdb(root: Path) -> list[dict]:
    """Kaggle "TB Chest X-ray Database": ``ROOT/Normal/*.png`` and ``ROOT/Tuberculosis/*.png``.

    Download: https://www.kaggle.com/datasets/tawsifurrahman/tuberculosis-tb-chest-xray-dataset
    (a Kaggle login is needed, so ``download_tbcxr.py tbdb`` only explains how). Terms: those on
    the Kaggle page; cite T. Rahman et al., "Reliable tuberculosis detection using chest X-ray
    with deep learning, segmentation and visualization", IEEE Access 8:191586-191601, 2020.
    It re-distributes the NLM Shenzhen/Montgomery images among others: merge it with those only
    through the de-duplicating converter.
    """
    return _read_class_folders(root, 'tbdb', _TBDB_CLASS_FOLDERS, reject_unknown=False)


@DATA_SOURCES.register_module('pakistan')
def read_pakistan(root: Path) -> list[dict]:
    """Mendeley Pakistan set: ``ROOT/TB/TB.N.jpg`` and ``ROOT/Normal/others (N).jpg``.

    Download: Mendeley Data, "Dataset of Tuberculosis Chest X-rays Images" (S. Kiran and
    I. Jabeen, https://data.mendeley.com/datasets/8j2g3csprk, doi:10.17632/8j2g3csprk; no login,
    but no stable direct file link, so ``download_tbcxr.py pakistan`` only explains how).
    Licence: CC BY 4.0 per the Mendeley record (check the page); cite the dataset. One hospital and
    scanner population different from the others: mmtb uses it as an external test set.
    """
    return _read_class_folders(root, 'pakistan', _PAKISTAN_CLASS_FOLDERS, reject_unknown=False)


@DATA_SOURCES.register_module('folder')
def read_class_folders(root: Path) -> list[dict]:
    """Any folder-per-class layout (normal/healthy/negative/0 vs tuberculosis/tb/positive/1).

    For your own data: there is nothing to download, and the licence and citation are yours
    to record.
    """
    return _read_class_folders(root, 'folder', _GENERIC_CLASS_FOLDERS, reject_unknown=True)


# ----------------------------------------------------------------------------- NLM sets
_NLM_NAME = r'^{prefix}_(\d+)_([01])$'
_SEX_PATTERNS = (
    re.compile(r"sex\s*:\s*([mf])", re.IGNORECASE),      # Montgomery: "Patient's Sex: M"
    re.compile(r'\b(female|male)\b', re.IGNORECASE),      # Shenzhen:   "male 35yrs"
)
_AGE_PATTERNS = (
    re.compile(r'age\s*:\s*0*(\d{1,3})', re.IGNORECASE),  # Montgomery: "Patient's Age: 035Y"
    re.compile(r'\b(\d{1,3})\s*(?:yrs?|years?|y)\b', re.IGNORECASE),  # Shenzhen: "35yrs"
)
_MONTGOMERY_HEADER = re.compile(r"^\s*patient'?s?\b", re.IGNORECASE)
_SHENZHEN_HEADER = re.compile(r'\b(?:fe)?male\b|\d\s*(?:yrs?|years?|y)\b', re.IGNORECASE)


def _first_match(patterns: Iterable[re.Pattern], text: str) -> str | None:
    for pattern in patterns:
        match = pattern.search(text)
        if match:
            return match.group(1)
    return None


def parse_clinical_reading(text: str) -> tuple[int | None, str | None, str | None]:
    """Best-effort (age, sex, finding) from an NLM clinical-reading text; never raises.

    Shenzhen files start with a line like ``male 35yrs``; Montgomery files with
    ``Patient's Sex: M`` / ``Patient's Age: 035Y``. The remaining non-empty lines are the
    radiologist's finding. Anything that does not parse is left as None.
    """
    try:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        # Only the leading lines can be demographic headers; a finding such as
        # "old TB, right upper lobe" must not be mistaken for one.
        n_header = 0
        while n_header < len(lines) and (
                _MONTGOMERY_HEADER.match(lines[n_header])
                or (n_header == 0 and _SHENZHEN_HEADER.search(lines[0]))):
            n_header += 1
        header = ' '.join(lines[:n_header])
        sex = _first_match(_SEX_PATTERNS, header)
        sex = sex[0].upper() if sex else None
        age = _first_match(_AGE_PATTERNS, header)
        age = int(age) if age is not None else None
        finding = ' '.join(lines[n_header:]) or None
        return age, sex, finding
    except Exception:  # noqa: BLE001 - metadata is optional; odd text must not stop a run
        return None, None, None


def _read_clinical_reading(path: Path) -> tuple[int | None, str | None, str | None]:
    try:
        text = path.read_bytes().decode('utf-8', errors='replace')
    except OSError:
        return None, None, None
    return parse_clinical_reading(text)


def _read_nlm(root: Path, source: str, prefix: str) -> list[dict]:
    """NLM sets name the label in the file: ``<PREFIX>_0001_1.png`` is TB, ``_0`` is normal.

    Images are looked up in ``ROOT`` and ``ROOT/CXR_png`` only (not recursively), because the
    Montgomery download also holds lung masks under the very same file names.
    """
    name_pattern = re.compile(_NLM_NAME.format(prefix=prefix), re.IGNORECASE)
    readings_dir = next((d for d in (root / 'ClinicalReadings', root.parent / 'ClinicalReadings')
                         if d.is_dir()), None)
    records = []
    for folder in (root, root / 'CXR_png'):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            match = name_pattern.match(path.stem)
            if not (match and is_image_file(path)):
                continue
            metadata = {}
            if readings_dir is not None and (readings_dir / f'{path.stem}.txt').is_file():
                age, sex, finding = _read_clinical_reading(readings_dir / f'{path.stem}.txt')
                metadata = {'age': age, 'sex': sex, 'finding': finding}
            records.append(make_record(path, int(match.group(2)), source, **metadata))
    return records


@DATA_SOURCES.register_module('shenzhen')
def read_shenzhen(root: Path) -> list[dict]:
    """Shenzhen (NLM China set): ``CHNCXR_0001_0.png``, optional ``ClinicalReadings/``.

    Download: public, no login - ``python tools/dataset_converters/download_tbcxr.py shenzhen
    --out DIR`` fetches ``ChinaSet_AllFiles.zip`` from the NLM
    (https://data.lhncbc.nlm.nih.gov/public/Tuberculosis-Chest-X-ray-Datasets/) and unpacks it;
    ROOT is then ``DIR/ChinaSet_AllFiles``. Terms: the NLM's (free for research); cite
    S. Jaeger et al., "Two public chest X-ray datasets for computer-aided screening of pulmonary
    diseases", Quant Imaging Med Surg 4(6):475-477, 2014.
    """
    return _read_nlm(root, 'shenzhen', 'CHNCXR')


@DATA_SOURCES.register_module('montgomery')
def read_montgomery(root: Path) -> list[dict]:
    """Montgomery County (NLM) set: ``MCUCXR_0001_0.png``, optional ``ClinicalReadings/``.

    Download: public, no login - ``python tools/dataset_converters/download_tbcxr.py montgomery
    --out DIR`` fetches ``NLM-MontgomeryCXRSet.zip`` from the NLM
    (https://data.lhncbc.nlm.nih.gov/public/Tuberculosis-Chest-X-ray-Datasets/) and unpacks it;
    ROOT is then ``DIR/MontgomerySet``. Terms: the NLM's (free for research); cite S. Jaeger
    et al., Quant Imaging Med Surg 4(6):475-477, 2014 (as for Shenzhen).
    """
    return _read_nlm(root, 'montgomery', 'MCUCXR')


# ----------------------------------------------------------------------------- TBX11K
# Only these two image folders carry a usable TB / normal label. 'sick' holds non-TB disease,
# which is not "normal" for a TB screening model (calling it normal would teach the model that
# other pathology means "no TB" and inflate specificity), 'test' has no public labels, and
# 'extra' re-distributes other sets (Montgomery, Shenzhen, ...) that have their own readers.
_TBX11K_CLASS_FOLDERS = {'health': NORMAL, 'tb': TUBERCULOSIS}
# Label-bearing TBX11K lists, in order of preference. The ``all_*`` lists are not used: they
# add the 'extra' sets, whose labels are not in the path.
_TBX11K_LISTS = (('TBX11K_train.txt', 'TBX11K_val.txt'), ('TBX11K_trainval.txt',))


def _tbx11k_list_files(root: Path) -> list[Path]:
    """The preferred complete group of list files under ``ROOT/lists`` (any case), or []."""
    lists_dir = root / 'lists'
    if not lists_dir.is_dir():
        return []
    by_name = {path.name.lower(): path for path in lists_dir.iterdir() if path.is_file()}
    for names in _TBX11K_LISTS:
        found = [by_name.get(name.lower()) for name in names]
        if all(found):
            return found
    return []


def _tbx11k_listed_paths(list_files: list[Path]) -> list[str]:
    """Relative image paths (``tb/tb0003.png``) named by the list files, first-seen order."""
    entries = {}
    for list_file in list_files:
        for line in list_file.read_text(encoding='utf-8', errors='replace').splitlines():
            tokens = line.split()
            if tokens:
                entry = tokens[0].replace('\\', '/').lstrip('/')
                entries[entry.removeprefix('imgs/')] = None
    return list(entries)


@DATA_SOURCES.register_module('tbx11k')
def read_tbx11k(root: Path) -> list[dict]:
    """TBX11K: ``ROOT/imgs/{health,tb}/*.png`` (sick/test skipped), optional ``ROOT/lists/``.

    Labels: ``tb`` is tuberculosis, ``health`` normal. ``sick`` (non-TB disease) is skipped,
    not called normal, and ``test`` (no public labels) and ``extra`` are skipped too. When
    ``ROOT/lists/TBX11K_train.txt`` and ``TBX11K_val.txt`` exist (else ``TBX11K_trainval.txt``)
    exactly the health/tb images they name are read: the official labelled train + val part
    (8,400 images: about 3,800 health, 3,800 sick, 800 tb), without the unlabelled test images;
    a listed image that is missing is an error (an incomplete download). Without lists the two
    class folders are read whole. ``ROOT`` may also be the ``imgs`` folder itself.

    Download: project page https://mmcheng.net/tb/ or the Kaggle mirror of the original layout
    (https://www.kaggle.com/datasets/usmanshams/tbx-11, Kaggle login needed; the
    "tbx11k-simplified" variant has another layout); terms as stated there. Cite Y. Liu et al.,
    "Rethinking computer-aided tuberculosis diagnosis", CVPR 2020.
    """
    images = root / 'imgs' if (root / 'imgs').is_dir() else root
    list_files = _tbx11k_list_files(root)
    if not list_files:
        return _read_class_folders(images, 'tbx11k', _TBX11K_CLASS_FOLDERS, reject_unknown=False)
    records, missing = [], []
    for relative in _tbx11k_listed_paths(list_files):
        label = _TBX11K_CLASS_FOLDERS.get(relative.split('/', 1)[0].lower())
        if label is None:  # sick/, test/, extra/
            continue
        if is_image_file(images / relative):
            records.append(make_record(images / relative, label, 'tbx11k'))
        else:
            missing.append(relative)
    if missing:
        lists = ' + '.join(path.name for path in list_files)
        raise DataSourceError(
            f'tbx11k: {len(missing)} image(s) named in {lists} are missing under {images} '
            f'(first: {missing[0]}); the download looks incomplete')
    return sorted(records, key=lambda record: record['img_path'])


def _read_boxed_tb(root: Path, split: str | None) -> list[dict]:
    from mmtb.data_prep.boxes import kinds_of, lesion_split, read_lesion_boxes  # no cycle
    boxes = read_lesion_boxes(root / 'boxes.csv')
    records = []
    for record in _read_class_folders(root, 'tbx11k', _TBX11K_CLASS_FOLDERS | {
            'tuberculosis': TUBERCULOSIS}, reject_unknown=False):
        name = Path(record['img_path']).name
        if split is not None and (name not in boxes or lesion_split(name) != split):
            continue
        kinds = kinds_of(boxes.get(name, ()))
        record['finding'] = '+'.join(kinds) if kinds else None
        records.append(record)
    return records


@DATA_SOURCES.register_module('tbx11k-boxes')
def read_tbx11k_boxes(root: Path) -> list[dict]:
    """Boxed TBX11K TB films: ``ROOT/TB/*.png`` and ``ROOT/boxes.csv`` (file,kind,x0,y0,x1,y1).

    ``finding`` holds each film's TB kinds from its boxes (``active``, ``obsolete``,
    ``active+obsolete``; None without a box), so evaluation reports sensitivity per kind. The
    layout of ``../shared/data/tbx11k256`` (TBX11K's tb/ images at 256 px with their XML boxes
    in CSV form). A TB-only set: evaluate on it, never train on it.
    """
    return _read_boxed_tb(root, None)


@DATA_SOURCES.register_module('tbx11k-boxes-eval')
def read_tbx11k_boxes_eval(root: Path) -> list[dict]:
    """The boxed TBX11K films of the ``'eval'`` half (``ROOT/TB/*.png`` + ``ROOT/boxes.csv``):
    the ones ``PasteLesionPatches`` never cuts lesions from (``mmtb.data_prep.boxes``)."""
    return _read_boxed_tb(root, 'eval')


# ----------------------------------------------------------------------------- entry points
def source_kinds() -> list[str]:
    """Names accepted as the ``kind`` of an input, e.g. for help texts."""
    return sorted(DATA_SOURCES.module_dict)


def parse_input_spec(spec: str) -> tuple[str, str]:
    """Split a ``kind:path`` command-line input; only the first colon separates."""
    kind, sep, path = spec.partition(':')
    if not sep or not kind or not path:
        kinds = ', '.join(source_kinds())
        raise DataSourceError(f'input {spec!r} is not of the form KIND:PATH (KIND: {kinds})')
    return kind.strip().lower(), path


def read_source(kind: str, root) -> list[dict]:
    """Read one dataset folder with the reader registered as ``kind``, checking user errors."""
    # module_dict, not DATA_SOURCES.get: get() treats dots as scope separators and logs noise.
    reader: Callable[[Path], list[dict]] | None = DATA_SOURCES.module_dict.get(kind)
    if reader is None:
        raise DataSourceError(
            f'unknown source kind {kind!r}; known kinds: {", ".join(source_kinds())}')
    root = Path(root).expanduser()
    if not root.exists():
        raise DataSourceError(f'{kind}: folder not found: {root}')
    if not root.is_dir():
        raise DataSourceError(f'{kind}: not a folder: {root}')
    if not any(is_image_file(path) for path in root.rglob('*')):
        raise DataSourceError(
            f'{kind}: no images found in {root} '
            f'(extensions: {", ".join(sorted(IMAGE_EXTENSIONS))})')
    records = reader(root)
    if not records:
        expected_layout = (reader.__doc__ or '').strip().splitlines()[0].replace('``', '')
        raise DataSourceError(f'{kind}: no images in the expected layout found in {root} '
                              f'(expected: {expected_layout})')
    return records
