"""The pre-check that rejects chance candidates before verification: exact, and lossless."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from auditor import match
from auditor.fingerprint import MASKED
from auditor.match import (
    Matcher,
    MatchSettings,
    _accept,
    _chain,
    _merge_ranges,
    _pairs,
    _shared_positions,
    _shared_positions_reference,
)
from auditor.normalize import tokenize


def _regions(
    rng: np.random.Generator,
) -> tuple[np.ndarray, list[tuple[int, int]], np.ndarray, list[tuple[int, int]]]:
    """A record and a work region drawn from a small alphabet: repeats, masked shingles, shingles found
    more than ``max_occurrences`` times, and runs the two share."""
    alphabet = int(rng.integers(3, 400))
    record = rng.integers(0, alphabet, int(rng.integers(1, 400))).astype(np.uint64)
    work = rng.integers(0, alphabet, int(rng.integers(0, 300))).astype(np.uint64)
    if len(work) > 20 and len(record) > 20 and rng.random() < 0.5:
        n = int(rng.integers(1, 20))
        a, b = int(rng.integers(0, len(record) - n)), int(rng.integers(0, len(work) - n))
        record[a : a + n] = work[b : b + n]
    record[rng.random(len(record)) < 0.1] = MASKED
    work[rng.random(len(work)) < 0.1] = MASKED
    starts = rng.integers(0, len(record), int(rng.integers(1, 4)))
    ranges = _merge_ranges([(int(s), min(len(record), int(s) + int(rng.integers(1, 150)))) for s in starts])
    offset = int(rng.integers(0, 1000))
    return record, ranges, work, [(offset, offset + len(work))]


def test_kernel_equals_the_numpy_reference():
    rng = np.random.default_rng(5)
    for _ in range(500):
        record, ranges, work, _ = _regions(rng)
        max_occurrences = int(rng.integers(1, 10))
        exact = _shared_positions_reference(record, ranges, work, max_occurrences)
        assert _shared_positions(record, ranges, work, max_occurrences, 10**9) == exact
        enough = int(rng.integers(1, 12))
        assert _shared_positions(record, ranges, work, max_occurrences, enough) == min(exact, enough)


def test_the_count_is_the_record_positions_verification_pairs():
    """Every chain is made of the pairs of :func:`_pairs`, and a chain is accepted only with at least
    ``min_shingles`` distinct record positions; the pre-check counts exactly the distinct record
    positions of those pairs, so a candidate it rejects could never give a chain."""
    rng = np.random.default_rng(8)
    settings = MatchSettings()
    for _ in range(500):
        record, ranges, work, work_ranges = _regions(rng)
        rec_pos, work_pos = _pairs(record, ranges, work, work_ranges, settings.max_occurrences)
        counted = _shared_positions_reference(record, ranges, work, settings.max_occurrences)
        assert counted == len(np.unique(rec_pos))
        for chain in _chain(rec_pos, work_pos, settings) if len(rec_pos) else []:
            assert len(chain.positions) <= counted
            if _accept(chain, settings, record):
                assert counted >= settings.min_shingles


def test_matches_are_the_same_without_the_pre_check(small_registry, small_works, words, monkeypatch):
    """Short, edited and unrelated records: the same matches with the pre-check as with every candidate
    verified in full, and the pre-check does reject candidates here."""
    rng = random.Random(4)

    def fragment(n: int, edit: float) -> str:
        work = small_works[f"work-{rng.randrange(8)}"].split(" ")
        start = rng.randrange(60, len(work) - n)
        return " ".join(
            w if rng.random() >= edit else rng.choice(words.vocab) for w in work[start : start + n]
        )

    texts = []
    for _ in range(150):
        # A few words from works here and there (what chance candidates share), sometimes a passage.
        parts = [words.text(rng.randint(5, 60)) for _ in range(rng.randint(2, 8))]
        for _ in range(rng.randint(1, 6)):
            parts.insert(rng.randrange(len(parts) + 1), fragment(rng.randint(5, 9), 0.0))
        if rng.random() < 0.6:
            n = rng.choice((8, 12, 20, 30, 60))
            parts.insert(rng.randrange(len(parts) + 1), fragment(n, rng.choice((0.0, 0.1, 0.3))))
        texts.append(" ".join(parts))

    rejected = []
    checked = match._shared_positions

    def counting(*args: object) -> int:
        found = checked(*args)  # type: ignore[arg-type]
        rejected.append(found < MatchSettings().min_shingles)
        return found

    matcher = Matcher(small_registry)
    monkeypatch.setattr(match, "_shared_positions", counting)
    with_check = [matcher.match(t, tokenize(t)) for t in texts]
    monkeypatch.setattr(match, "_shared_positions", lambda *args: 10**9)
    without = [matcher.match(t, tokenize(t)) for t in texts]
    assert with_check == without
    assert sum(rejected) >= 30
    assert sum(bool(m) for m in with_check) >= 40


@pytest.mark.parametrize("masked", [False, True])
def test_masked_shingles_are_never_counted(masked):
    values = np.arange(1, 101, dtype=np.uint64)
    if masked:
        values[:] = MASKED
    assert _shared_positions(values, [(0, 100)], values.copy(), 8, 10**9) == (0 if masked else 100)


def test_windows_are_the_merged_ranges_around_sorted_starts():
    from auditor.match import _windows

    rng = np.random.default_rng(11)
    for _ in range(500):
        n = int(rng.integers(1, 600))
        starts = sorted({int(s) for s in rng.integers(0, n, int(rng.integers(0, 30)))})
        before, after = int(rng.integers(0, 80)), int(rng.integers(1, 200))
        expected = _merge_ranges([(max(0, s - before), min(n, s + after)) for s in starts])
        assert _windows(starts, before, after, n) == expected


@pytest.mark.parametrize("slack", [0, 4096])
def test_a_work_region_is_its_ranges_and_close_ranges_take_one_read(small_registry, monkeypatch, slack):
    from auditor.match import _work_region

    monkeypatch.setattr(match, "_READ_SLACK", slack)
    work = 3
    n = small_registry.work_tokens(work)
    read = small_registry.work_shingles
    calls = []

    def counting(work: int, positions: slice) -> np.ndarray:
        calls.append(positions)
        return read(work, positions)

    monkeypatch.setattr(small_registry, "work_shingles", counting)
    rng = np.random.default_rng(12)
    reads = set()
    for _ in range(300):
        cuts = sorted({int(c) for c in rng.integers(0, n + 1, 2 * int(rng.integers(1, 6)))})
        ranges = list(zip(cuts[::2], cuts[1::2], strict=False))
        if not ranges:
            continue
        calls.clear()
        region = _work_region(small_registry, work, ranges)
        assert np.array_equal(region, np.concatenate([read(work, slice(lo, hi)) for lo, hi in ranges]))
        covered = sum(hi - lo for lo, hi in ranges)
        close = ranges[-1][1] - ranges[0][0] <= 2 * covered + slack
        assert len(calls) == (1 if close else len(ranges))
        reads.add((close, len(ranges) > 1))
    assert (
        reads == {(True, False), (True, True), (False, True)} if slack == 0 else {(True, False), (True, True)}
    )


def test_compiled_pairs_are_the_numpy_reference_s():
    from auditor.match import _shingle_pairs

    rng = np.random.default_rng(13)
    for _ in range(500):
        record, ranges, work, _ = _regions(rng)
        # The work region as one to four ranges of the work, gaps between them.
        cuts = np.sort(rng.choice(len(work) + 1, min(len(work) + 1, int(rng.integers(0, 4))), replace=False))
        cuts = cuts.tolist()
        edges = [0, *cuts, len(work)]
        start, work_ranges = int(rng.integers(0, 100)), []
        for lo, hi in itertools.pairwise(edges):
            work_ranges.append((start, start + hi - lo))
            start += hi - lo + int(rng.integers(1, 50))
        max_occurrences = int(rng.integers(1, 10))
        expected = _pairs(record, ranges, work, work_ranges, max_occurrences)
        found = _shingle_pairs(record, ranges, work, work_ranges, max_occurrences)
        assert np.array_equal(found[0], expected[0]) and np.array_equal(found[1], expected[1])
        assert found[0].dtype == found[1].dtype == np.int64


def test_work_reads_are_kept_read_only_and_bounded(small_registry, monkeypatch):
    from auditor.match import _CACHED_READ, _work_region

    monkeypatch.setattr(match, "_READ_CACHE", 3)
    read = small_registry.work_shingles
    calls = []

    def counting(work: int, positions: slice) -> np.ndarray:
        calls.append((work, positions.start, positions.stop))
        return read(work, positions)

    monkeypatch.setattr(small_registry, "work_shingles", counting)
    cache: dict = {}
    first = _work_region(small_registry, 2, [(100, 300)], cache)
    again = _work_region(small_registry, 2, [(100, 300)], cache)
    assert calls == [(2, 100, 300)] and again is first and not first.flags.writeable
    assert np.array_equal(first, read(2, slice(100, 300)))
    # Two close ranges: one read of the stretch, kept; the region itself is a fresh array.
    region = _work_region(small_registry, 2, [(100, 150), (200, 300)], cache)
    assert calls[-1] == (2, 100, 300) and len(calls) == 1
    assert np.array_equal(region, np.concatenate([read(2, slice(100, 150)), read(2, slice(200, 300))]))
    # Long reads are not kept; the cache is emptied when full.
    _work_region(small_registry, 2, [(0, _CACHED_READ + 1)], cache)
    _work_region(small_registry, 2, [(0, _CACHED_READ + 1)], cache)
    assert calls.count((2, 0, _CACHED_READ + 1)) == 2
    for lo in (10, 20, 30):
        _work_region(small_registry, 3, [(lo, lo + 50)], cache)
    assert len(cache) <= 3
