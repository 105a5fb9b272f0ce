"""Which keywords occur in which record of a batch: one pass over the batch's bytes for all keywords.

Most rules look for rare text (a copyright line, an ISBN); a record holding none of their keywords
cannot fire them. Keywords are found batch-wide, so a record without any skips those rules.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from auditor.rules.automaton import Automaton

ISBN_KEYWORDS = frozenset({"isbn", "978", "979"})
"""A labelled ISBN holds "isbn"; a bare ISBN-13 starts 978 or 979 (see :mod:`auditor.rules.isbn`)."""


# The only characters beyond ASCII whose lower case holds ASCII letters (U+0130 → "i̇", U+212A → "k").
_LOWER_TO_ASCII = ("\u0130", "\u212a")
_MARKERS = tuple(ch.encode("utf-8") for ch in _LOWER_TO_ASCII)


class KeywordSearch:
    """:func:`keywords_per_text` for one set of keywords, its automaton built once (on first use)."""

    __slots__ = ("_automaton", "_lock", "_names", "_results", "_searchable", "_unknown")

    def __init__(self, keywords: Iterable[str]) -> None:
        wanted = sorted({k.encode("utf-8") for k in keywords})
        self._searchable = not any(not k or k != k.lower() or b"\0" in k for k in wanted)
        self._names = tuple(k.decode("utf-8") for k in wanted)
        self._unknown = ((1 << len(_MARKERS)) - 1) << len(wanted)
        self._automaton: Automaton | None = None
        self._results: dict[int, frozenset[str] | None] = {0: frozenset()}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, tuple[str, ...]]:
        # Workers rebuild the automaton rather than receive it.
        return {"keywords": self._names}

    def __setstate__(self, state: dict[str, tuple[str, ...]]) -> None:
        self.__init__(state["keywords"])  # type: ignore[misc]

    def warm_up(self) -> None:
        """Build the automaton and load its compiled scan now (e.g. before worker processes fork)."""
        if self._searchable:
            self.per_text(["warm-up"])

    def _built(self) -> Automaton:
        with self._lock:
            if self._automaton is None:
                from auditor.rules.automaton import Automaton

                self._automaton = Automaton.build([n.encode("utf-8") for n in self._names] + [*_MARKERS])
            return self._automaton

    def per_text(self, texts: Sequence[str]) -> list[frozenset[str] | None]:
        """For each text, the keywords (lower case) found in its lower-cased form, or None if unknown
        (see :func:`keywords_per_text`)."""
        if not texts or not self._searchable:
            return [None] * len(texts)
        automaton = self._automaton or self._built()
        results = self._results
        out: list[frozenset[str] | None] = []
        for mask in automaton.scan([t.encode("utf-8", "surrogatepass") for t in texts]):
            found = results.get(mask, results)
            if found is results:
                found = results[mask] = (
                    None
                    if mask & self._unknown
                    else frozenset(n for i, n in enumerate(self._names) if mask >> i & 1)
                )
            out.append(found)  # type: ignore[arg-type]
        return out


def keywords_per_text(texts: Sequence[str], keywords: Iterable[str]) -> list[frozenset[str] | None]:
    """For each text, the keywords (lower case) found in its lower-cased form, or None if unknown.

    The search runs once over the batch's UTF-8 bytes for all keywords at once (an Aho-Corasick
    automaton, :mod:`auditor.rules.automaton`), comparing ASCII letters without case (polars'
    Aho-Corasick would do too, but polars deadlocks in the forked worker processes of a scan). It finds
    exactly what ``str.lower`` would for these keywords unless a text holds U+0130 or U+212A; such
    texts, and every text when a keyword has upper-case letters or NUL, are None, and callers search
    them themselves. :func:`keywords_per_text_reference` is the plain twin tests compare it with.
    """
    return KeywordSearch(keywords).per_text(texts)


def keywords_per_text_reference(texts: Sequence[str], keywords: Iterable[str]) -> list[frozenset[str] | None]:
    """:func:`keywords_per_text` as one ``bytes.find`` scan per keyword over the ASCII-lower-cased batch."""
    wanted = sorted({k.encode("utf-8") for k in keywords})
    if not texts or any(not k or k != k.lower() or b"\0" in k for k in wanted):
        return [None] * len(texts)
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
    joined = b"\0".join(encoded).lower()
    starts: list[int] = []
    at = 0
    for raw in encoded:
        starts.append(at)
        at += len(raw) + 1
    found: list[set[str]] = [set() for _ in texts]
    unknown: set[int] = set()
    markers = [ch.encode("utf-8") for ch in _LOWER_TO_ASCII] if not joined.isascii() else []
    for keyword, into in [(k, False) for k in wanted] + [(m, True) for m in markers]:
        name = keyword.decode("utf-8")
        pos = joined.find(keyword)
        while pos != -1:
            i = bisect_right(starts, pos) - 1
            if into:
                unknown.add(i)
            else:
                found[i].add(name)
            # One hit per text is enough: go on from the next text.
            pos = joined.find(keyword, starts[i + 1]) if i + 1 < len(starts) else -1
    return [None if i in unknown else frozenset(f) for i, f in enumerate(found)]
