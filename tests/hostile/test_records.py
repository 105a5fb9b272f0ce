"""Record-level hostile JSON Lines: every bad line is one counted skip with its row; the rest is read."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from auditor.limits import Limits
from auditor.models import Record
from auditor.readers.stream import iter_lines
from tests.hostile.conftest import jsonl, one_skip, read_input, records, skips


def test_malformed_line_is_skipped_with_its_row_and_the_rest_read(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"id": "a", "text": "one"}\n{"id": "b", "text": \n{"id": "c", "text": "three"}\n')
    out = read_input(path)
    assert [r.id for r in records(out)] == ["a", "c"]
    skip = one_skip(out)
    assert (skip.input, skip.row) == (path.as_posix(), 2) and skip.reason.startswith("malformed JSON")


@pytest.mark.parametrize("value", [[1, 2], "a string", None, 5, True])
def test_json_value_that_is_not_an_object_is_a_counted_skip(tmp_path, value):
    path = tmp_path / "c.jsonl"
    path.write_bytes(jsonl([{"text": "fine"}, value]))
    out = read_input(path)
    assert len(records(out)) == 1
    skip = one_skip(out)
    assert skip.row == 2 and skip.reason.startswith("record is not an object")


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"id": "x"}, "no text field"),
        ({"text": None}, "no text field"),
        ({"text": 12}, "is int, not a string"),
        ({"text": {"nested": "x"}}, "is dict, not a string"),
        ({"text": ["a", "b"]}, "is list, not a string"),
        ({}, "no text field"),
        ({"text": ""}, "empty text"),
        ({"text": " \n\t "}, "empty text"),
    ],
)
def test_missing_non_string_or_empty_text_is_a_counted_skip_never_str_of_it(tmp_path, row, reason):
    path = tmp_path / "c.jsonl"
    path.write_bytes(jsonl([row]))
    skip = one_skip(read_input(path))
    assert skip.row == 1 and reason in skip.reason


def test_invalid_utf8_line_is_skipped_with_the_byte_offset(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    out = read_input(path)
    skip = one_skip(out)
    assert skip.row == 2 and skip.reason == "invalid UTF-8 at byte 13 of the line"


def test_raw_nul_byte_skips_the_line_but_an_escaped_nul_is_text(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"text": "raw\x00nul"}\n' + jsonl([{"text": "escaped \u0000 nul"}]))
    out = read_input(path)
    assert one_skip(out).reason.startswith("raw NUL byte")
    assert records(out)[0].text == "escaped \x00 nul"


def test_json_escaped_lone_surrogates_survive_into_the_record(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"id": "a\\ud800", "text": "lone \\udcb2 surrogate", "url": "http://x\\udfff.org"}\n')
    (rec,) = read_input(path)
    assert isinstance(rec, Record)
    assert (rec.id, rec.text, rec.url) == ("a\ud800", "lone \udcb2 surrogate", "http://x\udfff.org")


def test_line_over_the_cap_is_skipped_and_reading_resumes_at_the_next_line(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"text": "' + b"a" * 300_000 + b'"}\n{"id": "after", "text": "fine"}\n')
    out = read_input(path, limits=Limits(max_record_bytes=100_000))
    assert [r.id for r in records(out)] == ["after"]
    skip = one_skip(out)
    assert (
        skip.row == 1 and "line too long: 300,012 bytes" in skip.reason and "--max-record-size" in skip.reason
    )


class _Endless:
    """A stream of ``total`` bytes of one letter, then one short JSON line: never all in memory."""

    def __init__(self, total: int) -> None:
        self.left = total
        self.tail = b'\n{"text": "after"}\n'

    def read(self, size: int = -1) -> bytes:
        if self.left:
            n = min(self.left, size)
            self.left -= n
            return b"a" * n
        tail, self.tail = self.tail, b""
        return tail


def test_a_huge_line_is_never_buffered():
    tracemalloc.start()
    try:
        lines = list(iter_lines(_Endless(256 << 20), cap=1 << 20))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert lines == [(1, 256 << 20), (2, b'{"text": "after"}')]
    assert peak < 8 << 20, f"peak {peak:,} bytes while skipping a 256 MiB line"


def test_last_line_without_newline_is_read(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"id": "a", "text": "one"}\n{"id": "b", "text": "two"}')
    assert [r.id for r in read_input(path)] == ["a", "b"]


def test_bom_crlf_and_blank_lines_rows_are_physical_lines(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"text": "one"}\r\n\r\n   \n{"text": "four"}\r\n\n')
    out = read_input(path)
    assert [(r.row, r.text) for r in records(out)] == [(1, "one"), (4, "four")]
    assert skips(out) == []


def test_deeply_nested_json_is_a_skip_not_a_recursion_crash(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b"[" * 200_000 + b"\n" + jsonl([{"text": "ok"}]))
    out = read_input(path)
    assert one_skip(out).reason.startswith("malformed JSON") and len(records(out)) == 1


def test_integer_with_too_many_digits_is_a_skip_not_a_crash(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"text": "x", "n": ' + b"9" * 5000 + b"}\n")
    assert one_skip(read_input(path)).reason.startswith("malformed JSON")


def test_duplicate_keys_last_wins(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"text": "first", "text": "second"}\n')
    assert records(read_input(path))[0].text == "second"


def test_duplicate_record_ids_are_reported_not_merged(tmp_path):
    path = tmp_path / "c.jsonl"
    rows = [{"id": "a", "text": "1"}, {"id": "b", "text": "2"}, {"id": "a", "text": "3"}, {"text": "4"}]
    rows += [{"id": "b", "text": "5"}]
    path.write_bytes(jsonl(rows))
    out = read_input(path)
    assert [(r.id, r.row) for r in records(out)] == [("a", 1), ("b", 2), ("a", 3), (f"{path}:4", 4), ("b", 5)]
    note = one_skip(out)
    assert note.row is None and note.reason.startswith("duplicate record ids: 2 record(s)")
    assert "row 3 repeats the id of row 1" in note.reason and "row 5 repeats the id of row 2" in note.reason


def test_metadata_with_nan_and_infinity_is_read(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"text": "x", "score": NaN, "big": 1e999}\n')
    (rec,) = read_input(path)
    assert isinstance(rec, Record) and rec.meta["big"] == float("inf")


def test_counts_add_up_for_a_file_of_every_kind_of_bad_line(run_scan, tmp_path):
    path = tmp_path / "mixed.jsonl"
    good = [{"id": f"g{i}", "text": f"good record number {i}"} for i in range(5)]
    path.write_bytes(
        jsonl(good[:2])
        + b"{broken\n[1]\n"
        + b'{"text": "caf\xe9"}\n{"text": "nul\x00"}\n{"text": 3}\n'
        + jsonl(good[2:])
    )
    run = run_scan(path)
    (summary,) = run.report["inputs"]
    lines = 10
    assert summary["records"] == 5 and summary["skipped"] == 5
    assert summary["records"] + summary["skipped"] == lines
    assert run.report["summary"]["records_scanned"] == 5
    assert run.report["summary"]["records_skipped"] == 5
    assert [s["row"] for s in run.report["skipped"]] == [3, 4, 5, 6, 7]
    assert json.loads(json.dumps(run.report)) == run.report
