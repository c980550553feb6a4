"""Remembering what a deterministic image step made of an image, so later epochs skip it.

The cue-removal steps (burnt-in masking, lung-field crop, CLAHE) are deterministic functions of
the grey image and cost more than all of training's augmentation together (the lung crop
alone; docs/benchmarks.md), yet a training run recomputes them for every image in every
epoch. :class:`RememberedByContent` keeps each step's output per
input *content* (a digest of the pixels), so a hit is exactly what the step would compute,
whatever came before it in the pipeline.

It is active only for images read from files by a dataset (``img_path`` in the results: the
same images come back every epoch). Images handed over as arrays (the app, ``tools/screen.py``)
are never kept, so a long-running server does not grow. Each data-loader worker keeps its own
memory, bounded by ``MAX_MEMO_MB`` per process over all steps.
"""
import hashlib

import numpy as np

__all__ = ['MAX_MEMO_MB', 'RememberedByContent']

MAX_MEMO_MB = 2048


class RememberedByContent:
    """Mixin for a transform whose output depends only on ``results['img']``.

    The class lists in ``memo_keys`` the results keys it writes besides ``img``. Set
    ``remember = False`` on an instance to always compute.
    """

    memo_keys: tuple = ()
    remember = True
    _memo_bytes = 0  # shared by every remembering step of the process

    def __call__(self, results: dict) -> dict:
        img = results.get('img')
        if not (self.remember and 'img_path' in results and isinstance(img, np.ndarray)):
            return super().__call__(results)
        memo = self.__dict__.setdefault('_memo', {})
        key = (img.shape, img.dtype.str,
               hashlib.blake2b(np.ascontiguousarray(img).data, digest_size=16).digest())
        hit = memo.get(key)
        if hit is None:
            results = super().__call__(results)
            hit = {name: results[name] for name in ('img', *self.memo_keys)}
            size = results['img'].nbytes
            if RememberedByContent._memo_bytes + size <= MAX_MEMO_MB * 2**20:
                RememberedByContent._memo_bytes += size
                memo[key] = {name: _frozen(value) for name, value in hit.items()}
            return results
        # later steps may write into the image in place: each caller gets its own copy
        results.update({name: value.copy() if isinstance(value, np.ndarray) else value
                        for name, value in hit.items()})
        return results


def _frozen(value):
    """A private copy of ``value`` (the pipeline goes on to change the caller's arrays)."""
    return value.copy() if isinstance(value, np.ndarray) else value
