"""Evidence alignment: rows that pair the same words, pieces that give the text back, cuts shown as gaps."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.reporters.align import WORD, Alignment, align, middle_cut


def side(alignment: Alignment, name: str) -> str:
    return "".join(p.text for row in alignment.rows for p in getattr(row, name))


def keys(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


words = st.lists(st.sampled_from(["the", "cat", "sat", "on", "mat", "Dog", "ran", "é", "日本"]), max_size=60)
seps = st.sampled_from([" ", ", ", ". ", "\n\n", " — ", "… ", "\t"])


@st.composite
def texts(draw: st.DrawFn) -> str:
    parts = draw(words)
    return "".join(w + draw(seps) for w in parts) + draw(st.sampled_from(["", "!", " <b>"]))


@settings(max_examples=200, deadline=None)
@given(texts(), texts())
def test_pieces_give_both_texts_back_and_pair_the_same_words(record: str, work: str) -> None:
    a = align(record, work, row_words=5)
    assert side(a, "record") == record and side(a, "work") == work
    shared = 0
    for row in a.rows:
        assert not row.gap
        assert {p.kind for p in row.record + row.work} <= {"same", "diff", "plain"}
        rec = [k for p in row.record if p.kind == "same" for k in keys(p.text)]
        wrk = [k for p in row.work if p.kind == "same" for k in keys(p.text)]
        assert rec == wrk  # a row pairs the same words, in the same order, on both sides
        shared += len(rec)
        for p in row.record + row.work:
            if p.kind != "plain":
                assert p.text == p.text.strip() and WORD.match(p.text)  # marks start and end on a word
    assert shared == a.shared_words <= min(a.record_words, a.work_words)


def test_identical_texts_are_all_shared_and_cut_into_rows_at_sentence_ends() -> None:
    text = " ".join(f"Sentence number {i} has a few more words in it." for i in range(30))
    a = align(text, text, row_words=20)
    assert a.shared_words == a.record_words == a.work_words == 30 * 10
    assert len(a.rows) > 5
    for row in a.rows[:-1]:
        assert row.record[-1].kind == "plain" and row.record[-1].text.startswith(".")
        assert [p.text for p in row.record] == [p.text for p in row.work]


def test_edits_are_marked_on_their_own_side() -> None:
    a = align("one two three four", "one TWO 3 four five")
    (row,) = a.rows
    assert [(p.text, p.kind) for p in row.record] == [("one two", "same"), (" ", "plain"), ("three", "diff"),
                                                       (" ", "plain"), ("four", "same")]  # fmt: skip
    assert [(p.text, p.kind) for p in row.work if p.kind != "plain"] == [
        ("one TWO", "same"),
        ("3", "diff"),
        ("four", "same"),
        ("five", "diff"),
    ]
    assert (a.record_words, a.work_words, a.shared_words) == (4, 5, 3)


def test_the_engines_middle_cut_becomes_a_gap_row_with_the_left_out_length() -> None:
    record = "a b c d e " * 60 + " … " + " f g h i j" * 60
    work = "a b c d e " * 60 + " … " + " f g h i j" * 60
    assert middle_cut(record) == 600
    a = align(record, work, record_length=2000, work_length=1500)
    gaps = [row.gap for row in a.rows if row.gap]
    assert gaps == ["… 800 characters of the record and 300 of the work not kept in the report "
                    "(the offsets give the full span) …"]  # fmt: skip
    assert side(a, "record") == record.replace(" … ", "")
    assert a.shared_words == a.record_words == 600


def test_a_centred_ellipsis_is_a_cut_only_when_the_span_is_longer() -> None:
    assert middle_cut("ab … cd") == 2
    assert middle_cut("abc … cd") is None and middle_cut("ab…cd") is None
    text = "wait … what"  # a centred ellipsis that is part of the text
    whole = align(text, text, record_length=len(text), work_length=len(text))
    assert not [row for row in whole.rows if row.gap]
    assert side(whole, "record") == text
    cut = align(text, text, record_length=40, work_length=40)
    assert [row.gap for row in cut.rows if row.gap]


def test_long_texts_are_windowed_around_their_middle() -> None:
    record = " ".join(f"w{i}" for i in range(3000))
    a = align(record, record, limit=1000)
    gaps = [row.gap for row in a.rows if row.gap]
    assert len(gaps) == 1 and re.search(
        r"[\d,]+ characters of the record and [\d,]+ of the work not shown", gaps[0]
    )
    assert len(side(a, "record")) == 1000
    assert side(a, "record").startswith("w0 w1") and side(a, "record").endswith("w2998 w2999")


def test_empty_sides() -> None:
    a = align("", "some words")
    assert side(a, "record") == "" and side(a, "work") == "some words"
    assert a.shared_words == 0 and a.shared_share == 0.0
