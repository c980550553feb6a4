"""Image input for mmtb: one decoder for every front end (see :mod:`mmtb.io.decode`) and one
list of image file names for every folder scan (:mod:`mmtb.io.formats`)."""

from .decode import (
    MAX_PIXELS,
    MIN_SIDE,
    DecodedXray,
    XrayDecodeError,
    decode_xray,
    read_grey,
)
from .formats import DICOM_EXTENSIONS, IMAGE_EXTENSIONS, has_image_extension

__all__ = ['DICOM_EXTENSIONS', 'IMAGE_EXTENSIONS', 'MAX_PIXELS', 'MIN_SIDE', 'DecodedXray',
           'XrayDecodeError', 'decode_xray', 'has_image_extension', 'read_grey']
