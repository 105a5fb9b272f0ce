"""The reporter interface, the registry of reporters by ``--format`` name, and atomic report writing."""

from __future__ import annotations

import contextlib
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from auditor.errors import UsageError


class Reporter(ABC):
    """Renders the report.json record (see docs/report-schema.md) as one output format.

    A reporter reads only the record, never an ``AuditResult``, so ``auditor report`` can re-render a
    saved report.json without rescanning.
    """

    name: ClassVar[str]
    """The ``--format`` name."""
    filename: ClassVar[str]
    """The file ``scan`` writes into OUTDIR for this format."""
    binary: ClassVar[bool] = False
    """True when ``render`` returns bytes, False when it returns text (written as UTF-8)."""

    @abstractmethod
    def render(self, report: dict[str, Any]) -> str | bytes:
        """Render one report record.

        Args:
            report: the report.json record, as built by ``auditor.report.build_report`` or read back
                from a report.json.
        """

    def stream(self, report: dict[str, Any]) -> str | bytes | Iterator[str] | Iterator[bytes]:
        """:meth:`render`, or the same text in pieces, as text or as UTF-8 (a large report need not
        be held whole)."""
        return self.render(report)


REPORTERS: dict[str, type[Reporter]] = {}
"""Every reporter by its ``--format`` name; filled by ``register`` when the format modules are imported."""

R = TypeVar("R", bound=type[Reporter])


def register(cls: R) -> R:
    """Class decorator: make a reporter available under its ``name``."""
    if cls.name in REPORTERS and REPORTERS[cls.name] is not cls:
        raise ValueError(f"reporter name {cls.name!r} is taken by {REPORTERS[cls.name].__qualname__}")
    REPORTERS[cls.name] = cls
    return cls


def get_reporter(name: str) -> Reporter:
    """An instance of the reporter registered under ``name``.

    Raises:
        UsageError: no reporter has that name; the message lists the valid ones.
    """
    try:
        cls = REPORTERS[name.strip().lower()]
    except KeyError:
        valid = ", ".join(sorted(REPORTERS))
        raise UsageError(f"unknown report format {name!r}: use one of {valid}") from None
    return cls()


CHUNK_CHARS = 1 << 16
"""About how much text a streaming reporter yields at a time."""


def chunked(pieces: Iterable[str]) -> Iterator[str]:
    """Small pieces of text joined into pieces of about :data:`CHUNK_CHARS` (the last may be shorter)."""
    buffer: list[str] = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= CHUNK_CHARS:
            yield "".join(buffer)
            buffer, size = [], 0
    yield "".join(buffer)


def write_report(path: Path, data: str | bytes | Iterable[str] | Iterable[bytes]) -> None:
    """Write a rendered report atomically: the file at ``path`` is either the old one or the new one.

    The data goes to a temporary file in the same directory (so the rename stays on one file system),
    which is flushed, fsynced and renamed over ``path``. On any error the temporary file is removed and
    the previous file, if any, is left untouched. Writing several formats is not one transaction.

    Args:
        path: where the report goes; its directory must exist.
        data: the rendered report, or its text in pieces (text or bytes); text is written as UTF-8.
    """
    path = Path(path)
    fd, tmp_name = temporary_file(path)
    try:
        fill(fd, data)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    commit(tmp_name, path)


def temporary_file(path: Path) -> tuple[int, str]:
    """A new, empty temporary file beside ``path`` for :func:`fill` and :func:`commit`: its descriptor
    and name (hidden, ``.NAME.*.tmp``)."""
    return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)


def fill(fd: int, data: str | bytes | Iterable[str] | Iterable[bytes]) -> None:
    """Write a rendered report (see :func:`write_report`) to the open file ``fd``, flush and fsync it;
    ``fd`` is closed in every case."""
    pieces: Iterable[bytes]
    if isinstance(data, bytes):
        pieces = (data,)
    elif isinstance(data, str):
        pieces = (data.encode("utf-8"),)
    else:
        pieces = (piece.encode("utf-8") if isinstance(piece, str) else piece for piece in data)
    with os.fdopen(fd, "wb") as handle:
        for payload in pieces:
            handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())


def commit(tmp_name: str, path: Path) -> None:
    """Put the filled temporary file ``tmp_name`` in the place of ``path`` (atomically, durably).

    On an error the temporary file is removed and ``path`` is left as it was.
    """
    try:
        # mkstemp creates the file 0600; a report keeps the mode of the file it replaces, else 0644.
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # The rename is only durable once the directory entry is; not every platform can open a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
