"""Evidence is held packed in memory (UTF-8), yet reads back exactly, compares by value and survives
pickling (worker processes) and checkpoints (``--resume``)."""

from __future__ import annotations

import pickle
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.checkpoint import decode, encode
from auditor.models import Evidence

# any str, lone surrogates included (record text is decoded JSON, which may hold them)
TEXT = st.text(st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()))


@settings(deadline=None)
@given(record=TEXT, work=st.none() | TEXT)
def test_evidence_reads_back_exactly_and_survives_pickle_and_checkpoints(
    record: str, work: str | None
) -> None:
    evidence = Evidence(record, work)
    assert evidence.record_text == record and evidence.work_text == work
    assert pickle.loads(pickle.dumps(evidence)) == evidence
    assert decode(encode(evidence), Evidence) == evidence
    assert encode(evidence) == {"record_text": record, "work_text": work}


def test_evidence_compares_and_hashes_by_its_texts() -> None:
    assert Evidence("a", "b") == Evidence(record_text="a", work_text="b")
    assert hash(Evidence("a", "b")) == hash(Evidence("a", "b"))
    # the split between the two texts matters, and "no work text" is not an empty one
    assert len({Evidence("ab", "c"), Evidence("a", "bc"), Evidence("abc"), Evidence("abc", "")}) == 4
    assert Evidence("a") != "a"


def test_evidence_is_immutable_and_small() -> None:
    evidence = Evidence("“" + "the same words again " * 40, "the same words again " * 40)
    with pytest.raises(AttributeError):
        evidence._packed = b""  # type: ignore[misc]
    with pytest.raises(AttributeError):
        evidence.record_text = "x"  # type: ignore[misc]
    # two 840-character excerpts, one of them two bytes a character as a str (1,768 bytes), the other
    # 840: packed, a byte a character bar the quote's three
    assert sys.getsizeof(evidence.record_text) + sys.getsizeof(evidence.work_text) > 2_500
    assert len(evidence._packed) == 840 + 3 + 840
    assert repr(evidence).startswith("Evidence(record_text='“the same")
