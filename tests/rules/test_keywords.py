"""The batch keyword pre-filter finds exactly what a per-record search of the lower-cased text finds."""

import pickle
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.rules.automaton import Automaton
from auditor.rules.keywords import (
    ISBN_KEYWORDS,
    KeywordSearch,
    keywords_per_text,
    keywords_per_text_reference,
)

KEYWORDS = ["copyright", "©", "isbn", "978", "all rights reserved", "printed"]


def per_record(text: str) -> frozenset[str]:
    lowered = text.lower()
    return frozenset(k for k in KEYWORDS if k in lowered)


def test_each_text_gets_its_own_keywords_and_none_leak_across_texts():
    texts = ["Copyright 2001 Ann", "nothing here", "ISBN 978-0-306-40615-7", "ALL RIGHTS", "RESERVED © x"]
    found = keywords_per_text(texts, KEYWORDS)
    assert found == [per_record(t) for t in texts]
    assert found[3] == frozenset()  # "all rights" + "reserved" split over two texts is no match


def test_texts_whose_lower_case_gains_ascii_letters_are_unknown():
    # U+212A KELVIN SIGN lower-cases to "k"; U+0130 to "i" + a combining dot.
    found = keywords_per_text(["plain", "\u212aelvin", "\u0130SBN"], ["kelvin", "isbn"])
    assert found == [frozenset(), None, None]


@given(st.lists(st.text(alphabet="aceiknoprsty ©978\u0130\u212aABCDEFGHIJKLMNOPQRSTUVWXYZ\0\n", max_size=60)))
def test_matches_a_per_record_search(texts):
    found = keywords_per_text(texts, KEYWORDS)
    for text, got in zip(texts, found, strict=True):
        if got is not None:
            assert got == per_record(text)


# The one-pass search (an Aho-Corasick automaton, auditor/rules/automaton.py) against its plain twin,
# one bytes.find scan per keyword.

OVERLAPPING = ["ab", "abc", "bc", "b", "abcab", "cab", "aa", "aaa", "a a"]
UNICODE = ["©", "é", "ß", "日本", "(c)", "\u0130", "k", "isbn", "978", "979"]
ALPHABET = "abcABC ©éÉßẞ日本\u0130\u212aKk(c)isbnISBN978\0\n\u00e0-\U0001f600"


def _same(texts: list[str], keywords: list[str]) -> None:
    assert keywords_per_text(texts, keywords) == keywords_per_text_reference(texts, keywords)


@settings(max_examples=300)
@given(st.lists(st.text(alphabet=ALPHABET, max_size=80), max_size=8))
def test_one_pass_equals_one_scan_per_keyword(texts):
    for keywords in (KEYWORDS, OVERLAPPING, UNICODE, sorted(ISBN_KEYWORDS), []):
        _same(texts, keywords)


@settings(max_examples=200)
@given(
    st.lists(st.text(max_size=200), max_size=6),
    st.lists(st.text(alphabet="abc ©é\u0130", min_size=1, max_size=4), max_size=10),
)
def test_one_pass_equals_one_scan_per_keyword_on_any_text(texts, keywords):
    _same(texts, keywords)


def test_overlapping_keywords_are_each_found():
    found = keywords_per_text(["xabcabx", "aaa", "cab", "b", "a a", ""], OVERLAPPING)
    assert found[0] == frozenset({"ab", "abc", "bc", "b", "abcab", "cab"})
    assert found[1] == frozenset({"aa", "aaa"})
    assert found[2] == frozenset({"ab", "b", "cab"})
    assert found[3] == frozenset({"b"})
    assert found[4] == frozenset({"a a"})
    assert found[5] == frozenset()


def test_case_rules_of_the_plain_search_are_kept():
    # ASCII capitals fold; other capitals do not (as bytes.lower() in the plain search); a keyword with
    # an ASCII capital, NUL or nothing in it makes every text unknown.
    texts = ["COPYRIGHT ÉTÉ", "été", "İ", "\u212a"]
    assert keywords_per_text(texts, ["copyright", "été"]) == [
        frozenset({"copyright"}),
        frozenset({"été"}),
        None,
        None,
    ]
    for bad in (["Copyright"], ["a\0b"], [""]):
        assert keywords_per_text(texts, bad) == [None] * len(texts)
        _same(texts, bad)
    assert keywords_per_text([], ["x"]) == []


def test_lone_surrogates_and_nul_inside_texts():
    texts = ["a\ud800b©", "\udfff978", "x\0isbn", "is\0bn"]
    _same(texts, KEYWORDS)
    assert keywords_per_text(texts, ["isbn"]) == [frozenset(), frozenset(), frozenset({"isbn"}), frozenset()]


def test_more_than_64_keywords_and_a_large_automaton():
    rng = random.Random(3)
    keywords = sorted(
        {"".join(rng.choice("abcdefghij ©") for _ in range(rng.randint(1, 25))) for _ in range(400)}
    )
    keywords = [k for k in keywords if k.strip()]
    automaton = Automaton.build([k.encode() for k in keywords])
    assert automaton.delta.dtype == np.uint32  # too many states for 16-bit offsets
    texts = ["".join(rng.choice("abcdefghij ©ABC") for _ in range(rng.randint(0, 3000))) for _ in range(20)]
    texts += [" ".join(rng.sample(keywords, 5)) for _ in range(5)]
    _same(texts, keywords)
    assert len(keywords) > 64


def test_small_automata_use_16_bit_offsets():
    assert Automaton.build([b"isbn", b"978"]).delta.dtype == np.uint16


def test_the_automaton_refuses_what_the_search_never_gives_it():
    for bad in ([b""], [b"Isbn"]):
        with pytest.raises(ValueError):
            Automaton.build(bad)


def test_a_search_pickles_without_its_automaton():
    search = KeywordSearch(KEYWORDS)
    texts = ["Copyright © 2001", "nothing"]
    before = search.per_text(texts)
    clone = pickle.loads(pickle.dumps(search))
    assert clone._automaton is None
    assert clone.per_text(texts) == before == keywords_per_text_reference(texts, KEYWORDS)


def test_long_texts_in_one_batch():
    rng = random.Random(11)
    words = ["lorem", "ipsum", "copyright", "ALL RIGHTS RESERVED", "©", "printed", "97", "8", "isb", "n"]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 20000))) for _ in range(30)]
    _same(texts, KEYWORDS)


def test_warm_up_builds_the_automaton_once():
    search = KeywordSearch(KEYWORDS)
    search.warm_up()
    built = search._automaton
    assert built is not None
    assert search.per_text(["Copyright"]) == [frozenset({"copyright"})]
    assert search._automaton is built
    unsearchable = KeywordSearch(["Upper"])
    unsearchable.warm_up()
    assert unsearchable._automaton is None and unsearchable.per_text(["x"]) == [None]
