"""Line-aligned parts of one large plain-text input, so that several workers can each read one.

A :class:`Span` starts at the start of a line and ends just after a newline (or at the end of the
file), so no line is ever cut in two, and it knows the number of its first line in the whole file, so
the rows in findings and skips are the whole file's. A :class:`LineCutter` finds the cuts in one
pass over the file, the same pass that computes the file's sha256 (which a scan needs anyway), and
hands each span out as soon as the read has passed its end, so workers start on the first spans
while the rest is still being read.

Only plain files are cut: a compressed stream can only be read from its start.
"""

from __future__ import annotations

import collections
import hashlib
import threading
from collections.abc import Callable, Iterator, Mapping
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


def cut_lines(
    path: Path, part_bytes: int | Callable[[int], int], cancelled: Callable[[], bool] = lambda: False
) -> Cut | None:
    """Cut a plain file into spans of about ``part_bytes`` (never inside a line), hashing it whole.

    The spans of a :class:`LineCutter`, taken all at once. None when ``cancelled()`` turns true on the
    way.

    Raises:
        OSError: the file cannot be read.
    """
    cutter = LineCutter(path, part_bytes, cancelled)
    collections.deque(cutter, maxlen=0)  # read to the end: the spans are in cutter.cut
    return cutter.cut


class LineCutter:
    """Cuts a plain file into spans of about ``part_bytes`` as it reads it, hashing it whole.

    Iterating yields each span as soon as the read reaches its end, so workers can start on the first
    spans while the rest of the file is still being read. A span is cut at the first line start at or
    after ``part_bytes`` from its own start; a line longer than that makes its span longer.
    ``part_bytes`` may instead be a function of the bytes left in the file from the span's start, so
    that spans shrink towards the end (workers then finish together). The file's size and modification
    time are taken before reading, as a scan takes them for its checkpoints.

    :attr:`cut` is set before the last span is yielded: whoever holds a span can tell whether it is the
    last by comparing its index with ``len(cut.spans)``. It stays None when ``cancelled()`` turns true
    on the way (iteration then stops) or the read fails; a failed read is kept in :attr:`error`.

    Raises:
        OSError: while iterating, the file cannot be read (spans already yielded then cover only part
            of it).
    """

    def __init__(
        self,
        path: Path,
        part_bytes: int | Callable[[int], int],
        cancelled: Callable[[], bool] = lambda: False,
    ) -> None:
        if isinstance(part_bytes, int) and part_bytes < 1:
            raise ValueError(f"part_bytes must be positive, not {part_bytes}")
        self.path = path
        self.part_bytes = part_bytes
        self.cancelled = cancelled
        self.cut: Cut | None = None
        self.error: OSError | None = None

    def __iter__(self) -> Iterator[Span]:
        try:
            with open_regular(self.path) as handle:
                stat = self.path.stat()
                yield from self._spans(handle, stat.st_size, stat.st_mtime_ns)
        except OSError as exc:
            self.error = exc
            raise

    def _spans(self, handle: IO[bytes], size: int, mtime_ns: int) -> Iterator[Span]:
        digest = hashlib.sha256()
        spans: list[Span] = []
        start, first_row = 0, 1  # the open span
        offset, rows = 0, 0  # bytes and newlines before the chunk
        part = self._part(size, start)
        # A span found is yielded only once the next is found (or the file has ended): the last one
        # must not leave before :attr:`cut` is set.
        while chunk := handle.read(_CHUNK):
            if self.cancelled():
                return
            digest.update(chunk)
            newlines = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == _NEWLINE)
            # Each time the open span reaches its part's size, cut after the first newline at or past it.
            while True:
                at = np.searchsorted(newlines, start + part - 1 - offset)
                if at == len(newlines):
                    break
                end = offset + int(newlines[at]) + 1
                if spans:
                    yield spans[-1]
                spans.append(Span(start, end, first_row))
                start, first_row = end, rows + int(at) + 2
                part = self._part(size, start)
            offset += len(chunk)
            rows += len(newlines)
        if offset > start or not spans:
            if spans:
                yield spans[-1]
            spans.append(Span(start, offset, first_row))
        self.cut = Cut(size=size, mtime_ns=mtime_ns, sha256=digest.hexdigest(), spans=tuple(spans))
        yield spans[-1]

    def _part(self, size: int, start: int) -> int:
        """The size of the span starting at ``start`` (at least 1 byte)."""
        if isinstance(self.part_bytes, int):
            return self.part_bytes
        return max(1, self.part_bytes(max(0, size - start)))


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


class CutAhead:
    """Runs :class:`LineCutter` s one after another in a thread from the moment it is made, keeping each
    one's spans as they are found, for a consumer that iterates them later (:meth:`spans`).

    A scan makes one before it loads its kernels: the cut's read and sha256 (~1.2 CPU-s per 200 MB
    here) then run on the core that start-up leaves idle, rather than beside the busy workers. Each
    cutter is cut to its end, or until its ``cancelled`` turns true (the caller's way to stop it);
    a cutter whose read fails keeps the error in :attr:`LineCutter.error`, as when iterated directly.
    """

    def __init__(self, cutters: Mapping[str, LineCutter]) -> None:
        self.cutters = dict(cutters)
        self._found: dict[str, list[Span]] = {name: [] for name in self.cutters}
        self._ended: set[str] = set()
        self._faults: dict[str, BaseException] = {}
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._cut, name="auditor-cut-ahead", daemon=True)
        self._thread.start()

    def _cut(self) -> None:
        for name, cutter in self.cutters.items():
            try:
                for span in cutter:
                    with self._changed:
                        self._found[name].append(span)
                        self._changed.notify_all()
            except OSError:
                pass  # kept in cutter.error, which the consumer reads once the spans end
            except BaseException as exc:  # a fault, not a failed read: raised to the consumer instead
                self._faults[name] = exc
            finally:
                with self._changed:
                    self._ended.add(name)
                    self._changed.notify_all()

    def spans(self, name: str) -> Iterator[Span]:
        """The spans of the cutter of input ``name``, each as soon as it is found; they end when its cut
        has ended (complete: see its ``cut``; failed: its ``error``; or cancelled).

        Raises:
            Exception: what the cut raised other than OSError (a fault), once the spans before it are out.
        """
        taken = 0
        while True:
            with self._changed:
                while taken == len(self._found[name]) and name not in self._ended:
                    self._changed.wait()
                if taken == len(self._found[name]):
                    if name in self._faults:
                        raise self._faults[name]
                    return
                span = self._found[name][taken]
            taken += 1
            yield span

    def join(self) -> None:
        """Wait until every cutter has ended."""
        self._thread.join()
