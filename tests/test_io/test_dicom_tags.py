"""DICOM pixel transforms through mmtb.io.decode: RescaleSlope/Intercept (modality LUT), a VOI
LUT Sequence, a window in rescaled units, and multi-frame files (the first frame, with a
warning). Expected pixels are computed here from the DICOM standard's formulas (PS3.3 C.11),
not with pydicom, then scaled min..max to 0..255 as the decoder documents."""
import numpy as np
from conftest import dicom_bytes
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from test_decode import gradient_12bit

from mmtb.io.decode import decode_xray


def min_max_uint8(values) -> np.ndarray:
    values = np.asarray(values, np.float64)
    return np.rint((values - values.min()) * 255 / (values.max() - values.min())).astype(np.uint8)


def linear_window(values, center, width):
    """PS3.3 C.11.2.1.2.1 'LINEAR', output range 0..1."""
    values = np.asarray(values, np.float64)
    return np.clip((values - (center - 0.5)) / (width - 1) + 0.5, 0, 1)


def voi_lut_sequence(lut: np.ndarray, first_mapped: int) -> Sequence:
    item = Dataset()
    item.LUTDescriptor = [len(lut), first_mapped, 16]
    item.add_new(0x00283006, 'US', [int(v) for v in lut])  # LUT Data
    return Sequence([item])


def assert_close_to(grey, expected, atol=1):
    """Equal up to rounding (float32 in the decoder, float64 here)."""
    assert grey.shape == expected.shape and grey.dtype == np.uint8
    assert np.abs(grey.astype(int) - expected.astype(int)).max() <= atol


def test_rescale_slope_and_intercept_place_the_window_in_rescaled_units():
    """Slope 2, intercept -1024: stored 0..4095 become -1024..7166. A window centred on 0
    (width 1000) is in those units, so the decoder must rescale before windowing: windowing
    the stored values would put the window at stored 0 instead of stored 512."""
    raw = gradient_12bit()
    out = decode_xray(dicom_bytes(raw, RescaleSlope=2, RescaleIntercept=-1024, RescaleType='US',
                            WindowCenter=0, WindowWidth=1000))
    rescaled = 2.0 * raw - 1024
    expected = min_max_uint8(linear_window(rescaled, 0, 1000))
    assert_close_to(out.grey, expected)
    # the window's edges in stored values: 12 and 1012 (rescaled -1000.5 .. 999.5 -> 0 .. 1)
    assert (out.grey[:, raw[0] < 250] == 0).all() and (out.grey[:, raw[0] > 780] == 255).all()
    unscaled = min_max_uint8(linear_window(raw.astype(float), 0, 1000))
    assert np.abs(out.grey.astype(int) - unscaled).max() > 100  # rescaling made a difference


def test_rescale_alone_changes_nothing_after_min_max_scaling():
    raw = gradient_12bit()
    out = decode_xray(dicom_bytes(raw, RescaleSlope=2, RescaleIntercept=-1024, RescaleType='US'))
    assert_close_to(out.grey, min_max_uint8(raw), atol=0)


def test_a_voi_lut_sequence_is_applied_and_can_invert():
    """A non-linear, inverting VOI LUT whose first entry maps stored value 1000: values below
    take the first entry, values past the end the last one (PS3.3 C.11.2.1.1)."""
    raw = gradient_12bit()
    first, entries = 1000, 2048
    x = np.arange(entries) / (entries - 1)
    lut = np.rint(65535 * (1 - x ** 2)).astype(np.int64)  # bright for low stored values
    out = decode_xray(dicom_bytes(raw, VOILUTSequence=voi_lut_sequence(lut, first)))
    expected = min_max_uint8(lut[np.clip(raw.astype(int) - first, 0, entries - 1)])
    assert_close_to(out.grey, expected)
    assert out.grey[:, 0].min() == 255 and out.grey[:, -1].max() == 0  # inverted
    plain = decode_xray(dicom_bytes(raw)).grey
    assert np.corrcoef(out.grey[0].astype(float), plain[0].astype(float))[0, 1] < -0.9


def test_voi_lut_then_monochrome1_inversion():
    raw = gradient_12bit()
    lut = np.rint(65535 * np.sqrt(np.arange(4096) / 4095)).astype(np.int64)  # a gamma curve
    sequence = voi_lut_sequence(lut, 0)
    mono2 = decode_xray(dicom_bytes(raw, VOILUTSequence=sequence)).grey
    mono1 = decode_xray(dicom_bytes(raw, 'MONOCHROME1', VOILUTSequence=sequence)).grey
    assert_close_to(mono2, min_max_uint8(lut[raw]))
    np.testing.assert_array_equal(mono1, 255 - mono2)


def test_multi_frame_file_uses_the_first_frame_with_a_warning():
    rows, cols = 40, 64
    frames = np.stack([gradient_12bit(rows, cols),  # frame 0: left-to-right gradient
                       gradient_12bit(rows, cols)[:, ::-1],  # frame 1: mirrored
                       np.full((rows, cols), 2000, np.uint16)])
    out = decode_xray(dicom_bytes(frames, rows=rows, cols=cols, NumberOfFrames=3,
                            RescaleSlope=2, RescaleIntercept=-1024, RescaleType='US',
                            WindowCenter=2000, WindowWidth=3000))
    expected = min_max_uint8(linear_window(2.0 * frames[0] - 1024, 2000, 3000))
    assert_close_to(out.grey, expected)
    assert out.warnings == ['This DICOM file holds 3 images; only the first was used.']
