"""junit.xml, summary.md and findings.parquet."""

from __future__ import annotations

import copy
import re
from typing import Any
from xml.etree import ElementTree as ET

import pyarrow as pa
import pyarrow.parquet as pq

from auditor.reporters.junit import JunitReporter
from auditor.reporters.markdown import MarkdownReporter, md
from auditor.reporters.parquet import SCHEMA, ParquetReporter


def junit(report: dict[str, Any]) -> ET.Element:
    return ET.fromstring(JunitReporter().render(report).encode("utf-8"))


def suites(root: ET.Element) -> dict[str, ET.Element]:
    return {s.get("name", ""): s for s in root.iter("testsuite")}


def test_junit_has_a_suite_per_input_and_per_source(report: dict[str, Any]) -> None:
    names = set(suites(junit(report)))
    assert {f"input: {i['path']}" for i in report["inputs"]} <= names
    assert {f"source: {s['key']}" for s in report["sources"]} <= names


def test_junit_fails_unsuppressed_findings_at_or_above_the_threshold(report: dict[str, Any]) -> None:
    by_name = suites(junit(report))
    a = by_name["input: shards/a.jsonl"]
    assert a.get("failures") == "2"  # critical AUD101 + high AUD201; medium AUD301 passes
    assert [f.get("type") for f in a.iter("failure")] == ["critical:AUD101", "high:AUD201"]
    assert by_name["input: shards/broken.jsonl.gz"].get("errors") == "1"
    assert by_name["input: shards/a.jsonl"].get("skipped") == "1"
    assert any(c.get("name") == "38 records without findings" for c in a.iter("testcase"))


def test_junit_follows_the_fail_on_of_the_command(report: dict[str, Any]) -> None:
    never = copy.deepcopy(report)
    never["run"]["command"] = ["auditor", "scan", "x", "--fail-on=never"]
    assert junit(never).get("failures") == "0"
    low = copy.deepcopy(report)
    low["run"]["command"] = ["auditor", "scan", "x", "--fail-on", "low"]
    # every unsuppressed finding but the info one, once under its input and once under its source
    assert junit(low).get("failures") == str(2 * 5)


def test_junit_totals_add_up(report: dict[str, Any]) -> None:
    root = junit(report)
    for key in ("tests", "failures", "errors", "skipped"):
        assert int(root.get(key, "")) == sum(int(s.get(key, "")) for s in root.iter("testsuite"))


def test_junit_hostile_text_stays_well_formed(hostile: dict[str, Any]) -> None:
    text = JunitReporter().render(hostile)
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "testsuites"
    assert "\x00" not in text and "\u202e" not in text
    assert "<script>" not in text


def test_markdown_summary(report: dict[str, Any]) -> None:
    text = MarkdownReporter().render(report)
    assert "**FAIL** (exit code 1)" in text
    assert "| 2 | 1 | 1 | 1 | 1 |" in text
    assert "libgen\\.is" in text and "The Long Winter" in text
    assert "info (suppressed)" in text


def test_markdown_escapes_hostile_text(hostile: dict[str, Any]) -> None:
    text = MarkdownReporter().render(hostile)
    assert "<script" not in text and "<img" not in text and "<b>" not in text
    assert "@someone" not in text
    assert "](https" not in text  # no live Markdown link from data
    assert "\u202e" not in text and "\x00" not in text
    text.encode("utf-8")
    # Every table row keeps its column count: data pipes are escaped.
    for line in text.splitlines():
        if line.startswith("| "):
            cells = re.split(r"(?<!\\)\|", line)[1:-1]
            assert len(cells) in (5, 4, 6), line


def test_markdown_escape_function() -> None:
    assert md("a|b") == "a\\|b"
    assert md("<x>&") == "&lt;x&gt;&amp;"
    assert md("[t](javascript:x)") == "\\[t\\]\\(javascript\\:x\\)"
    assert md("line\nbreak") == "line break"
    assert md("x" * 500, 10) == "x" * 9 + "…"


def test_markdown_stays_short_for_many_findings(report_factory: Any, finding_factory: Any) -> None:
    findings = [finding_factory(row=i, record_id=f"doc-{i}", message="m" * 400) for i in range(2000)]
    text = MarkdownReporter().render(report_factory(findings))
    assert len(text) < 65_536  # GitHub's comment limit
    assert "Findings (20 of 2,000, worst first)" in text


def read_parquet(data: bytes) -> pa.Table:
    # A buffer reader without threads: pyarrow 26 reading a Python file object with threads
    # sometimes aborts the interpreter at exit.
    return pq.ParquetFile(pa.BufferReader(data)).read(use_threads=False)


def test_parquet_one_flat_row_per_finding(report: dict[str, Any]) -> None:
    reporter = ParquetReporter()
    assert reporter.binary
    table = read_parquet(reporter.render(report))
    assert table.schema.equals(SCHEMA)
    rows = table.to_pylist()
    assert len(rows) == len(report["findings"])
    first = rows[0]
    assert first["rule_id"] == "AUD101" and first["severity"] == "critical"
    assert first["record_id"] == "doc-1" and first["input"] == "shards/a.jsonl" and first["row"] == 3
    assert first["work_id"] == "isbn-9780000000001" and first["work_title"] == "The Long Winter"
    assert first["similarity"] == 0.93 and first["matched_tokens"] == 310
    assert first["spans"][0] == {
        "record_start": 120,
        "record_end": 980,
        "work_start": 10400,
        "work_end": 11260,
    }
    notice = rows[4]
    assert notice["work_id"] is None and notice["similarity"] is None
    assert notice["spans"] == [{"record_start": 5, "record_end": 48, "work_start": None, "work_end": None}]


def test_parquet_empty_report_keeps_the_schema(empty: dict[str, Any]) -> None:
    table = read_parquet(ParquetReporter().render(empty))
    assert table.num_rows == 0 and table.schema.equals(SCHEMA)


def test_parquet_keeps_text_but_replaces_lone_surrogates(hostile: dict[str, Any]) -> None:
    table = read_parquet(ParquetReporter().render(hostile))
    record_id = table.column("record_id")[0].as_py()
    assert "[U+DCB2]" in record_id
    assert "<script>alert(1)</script>" in record_id and "\u202e" in record_id
