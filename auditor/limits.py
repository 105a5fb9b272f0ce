"""Resource limits that keep one hostile input from exhausting memory or time: sizes, ratios, windows.

A limit that trips is never an error of the scan: the record or the rest of the file is skipped and
counted, and the reason names the limit and the option that raises it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": KiB,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": MiB,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": GiB,
    "t": 1000**4,
    "tb": 1000**4,
    "tib": 1 << 40,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes from ``64MiB``, ``2G``, ``1.5GB`` or a plain number of bytes.

    Raises:
        ValueError: not a size; the message shows the accepted forms.
    """
    match = _SIZE.match(str(text))
    unit = match.group(2).lower() if match else ""
    if not match or unit not in _UNITS:
        raise ValueError(f"{text!r} is not a size: use bytes or a unit, e.g. 65536, 64MiB, 2GB")
    value = int(float(match.group(1)) * _UNITS[unit])
    if value < 1:
        raise ValueError(f"{text!r} is not a positive size")
    return value


def format_size(value: int) -> str:
    """``67108864`` → ``64 MiB``: the form messages use."""
    for unit, size in (("TiB", 1 << 40), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if value >= size and value % size == 0:
            return f"{value // size} {unit}"
    return f"{value:,} bytes"


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps applied while reading inputs; every one is configurable on the command line.

    Attributes:
        max_record_bytes: longest JSONL line, text file or Parquet text value read as one record
            (``--max-record-size``); a longer one is skipped without being held in memory.
        max_expanded_bytes: most bytes one compressed file may expand to (``--max-expanded-size``).
        max_ratio: most expanded bytes per compressed byte (``--max-compression-ratio``); checked
            once ``ratio_floor_bytes`` have been expanded, so small files never trip it.
        ratio_floor_bytes: expanded bytes below which the ratio is not checked.
        zstd_max_window: largest zstd window (``--zstd-max-window``); frames written with a larger
            ``--long`` window would need that much memory to decode.
        parquet_timeout: seconds the Parquet reader may go without producing a batch before the file
            is given up (a hang inside the Parquet library costs one file, not the scan).
    """

    max_record_bytes: int = 64 * MiB
    max_expanded_bytes: int = 64 * GiB
    max_ratio: int = 200
    ratio_floor_bytes: int = 16 * MiB
    zstd_max_window: int = 128 * MiB
    parquet_timeout: float = 600.0

    def __post_init__(self) -> None:
        for name in ("max_record_bytes", "max_expanded_bytes", "max_ratio", "zstd_max_window"):
            if getattr(self, name) < 1:
                raise ValueError(f"limit {name} must be at least 1, not {getattr(self, name)}")
        if self.parquet_timeout <= 0:
            raise ValueError(f"limit parquet_timeout must be positive, not {self.parquet_timeout}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class LimitExceeded(Exception):
    """A limit tripped while expanding a compressed file; the message names the option that raises it."""
