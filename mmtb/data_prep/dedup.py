"""Exact and near-duplicate removal across every record being merged.

Public TB sets overlap: the Kaggle TB database re-distributes NLM (Shenzhen/Montgomery) images,
re-encoded and often resized, so a naive merge puts copies of one radiograph in both train and
test and inflates the test score. This module finds such copies before the split:

* exact: md5 of the *decoded* grey pixels (and shape), so a PNG re-saved as a lossless
  PNG/TIFF/BMP still matches;
* near: 256-bit DCT perceptual hash of a 32x32 grey thumbnail, two images being near twins
  when their Hamming distance is <= ``near_threshold`` (see :data:`DEFAULT_NEAR_THRESHOLD`).

Matches are grouped transitively (union-find). From each group one image is kept (largest,
then first in input order) unless the group's labels disagree: then nobody can say which label
is right, so every member is dropped as a 'label conflict'.
"""
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from tqdm import tqdm

from mmtb.data_prep.sources import DataSourceError
from mmtb.io.decode import read_grey

# Why 256 bits (16x16 DCT block) and not the classic 64 (8x8): chest X-rays share one global
# layout, so the 8x8 block barely separates patients. On the real tbdb256 + pakistan256 sets
# (3,289 distinct radiographs) the 64-bit hash put 531 pairs of clearly different patients
# within 6 bits (nearest ones at 4), while resized + re-encoded copies land at 0-4: no threshold
# separates them. With 256 bits, copies (0.5x-1.25x resize, JPEG quality 40-90, gamma 0.9)
# land at <= 16 bits (<= 10 for 0.8x + JPEG 75) and no two distinct images are closer than 26
# (the 26 and 30 pairs look like re-takes of one patient; 99 % of images have no neighbour
# closer than 52). Hence the default threshold of 20 bits out of 256 (about 8 %). Raise it to
# ~32 to also catch re-takes of one patient, lower it if distinct images get merged.
DEFAULT_NEAR_THRESHOLD = 20

HASH_SIZE = 16       # 16x16 low-frequency DCT coefficients -> 256 bits
HASH_BITS = HASH_SIZE * HASH_SIZE
THUMBNAIL_SIZE = 32  # the DCT is taken on a 32x32 grey thumbnail

REASON_EXACT = 'exact'
REASON_NEAR = 'near'
REASON_CONFLICT = 'label conflict'

REPORT_FIELDS = ('dropped', 'dropped_source', 'dropped_label', 'kept', 'twin', 'twin_source',
                 'twin_label', 'distance', 'reason')


@dataclass
class Fingerprints:
    """Per-image hashes, aligned with the records they were computed from."""
    md5: list[str]
    phash: np.ndarray                          # (N, HASH_BITS // 64) uint64 words
    n_pixels: np.ndarray                       # int64, height * width of the decoded image


@dataclass
class DedupResult:
    """Records that survive de-duplication plus one report row per dropped record.

    Report rows have the keys :data:`REPORT_FIELDS`; ``kept`` is the kept twin's path, or None
    for a label conflict (no member kept), while ``twin`` always names the image it matched.
    """
    kept: list[dict]
    report: list[dict]
    counts: dict[str, int] = field(default_factory=dict)


def grey_md5(grey: np.ndarray) -> str:
    """md5 of the pixel values and shape, independent of how the file was encoded."""
    grey = np.ascontiguousarray(grey)
    digest = hashlib.md5(f'{grey.shape}|{grey.dtype}|'.encode())
    digest.update(grey.tobytes())
    return digest.hexdigest()


def perceptual_hash_bits(grey: np.ndarray) -> np.ndarray:
    """HASH_BITS booleans: which low-frequency DCT coefficients exceed their median.

    Low DCT frequencies describe the global layout (lung fields, mediastinum, exposure), which
    survives resizing and JPEG; the median threshold makes the hash brightness-invariant.
    """
    thumbnail = cv2.resize(grey, (THUMBNAIL_SIZE, THUMBNAIL_SIZE), interpolation=cv2.INTER_AREA)
    coefficients = cv2.dct(thumbnail.astype(np.float32))[:HASH_SIZE, :HASH_SIZE].ravel()
    return coefficients > np.median(coefficients)


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """(N, HASH_BITS) booleans -> (N, HASH_BITS // 64) uint64 words, for xor + popcount."""
    bits = np.asarray(bits, dtype=bool).reshape(len(bits), -1)
    return np.packbits(bits, axis=1).view('>u8').astype(np.uint64)


def hamming_distance(hash_a: np.ndarray, hash_b: np.ndarray) -> np.ndarray:
    """Bits that differ between packed hashes (broadcasts over leading axes)."""
    return np.bitwise_count(hash_a ^ hash_b).sum(axis=-1, dtype=np.int64)


def perceptual_hash(grey: np.ndarray) -> np.ndarray:
    """Packed DCT perceptual hash of one grey image (HASH_BITS // 64 uint64 words)."""
    return pack_bits(perceptual_hash_bits(grey)[None])[0]


def compute_fingerprints(paths: Sequence[str], progress: bool = True) -> Fingerprints:
    """Decode every image once and hash it; the slow part of a conversion, hence the bar."""
    md5s, n_pixels = [], np.zeros(len(paths), dtype=np.int64)
    bits = np.zeros((len(paths), HASH_BITS), dtype=bool)
    for index, path in enumerate(tqdm(paths, desc='hashing images', unit='img',
                                      disable=None if progress else True)):
        try:
            grey = read_grey(path)
        except Exception as error:
            reason = (str(error).splitlines() or [type(error).__name__])[0]
            raise DataSourceError(f'cannot decode image {path}: {reason}') from error
        md5s.append(grey_md5(grey))
        bits[index] = perceptual_hash_bits(grey)
        n_pixels[index] = grey.shape[0] * grey.shape[1]
    return Fingerprints(md5=md5s, phash=pack_bits(bits), n_pixels=n_pixels)


def near_pairs(hashes: np.ndarray, threshold: int,
               max_block_elements: int = 1 << 22) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs ``i < j`` with Hamming distance <= ``threshold``, as (i, j, distance) arrays.

    Fully vectorised: a block of rows is compared with every later hash at once, at most
    ``max_block_elements`` words per block, so 5,000 images (12.5 M pairs) take about a
    second and memory stays bounded for larger sets.
    """
    hashes = np.asarray(hashes, dtype=np.uint64).reshape(len(hashes), -1)
    n, n_words = hashes.shape
    empty = np.zeros(0, dtype=np.int64)
    if n < 2 or threshold < 0:
        return empty, empty, empty
    rows_per_block = max(1, max_block_elements // (n * n_words))
    all_i, all_j, all_d = [], [], []
    for start in range(0, n - 1, rows_per_block):
        stop = min(n, start + rows_per_block)
        # Only columns after the block's first row can pair with it (i < j).
        distances = hamming_distance(hashes[start:stop, None], hashes[None, start + 1:])
        rows = np.arange(start, stop)[:, None]
        columns = np.arange(start + 1, n)[None, :]
        i, j = np.nonzero((distances <= threshold) & (columns > rows))
        all_i.append(i + start)
        all_j.append(j + start + 1)
        all_d.append(distances[i, j])
    return np.concatenate(all_i), np.concatenate(all_j), np.concatenate(all_d)


class _UnionFind:
    """Minimal disjoint-set forest, to group duplicates transitively (a~b, b~c -> {a,b,c})."""

    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:          # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)


def group_duplicates(fingerprints: Fingerprints, near_threshold: int) -> list[list[int]]:
    """Index groups (size >= 2) of images that are exact or near copies of each other."""
    n = len(fingerprints.md5)
    forest = _UnionFind(n)
    first_with_md5: dict[str, int] = {}
    for index, md5 in enumerate(fingerprints.md5):
        forest.union(first_with_md5.setdefault(md5, index), index)
    for i, j in zip(*near_pairs(fingerprints.phash, near_threshold)[:2]):
        forest.union(int(i), int(j))
    groups: dict[int, list[int]] = {}
    for index in range(n):
        groups.setdefault(forest.find(index), []).append(index)
    return [members for members in groups.values() if len(members) > 1]


def _report_row(records, fingerprints, dropped: int, twin: int, reason: str,
                twin_kept: bool) -> dict:
    distance = int(hamming_distance(fingerprints.phash[dropped], fingerprints.phash[twin]))
    return {
        'dropped': records[dropped]['img_path'], 'dropped_source': records[dropped]['source'],
        'dropped_label': records[dropped]['gt_label'],
        'kept': records[twin]['img_path'] if twin_kept else None,
        'twin': records[twin]['img_path'], 'twin_source': records[twin]['source'],
        'twin_label': records[twin]['gt_label'], 'distance': distance, 'reason': reason}


def resolve_groups(records: Sequence[dict], fingerprints: Fingerprints,
                   groups: list[list[int]]) -> DedupResult:
    """Pick the survivor of every duplicate group and describe every dropped record."""
    dropped, report = set(), []
    for members in groups:
        # Keep the largest image (most information), ties -> first in input order.
        keeper = min(members, key=lambda k: (-fingerprints.n_pixels[k], k))
        conflict = len({records[k]['gt_label'] for k in members}) > 1
        for member in members:
            if member == keeper and not conflict:
                continue
            if conflict:
                twin = keeper if member != keeper else next(k for k in members if k != keeper)
                reason = REASON_CONFLICT
            else:
                twin = keeper
                same_pixels = fingerprints.md5[member] == fingerprints.md5[keeper]
                reason = REASON_EXACT if same_pixels else REASON_NEAR
            dropped.add(member)
            report.append(_report_row(records, fingerprints, member, twin, reason,
                                      twin_kept=not conflict))
    report.sort(key=lambda row: (row['reason'], row['twin'], row['dropped']))
    counts = {reason: sum(row['reason'] == reason for row in report)
              for reason in (REASON_EXACT, REASON_NEAR, REASON_CONFLICT)}
    kept = [record for index, record in enumerate(records) if index not in dropped]
    return DedupResult(kept=kept, report=report, counts=counts)


def deduplicate(records: Sequence[dict], near_threshold: int = DEFAULT_NEAR_THRESHOLD,
                progress: bool = True) -> DedupResult:
    """Drop exact/near duplicates and label conflicts from ``records`` (see module docstring).

    ``near_threshold`` < 0 disables the near-duplicate check (exact copies are still dropped).
    """
    records = list(records)
    fingerprints = compute_fingerprints([record['img_path'] for record in records], progress)
    return resolve_groups(records, fingerprints, group_duplicates(fingerprints, near_threshold))
