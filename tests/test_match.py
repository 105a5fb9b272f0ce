import random

import pytest

from auditor.match import Matcher
from auditor.normalize import tokenize
from tests.conftest import BOILERPLATE


def plant(words, work_text: str, start_word: int, n_words: int, before: int = 200, after: int = 200):
    tokens = work_text.split(" ")
    passage = " ".join(tokens[start_word : start_word + n_words])
    text = words.text(before) + " " + passage + " " + words.text(after)
    rs = text.index(passage)
    ws = work_text.index(passage)
    return text, (rs, rs + len(passage)), (ws, ws + len(passage))


def overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


@pytest.mark.parametrize("n_words", [30, 60, 200, 800])
def test_verbatim_passage_is_found_with_exact_spans(small_registry, small_works, words, n_words):
    work = small_works["work-3"]
    text, rec_span, work_span = plant(words, work, 500, n_words)
    matches = Matcher(small_registry).match(text, tokenize(text))
    assert [m.work.id for m in matches] == ["work-3"]
    (m,) = matches
    assert m.kind == "near-duplicate"
    got_rec = (m.spans[0].record_start, m.spans[-1].record_end)
    got_work = (m.spans[0].work_start, m.spans[-1].work_end)
    # Spans cover the planted passage up to a word at either end (a shingle straddling the seam).
    assert overlap(got_rec, rec_span) >= 0.9 * (rec_span[1] - rec_span[0])
    assert overlap(got_work, work_span) >= 0.9 * (work_span[1] - work_span[0])
    assert overlap(got_rec, rec_span) >= 0.9 * (got_rec[1] - got_rec[0])
    assert m.matched_tokens == pytest.approx(n_words, abs=4)
    assert m.evidence[0].work_text is not None


def test_edited_and_reformatted_copy_is_found(small_registry, small_works, words):
    rng = random.Random(3)
    passage = small_works["work-5"].split(" ")[800:1100]
    edited = [("xyz" + w if rng.random() < 0.10 else w) for w in passage]
    flowed = "\n".join(" ".join(edited[i : i + 9]).upper() for i in range(0, len(edited), 9))
    text = words.text(100) + "\n" + flowed + "\n" + words.text(100)
    (m,) = Matcher(small_registry).match(text, tokenize(text))
    assert m.work.id == "work-5"
    assert m.matched_tokens >= 250


def test_reordered_sentences_are_found(small_registry, small_works, words):
    sentences = " ".join(small_works["work-1"].split(" ")[600:900]).split(". ")
    random.Random(1).shuffle(sentences)
    text = words.text(50) + " " + ". ".join(sentences) + " " + words.text(50)
    (m,) = Matcher(small_registry).match(text, tokenize(text))
    assert m.work.id == "work-1"
    assert m.matched_tokens >= 200


def test_boilerplate_alone_never_matches(small_registry, words):
    text = words.text(80) + "\n" + BOILERPLATE + "\n" + words.text(80)
    assert Matcher(small_registry).match(text, tokenize(text)) == []


def test_unrelated_text_gives_no_match(small_registry, words):
    matcher = Matcher(small_registry)
    for _ in range(50):
        text = words.text(400)
        assert matcher.match(text, tokenize(text)) == []


def test_whole_work_is_an_exact_duplicate_even_reformatted(small_registry, small_works):
    text = small_works["work-2"].upper().replace(" ", "\n")
    matches = Matcher(small_registry).match(text, tokenize(text))
    assert [(m.work.id, m.kind) for m in matches] == [("work-2", "exact-duplicate")]
    assert matches[0].record_coverage == 1.0


def test_text_keys_are_hashed_only_for_records_as_long_as_a_keyed_work(
    small_registry, small_works, words, monkeypatch
):
    from auditor import match
    from auditor.registry import text_hash

    hashed = []

    def counting(hashes):
        hashed.append(len(hashes))
        return text_hash(hashes)

    monkeypatch.setattr(match, "text_hash", counting)
    matcher = Matcher(small_registry)
    whole = small_works["work-5"]
    other = words.text(400)
    assert [m.kind for m in matcher.match(whole, tokenize(whole))] == ["exact-duplicate"]
    assert matcher.match(other, tokenize(other)) == []
    # A record one token short of the work is no exact duplicate, and is not hashed either.
    short = whole.rsplit(" ", 1)[0]
    assert all(m.kind != "exact-duplicate" for m in matcher.match(short, tokenize(short)))
    assert hashed == [len(tokenize(whole))]


def test_two_works_in_one_record_give_two_matches(small_registry, small_works, words):
    a = " ".join(small_works["work-0"].split(" ")[300:400])
    b = " ".join(small_works["work-7"].split(" ")[1300:1400])
    text = words.text(50) + " " + a + " " + words.text(50) + " " + b
    assert [m.work.id for m in Matcher(small_registry).match(text, tokenize(text))] == ["work-0", "work-7"]


def test_compiled_chaining_equals_the_python_reference():
    import numpy as np

    from auditor.match import MatchSettings, _chain, _chain_reference

    settings = MatchSettings()
    rng = np.random.default_rng(11)

    def acceptable(chains):
        # _chain drops chains that can never be accepted (fewer pairs than min_shingles) early.
        return [
            (c.rec_first, c.rec_last, c.work_min, c.work_max, c.last_work, c.positions)
            for c in chains
            if len(c.positions) >= settings.min_shingles
        ]

    for _ in range(300):
        n = int(rng.integers(0, 200))
        # Mostly diagonal runs with noise, jumps and repeated positions: what verification sees.
        rec = np.sort(rng.integers(0, 400, n))
        work = rec + rng.integers(0, 3, n) * rng.choice([1, 150, -40], n) + int(rng.integers(0, 1000))
        assert acceptable(_chain(rec, work, settings)) == acceptable(_chain_reference(rec, work, settings))


def test_candidates_are_the_distinct_hits_of_each_record_and_work_in_order():
    import numpy as np

    from auditor.match import Sketch, _unique_rows, candidates_many

    rng = np.random.default_rng(3)
    for _ in range(50):
        windows, bands = int(rng.integers(1, 40)), 4
        sketch = Sketch(
            np.zeros(0, dtype=np.uint64),
            np.zeros(1, dtype=np.int64),
            np.zeros((windows, bands), dtype=np.uint64),
            np.sort(rng.integers(0, 5, windows)),
            rng.integers(0, 3, windows) * 24,
        )
        n = int(rng.integers(0, 300))
        hits = (rng.integers(0, windows * bands, n), rng.integers(0, 4, n), rng.integers(0, 3, n) * 24)
        table = np.stack(
            (sketch.window_record[hits[0] // bands], hits[1], sketch.window_start[hits[0] // bands], hits[2]),
            axis=1,
        )
        assert np.array_equal(_unique_rows(table), np.unique(table, axis=0).reshape(-1, 4))
        expected: dict = {}
        for record, work, rec_start, pass_start in np.unique(table, axis=0).reshape(-1, 4).tolist():
            expected.setdefault(record, {}).setdefault(work, []).append((rec_start, pass_start))
        found = candidates_many(lambda keys, hits=hits: hits, sketch)
        # The same records, works and hits, in the same order (verification follows it).
        assert [(r, list(h.items())) for r, h in found.items()] == [
            (r, list(h.items())) for r, h in expected.items()
        ]


def test_distinct_values_are_np_unique_s():
    import numpy as np

    from auditor.match import _distinct

    rng = np.random.default_rng(7)
    for n in (0, 1, 2, 3, 10, 1000):
        for high in (1, 3, 2**63):
            values = rng.integers(0, high, n, dtype=np.uint64)
            expected = np.unique(values)
            got = _distinct(values)
            assert got.dtype == expected.dtype and np.array_equal(got, expected), (n, high)


def test_sketch_masks_exactly_the_registry_s_boilerplate_shingles(small_registry, small_works, words):
    import numpy as np

    from auditor.fingerprint import MASKED, shingles_many

    texts = [BOILERPLATE + " " + words.text(300), small_works["work-1"][:5000], words.text(50), ""]
    tokens = [tokenize(t) for t in texts]
    sketch = Matcher(small_registry).sketch(tokens)
    raw, offsets = shingles_many([t.hashes for t in tokens], small_registry.config.shingle_size)
    member = np.isin(raw, small_registry.boilerplate)
    assert member.sum() > 20 and (~member).sum() > 300
    assert np.array_equal(sketch.offsets, offsets)
    assert np.array_equal(sketch.values, np.where(member, MASKED, raw))
