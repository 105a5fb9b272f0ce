"""Membership and range look-ups of uint64 keys in a sorted array, through a radix bucket table.

Band keys and shingle hashes are uniformly distributed 64-bit values, so their top bits spread
them evenly over buckets. A binary search of a large sorted array costs ~log2(n) cache misses per
query; here a query costs one read of the bucket table and, on average, about one probe of the keys.
"""

from __future__ import annotations

import numpy as np


class KeyIndex:
    """Vectorised look-ups of query keys in a sorted uint64 array (duplicates allowed)."""

    def __init__(self, sorted_keys: np.ndarray) -> None:
        self.keys = np.ascontiguousarray(sorted_keys, dtype=np.uint64)
        n = len(self.keys)
        self.bits = int(min(26, max(8, np.ceil(np.log2(max(n, 2))))))
        self.shift = np.uint64(64 - self.bits)
        edges = np.arange(1 << self.bits, dtype=np.uint64) << self.shift
        starts = np.searchsorted(self.keys, edges, side="left")
        self.bucket = np.append(starts, n).astype(np.int64)

    def __len__(self) -> int:
        return len(self.keys)

    def _first_at_least(self, queries: np.ndarray) -> np.ndarray:
        """Position of the first key >= each query (like searchsorted side='left')."""
        b = (queries >> self.shift).astype(np.int64)
        pos = self.bucket[b].copy()
        end = self.bucket[b + 1]
        todo = np.flatnonzero(pos < end)
        # Walk forward inside each bucket; buckets hold ~1 key on average, so few rounds run.
        while len(todo):
            smaller = self.keys[pos[todo]] < queries[todo]
            todo = todo[smaller]
            pos[todo] += 1
            todo = todo[pos[todo] < end[todo]]
        return pos

    def contains(self, queries: np.ndarray) -> np.ndarray:
        """Boolean mask: which queries are present."""
        if len(self.keys) == 0 or len(queries) == 0:
            return np.zeros(len(queries), dtype=bool)
        pos = self._first_at_least(queries)
        found = pos < len(self.keys)
        found[found] = self.keys[pos[found]] == queries[found]
        return found

    def ranges(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For the queries present: (query index, first position, count of equal keys)."""
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
