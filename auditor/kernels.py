"""Compiled inner loops (numba) for the steps numpy cannot express well: MinHash, chaining, pre-checks.

A block's MinHash is, for each of ``num_perm`` permutations, the minimum of ``a * fmix64(v) + b`` over
the block's shingles. In numpy that is a (num_perm x shingles) temporary written and read back; here
it is one pass over the shingles with the running minima in registers, about 5x faster. Chaining
matched shingle pairs is a sequential greedy scan, a Python loop otherwise. Counting the record
shingles a candidate work shares is a dozen numpy calls on arrays of ~150 values, where call overhead,
not arithmetic, is the cost.

Every function has a plain numpy or Python twin next to the code that calls it (:mod:`auditor.fingerprint`,
:mod:`auditor.match`, :mod:`auditor.keyindex`) that tests compare it with. Compiled code is cached on
disk (``cache=True``), so only the first run on a machine compiles.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_MAX = np.uint64(0xFFFFFFFFFFFFFFFF)
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_ZERO = np.uint64(0)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@njit("void(uint64[::1], int64[::1], uint64[::1], uint64[::1], uint64[:, ::1])", cache=True, nogil=True)
def block_minhashes(
    values: np.ndarray, bounds: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover - compiled; tested against fingerprint.block_minhashes_numpy
    """Fill ``out[j]`` (shape blocks x num_perm) with the MinHash of ``values[bounds[j]:bounds[j+1]]``.

    Values equal to 0 are masked (left out); a block with none left is all ``2^64 - 1``.
    """
    perms = a.shape[0]
    for j in range(bounds.shape[0] - 1):
        row = out[j]
        for p in range(perms):
            row[p] = _MAX
        for i in range(bounds[j], bounds[j + 1]):
            h = values[i]
            if h == _ZERO:
                continue
            h ^= h >> _S33
            h *= _M1
            h ^= h >> _S33
            h *= _M2
            h ^= h >> _S33
            for p in range(perms):
                v = a[p] * h + b[p]
                if v < row[p]:
                    row[p] = v


@njit(
    "int64(int64[::1], int64[::1], int64, int64, int64[::1])",
    cache=True,
    nogil=True,
)
def chain_pairs(
    rec: np.ndarray, work: np.ndarray, max_gap: int, max_jump: int, chain_of: np.ndarray
) -> int:  # pragma: no cover - compiled; tested against match._chain_reference
    """Chain matched shingle pairs (sorted by record position, then work position) greedily.

    Each pair joins the active chain (last pair at most ``max_gap`` record positions back) whose last
    pair is at most ``max_jump`` work positions away and whose step best keeps the diagonal, the
    earliest such chain on ties; else it starts a chain. Fills ``chain_of`` and returns the chain count.
    """
    n = rec.shape[0]
    rec_last = np.empty(n, dtype=np.int64)
    work_last = np.empty(n, dtype=np.int64)
    active = np.empty(n, dtype=np.int64)
    n_active = 0
    n_chains = 0
    for k in range(n):
        i = rec[k]
        j = work[k]
        best = -1
        best_cost = 0
        kept = 0
        for a in range(n_active):
            c = active[a]
            if i - rec_last[c] > max_gap:
                continue
            active[kept] = c
            kept += 1
            step = j - work_last[c]
            if abs(step) > max_jump:
                continue
            cost = abs(step - (i - rec_last[c]))
            if best == -1 or cost < best_cost:
                best = c
                best_cost = cost
        n_active = kept
        if best == -1:
            best = n_chains
            n_chains += 1
            active[n_active] = best
            n_active += 1
        rec_last[best] = i
        work_last[best] = j
        chain_of[k] = best
    return n_chains


@njit("int64(uint64[::1], int64[::1], uint64[::1], int64, int64)", cache=True, nogil=True)
def shared_positions(
    values: np.ndarray, bounds: np.ndarray, work: np.ndarray, max_occurrences: int, enough: int
) -> int:  # pragma: no cover - compiled; tested against match._shared_positions_reference
    """How many record positions in the disjoint ranges ``[bounds[2i], bounds[2i+1])`` of ``values``
    hold an unmasked shingle found 1 to ``max_occurrences`` times in ``work``; counting stops at
    ``enough``.

    The work's shingles are counted in an open-addressing hash table (0, the masked value, marks an
    empty slot): on a few hundred values, with many equal masked ones, that is several times faster
    than sorting them.
    """
    bits = 4
    while (1 << bits) < 2 * work.shape[0]:
        bits += 1
    mask = (1 << bits) - 1
    shift = np.uint64(64 - bits)
    slots = np.zeros(1 << bits, dtype=np.uint64)
    counts = np.zeros(1 << bits, dtype=np.int64)
    for i in range(work.shape[0]):
        v = work[i]
        if v == _ZERO:
            continue
        h = np.int64((v * _GOLDEN) >> shift)
        while slots[h] != _ZERO and slots[h] != v:
            h = (h + 1) & mask
        slots[h] = v
        counts[h] += 1
    found = 0
    for i in range(0, bounds.shape[0] - 1, 2):
        for p in range(bounds[i], bounds[i + 1]):
            v = values[p]
            if v == _ZERO:
                continue
            h = np.int64((v * _GOLDEN) >> shift)
            while slots[h] != _ZERO and slots[h] != v:
                h = (h + 1) & mask
            if slots[h] == v and counts[h] <= max_occurrences:
                found += 1
                if found >= enough:
                    return found
    return found


@njit(cache=True, nogil=True)
def key_ranges(
    keys: np.ndarray,
    buckets: np.ndarray,
    shift: np.uint64,
    queries: np.ndarray,
    first: np.ndarray,
    count: np.ndarray,
) -> None:  # pragma: no cover - compiled; tested against keyindex.KeyIndex.ranges_numpy
    """For each query, the position of the first equal key in the sorted ``keys`` and how many there
    are (``count`` 0 when absent); ``buckets`` is the radix table of :mod:`auditor.keyindex`."""
    n = keys.shape[0]
    for q in range(queries.shape[0]):
        value = queries[q]
        b = value >> shift
        pos = buckets[b]
        end = buckets[b + 1]
        while pos < end and keys[pos] < value:
            pos += 1
        found = 0
        while pos + found < n and keys[pos + found] == value:
            found += 1
        first[q] = pos
        count[q] = found


def warm_up() -> None:
    """Compile (or load from the cache) every kernel now, e.g. before worker processes fork."""
    a = np.ones(2, dtype=np.uint64)
    out = np.empty((1, 2), dtype=np.uint64)
    block_minhashes(np.ones(3, dtype=np.uint64), np.array([0, 3], dtype=np.int64), a, a, out)
    pairs = np.zeros(1, dtype=np.int64)
    chain_pairs(pairs, pairs, 1, 1, np.empty(1, dtype=np.int64))
    keys = np.zeros(1, dtype=np.uint64)
    shared_positions(keys, np.zeros(2, dtype=np.int64), keys, 1, 1)
    # Index tables may be memory maps (read-only) or built in memory, their buckets int32 or int64.
    for buckets in (np.zeros(2, dtype=np.int32), np.zeros(2, dtype=np.int64)):
        for table in (keys, _read_only(keys)):
            for bucket_table in (buckets, _read_only(buckets)):
                key_ranges(table, bucket_table, np.uint64(63), keys, pairs, pairs.copy())


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view
