"""ISBNs: checksums, ISBN-10 → ISBN-13, finding them in text and metadata, and lazily loaded ISBN lists."""

from __future__ import annotations

import re
import threading
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SEPARATORS = re.compile(r"[\s\-\u2010\u2011\u2012\u2013]")
_SEP = r"[\-\u2010\u2011 ]"
_LABEL = re.compile(r"^\s*(?:e-?)?isbn(?:[\-\s]?1[03])?\s*:?", re.IGNORECASE)
_BODY = rf"(?:97[89]{_SEP}?)?\d(?:{_SEP}?\d){{8}}{_SEP}?[\dXx]"

# Any candidate: 10 or 13 characters of digits (the last may be X) with optional single separators,
# optionally after an "ISBN" label. Lookarounds keep it from starting or ending inside a longer number.
_CANDIDATE = re.compile(
    r"(?<![\w\-])"
    r"(?P<label>(?i:(?:e-?)?isbn)(?:[\-\s]?1[03])?(?:\s*:\s*|\s+|:))?"
    rf"(?P<isbn>{_BODY})"
    r"(?![\w\-])"
)
# Labelled candidates only: searched when the text mentions "isbn" at all.
_LABELLED = re.compile(
    r"(?<![\w\-])(?i:(?:e-?)?isbn)(?:[\-\s]?1[03])?(?:\s*:\s*|\s+|:)" rf"(?P<isbn>{_BODY})" r"(?![\w\-])"
)
# Bare ISBN-13s: the literal 97 prefix lets the regex engine skip ahead quickly through long texts.
_BARE13 = re.compile(rf"97[89](?:{_SEP}?\d){{9}}{_SEP}?\d(?![\w\-])")

MAX_META_STRINGS = 200
"""Metadata strings searched per record (bounds the work on records with huge metadata)."""
MAX_META_DEPTH = 4


def isbn10_valid(digits: str) -> bool:
    """Whether 10 characters (9 digits and a digit or X) carry a valid ISBN-10 check digit."""
    if len(digits) != 10 or not digits[:9].isdigit() or not (digits[9].isdigit() or digits[9] in "Xx"):
        return False
    total = sum((10 - i) * int(d) for i, d in enumerate(digits[:9]))
    total += 10 if digits[9] in "Xx" else int(digits[9])
    return total % 11 == 0


def isbn13_check_digit(first12: str) -> int:
    """The ISBN-13 (EAN-13) check digit of 12 digits."""
    total = sum(map(int, first12[0::2])) + 3 * sum(map(int, first12[1::2]))
    return (10 - total % 10) % 10


def isbn13_valid(digits: str) -> bool:
    """Whether 13 digits starting 978 or 979 carry a valid check digit."""
    return (
        len(digits) == 13
        and digits.isdigit()
        and digits[:3] in ("978", "979")
        and isbn13_check_digit(digits[:12]) == int(digits[12])
    )


def to_isbn13(value: str) -> str | None:
    """The canonical 13-digit form of an ISBN-10 or ISBN-13 (separators and an ISBN label allowed).

    Returns:
        13 digits, or None when the value is not a valid ISBN.
    """
    digits = _SEPARATORS.sub("", _LABEL.sub("", value, count=1)).upper()
    if len(digits) == 13:
        return digits if isbn13_valid(digits) else None
    if len(digits) == 10 and isbn10_valid(digits):
        first12 = "978" + digits[:9]
        return first12 + str(isbn13_check_digit(first12))
    return None


@dataclass(frozen=True, slots=True)
class IsbnHit:
    """One valid ISBN found in a record: its canonical form and where (None for metadata)."""

    isbn13: str
    start: int | None
    end: int | None
    text: str


def iter_isbns(
    text: str, *, lenient: bool = False, lowered: str | None = None, labelled: bool | None = None
) -> Iterator[IsbnHit]:
    """Valid ISBNs in ``text``, in order, with their offsets (the label, when present, is not included).

    Accepted: a labelled ISBN-10 or ISBN-13 (``ISBN``, ``ISBN-13:`` …) and a bare 13-digit ISBN starting
    978 or 979. A bare 10-digit number passes the ISBN-10 checksum one time in eleven (phone numbers,
    ids), so it counts only when ``lenient`` (a metadata field named for ISBNs).

    Args:
        text: the text to search.
        lenient: also accept bare ISBN-10s.
        lowered: ``text.lower()`` if the caller has it, to test cheaply for an "isbn" label.
        labelled: whether ``text.lower()`` holds "isbn", if the caller knows (then ``lowered`` is unused).
    """
    if len(text) < 10:
        return
    found: dict[int, IsbnHit] = {}
    if lenient:
        for m in _CANDIDATE.finditer(text):
            _keep(found, m.group("isbn"), m.start("isbn"), m.end("isbn"))
    else:
        if labelled is None:
            labelled = "isbn" in (lowered if lowered is not None else text.lower())
        if labelled:
            for m in _LABELLED.finditer(text):
                _keep(found, m.group("isbn"), m.start("isbn"), m.end("isbn"))
        for m in _BARE13.finditer(text):
            start = m.start()
            if start and (text[start - 1].isalnum() or text[start - 1] in "_-"):
                continue
            if start not in found:
                _keep(found, m.group(), start, m.end())
    for start in sorted(found):
        yield found[start]


def _keep(found: dict[int, IsbnHit], raw: str, start: int, end: int) -> None:
    isbn13 = to_isbn13(raw)
    if isbn13 is not None:
        found[start] = IsbnHit(isbn13, start, end, raw)


def isbns_in_meta(meta: Mapping[str, Any]) -> Iterator[IsbnHit]:
    """Valid ISBNs in the string fields of record metadata (nested mappings and lists included)."""
    return iter(meta_isbns(meta))


def _may_hold_isbn(value: str, named: bool) -> bool:
    """What :func:`iter_isbns` needs before it can find anything in ``value``: 10 characters and, unless
    the field is named for ISBNs (lenient), a bare ISBN-13's "97" or an "isbn" label."""
    return len(value) >= 10 and (named or "97" in value or "isbn" in value.lower())


def meta_isbns(meta: Mapping[str, Any]) -> list[IsbnHit]:
    """:func:`isbns_in_meta` as a list: the first :data:`MAX_META_STRINGS` strings, depth first in field
    order, to :data:`MAX_META_DEPTH` levels."""
    if isinstance(meta, dict) and len(meta) <= MAX_META_STRINGS:
        # Flat metadata (the usual case) in one loop; anything nested takes the general walk.
        candidates: list[tuple[str, bool]] = []
        for key, value in meta.items():
            if isinstance(value, str):
                if len(value) >= 10:
                    named = "isbn" in str(key).lower()
                    if named or "97" in value or "isbn" in value.lower():
                        candidates.append((value, named))
            elif isinstance(value, Mapping | list | tuple):
                break
        else:
            return _hits_in(candidates) if candidates else []
    candidates = []
    budget = MAX_META_STRINGS
    stack: list[tuple[Any, bool, int]] = [(meta, False, 0)]
    while stack and budget > 0:
        value, named, depth = stack.pop()
        if isinstance(value, str):
            budget -= 1
            if _may_hold_isbn(value, named):
                candidates.append((value, named))
        elif isinstance(value, Mapping) and depth < MAX_META_DEPTH:
            for key in reversed(list(value)):
                stack.append((value[key], named or "isbn" in str(key).lower(), depth + 1))
        elif isinstance(value, list | tuple) and depth < MAX_META_DEPTH:
            stack.extend((item, named, depth + 1) for item in reversed(value))
    return _hits_in(candidates)


def _hits_in(candidates: list[tuple[str, bool]]) -> list[IsbnHit]:
    return [
        IsbnHit(hit.isbn13, None, None, hit.text)
        for value, named in candidates
        for hit in iter_isbns(value, lenient=named)
    ]


class IsbnList:
    """A file of ISBNs, one a line, loaded on first use into a sorted array of integers.

    Lines starting with ``#`` and blank lines are skipped; other lines are canonicalised (so a list may
    hold ISBN-10s or hyphenated forms); invalid lines are ignored.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._values: array[int] | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # Workers (processes, Ray) reload the file rather than receive a megabyte-sized array.
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]
        self._values = None
        self._lock = threading.Lock()

    def _load(self) -> array[int]:
        with self._lock:
            if self._values is None:
                lines = [
                    line.strip()
                    for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines()
                ]
                # Canonical lines need no checksum: an invalid entry can never equal a valid ISBN.
                numbers = {int(line) for line in lines if len(line) == 13 and line.isdigit()}
                for line in lines:
                    if line and not line.startswith("#") and not (len(line) == 13 and line.isdigit()):
                        isbn13 = to_isbn13(line)
                        if isbn13 is not None:
                            numbers.add(int(isbn13))
                self._values = array("q", sorted(numbers))
            return self._values

    def __len__(self) -> int:
        return len(self._load())

    def __contains__(self, isbn13: object) -> bool:
        if not isinstance(isbn13, str) or not isbn13.isdigit():
            return False
        values = self._values if self._values is not None else self._load()
        key = int(isbn13)
        index = bisect_left(values, key)
        return index < len(values) and values[index] == key
