"""ISBNs: checksums, conversion, finding them in text and metadata, list files."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.rules.build_isbn_list import canonical_isbns
from auditor.rules.build_isbn_list import main as build_main
from auditor.rules.isbn import (
    MAX_META_DEPTH,
    MAX_META_STRINGS,
    IsbnHit,
    IsbnList,
    isbn10_valid,
    isbn13_valid,
    isbns_in_meta,
    iter_isbns,
    meta_isbns,
    to_isbn13,
)


@pytest.mark.parametrize("isbn", ["0306406152", "080442957X", "080442957x", "0198526636", "0000000000"])
def test_valid_isbn10(isbn: str) -> None:
    assert isbn10_valid(isbn)


@pytest.mark.parametrize("isbn", ["0306406153", "0804429579", "X306406152", "030640615", "03064061522"])
def test_invalid_isbn10(isbn: str) -> None:
    assert not isbn10_valid(isbn)


@pytest.mark.parametrize("isbn", ["9780306406157", "9780804429573", "9791090636071"])
def test_valid_isbn13(isbn: str) -> None:
    assert isbn13_valid(isbn)


@pytest.mark.parametrize("isbn", ["9780306406158", "9770306406157", "978030640615X", "978030640615"])
def test_invalid_isbn13(isbn: str) -> None:
    assert not isbn13_valid(isbn)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0-306-40615-2", "9780306406157"),
        ("0 306 40615 2", "9780306406157"),
        ("ISBN 0-8044-2957-X", "9780804429573"),
        ("ISBN-10: 080442957x", "9780804429573"),
        ("ISBN-13: 978-0-306-40615-7", "9780306406157"),
        ("978 0 306 40615 7", "9780306406157"),
        (" 9780306406157 ", "9780306406157"),
        ("978-0-306-40615-8", None),
        ("0-306-40615-3", None),
        ("12345", None),
        ("", None),
    ],
)
def test_to_isbn13(value: str, expected: str | None) -> None:
    assert to_isbn13(value) == expected


def test_text_offsets_point_at_the_isbn_without_its_label() -> None:
    text = "Title page\nISBN 978-0-306-40615-7 (cloth)\nISBN-10: 0-8044-2957-X\n"
    hits = list(iter_isbns(text))
    assert [h.isbn13 for h in hits] == ["9780306406157", "9780804429573"]
    assert [text[h.start : h.end] for h in hits] == ["978-0-306-40615-7", "0-8044-2957-X"]


def test_bare_isbn13_is_found_but_bare_isbn10_is_not() -> None:
    assert [h.isbn13 for h in iter_isbns("order 9780306406157 now")] == ["9780306406157"]
    assert list(iter_isbns("call 0306406152 now")) == []
    assert [h.isbn13 for h in iter_isbns("call 0306406152 now", lenient=True)] == ["9780306406157"]


@pytest.mark.parametrize(
    "text",
    [
        "tracking number 19780306406157",  # inside a longer number
        "id 9780306406157123",
        "sku-9780306406157",
        "x9780306406157",
        "ISBN 978-0-306-40615-8",  # bad check digit
        "phone +1 555 123 4567 and 555-0199",
    ],
)
def test_not_isbns(text: str) -> None:
    assert list(iter_isbns(text)) == []


def test_metadata_fields_named_isbn_accept_bare_isbn10() -> None:
    meta = {"isbn": "0306406152", "other": "0804429579", "nested": {"ids": ["ISBN 9780804429573"]}}
    assert sorted(h.isbn13 for h in isbns_in_meta(meta)) == ["9780306406157", "9780804429573"]
    assert all(h.start is None for h in isbns_in_meta(meta))


def test_isbn_list_loads_lazily_and_skips_comments(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("# header\n\n9780306406157\n0-8044-2957-X\nnot an isbn\n", encoding="utf-8")
    isbn_list = IsbnList(path)
    assert isbn_list._values is None
    assert "9780306406157" in isbn_list
    assert "9780804429573" in isbn_list
    assert "9780306406158" not in isbn_list
    assert 9780306406157 not in isbn_list  # only canonical strings
    assert len(isbn_list) == 2


def test_canonical_isbns_keeps_valid_thirteen_digit_strings() -> None:
    lines = [
        "# comment",
        "978-0-306-40615-7",
        "9780306406157 ",
        "978 0 306 40615 7",
        "978-1-64313-7",
        "978-0-306-40615-8",
    ]
    isbns, rejected = canonical_isbns(lines)
    assert isbns == ["9780306406157"]
    assert rejected == 2  # a truncated ISBN-13 that happens to pass the ISBN-10 checksum, a bad check digit
    assert canonical_isbns(["0-306-40615-2"], allow_isbn10=True) == (["9780306406157"], 0)


def test_build_script_writes_sorted_unique_list(tmp_path: Path) -> None:
    source = tmp_path / "raw.txt"
    source.write_text("9780804429573\n978-0-306-40615-7\n9780306406157\nnope\n", encoding="utf-8")
    out = tmp_path / "out.txt"
    assert build_main([str(source), "-o", str(out)]) == 0
    body = [line for line in out.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    assert body == ["9780306406157", "9780804429573"]


def test_shipped_books3_list_is_canonical() -> None:
    path = Path(__file__).resolve().parents[2] / "rules" / "books3-isbns.txt"
    body = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    assert body == sorted(set(body))
    assert len(body) > 100_000
    assert all(len(line) == 13 and line.isdigit() for line in body)
    assert all(isbn13_valid(line) for line in body[::25])


def _isbns_in_meta_reference(meta: Any) -> list[IsbnHit]:
    """The metadata walk as written before its fast paths: every string through iter_isbns."""
    budget = MAX_META_STRINGS
    stack: list[tuple[Any, bool, int]] = [(meta, False, 0)]
    out = []
    while stack and budget > 0:
        value, named, depth = stack.pop()
        if isinstance(value, str):
            budget -= 1
            out += [IsbnHit(h.isbn13, None, None, h.text) for h in iter_isbns(value, lenient=named)]
        elif isinstance(value, Mapping) and depth < MAX_META_DEPTH:
            for key in reversed(list(value)):
                stack.append((value[key], named or "isbn" in str(key).lower(), depth + 1))
        elif isinstance(value, list | tuple) and depth < MAX_META_DEPTH:
            stack.extend((item, named, depth + 1) for item in reversed(value))
    return out


_ISBNISH = st.sampled_from(
    [
        "0306406152",
        "080442957X",
        "978-0-306-40615-7",
        "ISBN 0-8044-2957-X",
        "isbn:9780306406157",
        "e-ISBN 978 0 306 40615 7",
        "9790000000001",
        "٩٧٨٠٣٠٦٤٠٦١٥٧",
        "https://x.example/9780306406157",
        "r000000000",
    ]
)
_STRINGS = st.one_of(_ISBNISH, st.text(max_size=20), st.lists(_ISBNISH, max_size=3).map(" ".join))
_KEYS = st.sampled_from(["isbn", "ISBN13", "id", "url", "meta", "identifiers", "x"])
_META = st.recursive(
    st.one_of(_STRINGS, st.integers(), st.none(), st.booleans()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(_KEYS, inner, max_size=4),
    ),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_KEYS, _META, max_size=6))
def test_metadata_walk_equals_the_plain_walk(meta: dict[str, Any]) -> None:
    assert meta_isbns(meta) == _isbns_in_meta_reference(meta)
    assert list(isbns_in_meta(meta)) == _isbns_in_meta_reference(meta)


def test_metadata_budget_and_depth_are_kept() -> None:
    isbn = "ISBN 978-0-306-40615-7"
    flat = {f"k{i}": isbn for i in range(MAX_META_STRINGS + 5)}  # too many fields for the flat loop
    assert meta_isbns(flat) == _isbns_in_meta_reference(flat)
    assert len(meta_isbns(flat)) == MAX_META_STRINGS
    deep: Any = isbn
    for _ in range(MAX_META_DEPTH + 2):
        deep = {"a": deep}
    assert meta_isbns(deep) == _isbns_in_meta_reference(deep) == []
    many = {"list": [isbn] * (MAX_META_STRINGS + 3), "after": isbn}
    assert meta_isbns(many) == _isbns_in_meta_reference(many)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(_ISBNISH, st.text(max_size=12), st.sampled_from(["ISBN", "isbn ", "İSBN "])), max_size=8
    ).map(" ".join)
)
def test_a_known_label_gives_what_lowering_gives(text: str) -> None:
    expected = list(iter_isbns(text))
    assert list(iter_isbns(text, labelled="isbn" in text.lower())) == expected
    assert list(iter_isbns(text, lowered=text.lower())) == expected
