"""Which keywords occur in which record of a batch: one substring scan per keyword over the whole batch.

Most rules look for rare text (a copyright line, an ISBN); a record holding none of their keywords
cannot fire them. Keywords are found batch-wide, so a record without any skips those rules.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence

ISBN_KEYWORDS = frozenset({"isbn", "978", "979"})
"""A labelled ISBN holds "isbn"; a bare ISBN-13 starts 978 or 979 (see :mod:`auditor.rules.isbn`)."""


# The only characters beyond ASCII whose lower case holds ASCII letters (U+0130 → "i̇", U+212A → "k").
_LOWER_TO_ASCII = ("\u0130", "\u212a")


def keywords_per_text(texts: Sequence[str], keywords: Iterable[str]) -> list[frozenset[str] | None]:
    """For each text, the keywords (lower case) found in its lower-cased form, or None if unknown.

    The search runs over the batch's UTF-8 bytes joined and ASCII-lower-cased, one ``bytes.find``
    scan per keyword (polars' Aho-Corasick would be faster, but polars deadlocks in the forked worker
    processes of a scan). It finds exactly what ``str.lower`` would for these keywords unless a text
    holds U+0130 or U+212A; such texts, and every text when a keyword has upper-case letters or NUL,
    are None, and callers search them themselves.
    """
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
