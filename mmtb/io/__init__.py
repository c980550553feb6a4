"""Image input for mmtb: one decoder for every front end (see :mod:`mmtb.io.decode`)."""

from .decode import (
    MAX_PIXELS,
    MIN_SIDE,
    DecodedXray,
    XrayDecodeError,
    decode_xray,
    read_grey,
)

__all__ = ['MAX_PIXELS', 'MIN_SIDE', 'DecodedXray', 'XrayDecodeError', 'decode_xray', 'read_grey']
