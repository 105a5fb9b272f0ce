from concurrent.futures import ThreadPoolExecutor

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.keyindex import (
    KeyIndex,
    KeySet,
    argsort_keys,
    bucket_table,
    bucket_table_numpy,
    sort_keys,
    sort_keys_jobs,
)

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


@settings(max_examples=200, deadline=None)
@given(st.lists(u64, max_size=300), st.integers(0, 4), st.integers(1, 40))
def test_sort_keys_gives_the_keys_and_rows_of_a_stable_argsort(keys, top, per_row):
    crowded = [((k % (1 << top)) << (64 - top)) | (k % 97) for k in keys] if top else keys
    values = np.array(crowded + crowded[: len(crowded) // 2], dtype=np.uint64)
    order = np.argsort(values, kind="stable")
    sorted_keys, rows = sort_keys(values, per_row)
    assert sorted_keys.tolist() == values[order].tolist()
    assert rows.dtype == np.uint32 and rows.tolist() == (order // per_row).tolist()


def test_sort_keys_of_many_keys_in_two_jobs_side_by_side():
    # Enough keys for a radix partition of 256 buckets; duplicates and keys that tie in their high
    # bits (differing in the low ones only) as band keys have them.
    rng = np.random.default_rng(11)
    keys = rng.integers(0, 2**64 - 1, 300_000, dtype=np.uint64)
    keys[rng.integers(0, len(keys), 20_000)] = keys[rng.integers(0, len(keys), 20_000)]
    keys[::1000] = (keys[::1000] >> np.uint64(20)) << np.uint64(20)
    keys[1::1000] = keys[::1000] | np.uint64(5)
    sorted_keys, rows, jobs = sort_keys_jobs(keys, 32)
    assert len(jobs) == 2
    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result()
    order = np.argsort(keys, kind="stable")
    assert np.array_equal(sorted_keys, keys[order])
    assert np.array_equal(rows, (order // 32).astype(np.uint32))


@settings(max_examples=100, deadline=None)
@given(st.lists(u64, max_size=300), st.integers(1, 24))
def test_bucket_table_kernel_equals_counting(keys, bits):
    sorted_keys = np.sort(np.array(keys, dtype=np.uint64))
    fast, plain = bucket_table(sorted_keys, bits), bucket_table_numpy(sorted_keys, bits)
    assert fast.dtype == plain.dtype and np.array_equal(fast, plain)


@settings(max_examples=200, deadline=None)
@given(st.sets(st.integers(1, 2**64 - 1), max_size=300), st.lists(u64, max_size=200), st.integers(0, 3))
def test_key_set_masks_its_keys_and_counts_groups(keys, extra, groups):
    members = np.array(sorted(keys), dtype=np.uint64)
    queries = np.array(sorted(keys)[::2] + extra + [0], dtype=np.uint64)
    key_set = KeySet(members)
    assert key_set.masked(queries).tolist() == np.where(np.isin(queries, members), 0, queries).tolist()
    # Groups one after another (the same group twice in a row counts once).
    last, counts = np.full(len(members), -1, dtype=np.int64), np.zeros(len(members), dtype=np.int64)
    for group in range(groups):
        key_set.count_groups(queries, group, last, counts)
        key_set.count_groups(queries[::3], group, last, counts)
    assert counts.tolist() == (np.isin(members, queries) * groups).tolist()
