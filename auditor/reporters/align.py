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


def _tail(pieces: list[Piece], text: str) -> None:
    if text:
        pieces.append(Piece(text, "plain"))


def _cells(
    record: str, work: str, row_words: int
) -> tuple[list[tuple[list[Piece], list[Piece]]], int, int, int]:
    """Rows of one aligned segment, with the record's, the work's and the shared word counts."""
    rw, ww = _words(record), _words(work)
    matcher = SequenceMatcher(
        None, [_key(record[s:e]) for s, e in rw], [_key(work[s:e]) for s, e in ww], autojunk=False
    )
    # Record words followed by a sentence end: the places a row may close.
    starts = [s for s, _ in rw]
    breaks = sorted({bisect_right(starts, m.start()) - 1 for m in _SENTENCE_END.finditer(record)} - {-1})

    def upto(words: list[tuple[int, int]], text: str, i: int) -> int:
        return words[i][0] if i < len(words) else len(text)

    rows: list[tuple[list[Piece], list[Piece]]] = []
    rec: list[Piece] = []
    wrk: list[Piece] = []
    if rw and rw[0][0]:
        rec.append(Piece(record[: rw[0][0]], "plain"))
    if ww and ww[0][0]:
        wrk.append(Piece(work[: ww[0][0]], "plain"))
    if not rw:
        rec.append(Piece(record, "plain"))
    if not ww:
        wrk.append(Piece(work, "plain"))
    count = shared = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            if i2 > i1:
                rec.append(Piece(record[rw[i1][0] : rw[i2 - 1][1]], "diff"))
                _tail(rec, record[rw[i2 - 1][1] : upto(rw, record, i2)])
            if j2 > j1:
                wrk.append(Piece(work[ww[j1][0] : ww[j2 - 1][1]], "diff"))
                _tail(wrk, work[ww[j2 - 1][1] : upto(ww, work, j2)])
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
            rec.append(Piece(record[rw[a][0] : rw[b][1]], "same"))
            wrk.append(Piece(work[ww[c][0] : ww[d][1]], "same"))
            _tail(rec, record[rw[b][1] : upto(rw, record, b + 1)])
            _tail(wrk, work[ww[d][1] : upto(ww, work, d + 1)])
            count += b - a + 1
            if b < i2 - 1:
                rows.append((rec, wrk))
                rec, wrk, count = [], [], 0
            a = b + 1
    if rec or wrk:
        rows.append((rec, wrk))
    return rows, len(rw), len(ww), shared


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
