"""Suppressions: baselines keyed on fingerprints and counts, waivers with reasons and expiry, end to end."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from auditor import cli
from auditor.errors import UsageError
from auditor.models import Finding, RecordRef, Severity, WorkRef
from auditor.suppress import Baseline, Waiver, WaiverFileError, read_baseline, read_waivers, suppress

TODAY = dt.date(2026, 1, 15)


def finding(
    rule: str = "AUD-ND-001",
    record: str = "doc-1",
    work: str | None = "work-4",
    severity: Severity = Severity.CRITICAL,
    url: str | None = None,
    input: str = "shard.jsonl",
    detail: str = "",
) -> Finding:
    return Finding(
        rule_id=rule,
        severity=severity,
        kind="near-duplicate" if work else "source",
        record=RecordRef(id=record, input=input, row=1, url=url),
        message="m",
        work=WorkRef(id=work, title="T", registry="reg") if work else None,
        detail=detail,
    )


def baseline_of(*findings: Finding) -> Baseline:
    entries: dict[str, list[Severity]] = {}
    for f in findings:
        entries.setdefault(f.fingerprint, []).append(f.severity)
    return Baseline("old/report.json", "0" * 64, {k: tuple(sorted(v)) for k, v in entries.items()})


def waiver(**fields: Any) -> Waiver:
    fields.setdefault("where", "waivers.yaml:3")
    fields.setdefault("reason", "licensed")
    fields.setdefault("approver", "Legal")
    fields.setdefault("expires", dt.date(2026, 6, 30))
    return Waiver(**fields)


def codes(outcome: Any) -> list[str]:
    return [n.code for n in outcome.notifications]


# ------------------------------------------------------------------------------------------ baselines


def test_baseline_suppresses_exactly_its_findings() -> None:
    old = [finding(record="a"), finding(record="b", rule="AUD-SRC-001", work=None, detail="libgen.is")]
    new = finding(record="c")
    out, outcome = suppress([*old, new], baseline=baseline_of(*old), today=TODAY)
    assert [f.suppressed.kind if f.suppressed else None for f in out] == ["baseline", "baseline", None]
    assert out[0].suppressed is not None and out[0].suppressed.where == "old/report.json"
    assert outcome.baseline is not None and (outcome.baseline.findings, outcome.baseline.matched) == (2, 2)
    assert codes(outcome) == []


def test_baseline_counts_repeats_of_one_fingerprint() -> None:
    """bandit #1467: one baseline entry must not hide a second finding with the same fingerprint."""
    first, second = finding(), finding()
    assert (
        first.fingerprint == second.fingerprint
    )  # same rule, input, record id and work: a duplicated record
    out, outcome = suppress([first, second], baseline=baseline_of(first), today=TODAY)
    assert [f.suppressed is not None for f in out] == [True, False]
    assert "baseline-count-exceeded" in codes(outcome)
    out, _ = suppress([first, second], baseline=baseline_of(first, second), today=TODAY)
    assert all(f.suppressed is not None for f in out)


def test_baseline_does_not_accept_a_worse_severity() -> None:
    medium = finding(severity=Severity.MEDIUM)
    out, outcome = suppress([finding(severity=Severity.CRITICAL)], baseline=baseline_of(medium), today=TODAY)
    assert out[0].suppressed is None and "baseline-severity-raised" in codes(outcome)
    out, _ = suppress([finding(severity=Severity.LOW)], baseline=baseline_of(medium), today=TODAY)
    assert out[0].suppressed is not None


def test_a_notice_in_two_records_has_two_fingerprints() -> None:
    one = finding(rule="AUD-NOT-001", record="a", work=None, detail="all_rights_reserved,no_reproduction")
    two = finding(rule="AUD-NOT-001", record="b", work=None, detail="all_rights_reserved,no_reproduction")
    assert one.fingerprint != two.fingerprint
    out, _ = suppress([one, two], baseline=baseline_of(one), today=TODAY)
    assert [f.suppressed is not None for f in out] == [True, False]


def test_unmatched_baseline_entries_are_reported() -> None:
    _, outcome = suppress([], baseline=baseline_of(finding()), today=TODAY)
    assert codes(outcome) == ["baseline-unmatched"]


def _report(findings: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schema_version": 1, "findings": findings}


def _entry(f: Finding, suppressed: Any = None) -> dict[str, Any]:
    return {
        "fingerprint": f.fingerprint,
        "rule_id": f.rule_id,
        "severity": f.severity.label,
        "record": {"id": f.record.id, "input": f.record.input, "row": 1, "url": None},
        "work": {"id": f.work.id} if f.work else None,
        "detail": f.detail,
        "suppressed": suppressed,
    }


def test_read_baseline_skips_waived_findings_and_keeps_baselined_ones(tmp_path: Path) -> None:
    a, b, c = finding(record="a"), finding(record="b"), finding(record="c")
    path = tmp_path / "report.json"
    report = _report(
        [
            _entry(a),
            _entry(b, {"kind": "waiver", "reason": "r"}),
            _entry(c, {"kind": "baseline", "reason": "r"}),
        ]
    )
    path.write_text(json.dumps(report), encoding="utf-8")
    baseline = read_baseline(path)
    assert set(baseline.entries) == {a.fingerprint, c.fingerprint} and baseline.total == 2


def test_read_baseline_keys_a_renamed_rule_under_its_new_id(tmp_path: Path) -> None:
    old = finding(rule="OLD-ND-001")
    path = tmp_path / "report.json"
    path.write_text(json.dumps(_report([_entry(old)])), encoding="utf-8")
    baseline = read_baseline(path, {"OLD-ND-001": "AUD-ND-001", "AUD-ND-001": "AUD-ND-001"})
    assert list(baseline.entries) == [finding(rule="AUD-ND-001").fingerprint]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "is not JSON"),
        (b'{"schema_version": 2, "findings": []}', "is not an auditor report.json"),
        (b"[]", "is not an auditor report.json"),
        (b'{"schema_version": 1, "findings": [{"fingerprint": "x", "severity": "high"}]}', "findings[0]"),
        (
            b'{"schema_version": 1, "findings": [{"fingerprint": "' + b"a" * 32 + b'", "severity": "bad"}]}',
            "findings[0]",
        ),
    ],
)
def test_bad_baselines_are_usage_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "report.json"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=re.escape(message)) as info:
        read_baseline(path)
    assert info.value.exit_code == 2
    with pytest.raises(UsageError, match="cannot read"):
        read_baseline(tmp_path / "missing.json")


# ------------------------------------------------------------------------------------------ waivers


@pytest.mark.parametrize(
    ("criteria", "hit"),
    [
        ({"rule": "AUD-ND-001"}, True),
        ({"rule": "AUD-ND-*"}, True),
        ({"rule": "AUD-SRC-*"}, False),
        ({"rule": "OLD-7"}, True),  # an alias of the finding's rule
        ({"work": "work-[0-9]"}, True),
        ({"work": "work-5"}, False),
        ({"source": "libgen.is"}, True),  # the URL is on a subdomain
        ({"source": "gen.is"}, False),
        ({"source": "*.libgen.is"}, True),
        ({"record": "doc-*"}, True),
        ({"input": "shards/*.jsonl"}, True),
        ({"input": "other/*"}, False),
        ({"rule": "AUD-ND-001", "work": "work-5"}, False),  # every criterion must hold
    ],
)
def test_waiver_criteria(criteria: dict[str, str], hit: bool) -> None:
    f = finding(url="https://cdn.libgen.is/book/1", input="shards/a.jsonl")
    out, outcome = suppress(
        [f], waivers=[waiver(**criteria)], today=TODAY, aliases={"AUD-ND-001": ("OLD-7",)}
    )
    assert (out[0].suppressed is not None) == hit
    assert outcome.waivers[0].matched == int(hit)


def test_waiver_by_fingerprint() -> None:
    f = finding()
    out, _ = suppress([f, finding(record="other")], waivers=[waiver(fingerprint=f.fingerprint)], today=TODAY)
    assert [x.suppressed is not None for x in out] == [True, False]
    assert out[0].suppressed is not None
    assert (out[0].suppressed.kind, out[0].suppressed.approver, out[0].suppressed.expires) == (
        "waiver",
        "Legal",
        "2026-06-30",
    )


def test_an_expired_waiver_stops_suppressing_and_is_reported() -> None:
    expired = waiver(rule="AUD-ND-001", expires=dt.date(2026, 1, 14), reason="old deal", approver="Bob")
    out, outcome = suppress([finding(), finding(record="b")], waivers=[expired], today=TODAY)
    assert all(f.suppressed is None for f in out)
    (note,) = outcome.notifications
    assert (note.level, note.code, note.where) == ("warning", "waiver-expired", "waivers.yaml:3")
    assert "expired on 2026-01-14" in note.message and "2 matching findings are reported" in note.message
    assert "Bob" in note.message and "old deal" in note.message
    assert outcome.waivers[0].expired and outcome.waivers[0].matched == 2


def test_a_waiver_is_valid_through_its_expiry_day() -> None:
    out, outcome = suppress([finding()], waivers=[waiver(rule="*", expires=TODAY)], today=TODAY)
    assert out[0].suppressed is not None
    assert codes(outcome) == ["waiver-expiring"]


def test_unused_waivers_are_noted() -> None:
    _, outcome = suppress([finding()], waivers=[waiver(rule="AUD-SRC-001")], today=TODAY)
    assert codes(outcome) == ["waiver-unused"]


def test_a_waived_finding_still_spends_its_baseline_entry() -> None:
    f = finding()
    out, outcome = suppress(
        [f, finding()],
        baseline=baseline_of(f),
        waivers=[waiver(record="nothing-*"), waiver(rule="*")],
        today=TODAY,
    )
    assert [x.suppressed.kind if x.suppressed else None for x in out] == ["waiver", "waiver"]
    assert outcome.baseline is not None and outcome.baseline.matched == 1
    assert "baseline-count-exceeded" in codes(outcome)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "waivers.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_read_waivers(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "version: 1\nwaivers:\n  - rule: AUD-SRC-*\n    source: WWW.LibGen.is\n"
        "    reason: '  licensed\n      deal'\n    approver: Legal\n    expires: 2026-06-30\n",
    )
    (w,) = read_waivers(path)
    assert (w.rule, w.source, w.reason, w.expires, w.where) == (
        "AUD-SRC-*",
        "libgen.is",
        "licensed deal",
        dt.date(2026, 6, 30),
        f"{path}:3",
    )


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "version: 1\nwaivers:\n  - rule: AUD-X-1\n    approver: a\n    expires: 2026-01-01\n",
            3,
            "has no 'reason'",
        ),
        (
            "version: 1\nwaivers:\n  - reason: r\n    approver: a\n    expires: 2026-01-01\n",
            3,
            "must say what it matches",
        ),
        (
            "version: 1\nwaivers:\n  - rule: X-1\n    reason: r\n    approver: a\n    expires: soon\n",
            6,
            "expires must be a date",
        ),
        (
            "version: 1\nwaivers:\n  - rule: x-1\n    reason: r\n    approver: a\n    expires: 2026-01-01\n",
            3,
            "is not a rule id",
        ),
        (
            "version: 1\nwaivers:\n  - rule: X-1\n    resaon: r\n    approver: a\n    expires: 2026-01-01\n",
            4,
            "did you mean 'reason'",
        ),
        (
            "version: 1\nwaivers:\n  - source: http://a.b/c\n    reason: r\n    approver: a\n"
            "    expires: 2026-01-01\n",
            3,
            "not a host",
        ),
        ("version: 2\nwaivers: []\n", 1, "unsupported waivers file version 2"),
        ("version: 1\nwaivers: !!python/object/apply:os.system ['true']\n", 2, "unsupported YAML value"),
        ("version: 1\nwaivers:\n  - [unclosed\n", 4, "YAML error"),
        ("# nothing\n", 1, "the waivers file is empty"),
    ],
)
def test_waiver_file_errors_have_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(WaiverFileError) as info:
        read_waivers(path)
    assert info.value.exit_code == 2
    assert any(
        p.line == line and message in str(p) and str(p).startswith(f"{path}:{line}: ")
        for p in info.value.problems
    ), str(info.value)
    assert all(p.fix for p in info.value.problems)


# ------------------------------------------------------------------------------------------ end to end


def invoke(args: list[Any], code: int, capsys: pytest.CaptureFixture[str] | None = None) -> str:
    with pytest.raises(SystemExit) as exc:
        cli.main([str(a) for a in args])
    err = capsys.readouterr().err if capsys else ""
    assert exc.value.code == code, err
    return err


@pytest.fixture
def corpus_rows(words, small_works) -> list[dict[str, Any]]:
    def copy(work: str, start: int) -> str:
        return words.text(80) + " " + " ".join(small_works[work].split(" ")[start : start + 300])

    rows = [
        {"id": "copy-a", "text": copy("work-4", 700), "license": "MIT", "url": "https://news.example/a"},
        {"id": "copy-b", "text": copy("work-2", 900), "license": "MIT", "url": "https://libgen.is/b"},
    ]
    rows += [
        {"id": f"c{i}", "text": words.text(150), "license": "MIT", "url": "https://news.example/c"}
        for i in range(4)
    ]
    return rows


def _scan(tmp_path: Path, registry: Any, corpus: Path, out: str, *extra: Any, code: int) -> dict[str, Any]:
    invoke(
        ["scan", corpus, "-r", registry.path, "-o", tmp_path / out, "--workers", "1", "--quiet", *extra], code
    )
    return json.loads((tmp_path / out / "report.json").read_text(encoding="utf-8"))


def _unsuppressed(report: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((f["rule_id"], f["record"]["id"]) for f in report["findings"] if f["suppressed"] is None)


def test_a_baseline_silences_exactly_the_earlier_findings_and_no_new_ones(
    tmp_path, write_jsonl, corpus_rows, small_registry, words, small_works
):
    corpus = write_jsonl(corpus_rows)
    first = _scan(tmp_path, small_registry, corpus, "first", code=1)
    assert {("AUD-ND-001", "copy-a"), ("AUD-ND-001", "copy-b"), ("AUD-SRC-001", "copy-b")} <= set(
        _unsuppressed(first)
    )

    again = _scan(
        tmp_path, small_registry, corpus, "again", "--baseline", tmp_path / "first" / "report.json", code=0
    )
    assert _unsuppressed(again) == []
    assert len(again["findings"]) == len(first["findings"])  # kept, marked
    assert all(f["suppressed"]["kind"] == "baseline" for f in again["findings"])
    summary = again["summary"]
    assert sum(summary["by_severity"].values()) == 0 and summary["records_flagged"] == 0
    assert summary["suppressed"]["baseline"] == len(first["findings"])
    assert again["suppressions"]["baseline"]["matched"] == len(first["findings"])
    assert all(s["flagged"] == 0 and s["risk"] == 0 for s in again["sources"])

    planted = " ".join(small_works["work-6"].split(" ")[1200:1500])
    grown = [*corpus_rows, {"id": "new-copy", "text": words.text(50) + " " + planted, "license": "MIT"}]
    corpus = write_jsonl(grown)
    later = _scan(
        tmp_path, small_registry, corpus, "later", "--baseline", tmp_path / "first" / "report.json", code=1
    )
    assert _unsuppressed(later) == [("AUD-ND-001", "new-copy")]
    (new,) = [f for f in later["findings"] if f["suppressed"] is None]
    assert new["work"]["id"] == "work-6"
    assert later["summary"]["by_severity"]["critical"] == 1


def test_a_baseline_with_one_finding_does_not_hide_a_second_with_the_same_fingerprint(
    tmp_path, write_jsonl, corpus_rows, small_registry
):
    corpus = write_jsonl(corpus_rows)
    _scan(tmp_path, small_registry, corpus, "first", code=1)
    # the same record id in the same shard, copying work-4 again
    duplicated = [*corpus_rows, dict(corpus_rows[0])]
    corpus = write_jsonl(duplicated)
    report = _scan(
        tmp_path, small_registry, corpus, "dup", "--baseline", tmp_path / "first" / "report.json", code=1
    )
    copies = [f for f in report["findings"] if f["rule_id"] == "AUD-ND-001" and f["record"]["id"] == "copy-a"]
    assert len(copies) == 2 and copies[0]["fingerprint"] == copies[1]["fingerprint"]
    assert sorted(f["suppressed"] is None for f in copies) == [False, True]
    assert "baseline-count-exceeded" in [n["code"] for n in report["notifications"]]


def test_waivers_suppress_until_they_expire_and_are_reported_after(
    tmp_path, write_jsonl, corpus_rows, small_registry, capsys
):
    corpus = write_jsonl([r for r in corpus_rows if r["id"] != "copy-a"])
    body = (
        "version: 1\nwaivers:\n"
        "  - rule: AUD-*\n    record: copy-b\n    reason: Licensed from the publisher.\n"
        "    approver: Legal, J. Doe\n    expires: {expires}\n"
    )
    active = tmp_path / "active.yaml"
    active.write_text(body.format(expires="2999-12-31"), encoding="utf-8")
    report = _scan(tmp_path, small_registry, corpus, "waived", "--waivers", active, code=0)
    assert _unsuppressed(report) == []
    assert {f["suppressed"]["kind"] for f in report["findings"]} == {"waiver"}
    assert report["findings"][0]["suppressed"] == {
        "kind": "waiver",
        "reason": "Licensed from the publisher.",
        "approver": "Legal, J. Doe",
        "expires": "2999-12-31",
        "where": f"{active}:3",
    }
    (use,) = report["suppressions"]["waivers"]
    assert use["status"] == "active" and use["matched"] == len(report["findings"]) >= 2
    assert report["notifications"] == []

    expired = tmp_path / "expired.yaml"
    expired.write_text(body.format(expires="2001-01-01"), encoding="utf-8")
    capsys.readouterr()
    invoke(
        [
            "scan",
            corpus,
            "-r",
            small_registry.path,
            "-o",
            tmp_path / "late",
            "--workers",
            "1",
            "--waivers",
            expired,
        ],
        1,
    )
    err = capsys.readouterr().err
    report = json.loads((tmp_path / "late" / "report.json").read_text(encoding="utf-8"))
    assert all(f["suppressed"] is None for f in report["findings"])
    (note,) = report["notifications"]
    assert note["code"] == "waiver-expired" and note["where"] == f"{expired}:3"
    assert report["suppressions"]["waivers"][0]["status"] == "expired"
    assert "waiver-expired" not in err and "expired on 2001-01-01" in err


def test_waiver_file_errors_exit_2_with_file_and_line(
    tmp_path, write_jsonl, corpus_rows, small_registry, capsys
):
    corpus = write_jsonl(corpus_rows)
    bad = tmp_path / "waivers.yaml"
    bad.write_text(
        "version: 1\nwaivers:\n  - rule: AUD-SRC-001\n    reason: r\n    expires: 2026-13-01\n", "utf-8"
    )
    err = invoke(
        ["scan", corpus, "-r", small_registry.path, "-o", tmp_path / "o", "--waivers", bad], 2, capsys
    )
    assert f"{bad}:3: a waiver has no 'approver'" in err
    assert f"{bad}:5: expires must be a date" in err
    assert not (tmp_path / "o").exists()


def test_bad_baseline_exits_2(tmp_path, write_jsonl, corpus_rows, small_registry, capsys):
    corpus = write_jsonl(corpus_rows)
    err = invoke(["scan", corpus, "-o", tmp_path / "o", "--baseline", tmp_path / "none.json"], 2, capsys)
    assert "--baseline" in err and "cannot read" in err
    (tmp_path / "x.json").write_text('{"findings": []}', encoding="utf-8")
    err = invoke(["scan", corpus, "-o", tmp_path / "o", "--baseline", tmp_path / "x.json"], 2, capsys)
    assert "is not an auditor report.json" in err


def test_a_waiver_of_one_edition_covers_a_finding_reported_against_another() -> None:
    from dataclasses import replace

    from auditor.models import EditionMatch, Score

    pdf = WorkRef(id="novel-pdf", title="Novel", registry="reg", group="novel")
    reported = replace(
        finding(work="novel"), editions=(EditionMatch(pdf, "near-duplicate", Score(0.9, 0.5, 100), ()),)
    )
    out, _ = suppress([reported, finding(work="other")], waivers=[waiver(work="novel-pdf")], today=TODAY)
    assert [x.suppressed is not None for x in out] == [True, False]
