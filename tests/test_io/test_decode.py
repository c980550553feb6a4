"""Tests for mmtb.io.decode. Every test image is generated here; no real X-rays are used."""

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from conftest import dicom_bytes
from PIL import Image, ImageFile

from mmtb.io.decode import (
    MAX_PIXELS,
    MIN_SIDE,
    DecodedXray,
    XrayDecodeError,
    decode_xray,
    read_grey,
)

COLOUR_WARNING = 'This looks like a colour photograph, not a radiograph.'


@pytest.fixture(autouse=True)
def _strict_pillow(monkeypatch):
    # Another module could flip this global; the decoder relies on it being False.
    monkeypatch.setattr(ImageFile, 'LOAD_TRUNCATED_IMAGES', False)


# ----------------------------------------------------------------------------- helpers
def xray_like(h=96, w=80, seed=0):
    """A smooth grey 'chest' (two bright lung-shaped blobs on a dark field), uint8."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    v = 40 + 150 * np.exp(-((x - 0.3) ** 2 + (y - 0.5) ** 2) / 0.03)
    v += 150 * np.exp(-((x - 0.6) ** 2 + (y - 0.5) ** 2) / 0.03) + rng.normal(0, 4, v.shape)
    return v.clip(0, 255).astype(np.uint8)


def colour_image(h=96, w=80, seed=1):
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (6, 5, 3)).astype(np.uint8)
    return cv2.resize(blocks, (w, h), interpolation=cv2.INTER_LINEAR)


def encode(arr_or_img, fmt='PNG', **kw):
    img = arr_or_img if isinstance(arr_or_img, Image.Image) else Image.fromarray(arr_or_img)
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def png_16bit(arr):
    ok, buf = cv2.imencode('.png', arr)
    assert ok
    return buf.tobytes()


def png_header_only(width, height):
    """A PNG that claims width x height but holds a few bytes of (invalid) image data."""
    def chunk(kind, payload):
        return (struct.pack('>I', len(payload)) + kind + payload
                + struct.pack('>I', zlib.crc32(kind + payload)))
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 0, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr)
            + chunk(b'IDAT', zlib.compress(b'\0' * 16)) + chunk(b'IEND', b''))


def gradient_12bit(h=40, w=64):
    return np.tile(np.linspace(0, 4095, w).round().astype(np.uint16), (h, 1))


# ----------------------------------------------------------------------------- 8-bit
def test_grey_png_is_unchanged():
    grey = xray_like()
    out = decode_xray(encode(grey))
    assert isinstance(out, DecodedXray)
    assert out.grey.dtype == np.uint8 and out.grey.shape == grey.shape
    np.testing.assert_array_equal(out.grey, grey)
    assert (out.source_format, out.source_mode, out.bit_depth) == ('PNG', 'L', 8)
    assert out.colourfulness == 0.0 and out.warnings == []


def test_colour_png_uses_opencv_grey():
    rgb = colour_image()
    out = decode_xray(encode(rgb))
    np.testing.assert_array_equal(out.grey, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    assert out.source_mode == 'RGB' and out.colourfulness > 0


def test_jpeg_colour_uses_opencv_grey():
    data = encode(colour_image(), 'JPEG', quality=90)
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert('RGB'))
    out = decode_xray(data)
    np.testing.assert_array_equal(out.grey, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    assert out.source_format == 'JPEG'


def test_grey_rgb_png_scores_zero_colourfulness():
    grey = xray_like()
    out = decode_xray(encode(np.dstack([grey] * 3)))
    np.testing.assert_array_equal(out.grey, grey)
    assert out.colourfulness == 0.0 and out.warnings == []


@pytest.mark.parametrize('make', [
    lambda tmp: encode(xray_like()),
    lambda tmp: encode(colour_image()),
    lambda tmp: encode(xray_like(), 'JPEG', quality=85),
    lambda tmp: encode(colour_image(), 'JPEG', quality=85),
    lambda tmp: encode(colour_image(), 'JPEG', quality=85, subsampling=0),
    lambda tmp: png_16bit(gradient_12bit()),
    lambda tmp: encode(np.dstack([colour_image(), np.full((96, 80), 128, np.uint8)])),
    lambda tmp: encode(Image.fromarray(colour_image()).quantize(16)),
    lambda tmp: exif_jpeg(6),
    lambda tmp: dicom_bytes(gradient_12bit()),
], ids=['grey-png', 'colour-png', 'grey-jpeg', 'colour-jpeg', 'colour-jpeg-444', '16bit-png',
        'rgba-png', 'palette-png', 'exif-jpeg', 'dicom'])
def test_read_grey_equals_decode(tmp_path, make):
    path = tmp_path / 'image.bin'
    path.write_bytes(make(tmp_path))
    fast = read_grey(path)
    assert fast.dtype == np.uint8
    np.testing.assert_array_equal(fast, decode_xray(path).grey)
    np.testing.assert_array_equal(read_grey(str(path)), fast)


@pytest.mark.parametrize('data', [encode(xray_like()), encode(colour_image()),
                                  encode(colour_image(), 'JPEG'), png_16bit(gradient_12bit())],
                         ids=['grey-png', 'colour-png', 'jpeg', '16bit-png'])
def test_read_grey_uses_opencv_fast_path(tmp_path, monkeypatch, data):
    import mmtb.io.decode as decode_module

    expected = decode_xray(data).grey
    path = tmp_path / 'image.png'
    path.write_bytes(data)

    def no_pillow_decode(*args, **kwargs):
        raise AssertionError('read_grey took the slow Pillow route')

    monkeypatch.setattr(decode_module, '_decode_pil', no_pillow_decode)
    np.testing.assert_array_equal(read_grey(path), expected)


# ----------------------------------------------------------------------------- >8-bit
def test_16bit_png_uses_real_range_not_truncation():
    arr = gradient_12bit()
    out = decode_xray(png_16bit(arr))
    assert out.source_mode.startswith('I') and out.bit_depth == 16
    assert out.grey.min() == 0 and out.grey.max() == 255
    np.testing.assert_array_equal(out.grey, np.rint(arr * (255 / 4095)).astype(np.uint8))


def test_16bit_png_with_offset_range_is_stretched():
    arr = (gradient_12bit() // 2 + 1000).astype(np.uint16)
    out = decode_xray(png_16bit(arr))
    assert out.grey.min() == 0 and out.grey.max() == 255


def test_constant_16bit_image_does_not_divide_by_zero():
    out = decode_xray(png_16bit(np.full((40, 40), 3000, np.uint16)))
    assert out.grey.shape == (40, 40) and not out.grey.any()
    assert any('blank' in w for w in out.warnings)


def test_16bit_colour_png_keeps_all_bits():
    grey12 = gradient_12bit()
    out = decode_xray(png_16bit(np.dstack([grey12] * 3)))  # Pillow alone would give 0..15
    assert out.bit_depth == 16 and out.grey.min() == 0 and out.grey.max() == 255
    assert out.colourfulness == 0.0


def test_16bit_colour_tiff_keeps_all_bits():
    grey12 = gradient_12bit()
    ok, tiff = cv2.imencode('.tiff', np.dstack([grey12] * 3))
    out = decode_xray(tiff.tobytes())  # Pillow alone would give 8-bit RGB
    assert out.source_format == 'TIFF' and out.bit_depth == 16
    np.testing.assert_array_equal(out.grey, decode_xray(png_16bit(grey12)).grey)


# ----------------------------------------------------------------------------- modes
def test_rgba_is_composited_onto_black():
    rgb = np.full((64, 64, 3), 200, np.uint8)
    alpha = np.full((64, 64), 255, np.uint8)
    alpha[:, :32] = 0
    out = decode_xray(encode(np.dstack([rgb, alpha])))
    assert out.source_mode == 'RGBA'
    assert (out.grey[:, :32] == 0).all() and (out.grey[:, 32:] == 200).all()


def test_la_is_composited_onto_black():
    grey = np.full((64, 64), 180, np.uint8)
    alpha = np.full((64, 64), 255, np.uint8)
    alpha[:32] = 0
    out = decode_xray(encode(Image.fromarray(np.dstack([grey, alpha]), 'LA')))
    assert out.source_mode == 'LA'
    assert (out.grey[:32] == 0).all() and (out.grey[32:] == 180).all()


def test_cmyk_and_palette_convert_through_rgb():
    for img in (Image.fromarray(colour_image()).convert('CMYK'),
                Image.fromarray(colour_image()).quantize(16)):
        data = encode(img, 'JPEG' if img.mode == 'CMYK' else 'PNG')
        rgb = np.asarray(Image.open(io.BytesIO(data)).convert('RGB'))
        out = decode_xray(data)
        assert out.source_mode == img.mode
        np.testing.assert_array_equal(out.grey, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))


def exif_jpeg(orientation):
    grey = np.zeros((40, 64), np.uint8)
    grey[:, 32:] = 255  # landscape: dark left, bright right
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(grey, 'JPEG', quality=95, exif=exif)


def test_exif_orientation_is_applied():
    plain = decode_xray(exif_jpeg(1)).grey
    rotated = decode_xray(exif_jpeg(6)).grey  # 6 = rotate 90 degrees clockwise to display
    assert plain.shape == (40, 64) and rotated.shape == (64, 40)
    np.testing.assert_array_equal(rotated, np.rot90(plain, k=-1))
    assert rotated[:32].mean() < 50 and rotated[32:].mean() > 200


# ----------------------------------------------------------------------------- DICOM
def test_dicom_monochrome2_full_range_bone_white():
    arr = gradient_12bit()
    out = decode_xray(dicom_bytes(arr))
    assert (out.source_format, out.source_mode, out.bit_depth) == ('DICOM', 'MONOCHROME2', 12)
    assert out.grey.shape == arr.shape and out.grey.dtype == np.uint8
    assert out.grey[:, 0].max() == 0 and out.grey[:, -1].min() == 255
    assert out.warnings == []


def test_dicom_monochrome1_is_inverted():
    arr = gradient_12bit()
    out = decode_xray(dicom_bytes(arr, 'MONOCHROME1'))
    assert out.source_mode == 'MONOCHROME1'
    np.testing.assert_array_equal(out.grey, 255 - decode_xray(dicom_bytes(arr)).grey)


def test_dicom_window_is_applied():
    arr = gradient_12bit()
    plain = decode_xray(dicom_bytes(arr)).grey
    windowed = decode_xray(dicom_bytes(arr, WindowCenter=1024, WindowWidth=512)).grey
    # Outside 768..1280 everything saturates; without a window only the ends are 0/255.
    assert (windowed[:, arr[0] < 700] == 0).all() and (windowed[:, arr[0] > 1350] == 255).all()
    assert (plain == 255).mean() < 0.05 and (windowed == 255).mean() > 0.5


def test_dicom_from_path_with_and_without_preamble(tmp_path):
    arr = gradient_12bit()
    expected = decode_xray(dicom_bytes(arr)).grey
    with_preamble = tmp_path / 'a.bin'
    with_preamble.write_bytes(dicom_bytes(arr))
    bare = tmp_path / 'b.dcm'
    bare.write_bytes(dicom_bytes(arr, preamble=False))
    for path in (with_preamble, bare):
        np.testing.assert_array_equal(decode_xray(path).grey, expected)
        np.testing.assert_array_equal(read_grey(path), expected)


@pytest.mark.parametrize('compressed', ['MR_small_jpeg_ls_lossless.dcm', 'MR_small_RLE.dcm',
                                        'MR_small_jp2klossless.dcm'])
def test_compressed_dicom_decodes_like_the_uncompressed_file(compressed):
    """Lossless JPEG-LS / RLE / JPEG 2000, the syntaxes archives export radiographs in, decode
    through pydicom's plugins (pylibjpeg is an install requirement) to the same pixels."""
    from pydicom.data import get_testdata_file
    reference = decode_xray(get_testdata_file('MR_small.dcm'))
    decoded = decode_xray(get_testdata_file(compressed))
    assert decoded.source_format == 'DICOM' and decoded.bit_depth == 16
    np.testing.assert_array_equal(decoded.grey, reference.grey)


def test_colour_dicom_is_refused():
    rgb = np.zeros((40, 48, 3), np.uint8)
    with pytest.raises(XrayDecodeError, match='^Colour DICOM images are not supported: '):
        decode_xray(dicom_bytes(rgb, 'RGB', samples=3, bits=8))


def test_dicom_without_pixel_data_is_refused():
    with pytest.raises(XrayDecodeError, match='no pixel data'):
        decode_xray(dicom_bytes(pixel_data=False))


def test_huge_dicom_is_refused_from_header():
    # Rows x Columns claims 100 M pixels but only 40x48 are stored: refused before decoding.
    with pytest.raises(XrayDecodeError, match='too large'):
        decode_xray(dicom_bytes(rows=10_000, cols=10_000))


# ----------------------------------------------------------------------------- refusals
def test_empty_file_is_refused(tmp_path):
    path = tmp_path / 'empty.png'
    path.write_bytes(b'')
    for source in (b'', path, io.BytesIO(b'')):
        with pytest.raises(XrayDecodeError, match=r'^The file is empty\.$'):
            decode_xray(source)


def test_text_file_named_png_is_refused(tmp_path):
    path = tmp_path / 'notes.png'
    path.write_text('patient notes, not a picture\n')
    with pytest.raises(XrayDecodeError, match='not an image'):
        decode_xray(path)
    with pytest.raises(XrayDecodeError, match='not an image'):
        read_grey(path)


@pytest.mark.parametrize('fmt', ['PNG', 'JPEG'])
def test_truncated_image_is_refused(tmp_path, fmt):
    data = encode(np.random.default_rng(0).integers(0, 256, (128, 128), np.uint8), fmt)
    path = tmp_path / f'cut.{fmt.lower()}'
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(XrayDecodeError, match='damaged or truncated'):
        decode_xray(path.read_bytes())
    with pytest.raises(XrayDecodeError, match='damaged or truncated'):
        read_grey(path)


def test_tiny_image_is_refused():
    with pytest.raises(XrayDecodeError, match='too small'):
        decode_xray(encode(np.zeros((1, 1), np.uint8)))
    with pytest.raises(XrayDecodeError, match='too small'):
        decode_xray(encode(np.zeros((MIN_SIDE - 1, 200), np.uint8)))
    assert decode_xray(encode(np.zeros((MIN_SIDE, MIN_SIDE), np.uint8))).grey.shape == (32, 32)


@pytest.mark.parametrize('side', [20_000, 7_000])  # beyond Pillow's own limit / only ours
def test_decompression_bomb_is_refused_from_header(side):
    data = png_header_only(side, side)
    assert len(data) < 200 and side * side > MAX_PIXELS
    with pytest.raises(XrayDecodeError, match='too large'):
        decode_xray(data)


def test_max_pixels_argument():
    data = encode(xray_like(100, 100))
    with pytest.raises(XrayDecodeError, match='too large'):
        decode_xray(data, max_pixels=5_000)
    assert decode_xray(data, max_pixels=10_000).grey.shape == (100, 100)


def test_missing_path_is_named(tmp_path):
    path = tmp_path / 'nowhere' / 'chest.png'
    with pytest.raises(XrayDecodeError, match='not found') as err:
        decode_xray(path)
    assert str(path) in str(err.value)
    with pytest.raises(XrayDecodeError, match='not found'):
        read_grey(str(path))


@pytest.mark.filterwarnings('ignore::UserWarning')  # Pillow warns about the corrupt TIFF
def test_only_xray_decode_errors_escape_for_garbage():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, 600, np.uint8).tobytes()
    good_png = encode(xray_like())
    good_jpeg = encode(colour_image(), 'JPEG')
    inputs = [
        noise,
        b'\x89PNG\r\n\x1a\n' + noise,
        good_png[:40],
        good_png[:60] + noise,
        good_jpeg[:300],
        good_jpeg[:200] + noise,
        b'GIF89a' + noise,
        b'BM' + noise,
        b'II*\0' + noise,
        b'\0' * 128 + b'DICM' + noise,
        dicom_bytes(gradient_12bit())[:300],
        dicom_bytes(gradient_12bit())[:-500],
    ]
    for data in inputs:
        with pytest.raises(XrayDecodeError) as err:
            decode_xray(data)
        assert '\n' not in str(err.value) and str(err.value)


# ----------------------------------------------------------------------------- colour photos
def tinted(factors, offsets=(0, 0, 0)):
    grey = xray_like().astype(np.float32)
    rgb = np.dstack([grey * f + o for f, o in zip(factors, offsets)])
    return rgb.clip(0, 255).astype(np.uint8)


def test_grey_and_tinted_xrays_are_not_flagged():
    for rgb in (np.dstack([xray_like()] * 3),
                tinted((0.85, 1.0, 1.0)),                # blue-green cast
                tinted((0.9, 0.95, 1.0), (0, 5, 15))):   # mild blue tint with lift
        out = decode_xray(encode(rgb))
        assert COLOUR_WARNING not in out.warnings
        assert out.colourfulness < 0.25


def test_colour_photographs_are_flagged_but_decoded():
    hue = np.tile(np.linspace(0, 179, 128).astype(np.uint8), (96, 1))
    rainbow = cv2.cvtColor(np.dstack([hue, np.full_like(hue, 255), np.full_like(hue, 220)]),
                           cv2.COLOR_HSV2RGB)
    scene = np.zeros((96, 128, 3), np.uint8)
    scene[:48], scene[48:] = (110, 160, 230), (60, 140, 50)  # sky over grass
    for rgb in (rainbow, scene, colour_image()):
        out = decode_xray(encode(rgb, 'JPEG', quality=90))
        assert COLOUR_WARNING in out.warnings
        assert out.colourfulness > 0.5 and out.grey.shape == rgb.shape[:2]


# ----------------------------------------------------------------------------- sources
def test_bytes_path_and_file_object_agree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = encode(colour_image())
    path = tmp_path / 'x.png'
    path.write_bytes(data)
    before = sorted(tmp_path.iterdir())
    results = [decode_xray(data), decode_xray(bytearray(data)), decode_xray(path),
               decode_xray(str(path)), decode_xray(io.BytesIO(data))]
    with open(path, 'rb') as f:
        results.append(decode_xray(f))
    for out in results[1:]:
        np.testing.assert_array_equal(out.grey, results[0].grey)
    assert sorted(tmp_path.iterdir()) == before  # nothing written


# ----------------------------------------------------------------------------- file names
def test_every_image_extension_names_a_format_the_decoder_reads(tmp_path):
    """mmtb.io.IMAGE_EXTENSIONS is the one list the folder scans use (dataset readers,
    tools/screen.py, the distillation teacher): each name must be something decode_xray reads."""
    from mmtb.io import DICOM_EXTENSIONS, IMAGE_EXTENSIONS, has_image_extension

    formats = {'.png': 'PNG', '.jpg': 'JPEG', '.jpeg': 'JPEG', '.bmp': 'BMP', '.tif': 'TIFF',
               '.tiff': 'TIFF'}
    assert set(formats) | set(DICOM_EXTENSIONS) == IMAGE_EXTENSIONS
    for extension in sorted(IMAGE_EXTENSIONS):
        path = tmp_path / f'scan{extension.upper()}'        # names are case-insensitive
        path.write_bytes(dicom_bytes(gradient_12bit()) if extension in DICOM_EXTENSIONS
                         else encode(xray_like(), formats[extension]))
        assert has_image_extension(path)
        assert decode_xray(path).grey.shape[0] >= MIN_SIDE
    assert not has_image_extension(tmp_path / 'notes.txt')
