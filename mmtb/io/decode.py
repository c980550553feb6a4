"""The one input decoder that every mmtb front end uses (data conversion, training, demo, API).

Why a single module: the model is trained on 8-bit grey radiographs made with OpenCV's
colour-to-grey conversion, so every way an image can enter mmtb must reproduce exactly that,
and must refuse unusable input with a one-line message a clinician can act on.

Behaviour choices (see also the tests):

* 8-bit images keep their pixel values; colour is converted with ``cv2.cvtColor(RGB2GRAY)``.
* Images with more than 8 bits (16-bit PNG/TIFF, float TIFF, DICOM) are scaled linearly from
  their real min..max to 0..255, because X-ray files often use only 10-14 of 16 bits and a fixed
  ``/257`` or truncation would give a nearly black image. Min..max (not percentiles) is used so
  the mapping is exact and predictable; a constant image becomes all zeros with a warning.
* Transparent pixels are composited onto BLACK and alpha is dropped: in a radiograph black is
  air / no attenuation, i.e. the background around the patient, and X-ray datasets pad with
  black, so transparent padding must not turn into a bright (bone-like) frame.
* EXIF orientation is applied (phone photographs of a film).
* Files are recognised by their content, not their name: a PACS export named ``IM000001`` or
  a PNG saved as ``scan.dat`` decodes like any other (:func:`sniff_format`); the ``.dcm``
  name only helps a DICOM file whose header is too damaged to be recognised.
* DICOM: modality LUT, then VOI LUT / window, then min..max scaling; MONOCHROME1 is inverted
  so bone is white; colour DICOM is refused.
* A colour photograph gets a warning (still decoded) when its Hasler-Suesstrunk colourfulness
  M / 100 (clipped to 1) is at least ``COLOUR_PHOTO_THRESHOLD`` = 0.35, i.e. between the
  paper's "moderately" (M = 33) and "averagely" (M = 45) colourful. Grey images score 0, a
  mild blue/green cast (as in some TB databases) about 0.1-0.2, even strong uniform tints
  (sepia, deep blue) stay below 0.3, while natural-colour photographs score 0.6-1.
* Image sizes are checked from the header before any pixel data is decoded.
* Nothing is ever written to disk.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .formats import DICOM_EXTENSIONS

MAX_PIXELS = 40_000_000
MIN_SIDE = 32
COLOUR_PHOTO_THRESHOLD = 0.35
COLOUR_PHOTO_WARNING = 'This looks like a colour photograph, not a radiograph.'

# Plain raster formats only (no EPS, which runs Ghostscript). 'JPEG' also opens phone MPO files.
_PIL_FORMATS = ('PNG', 'JPEG', 'TIFF', 'BMP', 'GIF', 'WEBP', 'PPM')
_SIGNATURES = (  # (magic bytes at offset 0, format), as the formats' specifications define
    (b'\x89PNG\r\n\x1a\n', 'PNG'), (b'\xff\xd8\xff', 'JPEG'), (b'II*\0', 'TIFF'),
    (b'MM\0*', 'TIFF'), (b'BM', 'BMP'), (b'GIF87a', 'GIF'), (b'GIF89a', 'GIF'))
_DICOM_FIRST_GROUPS = (b'\x02\x00', b'\x08\x00')  # file meta / identifying group, little endian
_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_EXIF_ORIENTATION = 0x0112
_HIGH_DEPTH_MODES = {'I;16': 16, 'I;16L': 16, 'I;16B': 16, 'I;16N': 16, 'I': 32, 'F': 32}


class XrayDecodeError(ValueError):
    """Input that cannot be used as an X-ray; str(e) is a clear one-line message for a user."""


@dataclass
class DecodedXray:
    """A decoded input: the grey radiograph plus what was learnt about the original file."""

    grey: np.ndarray  # uint8, HxW, 0 black .. 255 white
    source_format: str  # 'PNG', 'JPEG', 'DICOM', ...
    source_mode: str  # PIL mode or DICOM photometric interpretation
    bit_depth: int  # bits per sample as stored (DICOM: BitsStored)
    colourfulness: float  # 0..1: Hasler-Suesstrunk M / 100 of the original, clipped; 0 = grey
    warnings: list[str] = field(default_factory=list)


def decode_xray(source, *, max_pixels: int = MAX_PIXELS) -> DecodedXray:
    """Decode bytes, a path (str/PathLike) or a binary file-like object into a grey X-ray.

    Any unusable input raises XrayDecodeError; no other exception escapes for bytes input.
    """
    data, name = _read_source(source)
    return _decode(data, name, max_pixels)


def read_grey(path) -> np.ndarray:
    """uint8 HxW grey of a file on disk, identical to ``decode_xray(path).grey``.

    Plain 8-bit grey/RGB and 16-bit grey PNG/JPEG are decoded with ``cv2.imdecode`` (fast, and
    bit-identical to the Pillow route for these cases); everything else takes the full route.
    """
    data, name = _read_source(path)
    if data and not _is_dicom(data, name):
        grey = _fast_grey(data)
        if grey is not None:
            return grey
    return _decode(data, name, MAX_PIXELS).grey


def _read_source(source) -> tuple[bytes, str | None]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            return path.read_bytes(), path.name
        except FileNotFoundError:
            raise XrayDecodeError(f'File not found: {path}') from None
        except IsADirectoryError:
            raise XrayDecodeError(f'{path} is a folder, not an image file.') from None
        except OSError as e:
            raise XrayDecodeError(f'Cannot read {path}: {e.strerror or e}') from None
    if hasattr(source, 'read'):
        data = source.read()
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError('decode_xray needs a file opened in binary mode')
        return bytes(data), Path(getattr(source, 'name', '') or '').name or None
    raise TypeError(f'decode_xray cannot read a {type(source).__name__}')


def _decode(data: bytes, name: str | None, max_pixels: int) -> DecodedXray:
    if not data:
        raise XrayDecodeError('The file is empty.')
    try:
        if _is_dicom(data, name):
            return _decode_dicom(data, max_pixels)
        return _decode_pil(data, max_pixels)
    except XrayDecodeError:
        raise
    except MemoryError:
        raise XrayDecodeError('The image is too large for the memory available.') from None
    except Exception as e:  # any library failure on odd input is the user's file, not a bug
        detail = ' '.join(str(e).split())[:200]
        raise XrayDecodeError(f'The file could not be decoded as an image ({detail}).') from e


def _looks_like_dicom(data: bytes) -> bool:
    """DICOM by content: the 'DICM' preamble, or (files written without the 128-byte
    preamble) a first element of group 0002 or 0008 with an explicit VR or a short length."""
    if data[128:132] == b'DICM':
        return True
    if len(data) < 8 or data[:2] not in _DICOM_FIRST_GROUPS:
        return False
    vr = data[4:6]
    explicit = vr.isalpha() and vr.isupper()
    return explicit or int.from_bytes(data[4:8], 'little') < 1024


def sniff_format(data: bytes) -> str | None:
    """'DICOM', 'PNG', 'JPEG', 'TIFF', 'BMP', 'GIF' or 'WEBP' from the first bytes, else None.

    Why by content: the file name says little (PACS exports have none, phones rename files).
    """
    if _looks_like_dicom(data):
        return 'DICOM'
    for magic, fmt in _SIGNATURES:
        if data.startswith(magic):
            return fmt
    if data[:4] == b'RIFF' and data[8:12] == b'WEBP':
        return 'WEBP'
    return None


def _is_dicom(data: bytes, name: str | None) -> bool:
    if _looks_like_dicom(data):
        return True
    # a damaged header with a DICOM name: let pydicom say what is wrong with it
    return sniff_format(data) is None and (name or '').lower().endswith(DICOM_EXTENSIONS)


def sniff_file(path) -> str | None:
    """:func:`sniff_format` of a file's first bytes; None when it cannot be read."""
    try:
        with open(path, 'rb') as f:
            return sniff_format(f.read(132))
    except OSError:
        return None


def has_dicom_preamble(path) -> bool:
    """Whether a file is DICOM by its content whatever its name (PACS exports are often named
    by UID, without an extension); False when it cannot be read."""
    return sniff_file(path) == 'DICOM'


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise XrayDecodeError(
            f'The image is too large ({width} x {height} pixels; the limit is '
            f'{max_pixels:,} pixels).')
    if min(width, height) < MIN_SIDE:
        raise XrayDecodeError(
            f'The image is too small ({width} x {height} pixels); each side must be at least '
            f'{MIN_SIDE} pixels.')


def _open_pil(data: bytes, formats=_PIL_FORMATS) -> Image.Image:
    """Open lazily (header only), mapping Pillow's refusals to clear messages."""
    try:
        return Image.open(io.BytesIO(data), formats=formats)
    except UnidentifiedImageError:
        raise XrayDecodeError(
            'The file is not an image (or is in an unsupported format).') from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise XrayDecodeError(
            'The image is too large to be processed safely (possible decompression bomb).'
        ) from None


def _decode_pil(data: bytes, max_pixels: int) -> DecodedXray:
    img = _open_pil(data)
    fmt, mode = img.format or 'unknown', img.mode
    _check_size(*img.size, max_pixels)
    try:
        img.load()  # ImageFile.LOAD_TRUNCATED_IMAGES stays False: truncated files fail here
        high_depth_colour = _is_16bit_colour_png(data) or _is_16bit_colour_tiff(img)
        img = ImageOps.exif_transpose(img)  # a copy, without the file's tags
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise XrayDecodeError(
            'The image is too large to be processed safely (possible decompression bomb).'
        ) from None
    except Exception as e:
        raise XrayDecodeError(
            'The image file is damaged or truncated and cannot be read.') from e

    colourfulness = 0.0
    if high_depth_colour:
        # Pillow keeps only the high byte of 16-bit colour images; OpenCV keeps all 16 bits.
        # (EXIF orientation is not applied on this rare path.)
        (grey, colourfulness), bit_depth = _grey_from_16bit_colour(data), 16
    elif mode in _HIGH_DEPTH_MODES:
        grey, bit_depth = _scale_to_uint8(np.asarray(img)), _HIGH_DEPTH_MODES[mode]
    elif mode in ('1', 'L') and 'transparency' not in img.info:
        grey, bit_depth = np.asarray(img.convert('L')), 1 if mode == '1' else 8
    else:
        rgb = _to_rgb(img)
        colourfulness = _colourfulness(rgb)
        grey, bit_depth = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 8
    return _result(grey, fmt, mode, bit_depth, colourfulness)


def _to_rgb(img: Image.Image) -> np.ndarray:
    """8-bit RGB of any Pillow image; transparency is composited onto black (see module doc)."""
    if img.has_transparency_data:
        rgba = img.convert('RGBA')
        black = Image.new('RGBA', rgba.size, (0, 0, 0, 255))
        return np.asarray(Image.alpha_composite(black, rgba).convert('RGB'))
    return np.asarray(img.convert('RGB'))


def _is_16bit_colour_png(data: bytes) -> bool:
    # IHDR sits at a fixed offset: byte 24 is the bit depth, byte 25 the colour type
    # (2 = RGB, 4 = grey + alpha, 6 = RGBA).
    return data[:8] == _PNG_SIGNATURE and len(data) > 25 and data[24] == 16 and data[25] in (
        2, 4, 6)


def _is_16bit_colour_tiff(img: Image.Image) -> bool:
    bits = img.tag_v2.get(258, ()) if img.format == 'TIFF' else ()  # 258: BitsPerSample
    bits = bits if isinstance(bits, tuple) else (bits, )
    return len(bits) > 1 and max(bits) == 16


def _grey_from_16bit_colour(data: bytes) -> tuple[np.ndarray, float]:
    """(grey, colourfulness) of a 16-bit RGB/RGBA/grey+alpha PNG or TIFF, keeping all 16
    bits."""
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise XrayDecodeError('The image file is damaged or truncated and cannot be read.')
    arr = arr.astype(np.float32)
    if arr.ndim == 2:
        return _scale_to_uint8(arr), 0.0
    if arr.shape[2] == 4:  # composite onto black, as for 8-bit images
        arr = arr[..., :3] * (arr[..., 3:] / 65535.0)
    bgr = np.ascontiguousarray(arr[..., :3])
    colourfulness = _colourfulness(bgr[..., ::-1] / 257.0)
    return _scale_to_uint8(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)), colourfulness


def _scale_to_uint8(arr: np.ndarray) -> np.ndarray:
    """Linear map of the image's real min..max to 0..255 (constant image -> zeros)."""
    arr = np.asarray(arr, dtype=np.float32)
    finite = np.isfinite(arr)
    if not finite.any():
        return np.zeros(arr.shape, np.uint8)
    lo, hi = float(arr[finite].min()), float(arr[finite].max())
    if hi <= lo:
        return np.zeros(arr.shape, np.uint8)
    arr = np.clip(np.nan_to_num(arr, nan=lo), lo, hi)
    return np.rint((arr - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def _colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) colourfulness M / 100, clipped to 0..1 (0 = grey).

    Computed on a copy shrunk to <= 256 px per side: it is a global statistic, so this is cheap
    and changes the value very little.
    """
    h, w = rgb.shape[:2]
    scale = 256 / max(h, w)
    if scale < 1:
        rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
                         interpolation=cv2.INTER_AREA)
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    m = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    return min(float(m) / 100.0, 1.0)


def _result(grey, fmt, mode, bit_depth, colourfulness, warnings=()) -> DecodedXray:
    warnings = list(warnings)
    if colourfulness >= COLOUR_PHOTO_THRESHOLD:
        warnings.append(COLOUR_PHOTO_WARNING)
    if grey.min() == grey.max():
        warnings.append('The image is blank (every pixel has the same value).')
    return DecodedXray(np.ascontiguousarray(grey), fmt, mode, int(bit_depth),
                       round(colourfulness, 4), warnings)


def _decode_dicom(data: bytes, max_pixels: int) -> DecodedXray:
    import pydicom
    from pydicom.pixels import apply_modality_lut, apply_voi_lut, pixel_array

    try:
        # force=True also reads .dcm files written without the 128-byte preamble.
        ds = pydicom.dcmread(io.BytesIO(data), force=data[128:132] != b'DICM')
        has_pixels = any(k in ds for k in ('PixelData', 'FloatPixelData', 'DoubleFloatPixelData'))
    except Exception as e:
        raise XrayDecodeError('The file is not a readable DICOM file.') from e
    if not has_pixels:
        raise XrayDecodeError('This DICOM file contains no image (it has no pixel data).')
    photometric = str(ds.get('PhotometricInterpretation', 'MONOCHROME2')).strip().upper()
    if photometric not in ('MONOCHROME1', 'MONOCHROME2'):
        raise XrayDecodeError(
            f'Colour DICOM images are not supported: photometric interpretation is '
            f'{photometric}; a greyscale radiograph is needed.')
    _check_size(int(ds.get('Columns', 0) or 0), int(ds.get('Rows', 0) or 0), max_pixels)

    warnings = []
    frames = int(ds.get('NumberOfFrames', 1) or 1)
    if frames > 1:
        warnings.append(f'This DICOM file holds {frames} images; only the first was used.')
    try:
        arr = pixel_array(ds, index=0 if frames > 1 else None)
    except Exception as e:
        syntax = ds.file_meta.get('TransferSyntaxUID', 'unknown')
        raise XrayDecodeError(
            f'The DICOM pixel data could not be decoded (transfer syntax {syntax}).') from e
    arr = apply_voi_lut(apply_modality_lut(arr, ds), ds)
    grey = _scale_to_uint8(arr)
    if photometric == 'MONOCHROME1':  # MONOCHROME1 stores bone dark; we want bone white
        grey = 255 - grey
    bits = int(ds.get('BitsStored', 0) or ds.get('BitsAllocated', 16))
    return _result(grey, 'DICOM', photometric, bits, 0.0, warnings)


def _png_chunks_intact(data: bytes) -> bool:
    """Whether every PNG chunk length fits in the file and the last chunk is IEND.

    Why: OpenCV takes seconds to refuse a PNG whose chunk claims more bytes than the file has
    (e.g. a corrupted IDAT length of 4 GB, found by tests/test_io/test_decode_fuzz.py); Pillow
    refuses it at once, so such files take the full route.
    """
    pos, size = len(_PNG_SIGNATURE), len(data)
    while pos + 12 <= size:
        length = int.from_bytes(data[pos:pos + 4], 'big')
        kind = data[pos + 4:pos + 8]
        pos += 12 + length
        if pos > size:
            return False
        if kind == b'IEND':
            return pos == size
    return False


def _fast_grey(data: bytes) -> np.ndarray | None:
    """OpenCV decode where it yields the Pillow route's pixels (tests check this), else None.

    Both libraries use libpng / libjpeg-turbo here; anything unusual returns None.
    """
    try:
        img = _open_pil(data, formats=('PNG', 'JPEG'))
        w, h = img.size
        usable = (img.format in ('PNG', 'JPEG') and img.mode in ('L', 'RGB', 'I;16')
                  and 'transparency' not in img.info
                  and MIN_SIDE <= min(w, h) and w * h <= MAX_PIXELS)
        if img.format == 'PNG':  # Pillow only finds a late eXIf chunk by decoding the image
            usable = usable and b'eXIf' not in data and _png_chunks_intact(data)
        else:  # some OpenCV builds pad a truncated JPEG with grey; Pillow refuses it
            usable = (usable and img.getexif().get(_EXIF_ORIENTATION, 1) == 1
                      and data.rstrip(b'\0')[-2:] == b'\xff\xd9')
    except Exception:  # noqa: BLE001 - any doubt: the full route reports the problem properly
        return None
    if not usable or _is_16bit_colour_png(data):
        return None
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        return None
    if img.mode == 'L' and arr.dtype == np.uint8 and arr.ndim == 2:
        return arr
    if img.mode == 'RGB' and arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3:
        return cv2.cvtColor(arr, cv2.COLOR_BGR2GRAY)
    if img.mode == 'I;16' and arr.dtype == np.uint16 and arr.ndim == 2:
        return _scale_to_uint8(arr)
    return None
