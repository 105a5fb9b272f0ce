"""A book's other editions in findings.parquet and summary.md, as the HTML report and SARIF show them."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auditor.reporters.junit import JunitReporter
from auditor.reporters.markdown import MarkdownReporter
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


def test_markdown_names_the_other_editions_under_the_finding_and_the_work(book_report):
    text = MarkdownReporter().render(book_report)
    lines = text.splitlines()
    (finding,) = [line for line in lines if "doc\\-1 \\(" in line]
    assert (
        "| The Novel<br>also matched editions: The Novel \\(print edition\\) \\(novel\\-pdf\\), novel\\-txt |"
        in finding
    )
    (work,) = [line for line in lines if line.startswith("| The Novel<br>") and "30.0 %" in line]
    assert work.startswith(
        "| The Novel<br>also matched editions: The Novel \\(print edition\\) \\(novel\\-pdf\\) | novel |"
    )
    (single,) = [line for line in lines if "doc\\-2 \\(" in line]
    assert "also matched" not in single
    assert text.count("also matched editions: ") == 2


def test_markdown_edition_names_are_escaped(report_factory, finding_factory):
    hostile = {"id": "<img src=x> @someone", "title": "[x](https://evil.example) | **b**"}
    report = report_factory(
        [finding_factory(work=NOVEL, editions=[{"work": hostile, "kind": "near-duplicate", "score": None}])],
        works=[dict(NOVEL, coverage=0.1, records=1, editions=[hostile])],
    )
    text = MarkdownReporter().render(report)
    escaped = (
        "\\[x\\]\\(https\\://evil\\.example\\) \\| \\*\\*b\\*\\* \\(&lt;img src=x&gt; @<!-- -->someone\\)"
    )
    assert text.count("also matched editions: " + escaped) == 2
    assert "<img" not in text and "](https" not in text and "@someone" not in text


def test_a_scanned_epub_and_pdf_pair_shows_in_parquet_and_markdown(shelf, tmp_path: Path):  # noqa: F811
    report, out = scan(shelf, tmp_path, [chapter(shelf["novel"], 1)])
    (finding,) = [f for f in report["findings"] if f["editions"]]
    (edition,) = finding["editions"]
    invoke(["report", out / "report.json", "--format", "parquet", "-o", out / "findings.parquet"], 0)
    invoke(["report", out / "report.json", "--format", "md", "-o", out / "summary.md"], 0)

    rows = read_parquet((out / "findings.parquet").read_bytes()).to_pylist()
    (row,) = [r for r in rows if r["fingerprint"] == finding["fingerprint"]]
    assert {row["work_id"], *(e["work_id"] for e in row["editions"])} == {"novel", "novel-pdf"}
    (column,) = row["editions"]
    assert column["work_id"] == edition["work"]["id"] and column["kind"] == "near-duplicate"
    assert column["matched_tokens"] == edition["score"]["matched_tokens"] > 0
    assert len(column["spans"]) == len(edition["spans"]) > 0

    summary = (out / "summary.md").read_text(encoding="utf-8")
    (work,) = report["works"]  # named by its best-covered edition, which may not be the finding's
    shown = {"novel": "The Novel \\(novel\\)", "novel-pdf": "The Novel \\(print edition\\) \\(novel\\-pdf\\)"}
    for other in (edition["work"], *work["editions"]):
        assert "also matched editions: " + shown[other["id"]] in summary
    assert summary.count("also matched editions: ") == 2  # the finding's row and the book's row


def test_junit_names_the_other_editions_in_the_failure_text(book_report):
    root = ET.fromstring(JunitReporter().render(book_report))
    texts = [f.text or "" for f in root.iter("failure")]
    assert any(
        "also matched editions: The Novel (print edition) (novel-pdf), novel-txt" in text for text in texts
    )
    assert all("also matched" not in text for text in texts if "doc-2" in text)
