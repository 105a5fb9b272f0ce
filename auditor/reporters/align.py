"""Evidence alignment: a record excerpt and a work excerpt cut into side-by-side rows, shared words marked.

The engine keeps the text of each matched span (cut in the middle past ~1,200 characters). To show a
reader *why* two passages are the same text, both excerpts are split into words, aligned word by word
(longest common runs, in order, ignoring case and punctuation), and cut into rows that start at the
same word on both sides, so each row of the record sits next to the matching row of the work. Words
in both, in the same order, are marked; words only on one side are shown as changes.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import accumulate

WORD = re.compile(r"\w+")
ROW_WORDS = 40
"""A row is closed at the first sentence end after this many record words (inside a shared run)."""
ALIGN_CHARS = 6_000
"""Longest text aligned per side; longer excerpts are windowed first (alignment is quadratic)."""
_SENTENCE_END = re.compile(r"[.!?;:\u2026\u3002]|\n")
# The engine's cut: head + " … " + tail of equal halves (auditor.match keeps both ends of a long span).
_CUT = " \u2026 "


@dataclass(frozen=True, slots=True)
class Piece:
    """A run of text in one cell: ``kind`` is ``same`` (in both excerpts, in order), ``diff`` or ``plain``."""

    text: str
    kind: str


@dataclass(frozen=True, slots=True)
class Row:
    """One aligned row: record pieces and work pieces, or a gap (text that is not shown)."""

    record: tuple[Piece, ...] = ()
    work: tuple[Piece, ...] = ()
    gap: str = ""


@dataclass(frozen=True, slots=True)
class Alignment:
    """Aligned rows of two excerpts and how many of the record's words the work shares, in order."""

    rows: tuple[Row, ...]
    record_words: int
    work_words: int
    shared_words: int

    @property
    def shared_share(self) -> float:
        return self.shared_words / self.record_words if self.record_words else 0.0


def _key(word: str) -> str:
    if word.isascii():
        return word.lower()
    return unicodedata.normalize("NFKC", word).casefold()


def _words(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in WORD.finditer(text)]


def middle_cut(text: str) -> int | None:
    """Where the engine cut a long excerpt (the index of its `` … ``), or None when it is whole."""
    half, rest = divmod(len(text) - len(_CUT), 2)
    if len(text) > len(_CUT) and rest == 0 and text[half : half + len(_CUT)] == _CUT:
        return half
    return None


def _window(text: str, limit: int) -> tuple[str, str, int]:
    """``text`` as head and tail of at most ``limit`` characters together, and how many are left out."""
    if len(text) <= limit:
        return text, "", 0
    half = limit // 2
    return text[:half], text[len(text) - half :], len(text) - 2 * half


_SPLIT = re.compile(r"(\w+)")
"""``WORD`` as a separator that is kept: splitting gives separator, word, separator, … , separator."""


def _tokens(text: str) -> tuple[list[str], list[str], list[int]]:
    """``text`` as its parts (separators at even, words at odd places), the words' keys, and where
    each part ends (word ``i`` is ``text[ends[2 * i] : ends[2 * i + 1]]``; ``ends[-1] == len(text)``)."""
    parts = _SPLIT.split(text)
    words = parts[1::2]
    joined = " ".join(words)
    if joined.isascii():
        # One lower() for all the words (a space is never part of a word, so it splits them again).
        keys = joined.lower().split(" ") if words else []
    else:
        keys = [word.lower() if word.isascii() else _key(word) for word in words]
    return parts, keys, list(accumulate(map(len, parts)))


_PROBES = 48
"""Places tried by :func:`_longest_match` before it leaves a range to difflib."""


def _longest_match(
    a: list[str], b: list[str], alo: int, ahi: int, blo: int, bhi: int
) -> tuple[int, int, int] | None:
    """difflib's ``find_longest_match`` when the longest match is nearly as long as the shorter range
    (near-identical excerpts: the usual case), else None.

    Lengths are tried from the longest possible down, and places in order of ``i`` then ``j``, so the
    first match found is the longest one that starts earliest in ``a``, then earliest in ``b``:
    exactly what difflib returns (no junk, no autojunk). Once more than ``_PROBES`` places would have
    to be tried, the answer is left to difflib.
    """
    la, lb = ahi - alo, bhi - blo
    probes = _PROBES
    for k in range(min(la, lb), 0, -1):
        places = (la - k + 1) * (lb - k + 1)
        if places > probes:
            return None
        probes -= places
        for i in range(alo, ahi - k + 1):
            first = a[i]
            run = None
            for j in range(blo, bhi - k + 1):
                if b[j] == first:
                    if run is None:
                        run = a[i : i + k]
                    if b[j : j + k] == run:
                        return i, j, k
    return alo, blo, 0


def opcodes(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    """``difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()``, the same list, faster
    on near-identical sequences (the longest matches are found directly; other ranges go to difflib)."""
    matcher: SequenceMatcher[str] | None = None
    queue = [(0, len(a), 0, len(b))]
    blocks: list[tuple[int, int, int]] = []
    while queue:
        alo, ahi, blo, bhi = queue.pop()
        found = _longest_match(a, b, alo, ahi, blo, bhi)
        if found is None:
            if matcher is None:
                matcher = SequenceMatcher(None, a, b, autojunk=False)
            match = matcher.find_longest_match(alo, ahi, blo, bhi)
            found = (match.a, match.b, match.size)
        i, j, k = found
        if k:
            blocks.append(found)
            if alo < i and blo < j:
                queue.append((alo, i, blo, j))
            if i + k < ahi and j + k < bhi:
                queue.append((i + k, ahi, j + k, bhi))
    blocks.sort()
    # Adjacent blocks are collapsed and a sentinel ends the list, as in get_matching_blocks.
    i1 = j1 = k1 = 0
    merged = []
    for i2, j2, k2 in blocks:
        if i1 + k1 == i2 and j1 + k1 == j2:
            k1 += k2
        else:
            if k1:
                merged.append((i1, j1, k1))
            i1, j1, k1 = i2, j2, k2
    if k1:
        merged.append((i1, j1, k1))
    merged.append((len(a), len(b), 0))
    answer = []
    i = j = 0
    for ai, bj, size in merged:
        if i < ai and j < bj:
            answer.append(("replace", i, ai, j, bj))
        elif i < ai:
            answer.append(("delete", i, ai, j, bj))
        elif j < bj:
            answer.append(("insert", i, ai, j, bj))
        i, j = ai + size, bj + size
        if size:
            answer.append(("equal", ai, i, bj, j))
    return answer


def _cells(
    record: str, work: str, row_words: int
) -> tuple[list[tuple[list[Piece], list[Piece]]], int, int, int]:
    """Rows of one aligned segment, with the record's, the work's and the shared word counts."""
    rparts, rkeys, rends = _tokens(record)
    wparts, wkeys, wends = _tokens(work)
    n_rec, n_work = len(rkeys), len(wkeys)
    # Record words followed by a sentence end: the places a row may close. Word i starts at
    # rends[2 * i]; a sentence end is never a word character, so it follows the last word before it.
    starts = rends[0 : 2 * n_rec : 2]
    breaks = sorted({bisect_right(starts, m.start()) - 1 for m in _SENTENCE_END.finditer(record)} - {-1})

    rows: list[tuple[list[Piece], list[Piece]]] = []
    rec: list[Piece] = []
    wrk: list[Piece] = []
    # Text before the first word; all of it (even none) when there is no word.
    if rparts[0] or not n_rec:
        rec.append(Piece(rparts[0], "plain"))
    if wparts[0] or not n_work:
        wrk.append(Piece(wparts[0], "plain"))
    count = shared = 0
    for tag, i1, i2, j1, j2 in opcodes(rkeys, wkeys):
        if tag != "equal":
            if i2 > i1:
                rec.append(Piece(record[rends[2 * i1] : rends[2 * i2 - 1]], "diff"))
                if rparts[2 * i2]:
                    rec.append(Piece(rparts[2 * i2], "plain"))
            if j2 > j1:
                wrk.append(Piece(work[wends[2 * j1] : wends[2 * j2 - 1]], "diff"))
                if wparts[2 * j2]:
                    wrk.append(Piece(wparts[2 * j2], "plain"))
            count += i2 - i1
            continue
        shared += i2 - i1
        a = i1
        while a < i2:
            # Close the row at the first sentence end once it holds row_words record words, else run
            # to the end of this shared run (rows only ever break inside shared runs).
            at = bisect_left(breaks, max(a + row_words - count - 1, a))
            b = breaks[at] if at < len(breaks) and breaks[at] < i2 - 1 else i2 - 1
            c, d = j1 + (a - i1), j1 + (b - i1)
            rec.append(Piece(record[rends[2 * a] : rends[2 * b + 1]], "same"))
            wrk.append(Piece(work[wends[2 * c] : wends[2 * d + 1]], "same"))
            if rparts[2 * b + 2]:
                rec.append(Piece(rparts[2 * b + 2], "plain"))
            if wparts[2 * d + 2]:
                wrk.append(Piece(wparts[2 * d + 2], "plain"))
            count += b - a + 1
            if b < i2 - 1:
                rows.append((rec, wrk))
                rec, wrk, count = [], [], 0
            a = b + 1
    if rec or wrk:
        rows.append((rec, wrk))
    return rows, n_rec, n_work, shared


def _gap_text(record_chars: int, work_chars: int, by_engine: bool) -> str:
    sides = []
    if record_chars:
        sides.append(f"{record_chars:,} characters of the record")
    if work_chars:
        sides.append(f"{work_chars:,} of the work")
    where = "not kept in the report (the offsets give the full span)" if by_engine else "not shown here"
    return f"… {' and '.join(sides) or 'text'} {where} …"


def align(
    record_text: str,
    work_text: str,
    *,
    record_length: int | None = None,
    work_length: int | None = None,
    limit: int = ALIGN_CHARS,
    row_words: int = ROW_WORDS,
) -> Alignment:
    """Align a record excerpt with a work excerpt into side-by-side rows.

    Args:
        record_text: the record side of one span's evidence.
        work_text: the work side.
        record_length: the span's length in the record (from its offsets), to say how much the
            engine's middle cut left out; None when unknown.
        work_length: the same for the work.
        limit: longest text aligned per side; longer excerpts are cut around their middle first.
        row_words: record words per row before a row may close at a sentence end.
    """
    segments: list[tuple[str, str]] = []
    gaps: list[str] = []
    rec_cut, work_cut = middle_cut(record_text), middle_cut(work_text)
    # A centred " … " is the engine's cut only if the span is longer than what was kept.
    if rec_cut is not None and record_length is not None and record_length <= len(record_text):
        rec_cut = None
    if work_cut is not None and work_length is not None and work_length <= len(work_text):
        work_cut = None
    if rec_cut is not None and work_cut is not None:
        # Both sides keep the span's two ends: align head with head and tail with tail.
        segments = [
            (record_text[:rec_cut], work_text[:work_cut]),
            (record_text[rec_cut + len(_CUT) :], work_text[work_cut + len(_CUT) :]),
        ]
        kept_rec, kept_work = len(record_text) - len(_CUT), len(work_text) - len(_CUT)
        gaps.append(
            _gap_text(
                max((record_length or kept_rec) - kept_rec, 0),
                max((work_length or kept_work) - kept_work, 0),
                by_engine=True,
            )
        )
    else:
        rec_head, rec_tail, rec_out = _window(record_text, limit)
        work_head, work_tail, work_out = _window(work_text, limit)
        if rec_out or work_out:
            if not rec_tail:
                rec_head, rec_tail = rec_head[: len(rec_head) // 2], rec_head[len(rec_head) // 2 :]
            if not work_tail:
                work_head, work_tail = work_head[: len(work_head) // 2], work_head[len(work_head) // 2 :]
            segments = [(rec_head, work_head), (rec_tail, work_tail)]
            gaps.append(_gap_text(rec_out, work_out, by_engine=False))
        else:
            segments = [(record_text, work_text)]
    rows: list[Row] = []
    totals = [0, 0, 0]
    for index, (rec, wrk) in enumerate(segments):
        if index:
            rows.append(Row(gap=gaps[index - 1]))
        cells, n_rec, n_work, shared = _cells(rec, wrk, row_words)
        rows.extend(Row(tuple(a), tuple(b)) for a, b in cells)
        totals[0] += n_rec
        totals[1] += n_work
        totals[2] += shared
    return Alignment(tuple(rows), totals[0], totals[1], totals[2])
