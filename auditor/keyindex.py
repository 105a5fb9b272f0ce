"""Membership and range look-ups of uint64 keys in a sorted array, through a radix bucket table.

Band keys and shingle hashes are uniformly distributed 64-bit values, so their top bits spread
them evenly over buckets. A binary search of a large sorted array costs ~log2(n) cache misses per
query; here a query costs one read of the bucket table and, on average, about one probe of the keys.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def bucket_bits(n: int) -> int:
    """Radix bits for n keys: about two to four keys per bucket, at most 2^24 buckets."""
    return int(min(24, max(8, int(np.ceil(np.log2(max(n, 2)))) - 1)))


def bucket_table(sorted_keys: np.ndarray, bits: int) -> np.ndarray:
    """Position of the first key of each bucket (keys by their top ``bits`` bits), then ``len(keys)``.

    One pass over the sorted keys (:func:`auditor.kernels.bucket_starts`); :func:`bucket_table_numpy`
    is its reference.
    """
    from auditor import kernels

    first = np.empty((1 << bits) + 1, dtype=np.int64)
    kernels.bucket_starts(np.ascontiguousarray(sorted_keys, dtype=np.uint64), bits, first)
    return first.astype(np.int32) if len(sorted_keys) < 2**31 else first


def bucket_table_numpy(sorted_keys: np.ndarray, bits: int) -> np.ndarray:
    """:func:`bucket_table` by counting the keys of each bucket, kept to test the kernel against."""
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


RADIX_BITS = 8


def sort_keys(keys: np.ndarray, per_row: int) -> tuple[np.ndarray, np.ndarray]:
    """``(keys[order], order // per_row)`` for ``order = np.argsort(keys, kind="stable")``, the second
    as uint32: the band keys in order and the passage of each (``per_row`` keys a passage).

    See :func:`sort_keys_jobs`, whose jobs this runs one after the other.
    """
    sorted_keys, rows, jobs = sort_keys_jobs(keys, per_row)
    for job in jobs:
        job()
    return sorted_keys, rows


def sort_keys_jobs(keys: np.ndarray, per_row: int) -> tuple[np.ndarray, np.ndarray, list[Callable[[], None]]]:
    """:func:`sort_keys` as two jobs that may run side by side (numpy's sort and the kernels release
    the GIL): the outputs are complete once both have run.

    A stable radix partition by the top bits (a few hundred buckets: every later access stays in
    the caches, where a random access to a large array would cost a cache and a TLB miss), then
    per bucket numpy sorts the keys, and the keys' high bits packed with their index (as
    :func:`argsort_keys` does), which give the order of the indices; keys whose high bits tie are
    put in order. Each job partitions and sorts half of the buckets.
    """
    from auditor import kernels

    keys = np.ascontiguousarray(keys, dtype=np.uint64)
    n = len(keys)
    sorted_keys = np.empty(n, dtype=np.uint64)
    rows = np.empty(n, dtype=np.uint32)
    if n == 0:
        return sorted_keys, rows, []
    if n > 2**32:
        raise ValueError(f"{n} keys: too many to number with uint32")
    radix = int(min(RADIX_BITS, max(1, n.bit_length() - 15)))
    shift = 64 - radix
    bits = max(1, (n - 1).bit_length())
    counts = np.zeros((1 << radix) + 1, dtype=np.int64)
    kernels.top_bits_histogram(keys, shift, counts[1:])
    first = np.cumsum(counts)
    middle = int(np.searchsorted(first, n // 2))
    packed = np.empty(n, dtype=np.uint64)

    def part(lo: int, hi: int) -> Callable[[], None]:
        def work() -> None:
            if lo >= hi:
                return
            kernels.radix_scatter(keys, shift, bits, lo, hi, first[:-1].copy(), sorted_keys, packed)
            for start, end in zip(first[lo:hi].tolist(), first[lo + 1 : hi + 1].tolist(), strict=True):
                if end - start > 1:
                    sorted_keys[start:end].sort()
                    packed[start:end].sort()
                    kernels.packed_rows(
                        packed[start:end], bits, sorted_keys[start:end], keys, per_row, rows[start:end]
                    )
                elif end > start:
                    rows[start] = np.uint32(packed[start] & np.uint64((1 << bits) - 1)) // per_row

        return work

    return sorted_keys, rows, [part(0, middle), part(middle, 1 << radix)]


class KeySet:
    """Exact membership of uint64 keys (distinct, non-zero) in an open-addressing hash table with
    twice as many slots as keys, behind a bit filter that fits the L2 cache and answers most absent
    values alone (a random access to a table in memory would cost a cache and a TLB miss): for a
    registry's boilerplate and candidates of it.

    Args:
        keys: the keys.
    """

    def __init__(self, keys: np.ndarray) -> None:
        from auditor import kernels

        self.keys = np.ascontiguousarray(keys, dtype=np.uint64)
        size = 1 << max(4, int(2 * len(self.keys)).bit_length())
        self.slots = np.zeros(size, dtype=np.uint64)
        self.index = np.zeros(size, dtype=np.int64)
        # About 16 filter bits per key, at most 2^22 (512 KB: half an L2 cache).
        self.seen = np.zeros(1 << max(1, min(16, int(16 * len(self.keys)).bit_length() - 6)), dtype=np.uint64)
        kernels.hash_table(self.keys, self.slots, self.index, self.seen)

    def __len__(self) -> int:
        return len(self.keys)

    def masked(self, values: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``values`` with every key among them replaced by 0 (into ``out``, which may be ``values``)."""
        from auditor import kernels

        values = np.ascontiguousarray(values, dtype=np.uint64)
        if out is None:
            out = np.empty_like(values)
        kernels.mask_members(values, self.slots, self.index, self.seen, out)
        return out

    def count_groups(
        self, values: np.ndarray, group: int, last_group: np.ndarray, groups: np.ndarray
    ) -> None:
        """Per key, count the distinct groups holding it (see :func:`auditor.kernels.count_groups`)."""
        from auditor import kernels

        kernels.count_groups(
            np.ascontiguousarray(values, dtype=np.uint64),
            group,
            self.slots,
            self.index,
            self.seen,
            last_group,
            groups,
        )


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
