"""Fetch the public TB chest X-ray sets: resumable, checksum-verified, unpacked for the readers.

Why a helper rather than "just use wget": the NLM archives are several hundred MB to a few GB,
links drop, and a silently truncated or changed archive gives a silently smaller dataset. So:

* the transfer goes to ``<file>.part`` and resumes with an HTTP ``Range`` request; a server that
  ignores ``Range`` (answers 200 instead of 206) makes the transfer restart from scratch, and a
  ``.part`` started from another URL is never continued;
* the finished file is checked against the registry's size and sha256 when they are known; a
  mismatch deletes the file and raises :class:`ChecksumMismatch`. When no checksum is known
  (``None``: we could not verify one ourselves), the computed sha256 is reported as unverified
  so a user can record it;
* zip archives are unpacked next to the download, and the folder to give the matching
  ``mmtb.data_prep.sources`` reader is reported;
* sets behind a login (Kaggle) or without a stable file link are not scraped: they raise
  :class:`ManualDownloadRequired` whose message says, in one line, how to get them by hand.

Only the standard library's ``urllib`` talks HTTP, so there is nothing extra to install.
"""
from __future__ import annotations

import hashlib
import http.client
import re
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

CHUNK_BYTES = 1 << 16
USER_AGENT = 'mmtb-download/1.0 (+https://github.com/open-mmlab/mmpretrain)'
_NLM_BASE = 'https://data.lhncbc.nlm.nih.gov/public/Tuberculosis-Chest-X-ray-Datasets'
_CONTENT_RANGE = re.compile(r'bytes\s+(\d+)-(\d+)/(\d+|\*)')
_UNSATISFIED_RANGE = re.compile(r'bytes\s+\*/(\d+)')


@dataclass(frozen=True)
class DatasetInfo:
    """One known dataset: where it comes from and what a good download looks like.

    ``size`` / ``sha256`` are None when we could not verify them ourselves: a made-up or
    copied-but-unchecked checksum would reject good downloads or bless bad ones.
    """

    name: str
    title: str
    citation: str
    urls: tuple[str, ...] = ()          # mirrors, tried in order
    filename: str | None = None         # the archive's name on disk
    size: int | None = None             # bytes
    sha256: str | None = None
    approx_size: str | None = None      # for the user only, never checked
    manual: str | None = None           # one line: how to get a set we cannot fetch
    source_kind: str | None = None      # the mmtb.data_prep.sources reader for it
    layout_marker: str | None = None    # a folder whose parent is that reader's ROOT


DATASETS: dict[str, DatasetInfo] = {info.name: info for info in (
    DatasetInfo(
        name='shenzhen', title='NLM Shenzhen Hospital chest X-ray set (China), 662 images',
        citation='Jaeger et al., Quant Imaging Med Surg 4(6):475, 2014',
        urls=(f'{_NLM_BASE}/Shenzhen-Hospital-CXR-Set/ChinaSet_AllFiles.zip',
              'https://openi.nlm.nih.gov/imgs/collections/ChinaSet_AllFiles.zip'),
        filename='ChinaSet_AllFiles.zip', approx_size='about 3.8 GB',
        source_kind='shenzhen', layout_marker='CXR_png'),
    DatasetInfo(
        name='montgomery', title='NLM Montgomery County chest X-ray set (USA), 138 images',
        citation='Jaeger et al., Quant Imaging Med Surg 4(6):475, 2014',
        urls=(f'{_NLM_BASE}/Montgomery-County-CXR-Set/MontgomerySet/NLM-MontgomeryCXRSet.zip',
              f'{_NLM_BASE}/Montgomery-County-CXR-Set/MontgomerySet.zip',
              'https://openi.nlm.nih.gov/imgs/collections/NLM-MontgomeryCXRSet.zip'),
        filename='NLM-MontgomeryCXRSet.zip', approx_size='about 600 MB',
        source_kind='montgomery', layout_marker='CXR_png'),
    DatasetInfo(
        name='tbdb', title='TB Chest X-ray Database (Kaggle), 700 TB + 3,500 normal',
        citation='Rahman et al., IEEE Access 8:191586, 2020',
        manual='tbdb needs a Kaggle login: download '
               'https://www.kaggle.com/datasets/tawsifurrahman/tuberculosis-tb-chest-xray-dataset '
               'in a browser (or: kaggle datasets download -d '
               'tawsifurrahman/tuberculosis-tb-chest-xray-dataset), unzip it and pass the folder '
               'holding Normal/ and Tuberculosis/ as --input tbdb:FOLDER',
        source_kind='tbdb'),
    DatasetInfo(
        name='tbx11k', title='TBX11K (11,200 images; health/sick/tb/test)',
        citation='Liu et al., Rethinking computer-aided tuberculosis diagnosis, CVPR 2020',
        manual='tbx11k needs a Kaggle login (or the project page https://mmcheng.net/tb/): '
               'download https://www.kaggle.com/datasets/usmanshams/tbx-11 in a browser, unzip '
               'it and pass the folder holding imgs/ and lists/ as --input tbx11k:FOLDER',
        source_kind='tbx11k'),
    DatasetInfo(
        name='pakistan', title='Dataset of Tuberculosis Chest X-rays Images (Mendeley Data)',
        citation='Kiran and Jabeen, Mendeley Data, doi:10.17632/8j2g3csprk',
        manual='pakistan has no stable direct file link: use "Download All" on '
               'https://data.mendeley.com/datasets/8j2g3csprk (no login), unzip it and pass the '
               'folder holding TB/ and Normal/ as --input pakistan:FOLDER',
        source_kind='pakistan'),
)}


class DownloadError(RuntimeError):
    """A download that did not produce a good file; ``str(e)`` is one line for the user."""


class ManualDownloadRequired(DownloadError):
    """The set cannot be fetched automatically (login, no stable link); says how instead."""


class ChecksumMismatch(DownloadError):
    """The finished file's size or sha256 is not the expected one; the file was deleted."""


class TransferInterrupted(DownloadError):
    """The connection dropped mid-way; the ``.part`` file is kept for the next call."""


@dataclass
class DownloadResult:
    """What :func:`download` produced."""

    archive: Path
    sha256: str
    verified: bool                      # True only if a known sha256 matched
    extracted_to: Path | None = None    # where the archive was unpacked
    reader_root: Path | None = None     # the folder to pass to the source reader


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as file:
        for chunk in iter(lambda: file.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _part_paths(dest: Path) -> tuple[Path, Path]:
    """The partial file and the sidecar recording which URL it came from."""
    return dest.with_name(dest.name + '.part'), dest.with_name(dest.name + '.part.url')


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _open(url: str, offset: int, timeout: float):
    headers = {'User-Agent': USER_AGENT}
    if offset:
        headers['Range'] = f'bytes={offset}-'
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _transfer(url: str, part: Path, progress: bool, timeout: float) -> None:
    """Bring ``part`` up to the whole file at ``url``, continuing from its current size.

    Raises TransferInterrupted (``part`` kept) if the connection drops, urllib errors if the
    URL cannot be opened at all.
    """
    for _ in range(2):  # a second pass only after deciding to start again from scratch
        offset = part.stat().st_size if part.exists() else 0
        try:
            response = _open(url, offset, timeout)
        except urllib.error.HTTPError as error:
            if error.code != 416 or not offset:
                raise
            # Range not satisfiable: the .part may already be complete, else it is garbage.
            match = _UNSATISFIED_RANGE.search(error.headers.get('Content-Range', ''))
            if match and int(match.group(1)) == offset:
                return
            _remove(part)
            continue
        with response:
            append = False
            if offset and response.status == 206:
                match = _CONTENT_RANGE.search(response.headers.get('Content-Range', ''))
                append = bool(match) and int(match.group(1)) == offset
                if not append:   # a range we did not ask for: do not guess, start again
                    _remove(part)
                    continue
            # 200 to a Range request: the server ignored it and sends the whole file.
            length = response.headers.get('Content-Length')
            expected = int(length) if length and length.isdigit() else None
            start = offset if append else 0
            received = 0
            with open(part, 'ab' if append else 'wb') as file, tqdm(
                    total=None if expected is None else start + expected, initial=start,
                    unit='B', unit_scale=True, unit_divisor=1024, desc=part.name[:-5],
                    disable=None if progress else True) as bar:
                try:
                    while chunk := response.read(CHUNK_BYTES):
                        file.write(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
                except (OSError, http.client.HTTPException) as error:
                    raise TransferInterrupted(_interrupted(part, start + received, error)) \
                        from error
            if expected is not None and received < expected:
                raise TransferInterrupted(_interrupted(part, start + received, None))
            return
    raise DownloadError(f'{url}: the server did not send the file consistently; try again later')


def _interrupted(part: Path, have: int, error: Exception | None) -> str:
    why = f' ({type(error).__name__}: {error})' if error else ''
    return (f'the transfer stopped after {have:,} bytes{why}; run the same command again to '
            f'resume from {part}')


def fetch(urls, dest, *, size: int | None = None, sha256: str | None = None,
          progress: bool = True, timeout: float = 60.0, retries: int = 2) -> tuple[str, bool]:
    """Download ``dest`` from the first URL that answers; return (sha256, verified).

    An existing complete ``dest`` is only re-checked. A dropped connection is resumed up to
    ``retries`` times in this call; after that TransferInterrupted leaves the ``.part`` for the
    next call. Size / sha256, when given, are enforced (ChecksumMismatch deletes the file).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part, part_url = _part_paths(dest)
    expected_sha = sha256.lower() if sha256 else None
    if dest.is_file():
        actual = sha256_of(dest)
        if expected_sha is None or actual == expected_sha:
            return actual, expected_sha is not None
        _remove(dest)  # a stale or damaged earlier download: fetch it again

    urls = list(urls)
    recorded = _recorded_url(part_url)
    if part.exists() and recorded in urls:  # resume from the mirror the .part came from
        urls.remove(recorded)
        urls.insert(0, recorded)
    failures = []
    for url in urls:
        if part.exists() and _recorded_url(part_url) != url:
            _remove(part)  # never continue bytes that came from another URL
        part_url.write_text(url + '\n')
        try:
            for attempt in range(retries + 1):
                try:
                    _transfer(url, part, progress, timeout)
                    break
                except TransferInterrupted:
                    if attempt == retries:
                        raise
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            failures.append(f'{url}: {getattr(error, "reason", None) or error}')
            continue
        return _finish(part, part_url, dest, size, expected_sha)
    _remove(part_url)
    raise DownloadError('could not download from any mirror: ' + '; '.join(failures))


def _recorded_url(part_url: Path) -> str | None:
    return part_url.read_text().strip() if part_url.is_file() else None


def _finish(part: Path, part_url: Path, dest: Path, size: int | None,
            expected_sha: str | None) -> tuple[str, bool]:
    """Check the completed ``.part`` and move it into place, or delete it."""
    actual_size = part.stat().st_size
    if size is not None and actual_size != size:
        _remove(part, part_url)
        raise ChecksumMismatch(
            f'{dest.name}: got {actual_size:,} bytes, expected {size:,}; the file was deleted '
            '- run again to download it afresh')
    actual = sha256_of(part)
    if expected_sha is not None and actual != expected_sha:
        _remove(part, part_url)
        raise ChecksumMismatch(
            f'{dest.name}: sha256 {actual} does not match the expected {expected_sha}; the '
            'corrupted file was deleted - run again to download it afresh')
    part.replace(dest)
    _remove(part_url)
    return actual, expected_sha is not None


def extract_zip(archive: Path, out_dir: Path, sha256: str) -> Path:
    """Unpack ``archive`` into ``out_dir`` once (a marker remembers which archive was unpacked).

    ``ZipFile.extractall`` drops absolute paths and ``..`` from member names, so a hostile
    archive cannot write outside ``out_dir``.
    """
    marker = out_dir / f'.{archive.name}.extracted'
    if marker.is_file() and marker.read_text().strip() == sha256:
        return out_dir
    try:
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(out_dir)
    except zipfile.BadZipFile as error:
        raise DownloadError(f'{archive} is not a valid zip archive ({error})') from error
    marker.write_text(sha256 + '\n')
    return out_dir


def find_reader_root(folder: Path, marker: str) -> Path | None:
    """The parent of the first ``marker`` folder below ``folder`` (skipping ``__MACOSX``)."""
    for candidate in sorted(folder.rglob(marker), key=lambda path: (len(path.parts), path)):
        if candidate.is_dir() and '__MACOSX' not in candidate.parts:
            return candidate.parent
    return None


def download(dataset: str | DatasetInfo, out_dir, *, urls=None, sha256: str | None = None,
             extract: bool = True, progress: bool = True, timeout: float = 60.0,
             retries: int = 2) -> DownloadResult:
    """Download (resuming), verify and unpack a known dataset into ``out_dir``.

    ``urls`` / ``sha256`` override the registry (a mirror, a checksum you recorded earlier).
    """
    info = dataset if isinstance(dataset, DatasetInfo) else DATASETS.get(dataset)
    if info is None:
        raise DownloadError(f'unknown dataset {dataset!r}; known: {", ".join(sorted(DATASETS))}')
    urls = tuple(urls or info.urls)
    if not urls:
        raise ManualDownloadRequired(info.manual or f'{info.name}: no download URL is known')
    out_dir = Path(out_dir)
    archive = out_dir / (info.filename or urls[0].rsplit('/', 1)[-1])
    actual, verified = fetch(urls, archive, size=info.size, sha256=sha256 or info.sha256,
                             progress=progress, timeout=timeout, retries=retries)
    result = DownloadResult(archive=archive, sha256=actual, verified=verified)
    if extract and zipfile.is_zipfile(archive):
        result.extracted_to = extract_zip(archive, out_dir, actual)
        if info.layout_marker:
            result.reader_root = find_reader_root(out_dir, info.layout_marker)
    return result


def dataset_table() -> str:
    """One line per known set, for ``--list``."""
    lines = []
    for info in DATASETS.values():
        how = f'{info.filename} ({info.approx_size})' if info.urls else 'manual download'
        lines.append(f'{info.name:<11} {info.title} - {how}; cite {info.citation}')
    return '\n'.join(lines)
