"""The reporter registry, every registered reporter on every kind of report, and atomic writing."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.errors import UsageError
from auditor.models import (
    AuditResult,
    EditionMatch,
    Evidence,
    Finding,
    InputSummary,
    PackInfo,
    RecordRef,
    RegistryInfo,
    Score,
    Severity,
    Skipped,
    SourceRisk,
    Span,
    WorkPresence,
    WorkRef,
)
from auditor.report import build_report
from auditor.reporters import REPORTERS, Reporter, get_reporter, register, write_report

EXPECTED = {
    "json": "report.json",
    "html": "report.html",
    "sarif": "report.sarif",
    "junit": "junit.xml",
    "md": "summary.md",
    "parquet": "findings.parquet",
}


def _check_output(reporter: Reporter, out: str | bytes) -> None:
    if reporter.binary:
        assert isinstance(out, bytes) and out
    else:
        assert isinstance(out, str) and out
        out.encode("utf-8")  # never a lone surrogate


def test_every_format_of_the_design_is_registered() -> None:
    assert {name: cls.filename for name, cls in REPORTERS.items()} == EXPECTED


@pytest.mark.parametrize("name", sorted(REPORTERS))
def test_every_reporter_renders_the_empty_report(name: str, empty: dict[str, Any]) -> None:
    reporter = get_reporter(name)
    _check_output(reporter, reporter.render(empty))


@pytest.mark.parametrize("name", sorted(REPORTERS))
def test_every_reporter_renders_the_hostile_report(name: str, hostile: dict[str, Any]) -> None:
    reporter = get_reporter(name)
    _check_output(reporter, reporter.render(hostile))


@pytest.mark.parametrize("name", sorted(REPORTERS))
def test_every_reporter_renders_the_sample_report_deterministically(
    name: str, report: dict[str, Any]
) -> None:
    reporter = get_reporter(name)
    first = reporter.render(report)
    _check_output(reporter, first)
    assert reporter.render(report) == first


@pytest.mark.parametrize("name", sorted(REPORTERS))
def test_every_reporter_renders_a_record_built_from_an_audit_result(name: str) -> None:
    work = WorkRef(id="w1", title="The Long Winter", registry="books", isbns=("9780000000001",), group="w1")
    other = WorkRef(id="w1-pdf", title="The Long Winter (PDF)", registry="books", group="w1")
    record = RecordRef(id="doc-1", input="a.jsonl", row=3, url="https://libgen.is/x")
    findings = (
        Finding(
            rule_id="AUD101",
            severity=Severity.CRITICAL,
            kind="near-duplicate",
            record=record,
            message="copies a registered work",
            work=work,
            score=Score(0.9, 0.4, 120),
            spans=(Span(10, 400, 1000, 1390),),
            evidence=(Evidence("record text", "work text"),),
            editions=(EditionMatch(other, "near-duplicate", Score(0.8, 0.3, 100), (Span(10, 390, 7, 380),)),),
        ),
        Finding(
            rule_id="AUD201",
            severity=Severity.HIGH,
            kind="source",
            record=record,
            message="pirate",
            detail="libgen.is",
        ),
    )
    result = AuditResult(
        inputs=(InputSummary("a.jsonl", "00" * 32, 10, 1, "jsonl"),),
        registries=(RegistryInfo("books", "sha256:ab", 1, "cfg"),),
        rule_packs=(PackInfo("default", "sha256:cd", "rules/default.yaml"),),
        findings=findings,
        skipped=(Skipped("a.jsonl", 5, "bad JSON"), Skipped("b.jsonl", None, "unreadable")),
        works=(WorkPresence(work, 0.2, 1, 390, editions=(other,)),),
        sources=(SourceRisk("libgen.is", 1, 1, Severity.CRITICAL, 1.0),),
        records_scanned=10,
        config_id="cfg",
        started="2026-01-01T00:00:00Z",
        finished="2026-01-01T00:01:00Z",
    )
    record_dict = build_report(result, command=["auditor", "scan", "a.jsonl"], exit_code=1)
    reporter = get_reporter(name)
    _check_output(reporter, reporter.render(record_dict))


def test_get_reporter_rejects_an_unknown_name_listing_the_valid_ones() -> None:
    with pytest.raises(UsageError) as err:
        get_reporter("pdf")
    message = str(err.value)
    assert "'pdf'" in message
    for name in EXPECTED:
        assert name in message
    assert err.value.exit_code == 2


def test_get_reporter_accepts_any_case() -> None:
    assert get_reporter(" HTML ").name == "html"


def test_register_refuses_a_second_reporter_under_a_taken_name() -> None:
    with pytest.raises(ValueError, match="taken"):

        @register
        class Impostor(Reporter):
            name = "json"
            filename = "x.json"

            def render(self, report: dict[str, Any]) -> str:
                return ""

    assert REPORTERS["json"].__name__ == "JsonReporter"


def test_write_report_writes_text_as_utf8_and_bytes_as_is(tmp_path: Path) -> None:
    write_report(tmp_path / "a.txt", "é\n")
    write_report(tmp_path / "b.bin", b"\x00\xff")
    assert (tmp_path / "a.txt").read_bytes() == "é\n".encode()
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\xff"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644


def test_write_report_keeps_the_previous_file_when_writing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.json"
    target.write_text("previous report")
    created: list[str] = []
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        created.extend(p.name for p in tmp_path.iterdir() if p.name != "report.json")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space left"):
        write_report(target, "new report")
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert created, "the temporary file existed when the write failed"
    assert target.read_text() == "previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_write_report_keeps_the_previous_file_when_the_rename_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.html"
    target.write_text("previous report")

    def failing_replace(src: Any, dst: Any) -> None:
        raise PermissionError("denied")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(PermissionError):
        write_report(target, "new report")
    assert target.read_text() == "previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_write_report_keeps_the_mode_of_the_file_it_replaces(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    target.write_text("old")
    target.chmod(0o600)
    write_report(target, "new")
    assert target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == 0o600


PAIRED_SURROGATES = re.compile("[\ud800-\udbff][\udc00-\udfff]")
# Any code point at all, with the troublesome ones (lone surrogates, NUL, bidi, HTML) drawn often.
ANY_TEXT = st.text(
    st.one_of(
        st.characters(exclude_categories=()),
        st.sampled_from(["\udcb2", "\ud800", "\u202e", "\x00", "\u2028", "<", "&", '"', "|", "@"]),
    ),
    max_size=40,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=ANY_TEXT, url=ANY_TEXT)
def test_reporters_survive_any_unicode(
    finding_factory: Any, report_factory: Any, text: str, url: str
) -> None:
    work = {"id": text, "title": text, "registry": text, "isbns": [text]}
    finding = finding_factory(
        rule_id=text,
        record_id=text,
        input=text,
        url=url,
        work=work,
        kind=text,
        score={"similarity": 0.5, "record_coverage": 0.5, "matched_tokens": 1},
        spans=[{"record_start": 0, "record_end": 1, "work_start": 0, "work_end": 1}],
        evidence=[{"record_text": text, "work_text": text}],
        message=text,
        detail=text,
        editions=[{"work": work, "kind": text, "score": None, "spans": []}],
    )
    report = report_factory(
        [finding],
        sources=[{"key": text, "records": 1, "flagged": 1, "max_severity": "critical", "risk": 1.0}],
        works=[
            {
                "id": text,
                "title": text,
                "registry": text,
                "coverage": 0.1,
                "records": 1,
                "group": text,
                "editions": [{"id": text, "title": text}],
            }
        ],
        skipped=[{"input": text, "row": None, "reason": text}],
    )
    for name in REPORTERS:
        reporter = get_reporter(name)
        _check_output(reporter, reporter.render(report))
    # JSON cannot keep a high and a low surrogate apart: read back, "\ud800\udcb2" is one code point.
    # Only text that was never valid Unicode has such pairs; any other string round-trips exactly.
    if not PAIRED_SURROGATES.search(text + url):
        assert json.loads(get_reporter("json").render(report)) == report
