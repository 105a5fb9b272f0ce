"""How texts become signatures (FingerprintConfig), and the normaliser version it includes.

Kept apart from :mod:`auditor.fingerprint` and :mod:`auditor.normalize`, and free of numpy, so that
what only needs the settings (the command line's option defaults, ``auditor --help``) does not load
numpy and the compiled kernels (~0.2 s of CPU). Both modules re-export their name from here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

NORMALIZER_VERSION = 3
"""The version of :mod:`auditor.normalize`'s tokens and token hashes: bump it with any change to them."""


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
