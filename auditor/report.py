"""The report record: an AuditResult as the report.json schema every output format is built from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from auditor import __version__
from auditor.models import (
    SEVERITY_NAMES,
    AuditResult,
    Finding,
    Score,
    Severity,
    SourceRisk,
    Span,
    Suppression,
    WorkRef,
)

SCHEMA_VERSION = 1


def finding_record(finding: Finding) -> dict[str, Any]:
    """One finding as report.json writes it."""
    record = finding.record
    return {
        "fingerprint": finding.fingerprint,
        "rule_id": finding.rule_id,
        "severity": finding.severity.label,
        "kind": finding.kind,
        "record": {"id": record.id, "input": record.input, "row": record.row, "url": record.url},
        "work": _work_record(finding.work) if finding.work else None,
        "score": _score_record(finding.score) if finding.score else None,
        "spans": _span_records(finding.spans),
        "evidence": [e.as_dict() for e in finding.evidence],
        "message": finding.message,
        "detail": finding.detail,
        "suppressed": suppression_record(finding.suppressed),
        "editions": [
            {
                "work": _work_record(e.work),
                "kind": e.kind,
                "score": _score_record(e.score),
                "spans": _span_records(e.spans),
            }
            for e in finding.editions
        ],
    }


def _work_record(work: WorkRef) -> dict[str, Any]:
    return {
        "id": work.id,
        "title": work.title,
        "registry": work.registry,
        "isbns": list(work.isbns),
        "group": work.group or work.id,
    }


def _score_record(score: Score) -> dict[str, Any]:
    return {
        "similarity": round(score.similarity, 4),
        "record_coverage": round(score.record_coverage, 4),
        "matched_tokens": score.matched_tokens,
    }


def _span_records(spans: Sequence[Span]) -> list[dict[str, Any]]:
    return [
        {
            "record_start": s.record_start,
            "record_end": s.record_end,
            "work_start": s.work_start,
            "work_end": s.work_end,
        }
        for s in spans
    ]


def suppression_record(suppression: Suppression | None) -> dict[str, Any] | None:
    """A finding's ``suppressed`` value: null, or why it does not count (see docs/suppressions.md)."""
    if suppression is None:
        return None
    return {
        "kind": suppression.kind,
        "reason": suppression.reason,
        "approver": suppression.approver,
        "expires": suppression.expires,
        "where": suppression.where,
    }


def _source_records(sources: Sequence[SourceRisk]) -> list[dict[str, Any]]:
    return [
        {
            "key": s.key,
            "records": s.records,
            "flagged": s.flagged,
            "max_severity": s.max_severity.label if s.max_severity is not None else None,
            "risk": round(s.risk, 4),
        }
        for s in sources
    ]


def sort_key(finding: Finding) -> tuple[Any, ...]:
    """Findings are listed worst first, then by place, so reports are byte-stable across runs."""
    return (
        -int(finding.severity),
        finding.record.input,
        finding.record.row,
        finding.rule_id,
        finding.work.id if finding.work else "",
        finding.detail,
    )


def build_report(
    result: AuditResult,
    *,
    command: Sequence[str],
    exit_code: int,
    rules: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """Turn a scan's result into the report.json record (see docs/report-schema.md).

    Args:
        result: what the scan found.
        command: the command line as run, for the chain of custody.
        exit_code: the exit code the CLI decided, written into the summary.
        rules: the active rules (id, name, severity, kind, description), for reporters that list them.
    """
    findings = sorted(result.findings, key=sort_key)
    by_severity = dict.fromkeys(SEVERITY_NAMES, 0)
    suppressed_by_kind = {"baseline": 0, "waiver": 0}
    suppressed_by_severity = dict.fromkeys(SEVERITY_NAMES, 0)
    flagged: set[tuple[str, int]] = set()
    for finding in findings:
        if finding.suppressed is not None:
            kind = finding.suppressed.kind
            suppressed_by_kind[kind] = suppressed_by_kind.get(kind, 0) + 1
            suppressed_by_severity[finding.severity.label] += 1
            continue
        by_severity[finding.severity.label] += 1
        flagged.add((finding.record.input, finding.record.row))
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "auditor", "version": __version__},
        "run": {
            "started": result.started,
            "finished": result.finished,
            "command": list(command),
            "config_id": result.config_id,
        },
        "registries": [
            {"name": r.name, "digest": r.digest, "works": r.works, "config_id": r.config_id}
            for r in result.registries
        ],
        "rule_packs": [{"name": p.name, "digest": p.digest} for p in result.rule_packs],
        "rules": [dict(rule) for rule in rules],
        "inputs": [
            {
                "path": i.path,
                "sha256": i.sha256,
                "format": i.format,
                "records": i.records,
                "skipped": i.skipped,
            }
            for i in result.inputs
        ],
        "summary": {
            "records_scanned": result.records_scanned,
            "records_skipped": sum(1 for s in result.skipped if s.row is not None),
            "inputs_skipped": sum(1 for s in result.skipped if s.row is None),
            "records_flagged": len(flagged),
            "by_severity": by_severity,
            "suppressed": {**suppressed_by_kind, "by_severity": suppressed_by_severity},
            "exit_code": exit_code,
        },
        "findings": [finding_record(f) for f in findings],
        "sources": _source_records(result.sources),
        "sources_by": {kind: _source_records(ranked) for kind, ranked in result.sources_by.items()},
        "works": [
            {
                "id": w.work.id,
                "title": w.work.title,
                "registry": w.work.registry,
                "coverage": round(w.coverage, 4),
                "records": w.records,
                "group": w.work.group or w.work.id,
                "editions": [{"id": e.id, "title": e.title} for e in w.editions],
            }
            for w in result.works
        ],
        "skipped": [{"input": s.input, "row": s.row, "reason": s.reason} for s in result.skipped],
        "suppressions": {
            "baseline": (
                {
                    "path": result.baseline.path,
                    "sha256": result.baseline.sha256,
                    "findings": result.baseline.findings,
                    "matched": result.baseline.matched,
                }
                if result.baseline is not None
                else None
            ),
            "as_of": result.suppressed_as_of,
            "waivers": [
                {
                    "where": w.where,
                    "match": dict(w.criteria),
                    "reason": w.reason,
                    "approver": w.approver,
                    "expires": w.expires,
                    "status": "expired" if w.expired else "active",
                    "matched": w.matched,
                }
                for w in result.waivers
            ],
        },
        "notifications": [
            {"level": n.level, "code": n.code, "message": n.message, "where": n.where}
            for n in result.notifications
        ],
    }


def max_severity(report: dict[str, Any]) -> Severity | None:
    """The worst unsuppressed severity in a report record, or None when it has no findings."""
    worst: Severity | None = None
    for finding in report["findings"]:
        if finding.get("suppressed"):
            continue
        sev = Severity.parse(finding["severity"])
        if worst is None or sev > worst:
            worst = sev
    return worst
