"""Properties over arbitrary text: offsets always inside the record, and no check ever crashes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.rules import RuleSet
from auditor.rules.hosts import host_of
from auditor.rules.isbn import iter_isbns, to_isbn13

from .conftest import FakeFacts, make_record

PIECES = st.sampled_from(
    [
        "ISBN ",
        "978-0-306-40615-7",
        "0-306-40615-2",
        "All rights reserved. ",
        "© 2001 Jane",
        "İ",
        "\n",
        "x",
        " ",
    ]
)
TEXTS = st.lists(st.one_of(PIECES, st.text(max_size=8)), max_size=30).map("".join)


@settings(max_examples=150, deadline=None)
@given(TEXTS)
def test_isbn_offsets_are_inside_the_text(text: str) -> None:
    for hit in iter_isbns(text):
        assert hit.start is not None and hit.end is not None
        assert 0 <= hit.start < hit.end <= len(text)
        assert to_isbn13(text[hit.start : hit.end]) == hit.isbn13


@settings(max_examples=100, deadline=None)
@given(TEXTS, st.one_of(st.none(), st.text(max_size=30)), st.one_of(st.none(), st.text(max_size=30)))
def test_evaluate_survives_any_unicode(
    default_rules: RuleSet, text: str, url: str | None, lic: str | None
) -> None:
    record = make_record(text=text, url=url, license=lic)
    for finding in default_rules.evaluate(record, [], FakeFacts()):
        for span in finding.spans:
            assert 0 <= span.record_start < span.record_end <= len(text)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=40))
def test_host_of_never_raises(url: str) -> None:
    host = host_of(url)
    assert host is None or (host == host.lower() and host.isascii())
