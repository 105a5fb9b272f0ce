"""Arrow IPC corpora (file and stream formats, Feather 2): read in the sandbox, validated, never lost."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pytest

from auditor.limits import Limits
from auditor.models import Record, Skipped
from auditor.readers import FieldSpec, discover_inputs, parquet, reader_for
from auditor.readers.arrow import ArrowReader
from auditor.readers.parquet import BATCH_ROWS, ParquetSandbox

Entries = list[Record | Skipped]


def read(path: Path, fields: FieldSpec | None = None, limits: Limits | None = None) -> Entries:
    """Everything one input gives, read as a scan reads it (reader chosen by discovery)."""
    (item,), _ = discover_inputs([path])
    return list(item.reader(fields, limits).read(item.path, path.name))


def records(entries: Entries) -> list[Record]:
    return [e for e in entries if isinstance(e, Record)]


def skips(entries: Entries) -> list[Skipped]:
    return [e for e in entries if isinstance(e, Skipped)]


def write_ipc(
    path: Path, table: pa.Table, fmt: str = "file", chunk: int | None = None, **options: Any
) -> Path:
    opts = pa.ipc.IpcWriteOptions(**options)
    writer = (pa.ipc.new_file if fmt == "file" else pa.ipc.new_stream)(path, table.schema, options=opts)
    with writer:
        writer.write_table(table, max_chunksize=chunk)
    return path


TABLE = pa.table(
    {
        "id": ["007", None, "x9"],
        "text": ["first text", "second text", "third text"],
        "meta": [
            {"url": "https://a.org/1", "license": "MIT"},
            {"url": None, "license": "CC-BY-4.0"},
            {"url": "https://libgen.is/b", "license": None},
        ],
    }
)


@pytest.mark.parametrize(
    ("name", "fmt", "options"),
    [
        ("c.arrow", "file", {}),
        ("c.arrows", "stream", {}),
        ("c.ipc", "file", {"compression": "zstd"}),
        ("c.arrow", "stream", {"compression": "lz4"}),  # the format is told by content, not by name
    ],
)
def test_files_and_streams_fields_ids_and_dotted_struct_fields(tmp_path: Path, name, fmt, options) -> None:
    path = write_ipc(tmp_path / name, TABLE, fmt, chunk=2, **options)
    assert reader_for(path) is ArrowReader
    out = read(path)
    assert [(r.id, r.text, r.url, r.license, r.row) for r in out] == [
        ("007", "first text", "https://a.org/1", "MIT", 1),
        (f"{name}:2", "second text", None, "CC-BY-4.0", 2),
        ("x9", "third text", "https://libgen.is/b", None, 3),
    ]


def test_feather_v2_and_named_fields(tmp_path: Path) -> None:
    table = pa.table(
        {"body": ["alpha", "beta"], "key": ["k1", "k2"], "src": [{"u": "https://a.b"}, {"u": None}]}
    )
    path = tmp_path / "c.feather"
    feather.write_feather(table, path)  # LZ4-compressed IPC file by default
    out = read(path, FieldSpec(text="body", id="key", url="src.u"))
    assert [(r.id, r.text, r.url, r.row) for r in out] == [
        ("k1", "alpha", "https://a.b", 1),
        ("k2", "beta", None, 2),
    ]


def test_text_in_a_struct_dictionary_and_large_string_columns(tmp_path: Path) -> None:
    table = pa.table(
        {
            "doc": [{"body": "inside a struct"}, {"body": "again"}],
            "cat": pa.array(["a", "b"]).dictionary_encode(),
            "big": pa.array(["large one", "large two"], pa.large_string()),
        }
    )
    path = write_ipc(tmp_path / "s.arrow", table)
    assert [r.text for r in read(path, FieldSpec(text="doc.body"))] == ["inside a struct", "again"]
    assert [r.text for r in read(path, FieldSpec(text="cat"))] == ["a", "b"]
    assert [r.text for r in read(path, FieldSpec(text="big"))] == ["large one", "large two"]


def test_rows_are_numbered_across_batches_of_any_size(tmp_path: Path) -> None:
    n = 2 * BATCH_ROWS + 500
    table = pa.table({"id": [f"r{i}" for i in range(n)], "text": [f"text {i}" for i in range(n)]})
    for fmt in ("file", "stream"):
        path = write_ipc(tmp_path / f"big-{fmt}.arrow", table, fmt, chunk=n)  # one batch, sliced to send
        out = read(path)
        assert [(r.id, r.row) for r in out] == [(f"r{i}", i + 1) for i in range(n)]


def test_bad_rows_and_over_long_text_are_row_skips(tmp_path: Path) -> None:
    table = pa.table({"text": ["fine", None, "   ", "x" * 3000, "last"], "id": ["a", "b", "c", "d", "e"]})
    out = read(write_ipc(tmp_path / "r.arrow", table), limits=Limits(max_record_bytes=1000))
    assert [r.id for r in records(out)] == ["a", "e"]
    reasons = {s.row: s.reason for s in skips(out)}
    assert reasons[2].startswith("no text field")
    assert reasons[3] == "empty text"
    assert reasons[4].startswith("text too long: 3,000 characters, over the --max-record-size limit")


@pytest.mark.parametrize(
    ("table", "fields", "expected"),
    [
        ({"words": ["a"]}, None, "wrong schema: no text column (text / content"),
        ({"text": [1, 2]}, None, "wrong schema: text column 'text' is int64, not a string"),
        ({"text": [b"bytes"]}, None, "text column 'text' is binary"),
        ({"text": ["a"]}, FieldSpec(text="body"), "wrong schema: no column 'body' (--text-field)"),
    ],
)
def test_wrong_schema_is_one_file_level_skip(tmp_path: Path, table, fields, expected) -> None:
    (skip,) = read(write_ipc(tmp_path / "w.arrow", pa.table(table)), fields)
    assert isinstance(skip, Skipped) and skip.row is None
    assert skip.reason.startswith("wrong schema: ") and expected in skip.reason


def test_empty_inputs_say_so(tmp_path: Path) -> None:
    (tmp_path / "zero.arrow").write_bytes(b"")
    no_batches = write_ipc(tmp_path / "nobatch.arrow", pa.table({"text": pa.array([], pa.string())}))
    for path in (tmp_path / "zero.arrow", no_batches):
        (skip,) = read(path)
        assert skip.row is None and skip.reason == "no records: the file is empty"


def _good(tmp_path: Path, rows: int = 3000) -> bytes:
    table = pa.table({"id": [f"r{i}" for i in range(rows)], "text": [f"row {i} words" for i in range(rows)]})
    return write_ipc(tmp_path / "good.arrow", table, chunk=1000).read_bytes()


def test_a_truncated_file_keeps_the_batches_before_the_cut(tmp_path: Path) -> None:
    data = _good(tmp_path)
    path = tmp_path / "cut.arrow"
    path.write_bytes(data[: len(data) // 2])
    out = read(path)
    assert [r.row for r in records(out)] == list(range(1, 1001))
    (skip,) = skips(out)
    assert skip.row is None
    assert skip.reason.startswith("partial: damaged Arrow file: no valid footer, a truncated copy?")
    assert skip.reason.endswith("stopped after row 1000, the rest of the file is not read")


def test_invalid_arrow_data_is_refused_by_full_validation_never_read(tmp_path: Path) -> None:
    # A second batch whose string offsets point a megabyte past its data: reading its values would read
    # outside the buffer, so full validation refuses it first and the rows before it are kept.
    good = pa.array(["row a words", "row b words", "row c words"])
    offsets = pa.py_buffer(np.array([0, 5, 1_000_000, 15], dtype=np.int32).tobytes())
    bad = pa.Array.from_buffers(pa.string(), 3, [None, offsets, good.buffers()[2]])
    path = tmp_path / "bad.arrow"
    with pa.ipc.new_file(path, pa.schema([("text", pa.string())])) as writer:
        writer.write_batch(pa.record_batch({"text": good}))
        writer.write_batch(pa.record_batch({"text": bad}))
    out = read(path)
    assert [r.text for r in records(out)] == ["row a words", "row b words", "row c words"]
    (skip,) = skips(out)
    assert skip.row is None
    assert skip.reason.startswith("partial: ArrowInvalid: In column 0: Invalid: Offset invariant failure")
    assert skip.reason.endswith("stopped after row 3, the rest of the file is not read")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"id,text\n1,hello\n", "content/extension mismatch: text, not an Arrow IPC file or stream"),
        (b"\x1f\x8b\x08\x00" + b"\x00" * 60, "content/extension mismatch: not an Arrow IPC file or stream"),
        (b"FEA1" + b"\x00" * 60, "Feather version 1 (the legacy format) is not read; convert it"),
        (bytes(range(256)) * 8, "cannot read Arrow: "),
    ],
)
def test_what_is_not_arrow_is_one_clear_skip(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "x.arrow"
    path.write_bytes(content)
    (skip,) = read(path)
    assert skip.row is None and skip.reason.startswith(expected)


def test_arrow_data_under_another_name_is_read_as_arrow(tmp_path: Path) -> None:
    path = tmp_path / "misnamed.jsonl"
    path.write_bytes(write_ipc(tmp_path / "a.arrow", TABLE).read_bytes())
    (item,), _ = discover_inputs([path])
    assert item.reader is ArrowReader
    assert len(read(path)) == 3


def test_a_crash_inside_the_arrow_library_costs_one_file(monkeypatch, tmp_path: Path) -> None:
    crash = ParquetSandbox(
        [
            sys.executable,
            "-c",
            "import os, signal, sys; sys.stdin.buffer.readline(); os.kill(os.getpid(), signal.SIGSEGV)",
        ]
    )
    monkeypatch.setattr(parquet, "_SANDBOX", crash)
    path = write_ipc(tmp_path / "a.arrow", TABLE)
    (skip,) = read(path)
    assert skip.reason == "cannot read Arrow: the Arrow reader crashed (killed by SIGSEGV)"
    crash.close()


def test_reading_in_this_process_gives_the_same_records(tmp_path: Path) -> None:
    path = write_ipc(tmp_path / "a.arrows", TABLE, "stream")
    reader = ArrowReader()
    reader.isolated = False
    assert list(reader.read(path, "a.arrows")) == read(path)
