"""Making report text safe to show: visible control and bidi characters, escaped surrogates, clamping."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from json.encoder import encode_basestring as _encode_string
from typing import Any

from auditor.report import FindingRecords

# Characters a reader must see rather than have act on the page: C0/C1 controls (bar tab, newline,
# carriage return), bidi embeddings/overrides/isolates and marks (U+202E can make "exe.txt" read
# "txt.exe"), invisible joiners that hide edits, the BOM, non-characters that XML refuses, and lone
# surrogates that no UTF-8 writer accepts. ZWNJ/ZWJ (U+200C/U+200D) are left alone: Persian, Indic
# scripts and emoji need them.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u2069\ufeff\ufffe\uffff\ud800-\udfff]"
)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _codepoint(match: re.Match[str]) -> str:
    return f"[U+{ord(match.group()):04X}]"


def visible(text: str) -> str:
    """Replace control, bidi and invisible characters (and lone surrogates) with ``[U+XXXX]``.

    The result is printable, encodes as UTF-8 and is valid XML 1.0 character data; ordinary text,
    newlines and tabs are unchanged.
    """
    # Every character the pattern replaces is a control, format, surrogate or unassigned one, which
    # isprintable() refuses: a printable text has nothing to replace (the usual case, checked in C).
    if type(text) is str and text.isprintable():
        return text
    return _INVISIBLE.sub(_codepoint, text)


def encodable(text: str) -> str:
    """``text`` with only its lone surrogates replaced by ``[U+XXXX]``, so it encodes as UTF-8."""
    if type(text) is str and text.isascii():
        return text
    return _LONE_SURROGATE.sub(_codepoint, text)


def clamp(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, with an ellipsis when something was cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + "…"


def one_line(text: str) -> str:
    """Runs of whitespace (newlines included) as one space, for table cells and attributes."""
    return " ".join(text.split())


_FLUSH_PIECES = 8_192
"""Pieces of JSON text gathered before they are joined and handed on as one chunk."""
_DEEP = 48
"""Nesting below which values are handed to the standard encoder (which also finds reference cycles)."""


def _escape_surrogates(text: str) -> str:
    # A surrogate can only occur inside a JSON string literal, where its \u escape means the same.
    # Text without one (the usual case) encodes as UTF-8, which only surrogates stop: that check
    # runs in C at several times the speed of the pattern's search.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub(_json_escape, text)
    return text


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _records_as_list(value: Any) -> Any:
    # The standard encoder's hook for types it does not know: the lazy findings are their list.
    if isinstance(value, FindingRecords):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class _IndentedJson:
    """``json.dumps(value, ensure_ascii=False, indent=N, allow_nan=False)``, the same text, faster.

    The standard library encodes indented JSON in pure Python, one generator per nesting level and a
    yield per token. This walks the value once, appending to a list, with the same rules for every
    type it knows (exact ``str``, ``int``, ``float``, ``bool``, ``None``, ``list``, ``tuple``,
    ``dict``); anything else (subclasses, NaN, non-string keys, unknown objects, very deep nesting)
    is handed to the standard encoder at that place, so the output and the errors are the standard
    library's.
    """

    def __init__(self, indent: int | str) -> None:
        step = indent if isinstance(indent, str) else " " * indent
        newlines = ["\n" + step * level for level in range(_DEEP + 2)]
        closers = {
            level: (newlines[level] + "}", newlines[level] + "]", "," + newlines[level + 1])
            for level in range(_DEEP + 1)
        }
        standard = json.JSONEncoder(
            ensure_ascii=False, indent=indent, sort_keys=False, allow_nan=False, default=_records_as_list
        )
        self.newlines = newlines

        def fallback(value: Any, level: int, out: list[str]) -> None:
            # The standard encoder at level 0, then every line break indented to this level: JSON
            # strings never hold a raw line break, so each one is the encoder's own.
            text = "".join(standard.iterencode(value))
            out.append(text.replace("\n", newlines[level]) if level else text)

        def encode(value: Any, level: int, out: list[str]) -> None:
            """Append the text of ``value`` nested ``level`` deep to ``out``."""
            kind = type(value)
            if kind is str:
                out.append(encode_string(value))
            elif kind is dict and value and level < _DEEP:
                start = len(out)
                inner = level + 1
                end, _, separator = closers[level]
                append = out.append
                append("{" + newlines[inner])
                first = True
                for key, item in value.items():
                    if type(key) is not str:
                        # The standard encoder makes keys of numbers, booleans and None (or refuses).
                        del out[start:]
                        fallback(value, level, out)
                        return
                    if first:
                        first = False
                    else:
                        append(separator)
                    append(encode_string(key))
                    kind = type(item)
                    if kind is str:
                        append(": " + encode_string(item))
                    elif item is None:
                        append(": null")
                    elif kind is int:
                        append(": " + int_repr(item))
                    else:
                        append(": ")
                        encode(item, inner, out)
                append(end)
            elif (kind is list or kind is tuple) and value and level < _DEEP:
                inner = level + 1
                _, end, separator = closers[level]
                append = out.append
                append("[" + newlines[inner])
                first = True
                for item in value:
                    if first:
                        first = False
                    else:
                        append(separator)
                    if type(item) is str:
                        append(encode_string(item))
                    else:
                        encode(item, inner, out)
                append(end)
            elif value is None:
                out.append("null")
            elif value is True:
                out.append("true")
            elif value is False:
                out.append("false")
            elif kind is int:
                out.append(int_repr(value))
            elif kind is float and value - value == 0.0:  # finite: NaN and infinities are refused
                out.append(float_repr(value))
            elif (kind is dict or kind is list or kind is tuple) and not value:
                out.append("{}" if kind is dict else "[]")
            else:
                fallback(value, level, out)

        encode_string = _encode_string
        int_repr = int.__repr__
        float_repr = float.__repr__
        self.encode = encode
        self.fallback = fallback

    def iterate(self, value: Any, level: int, depth: int) -> Iterator[str]:
        """The text of ``value`` in chunks: containers less than ``depth`` deep are walked item by
        item, so a large list is never held as one string. A :class:`~auditor.report.FindingRecords`
        is written as the list it stands for, each record made as it is reached."""
        kind = type(value)
        if kind is FindingRecords:
            kind = list
        out: list[str] = []
        if depth <= 0 or not value or kind not in (dict, list, tuple):
            self.encode(value, level, out)
            yield "".join(out)
            return
        if kind is dict and any(type(key) is not str for key in value):
            self.fallback(value, level, out)
            yield "".join(out)
            return
        newline = self.newlines[level + 1]
        if kind is dict:
            out.append("{" + newline)
            for index, (key, item) in enumerate(value.items()):
                if index:
                    out.append("," + newline)
                out.append(_encode_string(key) + ": ")
                if type(item) in (dict, list, tuple, FindingRecords) and item and depth > 1:
                    yield "".join(out)
                    out = []
                    yield from self.iterate(item, level + 1, depth - 1)
                else:
                    self.encode(item, level + 1, out)
            out.append(self.newlines[level] + "}")
        else:
            out.append("[" + newline)
            for index, item in enumerate(value):
                if index:
                    out.append("," + newline)
                self.encode(item, level + 1, out)
                if len(out) >= _FLUSH_PIECES:
                    yield "".join(out)
                    out = []
            out.append(self.newlines[level] + "]")
        yield "".join(out)


def iter_json(value: Any, *, indent: int | None = 2) -> Iterator[str]:
    """:func:`dump_json` in pieces, for writing a large record without holding its whole text.

    The top-level object, the objects in it and their lists (findings, sources_by) are written item
    by item, in chunks of a few hundred KB.
    """
    if indent is None:
        yield dump_json(value, indent=None)
        return
    for chunk in _IndentedJson(indent).iterate(value, 0, 3):
        yield _escape_surrogates(chunk)


def iter_json_utf8(value: Any) -> Iterator[bytes]:
    """:func:`iter_json` (indent 2) encoded as UTF-8, each piece encoded once (the encoding is also
    the check for surrogates, which are escaped first)."""
    for chunk in _IndentedJson(2).iterate(value, 0, 3):
        try:
            yield chunk.encode("utf-8")
        except UnicodeEncodeError:
            yield _LONE_SURROGATE.sub(_json_escape, chunk).encode("utf-8")


def dump_json(value: Any, *, indent: int | None = 2) -> str:
    """Deterministic JSON text of ``value`` that always encodes as UTF-8.

    Non-ASCII stays readable (``ensure_ascii=False``); lone surrogates, which only JSON escapes can
    carry, are written as ``\\udXXX`` so ``json.loads`` gives back the same string (except that a high
    surrogate directly followed by a low one reads back as the one code point they encode). NaN and
    infinity are refused (``ValueError``): they are not JSON.
    """
    if indent is not None:
        out: list[str] = []
        _IndentedJson(indent).encode(value, 0, out)
        return _escape_surrogates("".join(out))
    text = json.dumps(
        value, ensure_ascii=False, indent=indent, sort_keys=False, allow_nan=False, default=_records_as_list
    )
    return _escape_surrogates(text)
