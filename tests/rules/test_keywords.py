"""The batch keyword pre-filter finds exactly what a per-record search of the lower-cased text finds."""

from hypothesis import given
from hypothesis import strategies as st

from auditor.rules.keywords import keywords_per_text

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
