"""ISBNs: checksums, conversion, finding them in text and metadata, list files."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.rules.build_isbn_list import canonical_isbns
from auditor.rules.build_isbn_list import main as build_main
from auditor.rules.isbn import (
    IsbnList,
    isbn10_valid,
    isbn13_valid,
    isbns_in_meta,
    iter_isbns,
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
