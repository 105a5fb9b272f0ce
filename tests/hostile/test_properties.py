"""Properties: any record round-trips through the readers; any Unicode survives every reporter."""

from __future__ import annotations

import gzip
import io
import json
import re
import tempfile
from pathlib import Path
from unittest import mock

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from auditor.models import (
    AuditResult,
    Evidence,
    Finding,
    InputSummary,
    RecordRef,
    Score,
    Severity,
    Skipped,
    Span,
    WorkRef,
)
from auditor.readers import stream
from auditor.readers.parquet import ParquetReader
from auditor.readers.stream import iter_lines
from auditor.report import build_report
from auditor.reporters import REPORTERS, get_reporter, write_report
from tests.hostile.conftest import read_input

PAIRED_SURROGATES = re.compile("[\ud800-\udbff][\udc00-\udfff]")
ANY_TEXT = st.text(
    st.one_of(
        st.characters(exclude_categories=()),
        st.sampled_from(["\udcb2", "\ud800", "\x00", "\u202e", "\ufeff", "\n", "\r", "\u2028", '"', "\\"]),
    ),
    max_size=30,
)
VALID_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), VALID_TEXT)
KEYS = st.text("abcdefghij_", min_size=1, max_size=6).filter(lambda k: k not in ("text", "id"))
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _compress(data: bytes, codec: str) -> bytes:
    if codec == "gz":
        return gzip.compress(data, mtime=0)
    if codec == "zst":
        return zstandard.ZstdCompressor().compress(data)
    return data


@SETTINGS
@given(
    text=ANY_TEXT,
    rec_id=st.one_of(ANY_TEXT, st.integers()),
    meta=st.dictionaries(KEYS, SCALARS, max_size=4),
    codec=st.sampled_from(["", "gz", "zst"]),
    ascii_only=st.booleans(),
)
def test_any_json_object_round_trips_through_the_jsonl_reader(text, rec_id, meta, codec, ascii_only):
    # JSON cannot keep a high and a low surrogate apart: read back, "\ud800\udcb2" is one code point.
    assume(not PAIRED_SURROGATES.search(text + str(rec_id)))
    has_surrogate = any("\ud800" <= ch <= "\udfff" for ch in text + str(rec_id))
    obj = {"id": rec_id, "text": text, **meta}
    line = json.dumps(obj, ensure_ascii=ascii_only or has_surrogate).encode("utf-8")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"c.jsonl{'.' + codec if codec else ''}"
        path.write_bytes(_compress(b'{"text": "first"}\n' + line + b"\n", codec))
        entries = read_input(path)
    first, second = entries[0], entries[1]
    assert first.text == "first"
    if not text.strip():
        assert isinstance(second, Skipped) and second.reason == "empty text"
        return
    assert second.text == text and second.row == 2
    assert second.id == (str(rec_id) if str(rec_id) != "" else f"{path.as_posix()}:2")
    assert dict(second.meta) == {"id": rec_id, **meta}


@SETTINGS
@given(texts=st.lists(VALID_TEXT, min_size=1, max_size=5), ids=st.lists(VALID_TEXT, min_size=5, max_size=5))
def test_any_unicode_round_trips_through_the_parquet_reader(texts, ids):
    table = pa.table({"id": ids[: len(texts)], "text": texts})
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.parquet"
        pq.write_table(table, path)
        inline = list(_inline_reader().read(path, "c.parquet"))
        sandboxed = list(ParquetReader().read(path, "c.parquet")) if len(texts) < 3 else inline
    assert inline == sandboxed
    for row, (text, entry) in enumerate(zip(texts, inline, strict=False), start=1):
        if text.strip():
            assert (entry.text, entry.row) == (text, row)
        else:
            assert isinstance(entry, Skipped) and entry.row == row


def _inline_reader() -> ParquetReader:
    reader = ParquetReader()
    reader.isolated = False
    return reader


class _Chunks(io.RawIOBase):
    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data, self.sizes, self.pos = data, sizes, 0

    def read(self, size: int = -1) -> bytes:
        step = self.sizes[self.pos % len(self.sizes)] if self.sizes else size
        chunk = self.data[: max(1, step)]
        self.data = self.data[len(chunk) :]
        self.pos += 1
        return chunk


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=400).map(lambda b: b.replace(b"\r", b"\n"))
    | st.lists(st.sampled_from([b"\n", b"\n\n\n", b"a", b"abc" * 30]), max_size=60).map(b"".join),
    sizes=st.lists(st.integers(1, 50), max_size=5),
    cap=st.integers(1, 60) | st.integers(80, 200),
    first=st.integers(0, 30),
    row=st.integers(0, 3),
    short_line=st.sampled_from([1, 1 << 30]),
)
@example(data=b"abc\nabcd\n\nab", sizes=[], cap=3, first=0, row=0, short_line=1)
@example(data=b"abc\nabcd\n\nab", sizes=[], cap=3, first=0, row=0, short_line=1 << 30)
def test_line_splitting_matches_split_whatever_the_chunking(data, sizes, cap, first, row, short_line):
    """Whatever the chunks, lines split as ``split`` has them, whether found by find or by split
    (``_SHORT_LINE`` 1: always find; huge: split wherever a chunk holds a newline)."""
    expected = []
    pieces = data.split(b"\n")
    if pieces and pieces[-1] == b"":
        pieces.pop()
    for number, piece in enumerate(pieces, start=row + 1):
        if piece:
            expected.append((number, piece if len(piece) <= cap else len(piece)))
    with mock.patch.object(stream, "_SHORT_LINE", short_line):
        assert list(iter_lines(_Chunks(data[first:], sizes), cap, data[:first], row)) == expected


def _result(text: str, url: str) -> AuditResult:
    work = WorkRef(id=text, title=text, registry=text, isbns=(text,))
    ref = RecordRef(id=text, input=text, row=3, url=url)
    finding = Finding(
        rule_id="AUD-X-" + text,
        severity=Severity.CRITICAL,
        kind="near-duplicate",
        record=ref,
        message=text,
        work=work,
        score=Score(0.5, 0.25, 7),
        spans=(Span(0, 1, 0, 1),),
        evidence=(Evidence(text, text),),
        detail=text,
    )
    return AuditResult(
        inputs=(InputSummary(path=text, sha256="0" * 64, records=1, skipped=1, format="jsonl"),),
        registries=(),
        rule_packs=(),
        findings=(finding,),
        skipped=(Skipped(text, 2, text), Skipped(text, None, text)),
        works=(),
        sources=(),
        records_scanned=1,
        config_id="sha256:0",
        started="2026-01-01T00:00:00Z",
        finished="2026-01-01T00:00:01Z",
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=ANY_TEXT, url=ANY_TEXT)
def test_any_unicode_in_a_scan_result_survives_every_report_format_on_disk(text, url):
    report = build_report(_result(text, url), command=["auditor", "scan", text], exit_code=1)
    with tempfile.TemporaryDirectory() as folder:
        for name in REPORTERS:
            reporter = get_reporter(name)
            target = Path(folder) / reporter.filename
            write_report(target, reporter.render(report))
            assert target.stat().st_size > 0
        back = json.loads((Path(folder) / "report.json").read_text(encoding="utf-8"))
    assert back["findings"][0]["record"]["url"] in (url, json.loads(json.dumps(url)))
    assert back["skipped"][0]["reason"] == json.loads(json.dumps(text))
