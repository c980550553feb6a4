"""Decoder fuzzing: mutated PNG, JPEG and DICOM files either decode or raise XrayDecodeError,
each within 2 s; no other exception, no hang.

Why: uploads come from anywhere (phones, PACS exports, broken copies), and the one decoder is
the only code between those bytes and the model. The mutations are the ways files really break
(bit flips from bad storage or transfer, truncation from an interrupted upload, edited headers
that claim other sizes or types); seeded, so a failure replays exactly.
"""
import io
import signal
import time

import numpy as np
import pytest
from conftest import dicom_bytes, synthetic_xray
from PIL import Image

from mmtb.io.decode import DecodedXray, XrayDecodeError, decode_xray, read_grey

CASES_PER_SEED_FILE = 220  # x 6 seed files = 1,320 cases
TIME_LIMIT_S = 2.0


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang(f'decoding took longer than {TIME_LIMIT_S} s')


def seed_files() -> dict[str, tuple[bytes, str]]:
    """Small valid files (name, bytes) of each kind the app accepts."""
    grey = synthetic_xray(np.random.default_rng(0), 48, lesion=True)[0]
    files = {}
    for key, arr, fmt in (('png8', grey, 'PNG'), ('png16', grey.astype(np.uint16) * 257, 'PNG'),
                          ('jpeg', grey, 'JPEG'),
                          ('jpeg_rgb', np.repeat(grey[:, :, None], 3, axis=2), 'JPEG')):
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, fmt)
        files[key] = (buf.getvalue(), f'x.{fmt.lower()}')
    dicom = dicom_bytes(grey.astype(np.uint16) * 16, 'MONOCHROME1', WindowCenter=2048,
                        WindowWidth=4096)
    files['dicom'] = (dicom, 'IM000001')
    files['dicom_no_preamble'] = (dicom[132:], 'x.dcm')
    return files


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """One broken copy: bit flips, a truncation, a header edit, or two of them."""
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 3))):
        kind = rng.integers(4)
        if kind == 0:  # flip 1-16 bits anywhere
            for pos in rng.integers(0, len(out), int(rng.integers(1, 17))):
                out[pos] ^= 1 << int(rng.integers(8))
        elif kind == 1 and len(out) > 1:  # cut the file short
            out = out[:int(rng.integers(0, len(out)))]
        elif kind == 2:  # overwrite bytes in the header (sizes, types, lengths live there)
            start = int(rng.integers(0, min(len(out), 400) or 1))
            n = int(rng.integers(1, 9))
            out[start:start + n] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        else:  # a header field set to an extreme value (e.g. a huge width or length)
            start = int(rng.integers(0, min(len(out), 400) or 1))
            out[start:start + 4] = bytes(rng.choice([b'\xff\xff\xff\xff', b'\0\0\0\0',
                                                     b'\x7f\xff\xff\xff', b'\0\0\x01\0']))
    return bytes(out)


@pytest.mark.slow
@pytest.mark.filterwarnings('ignore::UserWarning')  # pydicom on broken values
@pytest.mark.parametrize('kind', sorted(seed_files()))
def test_mutated_files_decode_or_raise_the_decoders_error(kind, tmp_path):
    data, name = seed_files()[kind]
    assert isinstance(decode_xray(io.BytesIO(data)), DecodedXray)  # the seed itself is valid
    rng = np.random.default_rng(sorted(seed_files()).index(kind))
    previous = signal.signal(signal.SIGALRM, _alarm)
    outcomes = {'decoded': 0, 'refused': 0}
    slowest = 0.0
    try:
        for case in range(CASES_PER_SEED_FILE):
            broken = mutate(data, rng)
            buf = io.BytesIO(broken)
            buf.name = name
            on_disk = tmp_path / name
            on_disk.write_bytes(broken)
            for decode in (lambda b=buf: decode_xray(b), lambda p=on_disk: read_grey(p)):
                signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT_S)
                start = time.perf_counter()
                try:
                    result = decode()
                    outcomes['decoded'] += 1
                    grey = result.grey if isinstance(result, DecodedXray) else result
                    assert grey.dtype == np.uint8 and grey.ndim == 2
                except XrayDecodeError as e:
                    outcomes['refused'] += 1
                    assert str(e) and '\n' not in str(e)  # a one-line message for the user
                except Hang:
                    pytest.fail(f'{kind} case {case}: hang (> {TIME_LIMIT_S} s)')
                except Exception as e:  # noqa: BLE001 - this is what the test looks for
                    pytest.fail(f'{kind} case {case}: {type(e).__name__}: {e}')
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                slowest = max(slowest, time.perf_counter() - start)
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert slowest < TIME_LIMIT_S
    assert outcomes['refused'] > 0  # the mutations do break files
