"""Report records built by hand: a typical one, an empty one and one full of hostile text."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

RULES = [
    {
        "id": "AUD101",
        "name": "registered-work-copy",
        "severity": "critical",
        "kind": "near-duplicate",
        "description": "Record copies passages of a registered work.",
    },
    {
        "id": "AUD102",
        "name": "registered-work-exact",
        "severity": "critical",
        "kind": "exact-duplicate",
        "description": "Record is a registered work.",
    },
    {
        "id": "AUD201",
        "name": "pirate-source",
        "severity": "high",
        "kind": "source",
        "description": "Record comes from a known pirate library.",
    },
    {
        "id": "AUD301",
        "name": "non-commercial-licence",
        "severity": "medium",
        "kind": "license",
        "description": "Declared licence forbids commercial training.",
    },
    {
        "id": "AUD401",
        "name": "copyright-notice",
        "severity": "low",
        "kind": "notice",
        "description": "Record carries a publisher's copyright notice.",
    },
    {
        "id": "AUD501",
        "name": "isbn-present",
        "severity": "info",
        "kind": "isbn",
        "description": "Record names the ISBN of a registered work.",
    },
]


def make_finding(
    *,
    rule_id: str = "AUD101",
    severity: str = "critical",
    kind: str = "near-duplicate",
    record_id: str = "doc-1",
    input: str = "shards/a.jsonl",
    row: int = 1,
    url: str | None = "https://libgen.is/book/1",
    work: dict[str, Any] | None = None,
    score: dict[str, Any] | None = None,
    spans: list[dict[str, Any]] | None = None,
    evidence: list[dict[str, Any]] | None = None,
    message: str = "copies 42% of a registered work",
    detail: str = "",
    fingerprint: str | None = None,
    suppressed: Any = None,
    editions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One finding as report.json writes it."""
    return {
        "fingerprint": fingerprint or f"{rule_id}-{input}-{row}-{(work or {}).get('id', '')}"[:32],
        "rule_id": rule_id,
        "severity": severity,
        "kind": kind,
        "record": {"id": record_id, "input": input, "row": row, "url": url},
        "work": work,
        "score": score,
        "spans": spans or [],
        "evidence": evidence or [],
        "message": message,
        "detail": detail,
        "suppressed": suppressed,
        "editions": editions or [],
    }


def make_report(findings: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    """A complete report record around ``findings`` (summary counts derived from them)."""
    by_severity = dict.fromkeys(["critical", "high", "medium", "low", "info"], 0)
    for f in findings:
        by_severity[f["severity"]] += 1
    flagged = {(f["record"]["input"], f["record"]["row"]) for f in findings}
    report: dict[str, Any] = {
        "schema_version": 1,
        "tool": {"name": "auditor", "version": "0.1.0"},
        "run": {
            "started": "2026-01-02T03:04:05Z",
            "finished": "2026-01-02T03:05:06Z",
            "command": ["auditor", "scan", "corpus/", "-r", "reg/", "-o", "out/", "--fail-on", "high"],
            "config_id": "5ng_14bs_8hs_xx64",
        },
        "registries": [
            {"name": "books", "digest": "sha256:" + "ab" * 32, "works": 3, "config_id": "5ng_14bs_8hs_xx64"}
        ],
        "rule_packs": [{"name": "default", "digest": "sha256:" + "cd" * 32}],
        "rules": copy.deepcopy(RULES),
        "inputs": [
            {"path": "shards/a.jsonl", "sha256": "11" * 32, "format": "jsonl", "records": 40, "skipped": 1},
            {
                "path": "shards/b.parquet",
                "sha256": "22" * 32,
                "format": "parquet",
                "records": 60,
                "skipped": 0,
            },
            {
                "path": "shards/broken.jsonl.gz",
                "sha256": "33" * 32,
                "format": "jsonl",
                "records": 0,
                "skipped": 0,
            },
        ],
        "summary": {
            "records_scanned": 100,
            "records_skipped": 1,
            "inputs_skipped": 1,
            "records_flagged": len(flagged),
            "by_severity": by_severity,
            "exit_code": 1 if by_severity["critical"] or by_severity["high"] else 0,
        },
        "findings": findings,
        "sources": [],
        "works": [],
        "skipped": [
            {"input": "shards/a.jsonl", "row": 7, "reason": "invalid JSON at column 12"},
            {"input": "shards/broken.jsonl.gz", "row": None, "reason": "truncated gzip stream"},
        ],
    }
    report.update(overrides)
    return report


WORK_A = {
    "id": "isbn-9780000000001",
    "title": "The Long Winter",
    "registry": "books",
    "isbns": ["9780000000001"],
}
WORK_B = {"id": "grey-sea", "title": "A Grey Sea", "registry": "books", "isbns": []}


def sample_findings() -> list[dict[str, Any]]:
    return [
        make_finding(
            record_id="doc-1",
            row=3,
            work=WORK_A,
            score={"similarity": 0.93, "record_coverage": 0.42, "matched_tokens": 310},
            spans=[
                {"record_start": 120, "record_end": 980, "work_start": 10400, "work_end": 11260},
                {"record_start": 1200, "record_end": 1500, "work_start": 20000, "work_end": 20300},
            ],
            evidence=[
                {
                    "record_text": "It was the coldest winter anyone could remember. " * 40,
                    "work_text": "It was the coldest winter anyone could remember.",
                },
                {"record_text": "The snow came in October.", "work_text": None},
            ],
        ),
        make_finding(
            rule_id="AUD102",
            kind="exact-duplicate",
            record_id="shards/b.parquet:5",
            input="shards/b.parquet",
            row=5,
            url=None,
            work=WORK_B,
            score={"similarity": 1.0, "record_coverage": 1.0, "matched_tokens": 5000},
            spans=[{"record_start": 0, "record_end": 25000, "work_start": 0, "work_end": 25000}],
            evidence=[{"record_text": "The grey sea rolled.", "work_text": "The grey sea rolled."}],
            message="record is the registered work",
        ),
        make_finding(
            rule_id="AUD201",
            severity="high",
            kind="source",
            record_id="doc-1",
            row=3,
            message="record comes from libgen.is, a known pirate library",
            detail="libgen.is",
        ),
        make_finding(
            rule_id="AUD301",
            severity="medium",
            kind="license",
            record_id="doc-9",
            row=9,
            url="https://example.org/post/9?a=1&b=2",
            message="declared licence CC-BY-NC-4.0 forbids commercial training",
            detail="CC-BY-NC-4.0",
        ),
        make_finding(
            rule_id="AUD401",
            severity="low",
            kind="notice",
            record_id="doc-12",
            input="shards/b.parquet",
            row=12,
            url="http://example.org/12",
            spans=[{"record_start": 5, "record_end": 48, "work_start": None, "work_end": None}],
            evidence=[{"record_text": "© 2019 Acme Books. All rights reserved.", "work_text": None}],
            message="copyright notice of Acme Books",
            detail="© 2019 Acme Books",
        ),
        make_finding(
            rule_id="AUD501",
            severity="info",
            kind="isbn",
            record_id="doc-12",
            input="shards/b.parquet",
            row=12,
            url="http://example.org/12",
            work=WORK_A,
            message="names ISBN 9780000000001 of a registered work",
            detail="9780000000001",
            suppressed={"by": "baseline", "reason": "accepted 2026-01"},
        ),
    ]


def sample_report() -> dict[str, Any]:
    return make_report(
        sample_findings(),
        sources=[
            {"key": "libgen.is", "records": 10, "flagged": 7, "max_severity": "critical", "risk": 0.9},
            {"key": "example.org", "records": 30, "flagged": 2, "max_severity": "medium", "risk": 0.03},
            {
                "key": "shards/b.parquet",
                "records": 60,
                "flagged": 1,
                "max_severity": "critical",
                "risk": 0.0167,
            },
            {"key": "quiet.example", "records": 5, "flagged": 0, "max_severity": None, "risk": 0.0},
        ],
        works=[
            {
                "id": WORK_A["id"],
                "title": WORK_A["title"],
                "registry": "books",
                "coverage": 0.35,
                "records": 12,
            },
            {
                "id": WORK_B["id"],
                "title": WORK_B["title"],
                "registry": "books",
                "coverage": 1.0,
                "records": 1,
            },
        ],
    )


def empty_report() -> dict[str, Any]:
    return make_report(
        [],
        skipped=[],
        summary={
            "records_scanned": 0,
            "records_skipped": 0,
            "inputs_skipped": 0,
            "records_flagged": 0,
            "by_severity": dict.fromkeys(["critical", "high", "medium", "low", "info"], 0),
            "exit_code": 3,
        },
        inputs=[],
        registries=[],
        rule_packs=[],
        rules=[],
    )


SCRIPT = "<script>alert(1)</script>"
CLOSE = "</script><script>alert(2)</script>"
IMG = '"><img src=x onerror=alert(3)>'
JS_URL = "javascript:alert(4)"
TEMPLATE = "{{7*7}}{% raw %}${7*7}"
BIDI = "evil\u202egnp.exe"
SURROGATE = "lone\udcb2surrogate\ud800"
CONTROL = "nul\x00bell\x07esc\x1b[2J"
MD = "**bold** [link](https://evil.example) | pipe `tick` @someone <b>x</b> # head"
PAYLOADS = [SCRIPT, CLOSE, IMG, JS_URL, TEMPLATE, BIDI, SURROGATE, CONTROL, MD]
HOSTILE = " ".join(PAYLOADS)

HOSTILE_URLS = [
    JS_URL,
    " javascript:alert(5)",
    "JaVaScRiPt:alert(6)",
    "java\tscript:alert(7)",
    "data:text/html,<script>alert(8)</script>",
    "vbscript:msgbox(9)",
    "//evil.example/x",
    'https://evil.example/"><script>alert(10)</script>',
    "https://evil.example/\u202eexe.txt",
    "https://ok.example/path?q=1&r=<2>",
    "https://ok.example/fine?q=1&r=2",
]


def hostile_report() -> dict[str, Any]:
    work = {"id": HOSTILE, "title": HOSTILE, "registry": HOSTILE, "isbns": [HOSTILE]}
    findings = []
    for i, url in enumerate(HOSTILE_URLS):
        findings.append(
            make_finding(
                rule_id=SCRIPT,
                severity=["critical", "high", "medium", "low", "info"][i % 5],
                kind=["near-duplicate", "notice", IMG, "license", "source"][i % 5],
                record_id=HOSTILE,
                input=f"{BIDI}/{SCRIPT}:{i}.jsonl",
                row=i + 1,
                url=url,
                work=work if i % 2 == 0 else None,
                editions=[{"work": work, "kind": IMG, "score": None, "spans": []}] if i % 2 == 0 else None,
                score={"similarity": 0.5, "record_coverage": 0.25, "matched_tokens": 7},
                spans=[
                    {
                        "record_start": 0,
                        "record_end": 10,
                        "work_start": 3 if i % 2 == 0 else None,
                        "work_end": 13 if i % 2 == 0 else None,
                    }
                ],
                evidence=[{"record_text": HOSTILE * 3, "work_text": HOSTILE if i % 2 == 0 else None}],
                message=HOSTILE,
                detail=HOSTILE,
                fingerprint=f"{i:032d}",
                suppressed={HOSTILE: HOSTILE} if i == 3 else (HOSTILE if i == 4 else None),
            )
        )
    return make_report(
        findings,
        tool={"name": HOSTILE, "version": HOSTILE},
        run={
            "started": HOSTILE,
            "finished": HOSTILE,
            "command": ["auditor", "scan", HOSTILE, "--fail-on", HOSTILE],
            "config_id": HOSTILE,
        },
        registries=[{"name": HOSTILE, "digest": HOSTILE, "works": 1, "config_id": HOSTILE}],
        rule_packs=[{"name": HOSTILE, "digest": HOSTILE}],
        rules=[{"id": SCRIPT, "name": HOSTILE, "severity": "critical", "kind": IMG, "description": HOSTILE}],
        inputs=[
            {
                "path": f"{BIDI}/{SCRIPT}:0.jsonl",
                "sha256": HOSTILE,
                "format": HOSTILE,
                "records": 3,
                "skipped": 1,
            }
        ],
        sources=[
            {"key": HOSTILE, "records": 3, "flagged": 3, "max_severity": "critical", "risk": 1.0},
            {"key": JS_URL, "records": 3, "flagged": 1, "max_severity": IMG, "risk": 0.5},
        ],
        works=[
            {
                "id": HOSTILE,
                "title": HOSTILE,
                "registry": HOSTILE,
                "coverage": 0.5,
                "records": 3,
                "group": HOSTILE,
                "editions": [{"id": HOSTILE, "title": HOSTILE}],
            }
        ],
        skipped=[
            {"input": HOSTILE, "row": None, "reason": HOSTILE},
            {"input": HOSTILE, "row": 2, "reason": HOSTILE},
        ],
    )


@pytest.fixture
def report() -> dict[str, Any]:
    return sample_report()


@pytest.fixture
def empty() -> dict[str, Any]:
    return empty_report()


@pytest.fixture
def hostile() -> dict[str, Any]:
    return hostile_report()


@pytest.fixture(scope="session")
def payloads() -> list[str]:
    return list(PAYLOADS)


@pytest.fixture(scope="session")
def hostile_urls() -> list[str]:
    return list(HOSTILE_URLS)


@pytest.fixture(scope="session")
def finding_factory() -> Callable[..., dict[str, Any]]:
    return make_finding


@pytest.fixture(scope="session")
def report_factory() -> Callable[..., dict[str, Any]]:
    return make_report
