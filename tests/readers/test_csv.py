"""CSV and TSV corpora: fields by header name, every bad row reported on its own, rows never lost."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.limits import Limits
from auditor.models import Record, Skipped
from auditor.readers import FieldSpec, discover_inputs, reader_for
from auditor.readers.delimited import CsvReader, QuoteTracker

Entries = list[Record | Skipped]


def read(path: Path, fields: FieldSpec | None = None, limits: Limits | None = None) -> Entries:
    """Everything one input gives, read as a scan reads it (reader chosen by discovery)."""
    (item,), _ = discover_inputs([path])
    return list(item.reader(fields, limits).read(item.path, path.name))


def records(entries: Entries) -> list[Record]:
    return [e for e in entries if isinstance(e, Record)]


def skips(entries: Entries) -> dict[int | None, str]:
    return {e.row: e.reason for e in entries if isinstance(e, Skipped)}


def write(path: Path, data: bytes) -> Path:
    if path.name.endswith(".gz"):
        data = gzip.compress(data[:40], mtime=0) + gzip.compress(data[40:], mtime=0)  # two members
    elif path.name.endswith(".zst"):
        cctx = zstandard.ZstdCompressor()
        data = cctx.compress(data[:40]) + cctx.compress(data[40:])  # two frames
    path.write_bytes(data)
    return path


GOOD = (
    b"\xef\xbb\xbfid,text,meta.url,license,lang\r\n"
    b'007,"plain, with a comma",https://x.org/1,MIT,en\r\n'
    b'008,"quoted ""words""\r\nand a second line",,CC-BY-4.0,fr\r\n'
    b"\r\n"
    b",no id here,https://y.org/2,,de\r\n"
)


@pytest.mark.parametrize("name", ["c.csv", "c.csv.gz", "c.csv.zst"])
def test_rows_fields_ids_and_quoting(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, GOOD)
    assert reader_for(path) is CsvReader
    a, b, c = read(path)
    assert (a.id, a.text, a.url, a.license, a.row, a.meta["lang"]) == (
        "007",  # every cell is a string: the leading zeros stay
        "plain, with a comma",
        "https://x.org/1",  # a dotted column name is a plain column name
        "MIT",
        1,
        "en",
    )
    assert (b.id, b.text, b.url, b.license, b.row) == (
        "008",
        'quoted "words"\r\nand a second line',  # a cell over two lines, its line end as written
        None,
        "CC-BY-4.0",
        2,
    )
    assert (c.id, c.text, c.row) == (f"{name}:3", "no id here", 3)  # the blank line is not a row


def test_tsv_and_named_fields(tmp_path: Path) -> None:
    data = b'key\tbody\tsrc\tlic\nk1\talpha words\thttps://a.b/\tMIT\nk2\t"tab\tinside"\t\t\n'
    for name in ("c.tsv", "c.tsv.gz"):
        path = write(tmp_path / name, data)
        out = read(path, FieldSpec(text="body", id="key", url="src", license="lic"))
        assert [(r.id, r.text, r.url, r.license, r.row) for r in records(out)] == [
            ("k1", "alpha words", "https://a.b/", "MIT", 1),
            ("k2", "tab\tinside", None, None, 2),
        ]


def test_bad_rows_are_skipped_with_reasons_and_the_rest_read(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.csv",
        b"id,text\n"
        b"a,fine\n"  # row 1
        b"b,two,three\n"  # 2: a cell too many
        b"c\n"  # 3: a cell too few
        b"d,caf\xe9 latin-1\n"  # 4: not UTF-8
        b"e,nul \x00 byte\n"  # 5
        b'f,"closed"then more\n'  # 6: text after a closing quote
        b"g,   \n"  # 7: empty text
        b"h,bare\rcarriage return\n"  # 8
        b'i,"spans\nthree\nlines"\n'  # 9
        b"j,last row, no newline",  # 10: three cells
    )
    out = read(path)
    assert [(r.id, r.row) for r in records(out)] == [("a", 1), ("i", 9)]
    reasons = skips(out)
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 8, 10]
    assert reasons[2] == "wrong number of cells: 3, but the header has 2 columns (line 3)"
    assert reasons[3] == "wrong number of cells: 1, but the header has 2 columns (line 4)"
    assert reasons[4] == "invalid UTF-8 at byte 5 of the row"
    assert reasons[5] == "raw NUL byte in the row: binary data, not CSV"
    assert reasons[6].startswith("malformed CSV: ',' expected after '\"' (line 7)")
    assert reasons[7] == "empty text"
    assert reasons[8].startswith("malformed CSV: a carriage return inside an unquoted cell")
    assert reasons[10] == "wrong number of cells: 3, but the header has 2 columns (line 13)"


def test_an_unclosed_quote_says_so(tmp_path: Path) -> None:
    path = write(tmp_path / "open.csv", b'id,text\n1,good\n2,"never closed\n3,more\n')
    out = read(path)
    assert [r.id for r in records(out)] == ["1"]
    assert skips(out) == {
        2: "malformed CSV: unexpected end of data: an unclosed quote? the row runs from line 3 to the end "
        "(line 4)"
    }


@pytest.mark.parametrize("name", ["long.csv", "long.csv.gz"])
def test_rows_over_the_limit_are_skipped_to_their_end_without_being_held(tmp_path: Path, name: str) -> None:
    huge = b"x" * 5000
    path = write(
        tmp_path / name,
        b"id,text\n"
        b"a,short\n"
        b"b," + huge + b"\n"  # row 2: one line over the limit
        b'c,"many short lines\n' + b"line, with a comma\n" * 200 + b'end",\n'  # 3: a cell of 202 lines
        b"d,after\n"
        b'e,"' + huge + b'\n"",quoted"" line\n' + huge + b'"\n'  # 5: quotes inside, three lines
        b"f,last\n",
    )
    out = read(path, limits=Limits(max_record_bytes=1000))
    assert [(r.id, r.row) for r in records(out)] == [("a", 1), ("d", 4), ("f", 6)]
    reasons = skips(out)
    assert sorted(reasons) == [2, 3, 5]
    assert reasons[2].startswith("row too long: 5,003 bytes (line 3), over the --max-record-size limit")
    assert reasons[3].startswith("row too long: ") and "(lines 4-205)" in reasons[3]
    assert reasons[3].endswith("skipped to its end")
    assert "(lines 207-209)" in reasons[5]


def test_an_unclosed_quote_over_the_limit_runs_to_the_end(tmp_path: Path) -> None:
    path = write(tmp_path / "open.csv", b'id,text\n1,ok\n2,"open\n' + b"filler line\n" * 200)
    out = read(path, limits=Limits(max_record_bytes=500))
    assert [r.id for r in records(out)] == ["1"]
    (reason,) = skips(out).values()
    assert "an unclosed quote? the row runs to the end of the file" in reason


@pytest.mark.parametrize(
    ("data", "fields", "expected"),
    [
        (b"words,id\nsome,1\n", None, "wrong schema: no text column (text / content"),
        (b"text,id\nsome,1\n", FieldSpec(text="body"), "wrong schema: no column 'body' (--text-field)"),
        (b"te\xffxt,id\nsome,1\n", None, "cannot read the header: invalid UTF-8 at byte 2"),
        (b"text,id\n", None, "no records: the file has a header and no rows"),
        (b"", None, "no records: the file is empty"),
        (b"\n\n", None, "no records: the file is empty"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, None, "content/extension mismatch: binary data"),
    ],
)
def test_file_level_problems_are_one_skip(tmp_path: Path, data: bytes, fields, expected: str) -> None:
    out = read(write(tmp_path / "f.csv", data), fields)
    assert not records(out)
    assert list(skips(out)) == [None]
    assert skips(out)[None].startswith(expected)


def test_duplicate_column_names_use_the_first_and_say_so(tmp_path: Path) -> None:
    out = read(write(tmp_path / "d.csv", b"text,x,text,x\nfirst,1,second,2\n"))
    (rec,) = records(out)
    assert rec.text == "first"
    assert skips(out) == {
        None: "duplicate column names in the header ('text' in columns 1, 3); the first column of each "
        "name is used"
    }


def test_a_truncated_gzip_keeps_the_rows_before_the_cut(tmp_path: Path) -> None:
    data = b"id,text\n" + b"".join(b"%d,record number %d\n" % (i, i) for i in range(3000))
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(data)[:-300])
    out = read(path)
    assert 0 < len(records(out)) < 3000
    last = out[-1]
    assert isinstance(last, Skipped) and last.row is None
    assert last.reason.startswith("partial: truncated gzip stream") and "after row" in last.reason


# ---------------------------------------------------------------- the tracker agrees with the csv module


_CELLS = st.text(alphabet=st.sampled_from(list('ab ,"\n\r\t')), max_size=12)


def _lines(data: bytes) -> list[bytes]:
    """Lines as the reader splits them: on ``\n`` only, each with its newline."""
    parts = data.split(b"\n")
    return [p + b"\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _first_row_end(data: bytes) -> int | None:
    """The line on which the csv module ends the first row, or None when it runs to the end of the data."""
    lines = _lines(data)
    consumed = 0

    def feed():
        nonlocal consumed
        for line in lines:
            consumed += 1
            yield line.decode()

    try:
        next(csv.reader(feed(), strict=True))
    except csv.Error as exc:
        if str(exc) == "unexpected end of data":
            return None
    if not lines[consumed - 1].endswith(b"\n"):
        return None  # ended by the end of the data, not by a newline
    return consumed


def _quoted(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_CELLS, min_size=1, max_size=4), min_size=1, max_size=6))
def test_the_quote_tracker_ends_rows_where_the_csv_module_does(rows: list[list[str]]) -> None:
    # Rows of random cells, some written with csv's quoting and some raw (so stray quotes, bare
    # carriage returns and unclosed quotes occur): from every line on, the first row ends for the
    # tracker on the line where it ends for the csv module (the tracker is what finds the end of a
    # row too long to parse).
    text = "".join(_quoted(cells) if i % 2 == 0 else ",".join(cells) + "\n" for i, cells in enumerate(rows))
    lines = _lines(text.encode())
    for start in range(len(lines)):
        rest = b"".join(lines[start:])
        tracker = QuoteTracker(csv.excel)
        got = None
        for number, line in enumerate(_lines(rest), start=1):
            tracker.feed(line)
            if tracker.ended:
                got = number
                break
        assert got == _first_row_end(rest), rest
