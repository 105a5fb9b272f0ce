"""JSON Lines shards, plain or compressed with gzip or zstandard (decided by content, not by name)."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from auditor.limits import format_size
from auditor.models import Record, Skipped
from auditor.readers.base import Reader, register, to_record
from auditor.readers.spans import Span, SpanStream
from auditor.readers.stream import (
    STREAM_ERRORS,
    Opened,
    Source,
    check_decoded_head,
    describe_stream_error,
    iter_lines,
    open_decoded,
    open_regular,
)

_BASE = (".jsonl", ".ndjson", ".json")

_MAX_DEPTH = 100
"""Deepest nesting taken from orjson; json.loads refuses nesting near the interpreter's recursion limit
(how near depends on the call stack) where orjson does not, so deeper lines are parsed by json alone."""

_MAX_BRACKETS = 1000
"""Most ``[`` and ``{`` in a line given to orjson, which recurses without a limit (orjson 3.8 crashes
the process on a line of a million ``[``): nesting is never deeper than the brackets, so orjson
never goes deeper than this."""

_LONG_DIGITS = re.compile(rb"[0-9]{19}")
"""A run of digits as long as an integer beyond 64 bits, which orjson gives as a float."""


@register
class JsonlReader(Reader):
    """One JSON object per line.

    Blank lines are not records. Every other line is a record or a counted skip: malformed JSON,
    a value that is not an object, no usable text, invalid UTF-8, a raw NUL byte, or a line longer
    than ``Limits.max_record_bytes`` (skipped without being buffered; reading resumes at the next
    line). A truncated, corrupt or over-limit compressed stream keeps the records before the fault
    and ends with one file-level ``partial:`` skip.
    """

    format = "jsonl"
    suffixes = tuple(s + c for s in _BASE for c in ("", ".gz", ".zst"))
    splits = True

    def _read(self, path: Path, input_name: str) -> Iterator[Record | Skipped]:
        opened = open_decoded(path, self.limits, "JSON Lines")
        if isinstance(opened, str):
            yield Skipped(input_name, None, opened)
            return
        try:
            first = b""
            if opened.codec != "text":
                try:
                    first, problem = check_decoded_head(opened.stream, opened.codec, "JSON Lines")
                except STREAM_ERRORS as exc:
                    yield Skipped(input_name, None, describe_stream_error(exc, opened.codec, _after(0)))
                    return
                if problem:
                    yield Skipped(input_name, None, problem)
                    return
                if not first:
                    return
            yield from self._lines(opened.stream, opened.codec, input_name, first, 0)
        finally:
            _close(opened)

    def _read_span(self, path: Path, input_name: str, span: Span) -> Iterator[Record | Skipped]:
        with open_regular(path) as raw:
            yield from self._lines(SpanStream(raw, span), "text", input_name, b"", span.first_row - 1)

    def _lines(
        self, stream: Source, codec: str, input_name: str, first: bytes, before: int
    ) -> Iterator[Record | Skipped]:
        """The records of the lines of ``stream``, the first of them line ``before + 1``."""
        cap = self.limits.max_record_bytes
        row = before
        try:
            for row, line in iter_lines(stream, cap, first, before):
                if isinstance(line, int):
                    yield Skipped(
                        input_name,
                        row,
                        f"line too long: {line:,} bytes, over the --max-record-size limit of "
                        f"{format_size(cap)}; skipped to the next line",
                    )
                    continue
                entry = self._decode(line, row, input_name)
                if entry is not None:
                    yield entry
        except STREAM_ERRORS as exc:
            yield Skipped(input_name, None, describe_stream_error(exc, codec, _after(row)))

    def _decode(self, line: bytes, row: int, input_name: str) -> Record | Skipped | None:
        if row == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        # orjson parses a corpus line 2-3x faster than json; whatever it refuses (lone surrogates, NaN,
        # malformed lines) or might give differently goes to json, so every line is accepted or
        # rejected, and every value is, exactly as json.loads has it; lines with many brackets go to
        # json alone (see _MAX_BRACKETS). A line orjson takes is never blank, holds no NUL byte and is
        # valid UTF-8 as Python has it (orjson checks the whole line, as strictly), so the checks that
        # word those skips wait until orjson has refused.
        if _few_brackets(line):
            try:
                fast = orjson.loads(line)
                agrees = _as_json_gives(fast, line)
            except Exception:  # any refusal: json decides, and words the reason
                agrees = False
            if agrees:
                return to_record(fast, fields=self.fields, input_name=input_name, row=row)
        return self._decode_by_json(line, row, input_name)

    def _decode_by_json(self, line: bytes, row: int, input_name: str) -> Record | Skipped | None:
        """The record of a line as json.loads has it, or the skip that says what is wrong with it."""
        if not line.strip():
            return None
        if b"\x00" in line:
            return Skipped(input_name, row, "raw NUL byte in the line: binary data, not JSON")
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Skipped(input_name, row, f"invalid UTF-8 at byte {exc.start} of the line")
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            return Skipped(input_name, row, f"malformed JSON: {exc.msg} at column {exc.colno}")
        except RecursionError:
            return Skipped(input_name, row, "malformed JSON: nested too deeply")
        except ValueError as exc:  # e.g. an integer of more digits than Python converts
            return Skipped(input_name, row, f"malformed JSON: {exc}")
        return to_record(obj, fields=self.fields, input_name=input_name, row=row)


_FEW_FOUND = 8
"""Brackets :func:`_few_brackets` finds one by one before it counts them all."""


def _few_brackets(line: bytes) -> bool:
    """Whether ``line`` has at most :data:`_MAX_BRACKETS` ``[`` and ``{``.

    A corpus line has one or two: finding them (memchr) costs a third of counting them (a byte loop),
    so they are found one by one, and counted only when there are more than a few.
    """
    found = 0
    for bracket in b"[{":
        at = line.find(bracket)
        while at >= 0:
            found += 1
            if found > _FEW_FOUND:
                return line.count(b"[") + line.count(b"{") <= _MAX_BRACKETS
            at = line.find(bracket, at + 1)
    return True


_LEAVES = frozenset((str, int, bool, type(None)))
"""The types of orjson values that are json.loads's own exactly and hold nothing (its ints are at most
64 bits)."""


def _as_json_gives(value: Any, line: bytes) -> bool:
    """Whether ``value``, orjson's parse of ``line``, is what json.loads gives: not when it nests deeper
    than :data:`_MAX_DEPTH`, nor when it holds a float and the line a digit run that may be an integer
    beyond 64 bits (orjson turns those into floats; json keeps them exact)."""
    if type(value) is dict and _LEAVES.issuperset(map(type, value.values())):
        return True  # the usual record, a flat object of strings, told in one pass
    floats = False
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            floats = floats or isinstance(item, float)
            continue
        if depth >= _MAX_DEPTH:
            return False
        for child in item:
            if isinstance(child, str | int):  # bool is an int; str and int have no children
                continue
            stack.append((child, depth + 1))
    return not (floats and _LONG_DIGITS.search(line))


def _after(row: int) -> str:
    return f"after line {row}" if row else "before the first line"


def _close(opened: Opened) -> None:
    with contextlib.suppress(OSError, EOFError, ValueError):
        opened.close()
