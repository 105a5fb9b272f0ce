import numpy as np
import pytest
from datasketch import MinHash

from auditor.fingerprint import MASKED, FingerprintConfig, Fingerprinter, shingles, shingles_many
from auditor.normalize import NORMALIZER_VERSION, tokenize

SENTENCE = "the cat sat on the mat"


def test_shingle_golden_values():
    # Stable across versions and platforms: a change here invalidates every registry on disk.
    values = shingles(tokenize(SENTENCE).hashes, 4)
    assert [hex(int(v)) for v in values] == ["0x403fa86a2559628d", "0xd5c5ac5b7e23b749", "0x866713d208f9d8d8"]


def test_signature_and_band_key_golden_values():
    fp = Fingerprinter(FingerprintConfig())
    sigs, starts = fp.window_signatures(shingles(tokenize(SENTENCE).hashes, 4))
    assert starts.tolist() == [0]
    assert [hex(int(v)) for v in sigs[0][:3]] == [
        "0xa05a436f267b902b",
        "0x70c66a5d9e2b4a8",
        "0xeb26ad9983de57b",
    ]
    assert [hex(int(v)) for v in fp.band_keys(sigs)[0][:2]] == ["0xf6417e6cc5e58faa", "0xc9121519a64cb33"]


def test_too_short_text_has_no_shingles():
    assert len(shingles(tokenize("three words only").hashes, 4)) == 0


def test_signatures_equal_datasketch_affine64_on_the_same_shingles(words):
    cfg = FingerprintConfig()
    values = shingles(tokenize(words.text(400)).hashes, cfg.shingle_size)
    sigs, starts = Fingerprinter(cfg).window_signatures(values)
    for sig, start in zip(sigs, starts, strict=True):
        ref = MinHash(num_perm=cfg.num_perm, seed=cfg.seed, scheme="affine64", hashfunc=lambda x: x)
        ref.update_batch([int(v) for v in values[start : start + cfg.window]])
        assert np.array_equal(ref.hashvalues, sig)


def test_jaccard_estimates_agree_with_datasketch_within_tolerance(words):
    cfg = FingerprintConfig(num_perm=256, bands=128, rows=2, stride=5000)
    base = words.text(3000).split()
    edited = list(base)
    for i in range(0, len(edited), 7):
        edited[i] = "changed"
    a = shingles(tokenize(" ".join(base)).hashes, 4)
    b = shingles(tokenize(" ".join(edited)).hashes, 4)
    fp = Fingerprinter(cfg)
    sa, sb = fp.window_signatures(a)[0][0], fp.window_signatures(b)[0][0]
    ours = float(np.mean(sa == sb))
    ma = MinHash(num_perm=256, seed=1, scheme="affine64", hashfunc=lambda x: x)
    mb = MinHash(num_perm=256, seed=1, scheme="affine64", hashfunc=lambda x: x)
    ma.update_batch([int(v) for v in a])
    mb.update_batch([int(v) for v in b])
    true = len(set(a.tolist()) & set(b.tolist())) / len(set(a.tolist()) | set(b.tolist()))
    assert ours == pytest.approx(ma.jaccard(mb), abs=1e-12)
    assert ours == pytest.approx(true, abs=0.08)


def test_windows_overlap_by_half_and_union_is_elementwise_minimum(words):
    cfg = FingerprintConfig()
    fp = Fingerprinter(cfg)
    values = shingles(tokenize(words.text(500)).hashes, cfg.shingle_size)
    sigs, starts = fp.window_signatures(values)
    assert starts.tolist() == list(range(0, cfg.stride * len(starts), cfg.stride))
    blocks = fp.block_minhashes(values)
    assert np.array_equal(sigs[3], np.minimum(blocks[3], blocks[4]))


def test_masked_shingles_are_ignored_and_empty_windows_dropped():
    cfg = FingerprintConfig(stride=2)
    fp = Fingerprinter(cfg)
    values = np.array([5, 6, MASKED, MASKED, MASKED, MASKED, 7, 8], dtype=np.uint64)
    sigs, starts = fp.window_signatures(values)
    assert starts.tolist() == [0, 4]  # the window over only masked shingles is gone
    unmasked = fp.window_signatures(np.array([5, 6], dtype=np.uint64))[0][0]
    assert np.array_equal(sigs[0], unmasked)


def test_config_must_be_consistent():
    with pytest.raises(ValueError, match="must equal num_perm"):
        FingerprintConfig(num_perm=64, bands=10, rows=2)
    assert FingerprintConfig().config_id.startswith(f"n{NORMALIZER_VERSION}_k4_s24_p64_b32r2_seed1")
    assert FingerprintConfig(seed=2).differences(FingerprintConfig()) == ["seed: 2 != 1"]


def test_compiled_minhashes_equal_the_numpy_reference_bit_for_bit():
    fp = Fingerprinter(FingerprintConfig())
    rng = np.random.default_rng(7)
    values = rng.integers(1, 2**64 - 1, 5000, dtype=np.uint64)
    values[rng.random(5000) < 0.1] = MASKED
    bounds = np.unique(np.concatenate([[0, 5000], rng.integers(1, 5000, 300)])).astype(np.int64)
    assert np.array_equal(fp.minhashes(values, bounds), fp.minhashes_numpy(values, bounds))


def test_many_texts_at_once_give_what_each_gives_alone(words):
    cfg = FingerprintConfig()
    fp = Fingerprinter(cfg)
    texts = [words.text(n) for n in (0, 2, 3, 4, 30, 47, 48, 49, 200, 1000)]
    hashes = [tokenize(t).hashes for t in texts]
    values, offsets = shingles_many(hashes, cfg.shingle_size)
    sigs, text, starts = fp.window_signatures_many(values, offsets)
    for t, h in enumerate(hashes):
        alone = shingles(h, cfg.shingle_size)
        assert np.array_equal(values[offsets[t] : offsets[t + 1]], alone)
        alone_sigs, alone_starts = fp.window_signatures(alone)
        assert np.array_equal(sigs[text == t], alone_sigs)
        assert np.array_equal(starts[text == t], alone_starts)


def _fills_reference(values, max_fill, min_flank=3):
    masked = values == MASKED
    out = values.copy()
    runs = []  # (start, length, masked)
    for i, m in enumerate(masked.tolist()):
        if runs and runs[-1][2] == m:
            runs[-1][1] += 1
        else:
            runs.append([i, 1, m])
    for i in range(1, len(runs) - 1):
        start, length, m = runs[i]
        if not m and length < max_fill and runs[i - 1][1] >= min_flank and runs[i + 1][1] >= min_flank:
            out[start : start + length] = MASKED
    return out


def test_template_fills_between_boilerplate_runs_are_masked():
    from auditor.fingerprint import mask_template_fills

    rng = np.random.default_rng(3)
    for _ in range(200):
        values = rng.integers(1, 50, rng.integers(0, 80), dtype=np.uint64)
        values[rng.random(len(values)) < 0.4] = MASKED
        for fill in (0, 3, 12):
            assert mask_template_fills(values, fill).tolist() == _fills_reference(values, fill).tolist()


def test_compiled_shingles_equal_the_numpy_reference():
    from auditor.fingerprint import shingles_numpy

    rng = np.random.default_rng(5)
    hashes = rng.integers(0, 2**64 - 1, 3000, dtype=np.uint64)
    for k in (1, 2, 4, 7):
        for n in (0, 1, k - 1, k, k + 1, 1023 + k, 1024 + k, 3000):
            assert np.array_equal(shingles(hashes[:n], k), shingles_numpy(hashes[:n], k)), (k, n)


def test_compiled_windows_and_band_keys_equal_the_numpy_reference():
    fp = Fingerprinter(FingerprintConfig())
    rng = np.random.default_rng(9)
    for _ in range(100):
        n = int(rng.integers(0, 500))
        values = rng.integers(1, 2**64 - 1, n, dtype=np.uint64)
        for _ in range(int(rng.integers(0, 10))):  # masked runs, some covering whole windows
            start = int(rng.integers(0, max(n, 1)))
            values[start : start + int(rng.integers(1, 80))] = MASKED
        cuts = np.sort(rng.integers(0, n + 1, int(rng.integers(0, 6))))
        offsets = np.concatenate([[0], cuts, [n]]).astype(np.int64)
        fast = fp.window_signatures_many(values, offsets)
        plain = fp.window_signatures_many_numpy(values, offsets)
        for a, b in zip(fast, plain, strict=True):
            assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
        assert np.array_equal(fp.band_keys(fast[0]), fp.band_keys_numpy(fast[0]))


def test_compiled_template_fills_equal_the_numpy_reference():
    from auditor.fingerprint import mask_template_fills, mask_template_fills_numpy

    rng = np.random.default_rng(4)
    for _ in range(300):
        values = rng.integers(1, 50, rng.integers(0, 120), dtype=np.uint64)
        values[rng.random(len(values)) < rng.random()] = MASKED
        for fill in (0, 1, 3, 12):
            for flank in (1, 3):
                fast = mask_template_fills(values, fill, flank)
                assert fast.tolist() == mask_template_fills_numpy(values, fill, flank).tolist()
