"""Catalogues in CSV, JSONL and Parquet: columns, several ISBNs per work, ISBN-10s, bad values, keys."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auditor.catalogue import author_key, edition_key, read_catalogue, title_key
from auditor.errors import UsageError

HEADER = "work_id,title,authors,isbn,rights_holder,license,source,md5,sha256,path\n"
MD5 = "0123456789abcdef0123456789abcdef"


def test_csv_with_several_isbns_per_work_and_isbn10s_converted(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(
        HEADER + 'a,A Book,"Ann Author; Bo Writer","0-306-40615-2;978-1-86197-271-2|9780306406157",Pub,'
        f"All rights reserved,libgen,{MD5.upper()},,works/a.epub\n"
        'b,Meta,Cy,"9781861972712, 123",,,,not-a-digest,,\n',
        encoding="utf-8",
    )
    rows, warnings = read_catalogue(path)
    a, b = rows
    assert a.isbns == ["9780306406157", "9781861972712"]
    assert a.authors == ["Ann Author", "Bo Writer"] and a.md5 == MD5 and a.path == "works/a.epub"
    assert (a.rights_holder, a.license, a.source, a.where) == (
        "Pub",
        "All rights reserved",
        "libgen",
        f"{path}:2",
    )
    assert b.isbns == ["9781861972712"] and b.md5 == ""
    assert warnings == [
        f"{path}:3: '123' is not a valid ISBN-10 or ISBN-13; left out",
        f"{path}:3: md5 'not-a-digest' is not a hex md5 digest; left out",
    ]


def test_csv_exported_as_windows_1252_with_other_column_names(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(
        "ID,Title,Author,ISBN13,File\nx,Café “Noir”,Zoë Ñ,9780306406157,x.txt\n".encode("cp1252")
    )
    (row,), _ = read_catalogue(path)
    assert (row.work_id, row.title, row.authors, row.isbns, row.path) == (
        "x",
        "Café “Noir”",
        ["Zoë Ñ"],
        ["9780306406157"],
        "x.txt",
    )


def test_jsonl_with_lists_and_numbers(tmp_path):
    path = tmp_path / "c.jsonl"
    rows = [
        {"work_id": "a", "title": "A", "authors": ["Ann", "Bo"], "isbn": [9780306406157, "1861972717"]},
        {"work_id": "b", "isbns": "9781861972712", "sha256": "AB" * 32},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    (a, b), warnings = read_catalogue(path)
    assert a.authors == ["Ann", "Bo"] and a.isbns == ["9780306406157", "9781861972712"]
    assert b.isbns == ["9781861972712"] and b.sha256 == "ab" * 32 and warnings == []


def test_json_array_and_tsv(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps([{"id": "a", "title": "T"}]), encoding="utf-8")
    assert [r.work_id for r in read_catalogue(tmp_path / "c.json")[0]] == ["a"]
    (tmp_path / "c.tsv").write_text("work_id\ttitle\nb\tWith, a comma\n", encoding="utf-8")
    assert read_catalogue(tmp_path / "c.tsv")[0][0].title == "With, a comma"


def test_parquet_with_list_columns(tmp_path):
    table = pa.table(
        {
            "work_id": ["a"],
            "title": ["A"],
            "authors": [["Ann Author"]],
            "isbn": [["0306406152", "9781861972712"]],
            "md5": [MD5],
        }
    )
    pq.write_table(table, tmp_path / "c.parquet")
    (row,), warnings = read_catalogue(tmp_path / "c.parquet")
    assert row.isbns == ["9780306406157", "9781861972712"] and row.md5 == MD5
    assert row.where == f"{tmp_path / 'c.parquet'}:row 1" and warnings == []


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("c.csv", HEADER + ",No id,,,,,,,,\n", r"c\.csv:2: catalogue row has no work_id"),
        ("c.csv", HEADER + "a,One\na,Two\n", r"c\.csv:3: work_id 'a' is already used at .*c\.csv:2"),
        ("c.jsonl", '{"work_id": "a"}\n{oops\n', r"c\.jsonl:2: not a JSON object"),
        ("c.jsonl", '["a"]\n', r"c\.jsonl:1: a catalogue row must be a JSON object"),
        ("c.xlsx", "x", "unsupported type '.xlsx'"),
    ],
)
def test_bad_catalogues_are_usage_errors_naming_file_and_line(tmp_path, name, content, message):
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        read_catalogue(tmp_path / name)


def test_edition_keys_ignore_case_punctuation_notes_and_name_order():
    assert title_key("The Hobbit (2nd edition) [EPUB]") == title_key("the hobbit") == "the hobbit"
    assert author_key("Tolkien, J.R.R.") == author_key("J. R. R. Tolkien") == "tolkien"
    assert edition_key("The Hobbit", ["J. R. R. Tolkien"]) == edition_key("THE HOBBIT!", ["Tolkien, J."])
    assert edition_key("The Hobbit", []) is None
    assert edition_key("Unknown", ["Unknown"]) is None
    assert edition_key("The Hobbit", ["Tolkien"]) != edition_key("The Hobbit", ["Other"])
