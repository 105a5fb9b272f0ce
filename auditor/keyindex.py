"""Membership and range look-ups of uint64 keys in a sorted array, through a radix bucket table.

Band keys and shingle hashes are uniformly distributed 64-bit values, so their top bits spread
them evenly over buckets. A binary search of a large sorted array costs ~log2(n) cache misses per
query; here a query costs one read of the bucket table and, on average, about one probe of the keys.
"""

from __future__ import annotations

import numpy as np


def bucket_bits(n: int) -> int:
    """Radix bits for n keys: about two to four keys per bucket, at most 2^24 buckets."""
    return int(min(24, max(8, int(np.ceil(np.log2(max(n, 2)))) - 1)))


def bucket_table(sorted_keys: np.ndarray, bits: int) -> np.ndarray:
    """Position of the first key of each bucket (keys by their top ``bits`` bits), then ``len(keys)``."""
    top = (sorted_keys >> np.uint64(64 - bits)).astype(np.intp)
    counts = np.bincount(top, minlength=1 << bits)
    dtype = np.int32 if len(sorted_keys) < 2**31 else np.int64
    return np.concatenate([[0], np.cumsum(counts)]).astype(dtype)


def argsort_keys(keys: np.ndarray) -> np.ndarray:
    """``np.argsort(keys, kind="stable")`` for uniformly distributed uint64 keys, several times faster.

    Each key's high bits and its index are packed into one uint64 and sorted in place (numpy's
    radix-free sort of a plain uint64 array is fast); keys whose high bits tie are then put in full
    order, which for hashed keys touches a handful of elements.
    """
    n = len(keys)
    if n < 2:
        return np.arange(n, dtype=np.int64)
    bits = np.uint64(max(1, int(n - 1).bit_length()))
    packed = ((keys >> bits) << bits) | np.arange(n, dtype=np.uint64)
    packed.sort()
    order = (packed & ((np.uint64(1) << bits) - np.uint64(1))).astype(np.int64)
    # Keys differing only below the packed bits are ordered by index, not by key: re-sort those runs
    # (for hashed keys a handful; equal keys are already in index order, as a stable sort leaves them).
    high = packed >> bits
    ordered = keys[order]
    bad = np.flatnonzero((high[1:] == high[:-1]) & (ordered[1:] != ordered[:-1]))
    for value in np.unique(high[bad]).tolist():
        lo = int(np.searchsorted(high, np.uint64(value), side="left"))
        hi = int(np.searchsorted(high, np.uint64(value), side="right"))
        run = order[lo:hi]
        order[lo:hi] = run[np.lexsort((run, keys[run]))]
    return order


class KeyIndex:
    """Vectorised look-ups of query keys in a sorted uint64 array (duplicates allowed).

    Args:
        sorted_keys: the keys, sorted; may be a read-only memory map.
        buckets: a :func:`bucket_table` of them stored beside them (computed when None).
    """

    def __init__(self, sorted_keys: np.ndarray, buckets: np.ndarray | None = None) -> None:
        self.keys = np.asarray(sorted_keys, dtype=np.uint64)
        n = len(self.keys)
        if buckets is None or len(buckets) < 2 or (len(buckets) - 1) & (len(buckets) - 2):
            buckets = bucket_table(self.keys, bucket_bits(n))
        self.bits = int(len(buckets) - 1).bit_length() - 1
        self.shift = np.uint64(64 - self.bits)
        self.bucket = buckets

    def __len__(self) -> int:
        return len(self.keys)

    def _first_at_least(self, queries: np.ndarray) -> np.ndarray:
        """Position of the first key >= each query (like searchsorted side='left')."""
        b = (queries >> self.shift).astype(np.intp)
        pos = self.bucket[b].astype(np.int64)
        end = self.bucket[b + 1].astype(np.int64)
        todo = np.flatnonzero(pos < end)
        # Walk forward inside each bucket; buckets hold ~1 key on average, so few rounds run.
        while len(todo):
            smaller = self.keys[pos[todo]] < queries[todo]
            todo = todo[smaller]
            pos[todo] += 1
            todo = todo[pos[todo] < end[todo]]
        return pos

    def lookup(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per query: the position of its first equal key and the number of equal keys (0: absent)."""
        from auditor import kernels

        queries = np.ascontiguousarray(queries, dtype=np.uint64)
        first = np.zeros(len(queries), dtype=np.int64)
        count = np.zeros(len(queries), dtype=np.int64)
        if len(self.keys) and len(queries):
            kernels.key_ranges(self.keys, self.bucket, self.shift, queries, first, count)
        return first, count

    def contains(self, queries: np.ndarray) -> np.ndarray:
        """Boolean mask: which queries are present."""
        return self.lookup(queries)[1] > 0

    def ranges(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For the queries present: (query index, first position, count of equal keys)."""
        first, count = self.lookup(queries)
        idx = np.flatnonzero(count)
        return idx, first[idx], count[idx]

    def ranges_numpy(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`ranges` in plain numpy, kept to test the compiled kernel against."""
        if len(self.keys) == 0 or len(queries) == 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty.copy(), empty.copy()
        pos = self._first_at_least(queries)
        found = pos < len(self.keys)
        found[found] = self.keys[pos[found]] == queries[found]
        idx = np.flatnonzero(found)
        lo = pos[idx]
        count = np.ones(len(idx), dtype=np.int64)
        # Equal keys are adjacent; extend each range while the next key is the same.
        todo = np.arange(len(idx))
        while len(todo):
            nxt = lo[todo] + count[todo]
            more = nxt < len(self.keys)
            more[more] = self.keys[nxt[more]] == queries[idx[todo[more]]]
            todo = todo[more]
            count[todo] += 1
        return idx, lo, count
