"""Shingles → MinHash signatures of passage windows → LSH band keys; the only place hashing lives.

Everything here is numpy uint64 arithmetic (wrapping multiplication is the intended modulo 2^64), so
the values are the same on every platform and numpy version, and they are tested with golden values.

Signatures follow datasketch's ``affine64`` scheme exactly (MurmurHash3 finaliser pre-mix, then
``a * h + b`` mod 2^64 with permutation parameters drawn from ``RandomState(seed)``), so a window's
signature equals ``datasketch.MinHash(num_perm, seed, scheme="affine64")`` fed the same shingle hashes.

Windows: a text's shingles are cut into blocks of ``stride`` shingles; window j is blocks j and j+1.
The MinHash of a union is the element-wise minimum of the parts' MinHashes, so half-overlapping
windows cost one pass over the shingles plus one minimum per window.
"""

from __future__ import annotations

import numpy as np

from auditor import kernels
from auditor.fingerprint_config import FingerprintConfig

MASKED = np.uint64(0)
"""Shingle value meaning "ignored" (boilerplate); real shingle hashes are never 0 (see shingles)."""

_MAX = np.uint64(0xFFFFFFFFFFFFFFFF)
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_SHINGLE_MUL = np.uint64(0x9E3779B97F4A7C15)


def fmix64(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser, an avalanching bijection, element-wise."""
    with np.errstate(over="ignore"):
        h = values ^ (values >> _S33)
        h = h * _M1
        h = h ^ (h >> _S33)
        h = h * _M2
        return h ^ (h >> _S33)


def shingles(token_hashes: np.ndarray, k: int) -> np.ndarray:
    """Hash every run of ``k`` consecutive tokens; ``len(tokens) - k + 1`` values, none equal to 0.

    A text shorter than ``k`` tokens has no shingles: it is too short to fingerprint. The compiled
    kernel (:func:`auditor.kernels.shingle_hashes`); :func:`shingles_numpy` is its reference.
    """
    n = len(token_hashes) - k + 1
    if n <= 0:
        return np.empty(0, dtype=np.uint64)
    out = np.empty(n, dtype=np.uint64)
    one = np.zeros(1, dtype=np.int64)
    kernels.shingle_hashes(np.ascontiguousarray(token_hashes, dtype=np.uint64), one, np.array([0, n]), k, out)
    return out


def shingles_numpy(token_hashes: np.ndarray, k: int) -> np.ndarray:
    """:func:`shingles` in plain numpy: ``h = fmix64(t[i])``, then ``h = fmix64(h * G + t[i + j])``
    for j = 1 .. k - 1 (G the golden-ratio constant), 0 made 1; kept to test the kernel against."""
    n = len(token_hashes) - k + 1
    if n <= 0:
        return np.empty(0, dtype=np.uint64)
    h = fmix64(token_hashes[:n].astype(np.uint64))
    with np.errstate(over="ignore"):
        for j in range(1, k):
            h = fmix64(h * _SHINGLE_MUL + token_hashes[j : j + n])
    h[h == MASKED] = np.uint64(1)
    return h


def shingles_many(token_hashes: list[np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`shingles` of many texts in one pass: (values, offsets), text t's shingles being
    ``values[offsets[t]:offsets[t+1]]``; no shingle crosses from one text into the next."""
    lengths = np.fromiter((len(h) for h in token_hashes), dtype=np.int64, count=len(token_hashes))
    counts = np.maximum(lengths - k + 1, 0)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    if offsets[-1] == 0:
        return np.empty(0, dtype=np.uint64), offsets
    values = np.empty(offsets[-1], dtype=np.uint64)
    joined = np.concatenate(token_hashes).astype(np.uint64, copy=False)
    kernels.shingle_hashes(joined, np.cumsum(lengths) - lengths, offsets, k, values)
    return values, offsets


def mask_template_fills(values: np.ndarray, max_fill: int, min_flank: int = 3) -> np.ndarray:
    """Mask short runs of shingles that sit between two runs of boilerplate (template fill-ins).

    A copyright page is a shared template with a few blanks filled in; the blanks (publisher, city,
    title) are rare shingles but evidence of nothing, so they are masked like the template around them.
    Returns ``values`` itself when nothing is masked, else a masked copy (the compiled kernel
    :func:`auditor.kernels.mask_fills`; :func:`mask_template_fills_numpy` is its reference).
    """
    if max_fill <= 0 or not len(values) or not (values == MASKED).any():
        return values
    out = np.array(values, dtype=np.uint64, copy=True, order="C")
    kernels.mask_fills(out, max_fill, min_flank)
    return out


def mask_template_fills_numpy(values: np.ndarray, max_fill: int, min_flank: int = 3) -> np.ndarray:
    """:func:`mask_template_fills` in plain numpy, kept to test the kernel against."""
    masked = values == MASKED
    if max_fill <= 0 or not masked.any():
        return values
    # Run-length encode the mask: run starts, lengths and whether each run is masked.
    change = np.flatnonzero(np.diff(masked.astype(np.int8))) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [len(values)]]))
    is_masked = masked[starts]
    inner = np.arange(1, len(starts) - 1)
    fill = inner[
        ~is_masked[inner]
        & (lengths[inner] < max_fill)
        & (lengths[inner - 1] >= min_flank)
        & (lengths[inner + 1] >= min_flank)
    ]
    out = values.copy()
    if len(fill):
        first = np.repeat(starts[fill], lengths[fill])
        out[
            first + np.arange(len(first)) - np.repeat(np.cumsum(lengths[fill]) - lengths[fill], lengths[fill])
        ] = MASKED
    return out


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The affine permutation parameters (a odd, b) exactly as datasketch's ``affine64`` draws them."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 63, num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = gen.randint(0, 1 << 64, num_perm, dtype=np.uint64)
    return a, b


class Fingerprinter:
    """Turns shingle arrays into window signatures and LSH band keys for one config."""

    def __init__(self, config: FingerprintConfig) -> None:
        self.config = config
        a, b = permutations(config.num_perm, config.seed)
        self._a = a[:, None]
        self._b = b[:, None]
        self._a_flat = np.ascontiguousarray(a)
        self._b_flat = np.ascontiguousarray(b)
        rng = np.random.RandomState(config.seed + 7919)
        self._band_salt = rng.randint(0, 1 << 64, config.bands, dtype=np.uint64)

    def block_minhashes(self, shingle_values: np.ndarray) -> np.ndarray:
        """MinHash of each block of ``stride`` shingles: shape (blocks, num_perm).

        Masked shingles are left out; a block with none left is all ``2^64 - 1`` (empty).
        """
        n = len(shingle_values)
        bounds = np.minimum(np.arange(0, n + self.config.stride, self.config.stride), n)
        return self.minhashes(shingle_values, bounds[: -(-n // self.config.stride) + 1])

    def minhashes(self, values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        """MinHash of ``values[bounds[j]:bounds[j+1]]`` for each j: shape (len(bounds) - 1, num_perm).

        The compiled kernel (:mod:`auditor.kernels`); :meth:`minhashes_numpy` is its reference.
        """
        out = np.empty((max(0, len(bounds) - 1), self.config.num_perm), dtype=np.uint64)
        if len(out):
            kernels.block_minhashes(
                np.ascontiguousarray(values, dtype=np.uint64),
                np.ascontiguousarray(bounds, dtype=np.int64),
                self._a_flat,
                self._b_flat,
                out,
            )
        return out

    def minhashes_numpy(self, values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        """Plain numpy :meth:`minhashes` (blocks must be non-empty), kept to test the kernel against."""
        with np.errstate(over="ignore"):
            phv = self._a * fmix64(values[bounds[0] : bounds[-1]])[None, :] + self._b
        phv[:, values[bounds[0] : bounds[-1]] == MASKED] = _MAX
        return np.minimum.reduceat(phv, bounds[:-1] - bounds[0], axis=1).T.copy()

    def window_signatures(self, shingle_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Signatures of the half-overlapping windows over a text's shingles.

        Returns:
            (signatures, starts): signatures shape (windows, num_perm); window i covers shingle
            positions ``starts[i]`` to ``starts[i] + window`` (clipped to the text). Windows with no
            unmasked shingle are dropped.
        """
        offsets = np.array([0, len(shingle_values)], dtype=np.int64)
        sigs, _, starts = self.window_signatures_many(shingle_values, offsets)
        return sigs, starts

    def window_signatures_many(
        self, values: np.ndarray, offsets: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`window_signatures` of many texts at once; text t's shingles are
        ``values[offsets[t]:offsets[t+1]]``.

        Returns:
            (signatures, text, starts): per window its signature, the index of its text and its
            start in that text's shingles. The compiled kernel
            (:func:`auditor.kernels.window_minhashes`); :meth:`window_signatures_many_numpy` is its
            reference.
        """
        offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        stride = self.config.stride
        blocks = -(-np.diff(offsets) // stride)
        # A text of b blocks has b - 1 windows (one if b is 1).
        room = int(np.maximum(blocks - 1, np.minimum(blocks, 1)).sum()) if len(blocks) else 0
        sigs = np.empty((room, self.config.num_perm), dtype=np.uint64)
        text = np.empty(room, dtype=np.int64)
        starts = np.empty(room, dtype=np.int64)
        if room:
            room = kernels.window_minhashes(
                np.ascontiguousarray(values, dtype=np.uint64),
                offsets,
                stride,
                self._a_flat,
                self._b_flat,
                sigs,
                text,
                starts,
            )
        # Views, not copies: only windows without an unmasked shingle are left out of the room.
        return sigs[:room], text[:room], starts[:room]

    def window_signatures_many_numpy(
        self, values: np.ndarray, offsets: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`window_signatures_many` in plain numpy, kept to test the kernel against."""
        stride = self.config.stride
        lengths = np.diff(offsets)
        blocks = -(-lengths // stride)
        block_text = np.repeat(np.arange(len(lengths), dtype=np.int64), blocks)
        first_block = np.cumsum(blocks) - blocks
        local = np.arange(len(block_text), dtype=np.int64) - first_block[block_text]
        bounds = np.append(offsets[block_text] + local * stride, offsets[-1] if len(offsets) else 0)
        mins = self.minhashes(values, bounds)
        # Window j of a text is blocks j and j+1 (a text of one block has one window: the block).
        count = blocks[block_text] if len(block_text) else block_text
        first = np.flatnonzero((local < count - 1) | (count == 1))
        nxt = np.where(count[first] == 1, first, first + 1)
        sigs = np.minimum(mins[first], mins[nxt])
        keep = sigs[:, 0] != _MAX if len(sigs) else np.zeros(0, dtype=bool)
        return sigs[keep], block_text[first][keep], local[first][keep] * stride

    def band_keys(self, signatures: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """LSH band keys, shape (windows, bands); keys of different bands never collide by design.

        Written into ``out`` if given (C-contiguous, that shape). The compiled kernel
        (:func:`auditor.kernels.band_keys`); :meth:`band_keys_numpy` is its reference.
        """
        cfg = self.config
        if out is None:
            out = np.empty((len(signatures), cfg.bands), dtype=np.uint64)
        if len(signatures):
            kernels.band_keys(
                np.ascontiguousarray(signatures, dtype=np.uint64), self._band_salt, cfg.rows, out
            )
        return out

    def band_keys_numpy(self, signatures: np.ndarray) -> np.ndarray:
        """:meth:`band_keys` in plain numpy, kept to test the kernel against."""
        cfg = self.config
        grouped = signatures.reshape(len(signatures), cfg.bands, cfg.rows)
        key = np.broadcast_to(self._band_salt, (len(signatures), cfg.bands)).copy()
        with np.errstate(over="ignore"):
            for r in range(cfg.rows):
                key = fmix64(key * _SHINGLE_MUL + grouped[:, :, r])
        return key
