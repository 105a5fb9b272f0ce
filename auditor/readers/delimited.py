"""CSV and TSV files with a header row, plain or compressed with gzip or zstandard (decided by content).

Python's ``csv`` module parses (strict RFC 4180 quoting: cells may hold delimiters, quotes and newlines
inside double quotes); this module feeds it one line at a time and keeps, for every row, its first
line, its raw bytes and any problem with them, so that a bad row is reported on its own and
``auditor filter`` can copy kept rows byte for byte. Every cell is a string, so ids such as ``007``
stay as written.

Rows are numbered from 1 after the header; blank lines are not rows (as for JSON Lines). A row is
skipped, counted and reported, and reading goes on, when it has a different number of cells from the
header, holds bytes that are not UTF-8 or a NUL byte, breaks the quoting rules, or is longer than
``Limits.max_record_bytes``. An over-long row is never held in memory: its quoting is followed byte by
byte (as the ``csv`` module would) to find where it ends, and reading resumes after it.
"""

from __future__ import annotations

import contextlib
import csv
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from auditor.limits import format_size
from auditor.models import Record, Skipped
from auditor.readers.base import (
    ID_FIELDS,
    LICENSE_FIELDS,
    TEXT_FIELDS,
    URL_FIELDS,
    Reader,
    register,
    to_record,
)
from auditor.readers.stream import (
    CHUNK_BYTES,
    STREAM_ERRORS,
    Opened,
    Source,
    check_decoded_head,
    describe_stream_error,
    open_decoded,
)

_BOM = b"\xef\xbb\xbf"
_NL, _CR = 0x0A, 0x0D


def dialect_for(path: Path) -> type[csv.Dialect]:
    """Tab-separated for ``.tsv`` names (compressed or not), comma-separated otherwise."""
    return csv.excel_tab if ".tsv" in path.name.lower() else csv.excel


class RecordTooLong(Exception):
    """The row being parsed is longer than the record limit; it has been read through to its end."""

    def __init__(self, size: int, last_line: int, unclosed: bool) -> None:
        super().__init__(size)
        self.size = size
        self.last_line = last_line
        self.unclosed = unclosed


class QuoteTracker:
    """Follows the quoting of a CSV row byte by byte as ``csv`` parses it (strict, doubled quotes), to
    find where a row too long to parse ends: at a newline outside quotes, or at the end of a line where
    ``csv`` would have stopped with an error.
    """

    _START, _FIELD, _QUOTED, _QUOTE, _CR, _ERROR = range(6)

    def __init__(self, dialect: type[csv.Dialect]) -> None:
        self.quote = ord(dialect.quotechar or '"')
        self.delimiter = ord(dialect.delimiter)
        self._field_end = re.compile(b"[" + re.escape(bytes([self.delimiter])) + b"\r\n]")
        self.state = self._START
        self.ended = False

    @property
    def in_quotes(self) -> bool:
        return self.state == self._QUOTED

    def feed(self, data: bytes) -> None:
        """Follow ``data``; sets ``ended`` at the newline that ends the row."""
        i, n, state = 0, len(data), self.state
        while i < n and not self.ended:
            if state == self._QUOTED:
                j = data.find(self.quote, i)
                if j < 0:
                    break
                state, i = self._QUOTE, j + 1
                continue
            if state == self._ERROR:
                if data.find(_NL, i) < 0:
                    break
                self.ended = True
                break
            if state == self._FIELD:
                match = self._field_end.search(data, i)
                if match is None:
                    break
                i = match.start()
            c = data[i]
            i += 1
            if c == _NL and state != self._QUOTED:
                self.ended, state = True, self._START
            elif state == self._CR:
                state = self._ERROR  # a carriage return not followed by a newline: csv stops the row
                i -= 1
            elif c == _CR:
                state = self._CR
            elif c == self.delimiter:
                state = self._START
            elif state == self._QUOTE:
                state = self._QUOTED if c == self.quote else self._ERROR  # strict: '"' then a character
            elif state == self._START and c == self.quote:
                state = self._QUOTED
            else:
                state = self._FIELD
        self.state = state


def split_lines(
    stream: Source, cap: int, first: bytes, dropped: Callable[[bytes], None]
) -> Iterator[bytes | int]:
    """The stream's lines, each with its newline (a last line may lack one).

    A line longer than ``cap`` bytes is never held: its bytes go to ``dropped`` as they are read, and
    its length is yielded (an int) instead of the line.
    """
    carry: list[bytes] = []
    carried = 0
    dropping = False
    data = first or stream.read(CHUNK_BYTES)
    while data:
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            piece = data[start : end + 1]
            start = end + 1
            size = carried + len(piece)
            if dropping or size > cap:
                if not dropping and carry:
                    dropped(b"".join(carry))
                dropped(piece)
                yield size
            elif carry:
                carry.append(piece)
                yield b"".join(carry)
            else:
                yield piece
            carry, carried, dropping = [], 0, False
        rest = data[start:]
        if rest:
            carried += len(rest)
            if dropping:
                dropped(rest)
            elif carried > cap:
                if carry:
                    dropped(b"".join(carry))
                dropped(rest)
                carry, dropping = [], True
            else:
                carry.append(rest)
        data = stream.read(CHUNK_BYTES)
    if carried:
        yield carried if dropping else b"".join(carry)


class _Lines:
    """The text lines ``csv.reader`` parses, with the raw bytes and problems of the row being parsed."""

    def __init__(
        self,
        stream: Source,
        first: bytes,
        cap: int,
        dialect: type[csv.Dialect],
        spill: Callable[[bytes], None] | None,
    ) -> None:
        self.cap = cap
        self.dialect = dialect
        self.spill = spill
        self.line = 0
        self.raw: list[bytes] = []
        self.size = 0
        self.problem: str | None = None
        self._tracker: QuoteTracker | None = None
        self._lines = split_lines(stream, cap, first, self._drop)

    def start_row(self) -> None:
        self.raw, self.size, self.problem, self._tracker = [], 0, None, None

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        piece = next(self._lines)
        self.line += 1
        if isinstance(piece, int) or self.size + len(piece) > self.cap:
            self._overflow(piece)
        assert isinstance(piece, bytes)
        offset = self.size
        self.size += len(piece)
        self.raw.append(piece)
        if self.line == 1 and piece.startswith(_BOM):
            piece = piece[len(_BOM) :]
        if self.problem is None and b"\x00" in piece:
            self.problem = "raw NUL byte in the row: binary data, not CSV"
        try:
            return piece.decode("utf-8")
        except UnicodeDecodeError as exc:
            if self.problem is None:
                self.problem = f"invalid UTF-8 at byte {offset + exc.start} of the row"
            return piece.decode("utf-8", "surrogateescape")

    def _drop(self, data: bytes) -> None:
        """Bytes of a row over the limit: followed for its quoting and passed on, never kept."""
        if self._tracker is None:
            self._tracker = QuoteTracker(self.dialect)
            for part in self.raw:  # the row's earlier lines, still held (they were under the limit)
                self._tracker.feed(part)
                if self.spill is not None:
                    self.spill(part)
            self.raw = []
        self._tracker.feed(data)
        if self.spill is not None:
            self.spill(data)

    def _overflow(self, piece: bytes | int) -> None:
        """Read the over-long row through to its end, then raise RecordTooLong."""
        if isinstance(piece, bytes):
            self._drop(piece)
        else:
            self._drop(b"")  # the line itself was dropped as it was read; start the tracker anyway
        tracker = self._tracker
        assert tracker is not None
        size = self.size + (piece if isinstance(piece, int) else len(piece))
        while not tracker.ended:
            try:
                more = next(self._lines)
            except StopIteration:
                break
            self.line += 1
            if isinstance(more, bytes):
                self._drop(more)
                size += len(more)
            else:
                size += more
        raise RecordTooLong(size, self.line, unclosed=not tracker.ended and tracker.in_quotes)


@dataclass(slots=True)
class CsvRow:
    """One parsed row of a delimited file.

    Attributes:
        row: 1-based data row; 0 for the header; None for a blank line (no row).
        line: the physical line the row starts on.
        cells: the cells, or None when ``problem`` says why the row cannot be used.
        problem: why the row is skipped (for the header: why the file cannot be read).
        raw: the row's bytes as read, newlines included; empty for a row over the limit, whose bytes
            went to the ``spill`` callback instead.
    """

    row: int | None
    line: int
    cells: list[str] | None
    problem: str | None = None
    raw: list[bytes] = field(default_factory=list)


def iter_rows(
    stream: Source,
    first: bytes,
    cap: int,
    dialect: type[csv.Dialect],
    spill: Callable[[int, bytes], None] | None = None,
) -> Iterator[CsvRow]:
    """Every row of a delimited stream, the header first, with its raw bytes; never raises for bad rows.

    Args:
        stream: the decoded stream; its read errors (truncation, limits) are raised to the caller.
        first: bytes already read from ``stream``.
        cap: the longest row held in memory (``--max-record-size``).
        dialect: the ``csv`` dialect (strict quoting is added).
        spill: given the row number and the bytes of a row over ``cap`` as they are read (the row is
            then yielded with a problem and no ``raw``).
    """
    pending = [0]  # the number the row being parsed gets if it is not blank
    lines = _Lines(
        stream, first, cap, dialect, None if spill is None else (lambda data: spill(pending[0], data))
    )
    if csv.field_size_limit() <= cap:
        csv.field_size_limit(min(cap + 1, sys.maxsize))  # our own row limit is the one that applies
    reader = csv.reader(lines, dialect, strict=True)
    seen_header = False
    row = 0
    while True:
        lines.start_row()
        start = lines.line + 1
        pending[0] = row + 1 if seen_header else 0
        try:
            cells = next(reader)
        except StopIteration:
            return
        except RecordTooLong as exc:
            number = pending[0]
            row = number or row
            seen_header = True
            where = f"lines {start}-{exc.last_line}" if exc.last_line > start else f"line {start}"
            reason = (
                f"row too long: {exc.size:,} bytes ({where}), over the --max-record-size limit of "
                f"{format_size(cap)}"
            )
            if exc.unclosed:
                reason += "; an unclosed quote? the row runs to the end of the file"
            else:
                reason += "; skipped to its end"
            yield CsvRow(number, start, None, reason)
            continue
        except csv.Error as exc:
            number = pending[0]
            row = number or row
            seen_header = True
            reason = f"malformed CSV: {_explain(exc, start)} (line {lines.line})"
            yield CsvRow(number, start, None, reason, lines.raw)
            continue
        if not cells:
            yield CsvRow(None, start, cells, None, lines.raw)
            continue
        number = pending[0]
        row = number or row
        seen_header = True
        yield CsvRow(number, start, None if lines.problem else cells, lines.problem, lines.raw)


def _explain(exc: csv.Error, start: int) -> str:
    message = str(exc)
    if message == "unexpected end of data":
        return f"unexpected end of data: an unclosed quote? the row runs from line {start} to the end"
    if message.startswith("new-line character seen in unquoted field"):
        return "a carriage return inside an unquoted cell (old Mac line ends? quote the cell)"
    return message


def header_problem(header: list[str], text_field: str | None) -> str | None:
    """Why a header names no text column, or None when it has one."""
    wanted = (text_field,) if text_field else TEXT_FIELDS
    if any(name in header for name in wanted):
        return None
    columns = ", ".join(header[:20]) + (", …" if len(header) > 20 else "")
    if text_field:
        return f"wrong schema: no column {text_field!r} (--text-field); columns: {columns or 'none'}"
    return (
        f"wrong schema: no text column ({' / '.join(TEXT_FIELDS)}); name it with --text-field "
        f"(columns: {columns or 'none'})"
    )


@register
class CsvReader(Reader):
    """Rows of a CSV or TSV file with a header; each row is a record with the header's names as fields.

    Fields are found by column name (``text``, ``id``, ``url``, ``license`` …, or ``--text-field``
    etc.); a dotted name such as ``meta.url`` is a column name like any other. A header without the
    text column is one file-level ``wrong schema:`` skip. A truncated, corrupt or over-limit compressed
    stream keeps the rows before the fault and ends with one file-level ``partial:`` skip.
    """

    format = "csv"
    suffixes = tuple(s + c for s in (".csv", ".tsv") for c in ("", ".gz", ".zst"))

    def _read(self, path: Path, input_name: str) -> Iterator[Record | Skipped]:
        opened = open_decoded(path, self.limits, "CSV")
        if isinstance(opened, str):
            yield Skipped(input_name, None, opened)
            return
        row = 0
        try:
            first = b""
            if opened.codec != "text":
                first, problem = check_decoded_head(opened.stream, opened.codec, "CSV")
                if problem:
                    yield Skipped(input_name, None, problem)
                    return
                if not first:
                    return
            rows = iter_rows(opened.stream, first, self.limits.max_record_bytes, dialect_for(path))
            header: list[str] | None = None
            for item in rows:
                if item.row is None:
                    continue
                if header is None:
                    if item.cells is None:
                        yield Skipped(input_name, None, f"cannot read the header: {item.problem}")
                        return
                    header = item.cells
                    problem = header_problem(header, self.fields.text)
                    if problem:
                        yield Skipped(input_name, None, problem)
                        return
                    note = self._duplicates(header)
                    if note:
                        yield Skipped(input_name, None, note)
                    continue
                row = item.row
                yield self._record(item, header, input_name)
            if header is not None and not row:
                yield Skipped(input_name, None, "no records: the file has a header and no rows")
        except STREAM_ERRORS as exc:
            yield Skipped(input_name, None, describe_stream_error(exc, opened.codec, _after(row)))
        finally:
            _close(opened)

    def _record(self, item: CsvRow, header: list[str], input_name: str) -> Record | Skipped:
        assert item.row is not None
        if item.cells is None:
            return Skipped(input_name, item.row, item.problem or "unreadable row")
        if len(item.cells) != len(header):
            return Skipped(
                input_name,
                item.row,
                f"wrong number of cells: {len(item.cells)}, but the header has {len(header)} columns "
                f"(line {item.line})",
            )
        obj: dict[str, str] = {}
        for name, value in zip(header, item.cells, strict=True):
            obj.setdefault(name, value)  # a repeated column name: the first column of that name
        return to_record(obj, fields=self.fields, input_name=input_name, row=item.row)

    def _duplicates(self, header: list[str]) -> str | None:
        looked_up = {*TEXT_FIELDS, *ID_FIELDS, *URL_FIELDS, *LICENSE_FIELDS}
        looked_up.update(
            f for f in (self.fields.text, self.fields.id, self.fields.url, self.fields.license) if f
        )
        repeated = sorted({n for n in header if header.count(n) > 1 and n in looked_up})
        if not repeated:
            return None
        where = "; ".join(
            f"{n!r} in columns {', '.join(str(i + 1) for i, h in enumerate(header) if h == n)}"
            for n in repeated
        )
        return f"duplicate column names in the header ({where}); the first column of each name is used"


def _after(row: int) -> str:
    return f"after row {row}" if row else "before the first row"


def _close(opened: Opened) -> None:
    with contextlib.suppress(OSError, EOFError, ValueError):
        opened.close()
