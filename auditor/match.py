"""Candidates from the LSH band index → verified, maximal matched spans with character offsets.

LSH only proposes (record window, work passage) pairs; it has false positives and misses nothing
that verification could confirm, so every candidate is checked on the actual shingles:

0. count the record positions whose shingle the candidate work regions hold at all (a compiled
   hash-table count); a chain needs ``min_shingles`` of them, so the many chance candidates, which
   share a common phrase or two, stop here with exactly the result full verification would give;
1. pair every record shingle with the equal shingles of the candidate work regions;
2. chain pairs that stay close in both texts (small gaps, local jumps allowed for reordered
   sentences), so scattered common phrases never form a chain;
3. keep chains with enough matched shingles at enough density; merge neighbours into maximal spans.

Boilerplate shingles (shared by many works) were masked at build time and are masked in records
here, so licence headers and copyright-page templates cannot create a match on their own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from auditor.fingerprint import MASKED, FingerprintConfig, Fingerprinter, shingles_many
from auditor.keyindex import KeyIndex, KeySet
from auditor.models import Evidence, Match, Span
from auditor.normalize import Tokens
from auditor.registry import WorkRegistry, text_hash

FILE_KEY_FIELDS = {"_file_md5": "md5", "_file_sha256": "sha256"}
"""Record.meta fields a reader may set to a whole file's digests, and the registry key kind of each."""

EVIDENCE_CHARS = 1200
"""Longest excerpt kept per span and side; the offsets always give the full span."""


@dataclass(frozen=True, slots=True)
class MatchSettings:
    """Verification thresholds (scanner options; not part of the registry's fingerprint config).

    Attributes:
        min_shingles: fewest matched shingles in a chain for it to count.
        min_density: matched shingles / record shingle positions spanned by the chain...
        min_density_short: ...and the (higher) floor for chains spanning fewer than ``short_span``
            positions: a short, sparse chain is what chance agreement between two texts looks like.
        max_gap: largest step, in record tokens, between two pairs of one chain.
        max_jump: largest step in the work between two pairs of one chain (reordered sentences).
        max_occurrences: a shingle found more often than this in one work region is ignored.
        max_boilerplate_share: a chain whose record span is more than this share boilerplate is a
            filled-in template (a copyright page, a catalogue block), not a copy.
    """

    min_shingles: int = 6
    min_density: float = 0.2
    min_density_short: float = 0.3
    short_span: int = 64
    max_gap: int = 24
    max_jump: int = 96
    max_occurrences: int = 8
    max_boilerplate_share: float = 0.5


@dataclass(slots=True)
class _Chain:
    rec_first: int
    rec_last: int
    work_min: int
    work_max: int
    last_work: int
    positions: list[int]


@dataclass(frozen=True, slots=True)
class Sketch:
    """A batch of records fingerprinted for one registry: masked shingles and window band keys.

    Attributes:
        values: every record's shingles, boilerplate masked, concatenated.
        offsets: record r's shingles are ``values[offsets[r]:offsets[r+1]]``.
        keys: band keys, shape (windows, bands).
        window_record: the record of each window.
        window_start: each window's start in its record's shingles.
    """

    values: np.ndarray
    offsets: np.ndarray
    keys: np.ndarray
    window_record: np.ndarray
    window_start: np.ndarray

    def record_values(self, record: int) -> np.ndarray:
        return self.values[self.offsets[record] : self.offsets[record + 1]]


Hits = dict[int, list[tuple[int, int]]]
"""Candidate work → [(record window start, passage start)], sorted."""


BandLookup = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]
"""Band keys → every hit in the band index as three arrays: the position of its key among the keys
given, and its passage's work and start. Any order: :func:`candidates_many` sorts."""


def local_band_lookup(registry: WorkRegistry) -> BandLookup:
    """The registry's own band index, looked up in this process. The index is made at the first
    look-up, of the registry's band arrays as they are then: a scan may have read them into memory
    meanwhile (:meth:`WorkRegistry.hold_bands`)."""
    bands: KeyIndex | None = None

    def lookup(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        nonlocal bands
        if bands is None:
            bands = KeyIndex(registry.band_key, registry.band_buckets)
        query, lo, count = bands.ranges(keys)
        passages = registry.band_passage[expand_ranges(lo, count)]
        return (
            np.repeat(query, count),
            registry.passage_work[passages].astype(np.int64),
            registry.passage_start[passages].astype(np.int64),
        )

    return lookup


def expand_ranges(lo: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Every row of the ranges [lo, lo + count), concatenated."""
    return np.repeat(lo, count) + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))


def candidates_many(lookup: BandLookup, sketch: Sketch) -> dict[int, Hits]:
    """Look up a batch's band keys; returns record → its :data:`Hits` (records without any left out)."""
    keys = sketch.keys
    query, work, start = lookup(keys.reshape(-1))
    if len(query) == 0:
        return {}
    windows = query // keys.shape[1]
    columns = (sketch.window_record[windows], work, sketch.window_start[windows], start)
    table = _unique_rows(np.stack(columns, axis=1))
    out: dict[int, Hits] = {}
    for record, work_, rec_start, pass_start in table.tolist():
        out.setdefault(record, {}).setdefault(work_, []).append((rec_start, pass_start))
    return out


def _unique_rows(table: np.ndarray) -> np.ndarray:
    """The distinct rows of a 2-d integer array in lexicographic order: ``np.unique(table, axis=0)``,
    which sorts rows as structured values and is ~10x slower on a batch's band hits."""
    if len(table) == 0:
        return table
    table = table[np.lexsort(table.T[::-1])]
    keep = np.ones(len(table), dtype=bool)
    keep[1:] = (table[1:] != table[:-1]).any(axis=1)
    return table[keep]


def _distinct(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)``: sorted distinct values. numpy 2.3+ answers np.unique with a hash table,
    several times slower than sorting for the few thousand integers of a chain or a match."""
    values = np.sort(values)
    if len(values) < 2:
        return values
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def _merge_ranges(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching ranges merged, in order (the reference :func:`_windows` is tested on)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _windows(starts: list[int], before: int, after: int, n: int) -> list[tuple[int, int]]:
    """``_merge_ranges([(max(0, s - before), min(n, s + after)) for s in starts])`` for sorted, distinct
    ``starts``: both ends then only grow, so each range either extends the last one or starts anew."""
    merged: list[list[int]] = []
    for s in starts:
        lo = s - before if s > before else 0
        hi = s + after if s + after < n else n
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = hi
        else:
            merged.append([lo, hi])
    return [(lo, hi) for lo, hi in merged]


_READ_SLACK = 4096
"""Shingles between a work region's ranges that one read may take along rather than reading each
range on its own (two reads and a copy per range)."""


_READ_CACHE = 2048
"""Work stretches a :class:`Matcher` keeps, each of at most :data:`_CACHED_READ` shingles (16 MB at
most): chance candidates share a few common phrases, so records often read the same stretch of the
same work (half the reads of the 20 MB slice against registry-200)."""

_CACHED_READ = 1024


def _work_region(
    registry: WorkRegistry,
    work: int,
    ranges: list[tuple[int, int]],
    cache: dict[tuple[int, int, int], np.ndarray] | None = None,
) -> np.ndarray:
    """A candidate work's shingles in ``ranges`` (merged, sorted), concatenated. Ranges close together
    come from one read; chance hits far apart in one work are read on their own, not as one long
    stretch. Reads are kept in ``cache`` (read-only arrays, the cache emptied when full)."""

    def read(lo: int, hi: int) -> np.ndarray:
        if cache is None or hi - lo > _CACHED_READ:
            return registry.work_shingles(work, slice(lo, hi))
        found = cache.get((work, lo, hi))
        if found is None:
            if len(cache) >= _READ_CACHE:
                cache.clear()
            found = cache[work, lo, hi] = registry.work_shingles(work, slice(lo, hi))
            found.flags.writeable = False
        return found

    if len(ranges) == 1:
        return read(*ranges[0])
    first, last = ranges[0][0], ranges[-1][1]
    if last - first <= 2 * sum(hi - lo for lo, hi in ranges) + _READ_SLACK:
        stretch = read(first, last)
        return np.concatenate([stretch[lo - first : hi - first] for lo, hi in ranges])
    return np.concatenate([read(lo, hi) for lo, hi in ranges])


def _shared_positions(
    rec_values: np.ndarray,
    rec_ranges: list[tuple[int, int]],
    work_values: np.ndarray,
    max_occurrences: int,
    enough: int,
) -> int:
    """How many record positions verification can pair with the work region (see
    :func:`auditor.kernels.shared_positions`), counted up to ``enough``."""
    from auditor import kernels

    return int(
        kernels.shared_positions(
            np.ascontiguousarray(rec_values),
            np.array(rec_ranges, dtype=np.int64).reshape(-1),
            np.ascontiguousarray(work_values),
            max_occurrences,
            enough,
        )
    )


def _shared_positions_reference(
    rec_values: np.ndarray,
    rec_ranges: list[tuple[int, int]],
    work_values: np.ndarray,
    max_occurrences: int,
) -> int:
    """The record positions :func:`_pairs` pairs with the work, counted in numpy (the kernel's twin)."""
    rec_pos = np.concatenate([np.arange(s, e) for s, e in rec_ranges])
    rv = rec_values[rec_pos]
    rv = rv[rv != MASKED]
    wv = np.sort(work_values[work_values != MASKED])
    count = np.searchsorted(wv, rv, side="right") - np.searchsorted(wv, rv, side="left")
    return int(np.count_nonzero((count > 0) & (count <= max_occurrences)))


def _shingle_pairs(
    rec_values: np.ndarray,
    rec_ranges: list[tuple[int, int]],
    wv: np.ndarray,
    work_ranges: list[tuple[int, int]],
    max_occurrences: int,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_pairs`, from a compiled hash table (:func:`auditor.kernels.shingle_pairs`), sorted by
    record position, then work position."""
    from auditor import kernels

    result: tuple[np.ndarray, np.ndarray] = kernels.shingle_pairs(
        np.ascontiguousarray(rec_values),
        np.array(rec_ranges, dtype=np.int64).reshape(-1),
        np.ascontiguousarray(wv),
        np.array(work_ranges, dtype=np.int64).reshape(-1),
        max_occurrences,
    )
    return result


def _pairs(
    rec_values: np.ndarray,
    rec_ranges: list[tuple[int, int]],
    wv: np.ndarray,
    work_ranges: list[tuple[int, int]],
    max_occurrences: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Every (record position, work position) with the same unmasked shingle, for shingles found at
    most ``max_occurrences`` times in the work region (``wv``: its shingles in ``work_ranges``); in
    numpy, the reference :func:`_shingle_pairs` is tested against."""
    rec_pos = np.concatenate([np.arange(s, e) for s, e in rec_ranges])
    work_pos = np.concatenate([np.arange(s, e) for s, e in work_ranges])
    rv = rec_values[rec_pos]
    keep_w = wv != MASKED
    wv, work_pos = wv[keep_w], work_pos[keep_w]
    order = np.argsort(wv, kind="stable")
    wv, work_pos = wv[order], work_pos[order]
    keep_r = rv != MASKED
    rv, rec_pos = rv[keep_r], rec_pos[keep_r]
    lo = np.searchsorted(wv, rv, side="left")
    hi = np.searchsorted(wv, rv, side="right")
    count = hi - lo
    ok = (count > 0) & (count <= max_occurrences)
    if not ok.any():
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    lo, count, rec_pos = lo[ok], count[ok], rec_pos[ok]
    rec_rep = np.repeat(rec_pos, count)
    offsets = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    work_idx = np.repeat(lo, count) + offsets
    return rec_rep.astype(np.int64), work_pos[work_idx].astype(np.int64)


def _chain(rec: np.ndarray, work: np.ndarray, settings: MatchSettings) -> list[_Chain]:
    """Chain matched pairs (see :func:`auditor.kernels.chain_pairs`); chains with fewer than
    ``min_shingles`` pairs, which can never be accepted, are dropped here."""
    from auditor import kernels

    order = np.lexsort((work, rec))
    rec, work = (
        np.ascontiguousarray(rec[order], dtype=np.int64),
        np.ascontiguousarray(work[order], dtype=np.int64),
    )
    chain_of = np.empty(len(rec), dtype=np.int64)
    kernels.chain_pairs(rec, work, settings.max_gap, settings.max_jump, chain_of)
    # Group the pairs by chain, keeping each chain's pairs in the order they joined it.
    by_chain = np.argsort(chain_of, kind="stable")
    ids = chain_of[by_chain]
    starts = np.flatnonzero(np.concatenate([[True], ids[1:] != ids[:-1]])) if len(ids) else ids
    ends = np.append(starts[1:], len(ids))
    chains: list[_Chain] = []
    for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
        if hi - lo < settings.min_shingles:
            continue
        r, w = rec[by_chain[lo:hi]], work[by_chain[lo:hi]]
        chains.append(
            _Chain(int(r[0]), int(r[-1]), int(w.min()), int(w.max()), int(w[-1]), _distinct(r).tolist())
        )
    return chains


def _chain_reference(rec: np.ndarray, work: np.ndarray, settings: MatchSettings) -> list[_Chain]:
    """:func:`_chain` as a plain Python loop (keeping short chains too), to test the kernel against."""
    order = np.lexsort((work, rec))
    chains: list[_Chain] = []
    active: list[_Chain] = []
    for i, j in zip(rec[order].tolist(), work[order].tolist(), strict=True):
        best: _Chain | None = None
        best_cost = 0
        still: list[_Chain] = []
        for chain in active:
            if i - chain.rec_last > settings.max_gap:
                continue
            still.append(chain)
            if abs(j - chain.last_work) > settings.max_jump:
                continue
            cost = abs((j - chain.last_work) - (i - chain.rec_last))
            if best is None or cost < best_cost:
                best, best_cost = chain, cost
        active = still
        if best is None:
            chain = _Chain(i, i, j, j, j, [i])
            chains.append(chain)
            active.append(chain)
        else:
            if best.positions[-1] != i:
                best.positions.append(i)
            best.rec_last = i
            best.last_work = j
            best.work_min = min(best.work_min, j)
            best.work_max = max(best.work_max, j)
    return chains


def _accept(chain: _Chain, settings: MatchSettings, values: np.ndarray) -> bool:
    n = len(chain.positions)
    span = chain.rec_last - chain.rec_first + 1
    floor = settings.min_density if span >= settings.short_span else settings.min_density_short
    if n < settings.min_shingles or n / span < floor:
        return False
    masked = int(np.count_nonzero(values[chain.rec_first : chain.rec_last + 1] == MASKED))
    return masked / span <= settings.max_boilerplate_share


def _merge_chains(chains: list[_Chain], settings: MatchSettings) -> list[_Chain]:
    chains = sorted(chains, key=lambda c: (c.rec_first, c.work_min))
    merged: list[_Chain] = []
    for chain in chains:
        prev = merged[-1] if merged else None
        if (
            prev is not None
            and chain.rec_first - prev.rec_last <= settings.max_gap
            and chain.work_min - prev.work_max <= settings.max_jump
            and prev.work_min - chain.work_max <= settings.max_jump
        ):
            prev.rec_last = max(prev.rec_last, chain.rec_last)
            prev.work_min = min(prev.work_min, chain.work_min)
            prev.work_max = max(prev.work_max, chain.work_max)
            prev.positions = sorted(set(prev.positions) | set(chain.positions))
        else:
            merged.append(
                _Chain(
                    chain.rec_first,
                    chain.rec_last,
                    chain.work_min,
                    chain.work_max,
                    chain.last_work,
                    list(chain.positions),
                )
            )
    return merged


def _clip(text: str | None, start: int, end: int) -> str | None:
    """``text[start:end]`` cut to :data:`EVIDENCE_CHARS`: its head and tail around " … "."""
    return None if text is None else _clipped(lambda lo, hi: text[lo:hi], start, end)


def _clip_work(registry: WorkRegistry, work: int, start: int, end: int) -> str | None:
    """:func:`_clip` of the work's text, decoding only the characters it keeps."""
    return _clipped(functools.partial(registry.work_excerpt, work), start, end)


def _clipped(read: Callable[[int, int], str | None], start: int, end: int) -> str | None:
    if end - start <= EVIDENCE_CHARS:
        return read(start, end)
    half = EVIDENCE_CHARS // 2
    head = read(start, start + half)
    return None if head is None else f"{head} … {read(end - half, end)}"


class Matcher:
    """Finds verified copies of one registry's works in records."""

    def __init__(
        self,
        registry: WorkRegistry,
        settings: MatchSettings | None = None,
        lookup: BandLookup | None = None,
    ) -> None:
        """Match against ``registry`` with ``settings``.

        Args:
            lookup: where band keys are looked up; by default the registry's own band index, in this
                process (the Ray engine looks them up in the partitions of the index instead).
        """
        self.registry = registry
        self.settings = settings or MatchSettings()
        self.config: FingerprintConfig = registry.config
        self.fingerprinter = Fingerprinter(self.config)
        if lookup is None:
            lookup = local_band_lookup(registry)
        self.lookup = lookup
        # Most shingles are no boilerplate: KeySet's filter answers those from the L2 cache.
        self.boilerplate = KeySet(registry.boilerplate)
        # Token counts of the works with a text key: equal token sequences are equally long, so a
        # record of any other length needs no text hash (most records, and ~a tenth of verification).
        self._reads: dict[tuple[int, int, int], np.ndarray] = {}
        self._text_key_tokens = frozenset(
            registry.work_tokens(work) for (kind, _), work in registry.hash_work.items() if kind == "text"
        )

    def match(self, text: str, tokens: Tokens, file_keys: Mapping[str, Any] | None = None) -> list[Match]:
        """Every work of the registry that the text copies, with spans; sorted by work id.

        Args:
            text: the record's text.
            tokens: its tokens.
            file_keys: the record's ``meta``; a reader that reads whole files may give the file's
                digests as ``_file_md5`` and ``_file_sha256`` (lower-case hex), so a record that *is*
                a registered file is an exact duplicate even when it has too little text to shingle.
        """
        return self.match_many([text], [tokens], [file_keys])[0]

    def match_many(
        self,
        texts: Sequence[str],
        tokens: Sequence[Tokens],
        file_keys: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> list[list[Match]]:
        """:meth:`match` of a batch of records: fingerprinted and looked up together, verified one by one."""
        sketch = self.sketch(tokens)
        found = candidates_many(self.lookup, sketch)
        return [
            self.verify(
                texts[r],
                tokens[r],
                file_keys[r] if file_keys else None,
                sketch.record_values(r),
                found.get(r, {}),
            )
            for r in range(len(texts))
        ]

    def sketch(self, tokens: Sequence[Tokens]) -> Sketch:
        """Shingles (boilerplate masked), window signatures and band keys of a batch of records."""
        values, offsets = shingles_many([t.hashes for t in tokens], self.config.shingle_size)
        if len(values) and len(self.boilerplate):
            self.boilerplate.masked(values, out=values)  # members become MASKED (0)
        sigs, window_record, window_start = self.fingerprinter.window_signatures_many(values, offsets)
        return Sketch(values, offsets, self.fingerprinter.band_keys(sigs), window_record, window_start)

    def verify(
        self,
        text: str,
        tokens: Tokens,
        file_keys: Mapping[str, Any] | None,
        values: np.ndarray,
        found: Hits,
    ) -> list[Match]:
        """One record's matches: exact keys, then each candidate work's hits verified on the shingles.

        Args:
            values: the record's shingles, boilerplate masked (its slice of a :class:`Sketch`).
            found: its candidate works and window hits, from the band index.
        """
        matches = self._exact(text, tokens, file_keys)
        exact_works = {m.work.id for m in matches}
        window = self.config.window
        margin = window
        for work, hits in found.items():
            if self.registry.refs[work].id in exact_works:
                continue
            n_work = self.registry.work_tokens(work)
            rec_ranges = _windows(sorted({r for r, _ in hits}), margin, window + margin, len(values))
            work_ranges = _windows(sorted({p for _, p in hits}), margin, window + margin, n_work)
            work_values = _work_region(self.registry, work, work_ranges, self._reads)
            # Most candidates are chance: a common phrase or two shared. A chain needs min_shingles
            # distinct record positions paired with the work, so counting the positions that can be
            # paired at all rejects those candidates exactly, without building or chaining pairs.
            need, max_occurrences = self.settings.min_shingles, self.settings.max_occurrences
            if _shared_positions(values, rec_ranges, work_values, max_occurrences, need) < need:
                continue
            rec_pos, work_pos = _shingle_pairs(values, rec_ranges, work_values, work_ranges, max_occurrences)
            if len(rec_pos) < self.settings.min_shingles:
                continue
            chains = [
                c for c in _chain(rec_pos, work_pos, self.settings) if _accept(c, self.settings, values)
            ]
            if not chains:
                continue
            chains = _merge_chains(chains, self.settings)
            matches.append(self._to_match(text, tokens, values, work, chains))
        return sorted(matches, key=lambda m: m.work.id)

    def _exact(self, text: str, tokens: Tokens, file_keys: Mapping[str, Any] | None) -> list[Match]:
        """Exact keys, no MinHash: the record's file md5/sha256 (LibGen's keys), then its normalised text."""
        works: list[int] = []
        for field, kind in FILE_KEY_FIELDS.items() if file_keys else ():
            digest = file_keys.get(field) if file_keys else None
            found = self.registry.work_for_hash(kind, digest.lower()) if isinstance(digest, str) else None
            if found is not None and found not in works:
                works.append(found)
        if len(tokens) in self._text_key_tokens:
            found = self.registry.work_for_hash("text", text_hash(tokens.hashes))
            if found is not None and found not in works:
                works.append(found)
        return [self._whole(text, tokens, work) for work in works]

    def _whole(self, text: str, tokens: Tokens, work: int) -> Match:
        """The record is the whole work: one span over both (no work offsets for a work without text)."""
        n = self.registry.work_tokens(work)
        # No work offsets for a work without text.
        span = Span(0, len(text), *self.registry.token_offsets(work, 0, n - 1)) if n else Span(0, len(text))
        return Match(
            work=self.registry.refs[work],
            kind="exact-duplicate",
            similarity=1.0,
            record_coverage=1.0,
            matched_tokens=len(tokens),
            work_tokens=n,
            spans=(span,),
            evidence=(
                Evidence(
                    _clip(text, 0, len(text)) or "",
                    _clip_work(self.registry, work, span.work_start or 0, span.work_end or 0) if n else None,
                ),
            ),
        )

    def _to_match(
        self, text: str, tokens: Tokens, values: np.ndarray, work: int, chains: list[_Chain]
    ) -> Match:
        k = self.config.shingle_size
        reg = self.registry
        n_work = reg.work_tokens(work)
        spans: list[Span] = []
        evidence: list[Evidence] = []
        rec_tokens = 0
        work_tokens = 0
        rec_parts: list[np.ndarray] = []
        work_parts: list[np.ndarray] = []
        for c in chains:
            r0, r1 = c.rec_first, min(len(tokens) - 1, c.rec_last + k - 1)
            w0, w1 = c.work_min, min(n_work - 1, c.work_max + k - 1)
            span = Span(
                int(tokens.starts[r0]),
                int(tokens.ends[r1]),
                *reg.token_offsets(work, w0, w1),
            )
            spans.append(span)
            evidence.append(
                Evidence(
                    _clip(text, span.record_start, span.record_end) or "",
                    _clip_work(reg, work, span.work_start or 0, span.work_end or 0),
                )
            )
            rec_tokens += r1 - r0 + 1
            work_tokens += w1 - w0 + 1
            rec_parts.append(values[c.rec_first : c.rec_last + 1])
            work_parts.append(reg.work_shingles(work, slice(c.work_min, c.work_max + 1)))
        # Jaccard similarity of the matched regions' distinct (unmasked) shingles.
        rec_set = _distinct(np.concatenate(rec_parts))
        work_set = _distinct(np.concatenate(work_parts))
        rec_set, work_set = rec_set[rec_set != MASKED], work_set[work_set != MASKED]
        shared = len(np.intersect1d(rec_set, work_set, assume_unique=True))
        union = len(rec_set) + len(work_set) - shared
        similarity = shared / union if union else 0.0
        return Match(
            work=reg.refs[work],
            kind="near-duplicate",
            similarity=similarity,
            record_coverage=min(1.0, rec_tokens / max(1, len(tokens))),
            matched_tokens=rec_tokens,
            work_tokens=work_tokens,
            spans=tuple(spans),
            evidence=tuple(evidence),
        )
