"""A book's other editions in findings.parquet, as the HTML report and SARIF show them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auditor.reporters.parquet import SCHEMA, ParquetReporter
from tests.test_cli import invoke
from tests.test_editions import chapter, scan, shelf  # noqa: F401  (shelf is a fixture)

NOVEL = {"id": "novel", "title": "The Novel", "registry": "shelf", "isbns": [], "group": "novel"}
PRINT = {
    "id": "novel-pdf",
    "title": "The Novel (print edition)",
    "registry": "shelf",
    "isbns": [],
    "group": "novel",
}
PLAIN = {"id": "novel-txt", "title": "novel-txt", "registry": "shelf", "isbns": [], "group": "novel"}
EDITIONS = [
    {
        "work": PRINT,
        "kind": "near-duplicate",
        "score": {"similarity": 0.88, "record_coverage": 0.4, "matched_tokens": 290},
        "spans": [{"record_start": 5, "record_end": 900, "work_start": 7000, "work_end": 7890}],
    },
    {
        "work": PLAIN,
        "kind": "exact-duplicate",
        "score": {"similarity": 1.0, "record_coverage": 1.0, "matched_tokens": 280},
        "spans": [],
    },
]

SPAN = pa.struct(
    [
        ("record_start", pa.int64()),
        ("record_end", pa.int64()),
        ("work_start", pa.int64()),
        ("work_end", pa.int64()),
    ]
)
SCHEMA_BEFORE_EDITIONS = pa.schema(
    [
        pa.field("fingerprint", pa.string(), nullable=False),
        pa.field("rule_id", pa.string(), nullable=False),
        pa.field("severity", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("input", pa.string(), nullable=False),
        ("row", pa.int64()), ("url", pa.string()), ("work_id", pa.string()), ("work_title", pa.string()),
        ("similarity", pa.float64()), ("record_coverage", pa.float64()), ("matched_tokens", pa.int64()),
        ("spans", pa.list_(SPAN)), ("message", pa.string()),
    ]
)  # fmt: skip
"""findings.parquet's columns as CI jobs read them before the editions column was added."""


def read_parquet(data: bytes) -> pa.Table:
    return pq.ParquetFile(pa.BufferReader(data)).read(use_threads=False)


@pytest.fixture
def book_report(report_factory: Any, finding_factory: Any) -> dict[str, Any]:
    """A record copying three editions of one book (one finding), and a record copying a single one."""
    findings = [
        finding_factory(
            record_id="doc-1",
            work=NOVEL,
            score={"similarity": 0.93, "record_coverage": 0.42, "matched_tokens": 310},
            spans=[{"record_start": 0, "record_end": 910, "work_start": 100, "work_end": 1010}],
            editions=EDITIONS,
        ),
        finding_factory(record_id="doc-2", row=2, work=PRINT, message="copies the print edition"),
    ]
    works = [
        {"id": "novel", "title": "The Novel", "registry": "shelf", "coverage": 0.3, "records": 2,
         "group": "novel", "editions": [{"id": "novel-pdf", "title": "The Novel (print edition)"}]},
    ]  # fmt: skip
    return report_factory(findings, works=works)


def test_parquet_editions_column_holds_each_other_edition_with_its_own_score(book_report):
    rows = read_parquet(ParquetReporter().render(book_report)).to_pylist()
    assert rows[0]["editions"] == [
        {
            "work_id": "novel-pdf",
            "work_title": "The Novel (print edition)",
            "kind": "near-duplicate",
            "similarity": 0.88,
            "record_coverage": 0.4,
            "matched_tokens": 290,
            "spans": [{"record_start": 5, "record_end": 900, "work_start": 7000, "work_end": 7890}],
        },
        {
            "work_id": "novel-txt",
            "work_title": "novel-txt",
            "kind": "exact-duplicate",
            "similarity": 1.0,
            "record_coverage": 1.0,
            "matched_tokens": 280,
            "spans": [],
        },
    ]
    # One row is one book: the representative edition's columns are as before.
    assert (rows[0]["work_id"], rows[0]["matched_tokens"], len(rows)) == ("novel", 310, 2)
    assert rows[1]["editions"] == []


def test_parquet_existing_columns_keep_their_names_types_and_positions():
    assert SCHEMA.names[-1] == "editions"
    assert SCHEMA.remove(len(SCHEMA) - 1).equals(SCHEMA_BEFORE_EDITIONS)
    edition = SCHEMA.field("editions").type.value_type
    assert [(f.name, f.type) for f in edition] == [
        ("work_id", pa.string()),
        ("work_title", pa.string()),
        ("kind", pa.string()),
        ("similarity", pa.float64()),
        ("record_coverage", pa.float64()),
        ("matched_tokens", pa.int64()),
        ("spans", pa.list_(SPAN)),
    ]


def test_parquet_editions_of_reports_without_the_field_or_with_broken_entries(
    report_factory, finding_factory
):
    old = finding_factory(work=NOVEL)
    del old["editions"]  # a report.json from before editions were merged
    broken = finding_factory(
        row=2, work=NOVEL, editions=[None, "x", {"work": None, "kind": "near-duplicate", "score": None}]
    )
    rows = read_parquet(ParquetReporter().render(report_factory([old, broken]))).to_pylist()
    assert rows[0]["editions"] == []
    assert rows[1]["editions"] == [
        {"work_id": None, "work_title": None, "kind": "near-duplicate", "similarity": None,
         "record_coverage": None, "matched_tokens": None, "spans": []}
    ]  # fmt: skip


def test_a_scanned_epub_and_pdf_pair_shows_in_parquet(shelf, tmp_path: Path):  # noqa: F811
    report, out = scan(shelf, tmp_path, [chapter(shelf["novel"], 1)])
    (finding,) = [f for f in report["findings"] if f["editions"]]
    (edition,) = finding["editions"]
    invoke(["report", out / "report.json", "--format", "parquet", "-o", out / "findings.parquet"], 0)

    rows = read_parquet((out / "findings.parquet").read_bytes()).to_pylist()
    (row,) = [r for r in rows if r["fingerprint"] == finding["fingerprint"]]
    assert {row["work_id"], *(e["work_id"] for e in row["editions"])} == {"novel", "novel-pdf"}
    (column,) = row["editions"]
    assert column["work_id"] == edition["work"]["id"] and column["kind"] == "near-duplicate"
    assert column["matched_tokens"] == edition["score"]["matched_tokens"] > 0
    assert len(column["spans"]) == len(edition["spans"]) > 0
