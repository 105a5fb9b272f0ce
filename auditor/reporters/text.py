"""Making report text safe to show: visible control and bidi characters, escaped surrogates, clamping."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

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
    return _INVISIBLE.sub(_codepoint, text)


def encodable(text: str) -> str:
    """``text`` with only its lone surrogates replaced by ``[U+XXXX]``, so it encodes as UTF-8."""
    return _LONE_SURROGATE.sub(_codepoint, text)


def clamp(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, with an ellipsis when something was cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + "…"


def one_line(text: str) -> str:
    """Runs of whitespace (newlines included) as one space, for table cells and attributes."""
    return " ".join(text.split())


def iter_json(value: Any, *, indent: int | None = 2) -> Iterator[str]:
    """:func:`dump_json` in pieces, for writing a large record without holding its whole text."""
    encoder = json.JSONEncoder(ensure_ascii=False, indent=indent, sort_keys=False, allow_nan=False)
    for piece in encoder.iterencode(value):
        # Each piece is whole tokens, so a surrogate never straddles two pieces.
        yield _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", piece)


def dump_json(value: Any, *, indent: int | None = 2) -> str:
    """Deterministic JSON text of ``value`` that always encodes as UTF-8.

    Non-ASCII stays readable (``ensure_ascii=False``); lone surrogates, which only JSON escapes can
    carry, are written as ``\\udXXX`` so ``json.loads`` gives back the same string (except that a high
    surrogate directly followed by a low one reads back as the one code point they encode). NaN and
    infinity are refused (``ValueError``): they are not JSON.
    """
    text = json.dumps(value, ensure_ascii=False, indent=indent, sort_keys=False, allow_nan=False)
    # A surrogate can only occur inside a JSON string literal, where its \u escape means the same.
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
