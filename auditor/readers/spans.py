"""Line-aligned parts of one large plain-text input, so that several workers can each read one.

A :class:`Span` starts at the start of a line and ends just after a newline (or at the end of the
file), so no line is ever cut in two, and it knows the number of its first line in the whole file, so
the rows in findings and skips are the whole file's. :func:`cut_lines` finds the cuts in one pass over
the file, the same pass that computes the file's sha256 (which a scan needs anyway before reading).

Only plain files are cut: a compressed stream can only be read from its start.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from auditor.limits import Limits
from auditor.readers.stream import open_decoded, open_regular

_CHUNK = 1 << 22
_NEWLINE = 10


@dataclass(frozen=True, slots=True)
class Span:
    """Bytes ``[start, end)`` of a file: whole lines, the first of them line ``first_row`` (1-based)."""

    start: int
    end: int
    first_row: int


@dataclass(frozen=True, slots=True)
class Cut:
    """A file cut into spans that cover it exactly, in order, with what was read of it on the way."""

    size: int
    mtime_ns: int
    sha256: str
    spans: tuple[Span, ...]


def is_plain(path: Path, limits: Limits) -> bool:
    """Whether ``path`` is read as plain (uncompressed) text, judged by its content as readers judge it.

    Raises:
        OSError: the file cannot be opened or read.
    """
    opened = open_decoded(path, limits, "text")
    if isinstance(opened, str):
        return False
    opened.close()
    return opened.codec == "text"


def cut_lines(path: Path, part_bytes: int, cancelled: Callable[[], bool] = lambda: False) -> Cut | None:
    """Cut a plain file into spans of about ``part_bytes`` (never inside a line), hashing it whole.

    Spans are cut at the first line start at or after each multiple of ``part_bytes``; a line longer
    than that makes its span longer. The file's size and modification time are taken before reading, as
    a scan takes them for its checkpoints. None when ``cancelled()`` turns true on the way.

    Raises:
        OSError: the file cannot be read.
    """
    if part_bytes < 1:
        raise ValueError(f"part_bytes must be positive, not {part_bytes}")
    with open_regular(path) as handle:
        stat = path.stat()
        return _cut(handle, part_bytes, stat.st_size, stat.st_mtime_ns, cancelled)


def _cut(
    handle: IO[bytes], part_bytes: int, size: int, mtime_ns: int, cancelled: Callable[[], bool]
) -> Cut | None:
    digest = hashlib.sha256()
    spans: list[Span] = []
    start, first_row = 0, 1  # the open span
    offset, rows = 0, 0  # bytes and newlines before the chunk
    while chunk := handle.read(_CHUNK):
        if cancelled():
            return None
        digest.update(chunk)
        newlines = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == _NEWLINE)
        # Each time the open span reaches part_bytes, cut after the first newline at or past that point.
        while True:
            at = np.searchsorted(newlines, start + part_bytes - 1 - offset)
            if at == len(newlines):
                break
            end = offset + int(newlines[at]) + 1
            spans.append(Span(start, end, first_row))
            start, first_row = end, rows + int(at) + 2
        offset += len(chunk)
        rows += len(newlines)
    if offset > start or not spans:
        spans.append(Span(start, offset, first_row))
    return Cut(size=size, mtime_ns=mtime_ns, sha256=digest.hexdigest(), spans=tuple(spans))


class SpanStream:
    """Reads one span of an open file and then behaves as if the file ended there."""

    def __init__(self, raw: IO[bytes], span: Span) -> None:
        raw.seek(span.start)
        self.raw = raw
        self.left = span.end - span.start

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        data = self.raw.read(self.left if size < 0 else min(size, self.left))
        self.left -= len(data)
        return data
