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

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from auditor.normalize import NORMALIZER_VERSION

MASKED = np.uint64(0)
"""Shingle value meaning "ignored" (boilerplate); real shingle hashes are never 0 (see shingles)."""

_MAX = np.uint64(0xFFFFFFFFFFFFFFFF)
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_SHINGLE_MUL = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True, slots=True)
class FingerprintConfig:
    """How texts become signatures; its string form (``config_id``) is stored with every registry.

    Attributes:
        shingle_size: tokens per shingle (word k-grams; character k-grams in no-space scripts).
        stride: shingles per block; a window is two blocks, so windows overlap by half.
        num_perm: MinHash permutations per window.
        bands: LSH bands; ``num_perm`` must equal ``bands * rows``.
        rows: signature values per band.
        seed: seed of the permutation parameters.
        boilerplate_min_works: a shingle found in at least this many distinct work texts is
            boilerplate (texts identical after normalisation count once, so a duplicate upload of
            one book does not mask itself)...
        boilerplate_min_share: ...or in at least this share of the works, whichever is larger.
        boilerplate_fill: a run of fewer than this many non-boilerplate shingles between two runs
            of boilerplate is a template's fill-in (a title, a publisher's name on a copyright
            page) and is masked too.
    """

    shingle_size: int = 4
    stride: int = 24
    num_perm: int = 64
    bands: int = 32
    rows: int = 2
    seed: int = 1
    boilerplate_min_works: int = 2
    boilerplate_min_share: float = 0.01
    boilerplate_fill: int = 12
    scheme: str = "affine64"
    token_hash: str = "poly64"
    normalizer: int = NORMALIZER_VERSION

    def __post_init__(self) -> None:
        if self.bands * self.rows != self.num_perm:
            raise ValueError(
                f"bands ({self.bands}) x rows ({self.rows}) must equal num_perm ({self.num_perm}); "
                f"for num_perm {self.num_perm} try bands {self.num_perm // 2} and rows 2"
            )
        for name in ("shingle_size", "stride", "num_perm", "bands", "rows"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.scheme != "affine64" or self.token_hash != "poly64":
            raise ValueError(f"unsupported scheme {self.scheme!r}/{self.token_hash!r}: use affine64/poly64")

    @property
    def window(self) -> int:
        """Shingles per passage window."""
        return 2 * self.stride

    @property
    def config_id(self) -> str:
        """A readable fingerprint of every setting that changes signatures."""
        share = f"{self.boilerplate_min_share:g}"
        return (
            f"n{self.normalizer}_k{self.shingle_size}_s{self.stride}_p{self.num_perm}"
            f"_b{self.bands}r{self.rows}_seed{self.seed}_bp{self.boilerplate_min_works}-{share}"
            f"-f{self.boilerplate_fill}"
            f"_{self.scheme}_{self.token_hash}"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FingerprintConfig:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    def differences(self, other: FingerprintConfig) -> list[str]:
        """Human-readable list of settings that differ, for refusal messages."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [f"{k}: {mine[k]!r} != {theirs[k]!r}" for k in mine if mine[k] != theirs[k]]


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

    A text shorter than ``k`` tokens has no shingles: it is too short to fingerprint.
    """
    n = len(token_hashes) - k + 1
    if n <= 0:
        return np.empty(0, dtype=np.uint64)
    h = fmix64(token_hashes[:n].astype(np.uint64))
    with np.errstate(over="ignore"):
        for j in range(1, k):
            h = fmix64(h * _SHINGLE_MUL + token_hashes[j : j + n])
    h[h == MASKED] = np.uint64(1)
    return h


def mask_template_fills(values: np.ndarray, max_fill: int, min_flank: int = 3) -> np.ndarray:
    """Mask short runs of shingles that sit between two runs of boilerplate (template fill-ins).

    A copyright page is a shared template with a few blanks filled in; the blanks (publisher, city,
    title) are rare shingles but evidence of nothing, so they are masked like the template around them.
    """
    masked = values == MASKED
    if max_fill <= 0 or not masked.any():
        return values
    # Run-length encode the mask: run starts, lengths and whether each run is masked.
    change = np.flatnonzero(np.diff(masked.astype(np.int8))) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [len(values)]]))
    is_masked = masked[starts]
    out = values.copy()
    for i in range(1, len(starts) - 1):
        if (
            not is_masked[i]
            and lengths[i] < max_fill
            and lengths[i - 1] >= min_flank
            and lengths[i + 1] >= min_flank
        ):
            out[starts[i] : starts[i] + lengths[i]] = MASKED
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
        rng = np.random.RandomState(config.seed + 7919)
        self._band_salt = rng.randint(0, 1 << 64, config.bands, dtype=np.uint64)

    def block_minhashes(self, shingle_values: np.ndarray) -> np.ndarray:
        """MinHash of each block of ``stride`` shingles: shape (num_perm, blocks).

        Masked shingles are left out; a block with none left is all ``2^64 - 1`` (empty).
        """
        stride = self.config.stride
        n = len(shingle_values)
        blocks = -(-n // stride)
        out = np.empty((self.config.num_perm, blocks), dtype=np.uint64)
        # Bounded work arrays: at most ~4M uint64 (32 MB) per chunk whatever the text's length.
        chunk_blocks = max(1, (1 << 22) // (self.config.num_perm * stride))
        for first in range(0, blocks, chunk_blocks):
            last = min(blocks, first + chunk_blocks)
            values = shingle_values[first * stride : last * stride]
            with np.errstate(over="ignore"):
                phv = self._a * fmix64(values)[None, :] + self._b
            phv[:, values == MASKED] = _MAX
            starts = np.arange(0, len(values), stride)
            out[:, first:last] = np.minimum.reduceat(phv, starts, axis=1)
        return out

    def window_signatures(self, shingle_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Signatures of the half-overlapping windows over a text's shingles.

        Returns:
            (signatures, starts): signatures shape (windows, num_perm); window i covers shingle
            positions ``starts[i]`` to ``starts[i] + window`` (clipped to the text). Windows with no
            unmasked shingle are dropped.
        """
        n = len(shingle_values)
        if n == 0:
            return np.empty((0, self.config.num_perm), dtype=np.uint64), np.empty(0, dtype=np.int64)
        blocks = self.block_minhashes(shingle_values)
        sigs = blocks.T if blocks.shape[1] == 1 else np.minimum(blocks[:, :-1], blocks[:, 1:]).T
        starts = np.arange(sigs.shape[0], dtype=np.int64) * self.config.stride
        keep = sigs[:, 0] != _MAX
        return np.ascontiguousarray(sigs[keep]), starts[keep]

    def band_keys(self, signatures: np.ndarray) -> np.ndarray:
        """LSH band keys, shape (windows, bands); keys of different bands never collide by design."""
        cfg = self.config
        grouped = signatures.reshape(len(signatures), cfg.bands, cfg.rows)
        key = np.broadcast_to(self._band_salt, (len(signatures), cfg.bands)).copy()
        with np.errstate(over="ignore"):
            for r in range(cfg.rows):
                key = fmix64(key * _SHINGLE_MUL + grouped[:, :, r])
        return key
