"""Parquet: damaged files, crashes and hangs inside the Parquet library, and wrong schemas cost one file."""

from __future__ import annotations

import os
import signal
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auditor.limits import Limits
from auditor.readers import FieldSpec, parquet, parquet_child
from auditor.readers.parquet import ParquetReader, ParquetSandbox
from tests.hostile.conftest import one_skip, read_input, records

ROWS = 5000


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.parquet"
    texts = [f"row {i} " + "word " * 20 for i in range(ROWS)]
    pq.write_table(pa.table({"id": [f"p{i}" for i in range(ROWS)], "text": texts}), path, row_group_size=500)
    return path


def _corrupt(data: bytes, where: str) -> bytes:
    blob = bytearray(data)
    if where == "truncated":
        return bytes(blob[: len(blob) // 2])
    if where == "footer":
        for i in range(len(blob) - 200, len(blob) - 8):
            blob[i] ^= 0xFF
    elif where == "footer-length":
        blob[-8:-4] = (2**31 - 1).to_bytes(4, "little")
    elif where == "pages":
        for i in range(100, len(blob) // 2, 997):
            blob[i] ^= 0xFF
    elif where == "magic-only":
        return b"PAR1"
    return bytes(blob)


@pytest.mark.parametrize("where", ["truncated", "footer", "footer-length", "pages", "magic-only"])
def test_damaged_parquet_is_a_counted_skip_and_never_raises(tmp_path, good, where):
    path = tmp_path / f"{where}.parquet"
    path.write_bytes(_corrupt(good.read_bytes(), where))
    out = read_input(path)
    assert len(records(out)) < ROWS or where == "pages"
    problems = [e for e in out if not hasattr(e, "text")]
    assert problems, "damage must never pass silently"
    assert problems[-1].row is None
    assert problems[-1].reason.startswith(("cannot read Parquet", "partial: "))


def _script(body: str) -> list[str]:
    return [sys.executable, "-c", body]


def test_a_crash_inside_the_parquet_library_costs_one_file(monkeypatch, good):
    crash = ParquetSandbox(
        _script("import os, signal, sys; sys.stdin.buffer.readline(); os.kill(os.getpid(), signal.SIGSEGV)")
    )
    monkeypatch.setattr(parquet, "_SANDBOX", crash)
    skip = one_skip(read_input(good))
    assert skip.reason == "cannot read Parquet: the Parquet reader crashed (killed by SIGSEGV)"
    crash.close()


def test_a_crash_after_some_batches_keeps_the_rows_before_it(monkeypatch, good):
    body = f"""
import importlib.util, json, os, signal, sys
spec = importlib.util.spec_from_file_location("child", {parquet_child.__file__!r})
child = importlib.util.module_from_spec(spec); spec.loader.exec_module(child)
request = json.loads(sys.stdin.buffer.readline())
for i, (kind, payload) in enumerate(child.read_frames(request)):
    if i == 3:
        sys.stdout.buffer.flush(); os.kill(os.getpid(), signal.SIGSEGV)
    sys.stdout.buffer.write(child.frame(kind, payload))
"""
    crash = ParquetSandbox(_script(body))
    monkeypatch.setattr(parquet, "_SANDBOX", crash)
    out = read_input(good)
    assert [r.row for r in records(out)] == list(range(1, 2 * parquet.BATCH_ROWS + 1))
    skip = one_skip(out)
    assert skip.reason.startswith(
        "partial: the Parquet reader crashed (killed by SIGSEGV); stopped after row 2048"
    )
    crash.close()


def test_a_hang_inside_the_parquet_library_is_given_up_after_the_timeout(monkeypatch, good):
    hang = ParquetSandbox(_script("import sys, time; sys.stdin.buffer.readline(); time.sleep(60)"))
    monkeypatch.setattr(parquet, "_SANDBOX", hang)
    started = time.monotonic()
    skip = one_skip(read_input(good, limits=Limits(parquet_timeout=0.5)))
    assert time.monotonic() - started < 10
    assert "hung (no data for 0.5 s)" in skip.reason
    hang.close()


def test_the_real_sandbox_killed_mid_file_recovers_for_the_next_file(good):
    reader = ParquetReader()
    entries = reader.read(good, "good.parquet")
    first = next(entries)
    assert first.row == 1
    proc = parquet._SANDBOX._proc
    assert proc is not None and proc.pid != os.getpid()
    os.kill(proc.pid, signal.SIGSEGV)
    rest = list(entries)
    assert rest[-1].row is None and "crashed (killed by SIGSEGV)" in rest[-1].reason
    assert len(records(read_input(good))) == ROWS  # a new sandbox reads the next file


@pytest.mark.parametrize(
    ("table", "fields", "expected"),
    [
        ({"words": ["a"]}, None, "wrong schema: no text column (text / content"),
        ({"text": [1, 2]}, None, "wrong schema: text column 'text' is int64, not a string"),
        ({"text": [["a"], ["b"]]}, None, "text column 'text' is list<element: string>"),
        ({"text": pa.array([None, None])}, None, "text column 'text' is null"),
        ({"text": [b"bytes"]}, None, "text column 'text' is binary"),
        ({"text": ["a"]}, FieldSpec(text="body"), "wrong schema: no column 'body' (--text-field)"),
    ],
)
def test_wrong_schema_is_one_file_level_skip_naming_the_column(tmp_path, table, fields, expected):
    path = tmp_path / "w.parquet"
    pq.write_table(pa.table(table), path)
    skip = one_skip(read_input(path, fields=fields))
    assert skip.row is None and skip.reason.startswith("wrong schema: ")
    assert expected in skip.reason and "--text-field" in skip.reason


def test_text_in_a_struct_is_found_by_a_dotted_field(tmp_path):
    path = tmp_path / "s.parquet"
    pq.write_table(pa.table({"meta": [{"text": "inside", "url": "https://a.b/"}]}), path)
    (rec,) = read_input(path, fields=FieldSpec(text="meta.text"))
    assert rec.text == "inside"


def test_parquet_without_rows_is_noted_and_an_over_long_text_is_a_row_skip(tmp_path):
    empty = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"text": pa.array([], type=pa.string())}), empty)
    assert one_skip(read_input(empty)).reason.startswith("no records")
    long = tmp_path / "long.parquet"
    pq.write_table(pa.table({"text": ["short", "x" * 5000]}), long)
    out = read_input(long, limits=Limits(max_record_bytes=1000))
    assert [r.text for r in records(out)] == ["short"]
    assert one_skip(out).row == 2 and "text too long" in one_skip(out).reason


def test_a_corrupt_parquet_file_does_not_stop_the_scan(run_scan, tmp_path, good):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "a_bad.parquet").write_bytes(_corrupt(good.read_bytes(), "truncated"))
    pq.write_table(pa.table({"text": ["some words here"] * 20}), tmp_path / "c" / "b_good.parquet")
    run = run_scan(tmp_path / "c")
    assert run.code in (0, 1)
    assert run.report["summary"]["records_scanned"] == 20
    assert [s["input"].rsplit("/", 1)[1] for s in run.report["skipped"]] == ["a_bad.parquet"]
