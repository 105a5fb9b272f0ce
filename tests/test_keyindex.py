import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.keyindex import KeyIndex, argsort_keys

u64 = st.integers(min_value=0, max_value=2**64 - 1)


@settings(max_examples=200, deadline=None)  # the first example may compile the kernel
@given(st.lists(u64, max_size=300), st.lists(u64, max_size=100), st.integers(0, 5))
def test_matches_searchsorted(keys, extra, dup):
    # Duplicates and queries both inside and outside the key set.
    sorted_keys = np.sort(np.array(keys + keys[:dup], dtype=np.uint64))
    queries = np.array(keys[::2] + extra, dtype=np.uint64)
    index = KeyIndex(sorted_keys)
    lo = np.searchsorted(sorted_keys, queries, side="left")
    hi = np.searchsorted(sorted_keys, queries, side="right")
    assert index.contains(queries).tolist() == (hi > lo).tolist()
    idx, first, count = index.ranges(queries)
    assert idx.tolist() == np.flatnonzero(hi > lo).tolist()
    assert first.tolist() == lo[idx].tolist()
    assert count.tolist() == (hi - lo)[idx].tolist()
    assert [a.tolist() for a in index.ranges_numpy(queries)] == [idx.tolist(), first.tolist(), count.tolist()]


def test_empty_index_and_empty_queries():
    empty = KeyIndex(np.empty(0, dtype=np.uint64))
    assert empty.contains(np.array([1, 2], dtype=np.uint64)).tolist() == [False, False]
    full = KeyIndex(np.array([5, 9], dtype=np.uint64))
    assert full.contains(np.empty(0, dtype=np.uint64)).tolist() == []
    assert [a.tolist() for a in full.ranges(np.array([9, 9, 4], dtype=np.uint64))] == [[0, 1], [1, 1], [1, 1]]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), max_size=300), st.integers(0, 4))
def test_argsort_keys_is_a_stable_argsort(keys, top):
    # Keys crowded into few high-bit values force the tie repair; duplicates test stability.
    crowded = [((k % (1 << top)) << (64 - top)) | (k % 97) for k in keys] if top else keys
    values = np.array(crowded + crowded[: len(crowded) // 2], dtype=np.uint64)
    assert argsort_keys(values).tolist() == np.argsort(values, kind="stable").tolist()
