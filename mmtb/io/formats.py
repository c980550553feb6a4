"""The file names mmtb takes for images: one list for every folder scan (dataset readers, the
batch screener, the distillation teacher), so that a file found by one is found by all.

A name is only a shortcut: the decoder recognises files by content (``mmtb.io.decode``), so a
front end that reads a named file, or sniffs unnamed ones (``tools/screen.py``), also takes
images without these extensions (DICOM named by UID, GIF, WebP, PPM).
"""
from pathlib import Path

DICOM_EXTENSIONS = ('.dcm', '.dicom')
IMAGE_EXTENSIONS = frozenset({'.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff',
                              *DICOM_EXTENSIONS})


def has_image_extension(path) -> bool:
    """Whether ``path`` is named like an image (case-insensitive, see :data:`IMAGE_EXTENSIONS`)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS
