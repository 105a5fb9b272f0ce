"""Opening input files safely: content sniffing, bounded decompression and capped line splitting.

Everything here works on bytes and streams, holds at most one chunk plus one capped line in memory,
and turns hostile input into exceptions the readers report as counted skips:

* a file's content decides how it is decoded (gzip, zstd, plain), whatever its name says; content
  that is neither (random bytes, an archive, a PDF, UTF-16) is refused, never hashed as text;
* decompression stops at a total expanded size and at an expanded/compressed ratio (``Limits``);
* a zstd stream that ends inside a frame is reported as truncated (the zstd library itself returns
  the data before the cut and no error, so the frames are followed here, header by header);
* a line longer than the cap is skipped without being buffered, and reading resumes after its newline.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol, cast

import zstandard

from auditor.limits import LimitExceeded, Limits, format_size

HEAD_BYTES = 8192
CHUNK_BYTES = 1 << 20
_SAMPLE_BYTES = 4096
_SHORT_LINE = 256
"""Lines shorter than this on average (in the first :data:`_SAMPLE_BYTES` of a chunk) are split apart
by ``split``, longer ones found by ``find``."""

_BINARY_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"PAR1", "parquet"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"PK\x03\x04", "zip"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"ARROW1", "arrow"),
    (b"%PDF", "pdf"),
    (b"\x89PNG", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_ZSTD_MAGIC = 0xFD2FB528
_ZSTD_SKIPPABLE = 0x184D2A50


class TruncatedStream(EOFError):
    """A compressed stream ended before its last frame or member did."""


def sniff(head: bytes) -> str:
    """What the first bytes of a file are: a known binary format's name, ``text``, ``non-utf8`` or ``binary``.

    ``binary`` means more than a few NUL bytes or invalid UTF-8 sequences (over 1.5% of the sample, and
    more than 8): random bytes, UTF-16, an unknown container. Below that the content is text, with its
    odd lines reported one by one: ``non-utf8`` when some bytes are not UTF-8 (a Latin-1 line), else
    ``text`` (an incomplete character cut off at the end of the sample is allowed). Empty is ``text``.
    """
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    for magic, kind in _BINARY_MAGIC:
        if head.startswith(magic):
            return kind
    if len(head) >= 4 and head[0] & 0xF0 == 0x50 and head[1:4] == b"\x2a\x4d\x18":
        return "zstd"  # a skippable frame opens the stream
    decoded = head.decode("utf-8", "replace")
    invalid = decoded.count("\ufffd") - head.count("\ufffd".encode())
    if decoded.endswith("\ufffd") and not head.endswith("\ufffd".encode()):
        invalid -= 1  # a multi-byte character cut by the end of the sample
    if head.count(b"\x00") + invalid > max(8, len(head) // 64):
        return "binary"
    return "non-utf8" if invalid > 0 else "text"


def describe_bytes(head: bytes) -> str:
    """The first bytes as hex, for messages about unrecognised content."""
    return " ".join(f"{b:02x}" for b in head[:8]) or "nothing"


def open_regular(path: Path) -> io.BufferedReader:
    """Open a regular file for reading without ever blocking on a FIFO or a device.

    Raises:
        OSError: the file cannot be opened, or is not a regular file (``errno`` is then None).
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(f"not a regular file ({file_kind(mode)})")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def file_kind(mode: int) -> str:
    """A file type's name for messages (``FIFO``, ``socket``, ``character device``, …)."""
    for test, name in (
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISDIR, "folder"),
        (stat.S_ISLNK, "symbolic link"),
    ):
        if test(mode):
            return name
    return "regular file" if stat.S_ISREG(mode) else "special file"


class Source(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


class CountingReader:
    """Reads a raw file and counts the bytes read, for the compression ratio limit."""

    def __init__(self, raw: IO[bytes], watcher: ZstdFrameWatcher | None = None) -> None:
        self.raw = raw
        self.count = 0
        self.watcher = watcher

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.count += len(data)
        if self.watcher is not None:
            self.watcher.feed(data)
        return data

    def close(self) -> None:
        self.raw.close()


class ZstdFrameWatcher:
    """Follows zstd frame and block headers in the compressed bytes, to tell a complete stream from a cut one.

    Only headers are parsed (block contents are skipped), so this costs next to nothing. See RFC 8878
    section 3.1 for the layout.
    """

    def __init__(self) -> None:
        self._buf = b""
        self._skip = 0
        self._state = "magic"
        self._checksum = False
        self._header_rest = 0
        self.frames = 0

    @property
    def complete(self) -> bool:
        """True when the bytes seen so far end exactly at the end of a frame."""
        return self._state == "magic" and not self._buf and not self._skip

    def _need(self) -> int:
        if self._state == "header":
            return self._header_rest
        return {"magic": 4, "skipsize": 4, "fhd": 1, "block": 3, "checksum": 4}.get(self._state, 0)

    def feed(self, data: bytes) -> None:
        """Follow the headers in the next compressed bytes."""
        pos = 0
        while True:
            if self._skip:
                n = min(self._skip, len(data) - pos)
                self._skip -= n
                pos += n
                if self._skip:
                    return
            need = self._need()
            if need:
                take = data[pos : pos + need - len(self._buf)]
                self._buf += take
                pos += len(take)
                if len(self._buf) < need:
                    return
            self._advance()

    def _advance(self) -> None:
        buf, self._buf = self._buf, b""
        state = self._state
        if state == "magic":
            magic = int.from_bytes(buf, "little")
            if magic == _ZSTD_MAGIC:
                self._state = "fhd"
            elif magic & 0xFFFFFFF0 == _ZSTD_SKIPPABLE:
                self._state = "skipsize"
            else:
                self._state = "invalid"  # the decompressor reports the error itself
                self._skip = 1 << 62
        elif state == "skipsize":
            self._skip = int.from_bytes(buf, "little")
            self._state = "magic"
        elif state == "fhd":
            fhd = buf[0]
            fcs_flag, single, did_flag = fhd >> 6, (fhd >> 5) & 1, fhd & 3
            self._checksum = bool((fhd >> 2) & 1)
            fcs = (1 if single else 0, 2, 4, 8)[fcs_flag]
            self._header_rest = (0 if single else 1) + (0, 1, 2, 4)[did_flag] + fcs
            self._state = "header"
        elif state == "header":
            self._state = "block"
        elif state == "block":
            header = int.from_bytes(buf, "little")
            last, kind, size = header & 1, (header >> 1) & 3, header >> 3
            self._skip = 1 if kind == 1 else size
            self._state = "after" if last else "block"
        elif state == "after":
            self.frames += 1
            self._state = "checksum" if self._checksum else "magic"
        elif state == "checksum":
            self._state = "magic"


class LimitedReader:
    """A decompressed stream that stops at the expanded-size and ratio limits and reports truncation."""

    def __init__(self, inner: Source, source: CountingReader, limits: Limits, codec: str) -> None:
        self.inner = inner
        self._read1 = getattr(inner, "read1", inner.read)
        self.source = source
        self.limits = limits
        self.codec = codec
        self.expanded = 0

    def read(self, size: int = CHUNK_BYTES) -> bytes:
        # read1: one step of the decompressor at a time, so data decoded before a fault is returned
        # before the fault is raised (read() would drop it while trying to fill ``size``).
        data = self._read1(size)
        if not data:
            watcher = self.source.watcher
            if watcher is not None and not watcher.complete:
                raise TruncatedStream(f"{self.codec} stream ends inside a frame")
            return data
        self.expanded += len(data)
        limits = self.limits
        if self.expanded > limits.max_expanded_bytes:
            raise LimitExceeded(
                "decompression limit exceeded: expands to more than "
                f"{format_size(limits.max_expanded_bytes)} (raise --max-expanded-size to read it)"
            )
        if self.expanded >= limits.ratio_floor_bytes and self.expanded > limits.max_ratio * max(
            self.source.count, 1
        ):
            raise LimitExceeded(
                f"decompression limit exceeded: expands more than {limits.max_ratio}:1, "
                "a decompression bomb? (raise --max-compression-ratio to read it)"
            )
        return data

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()
        self.source.close()


@dataclass(slots=True)
class Opened:
    """A decoded input stream and what its content was (``gzip``, ``zstd`` or ``text``)."""

    stream: Source
    codec: str
    raw: IO[bytes]

    def close(self) -> None:
        close = getattr(self.stream, "close", None)
        if close is not None:
            close()
        self.raw.close()


_COMPRESSED_SUFFIXES = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}


def open_decoded(path: Path, limits: Limits, expected: str) -> Opened | str:
    """Open a text-like input, decompressing by content; a string says why it cannot be read as text.

    Args:
        path: the file.
        limits: decompression limits.
        expected: what the file should hold, for messages (``JSON Lines``, ``text``).

    Raises:
        OSError: the file cannot be opened or read.
    """
    raw = open_regular(path)
    try:
        head = raw.read(HEAD_BYTES)
        raw.seek(0)
        kind = sniff(head)
        named = _COMPRESSED_SUFFIXES.get(path.suffix.lower())
        if kind in ("gzip", "zstd"):
            return _decompressing(raw, kind, limits)
        # A plain file named .gz/.zst is read as what it is, but bytes that are not text never pass.
        if kind == "text" or (kind == "non-utf8" and named is None):
            return Opened(raw, "text", raw)
        raw.close()
        if named is not None:
            return (
                f"content/extension mismatch: named {path.suffix} but not a {named} stream "
                f"(starts with {describe_bytes(head)}{_what(kind)})"
            )
        if kind == "parquet":
            return f"content/extension mismatch: Parquet data, not {expected}; name it .parquet"
        return (
            f"content/extension mismatch: binary data, not {expected} "
            f"(starts with {describe_bytes(head)}{_what(kind)})"
        )
    except BaseException:
        raw.close()
        raise


def _what(kind: str) -> str:
    return "" if kind in ("binary", "non-utf8", "text") else f": looks like {kind}"


def _decompressing(raw: IO[bytes], codec: str, limits: Limits) -> Opened:
    inner: Source
    if codec == "gzip":
        source = CountingReader(raw)
        inner = gzip.GzipFile(fileobj=cast(IO[bytes], source), mode="rb")
    else:
        source = CountingReader(raw, ZstdFrameWatcher())
        dctx = zstandard.ZstdDecompressor(max_window_size=limits.zstd_max_window)
        inner = dctx.stream_reader(cast(IO[bytes], source), read_across_frames=True, closefd=False)
    return Opened(LimitedReader(inner, source, limits, codec), codec, raw)


def check_decoded_head(stream: Source, codec: str, expected: str) -> tuple[bytes, str | None]:
    """Read the first decompressed bytes; returns them and, if they are not text, why not."""
    head = stream.read(HEAD_BYTES)
    kind = sniff(head)
    if kind in ("text", "non-utf8"):
        return head, None
    return head, (
        f"content/extension mismatch: the {codec} stream holds binary data, not {expected} "
        f"(starts with {describe_bytes(head)}{_what(kind)})"
    )


def read_capped(stream: Source, first: bytes, cap: int) -> bytes | int:
    """The whole stream (after ``first``) if it is at most ``cap`` bytes, else how much was seen (> cap)."""
    parts = [first]
    size = len(first)
    while size <= cap:
        data = stream.read(CHUNK_BYTES)
        if not data:
            return b"".join(parts)
        parts.append(data)
        size += len(data)
    return size


def iter_lines(
    stream: Source, cap: int, first: bytes = b"", row: int = 0
) -> Iterator[tuple[int, bytes | int]]:
    """Split a stream into numbered lines (1-based, counting every line, the first numbered ``row + 1``)
    without their newline.

    Empty lines are counted but not yielded.
    A line longer than ``cap`` bytes is yielded as its length (an int, at least ``cap + 1``) instead of
    its bytes; it is never held in memory, and the next line starts after its newline. A last line
    without a newline is yielded like any other.
    """
    carry: list[bytes] = []  # the start of a line that began in an earlier chunk
    carried = 0
    dropping = False
    data = first or stream.read(CHUNK_BYTES)
    while data:
        start = 0
        if carried and (end := data.find(b"\n")) >= 0:
            row += 1
            size = carried + end
            if dropping or size > cap:
                yield row, size
            else:
                carry.append(data[:end])
                yield row, b"".join(carry)
            carry, carried, dropping = [], 0, False
            start = end + 1
        # split looks at every byte in a loop of its own, find (memchr) skips to the newline: on corpus
        # lines of a few KB finding them costs a third as much, on short or empty lines twice to four times
        # as much; a look at the chunk's first bytes tells which it holds.
        if data.count(b"\n", start, start + _SAMPLE_BYTES) > _SAMPLE_BYTES // _SHORT_LINE:
            pieces = data[start:].split(b"\n")
            start = len(data) - len(pieces.pop())
            for piece in pieces:
                row += 1
                if piece:  # an empty line is no record; skipping it here keeps runs of newlines cheap
                    yield row, piece if len(piece) <= cap else len(piece)
        else:
            end = data.find(b"\n", start)
            while end >= 0:
                row += 1
                if end > start:
                    yield row, data[start:end] if end - start <= cap else end - start
                start = end + 1
                end = data.find(b"\n", start)
        if start < len(data):
            carried += len(data) - start
            if dropping or carried > cap:
                dropping, carry = True, []
            else:
                carry.append(data[start:])
        data = stream.read(CHUNK_BYTES)
    if carried:
        yield row + 1, carried if dropping else b"".join(carry)


def describe_stream_error(exc: BaseException, codec: str, after: str) -> str:
    """A one-line reason for an error that stopped reading a (compressed) stream part-way."""
    if isinstance(exc, LimitExceeded):
        return f"partial: {exc}; stopped {after}"
    if isinstance(exc, EOFError):
        what = str(exc) if isinstance(exc, TruncatedStream) else f"{codec} stream ends before its end marker"
        return f"partial: truncated {codec} stream ({what}); the file was cut short {after}"
    if isinstance(exc, zstandard.ZstdError) and "too much memory" in str(exc):
        return (
            "zstd frame needs a decoding window above --zstd-max-window (written with --long?); "
            f"not read to bound memory; raise --zstd-max-window to read it; stopped {after}"
        )
    if isinstance(exc, zstandard.ZstdError | zlib.error | gzip.BadGzipFile):
        return f"partial: corrupt {codec} data ({exc}) {after}"
    if isinstance(exc, OSError):
        return f"partial: read error ({exc.strerror or exc}) {after}"
    return f"partial: {type(exc).__name__}: {exc} {after}"


STREAM_ERRORS: tuple[type[BaseException], ...] = (
    EOFError,
    LimitExceeded,
    OSError,
    zlib.error,
    zstandard.ZstdError,
)
"""Exceptions that stop a stream part-way; the readers turn them into one partial-file skip."""
