"""The report record: an AuditResult as the report.json schema every output format is built from."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

from auditor import __version__
from auditor.checkpoint import encode
from auditor.models import AuditResult, Finding, Severity, SourceRisk, Suppression, fingerprint_of
from auditor.spill import FindingSpill, SpilledFindings, count_findings

SCHEMA_VERSION = 1
_LABELS = {int(s): s.label for s in Severity}


def finding_record(finding: Finding) -> dict[str, Any]:
    """One finding as report.json writes it."""
    return encoded_record(encode(finding))


def encoded_record(data: dict[str, Any]) -> dict[str, Any]:
    """One finding as report.json writes it, from its checkpoint encoding (:func:`auditor.checkpoint.encode`,
    the form a :class:`~auditor.spill.FindingSpill` holds): the only place a finding's record is made."""
    record, work, score = data["record"], data["work"], data["score"]
    return {
        "fingerprint": data["fingerprint"]  # a spill's lines carry it
        if "fingerprint" in data
        else fingerprint_of(
            data["rule_id"], record["input"], record["id"], work["id"] if work else "", data["detail"]
        ),
        "rule_id": data["rule_id"],
        "severity": _LABELS[data["severity"]],
        "kind": data["kind"],
        "record": {"id": record["id"], "input": record["input"], "row": record["row"], "url": record["url"]},
        "work": _work_record(work) if work else None,
        "score": _score_record(score) if score else None,
        "spans": _span_records(data["spans"]),
        "evidence": [
            {"record_text": e["record_text"], "work_text": e["work_text"]} for e in data["evidence"]
        ],
        "message": data["message"],
        "detail": data["detail"],
        "suppressed": _suppression(data["suppressed"]),
        "editions": [
            {
                "work": _work_record(e["work"]),
                "kind": e["kind"],
                "score": _score_record(e["score"]),
                "spans": _span_records(e["spans"]),
            }
            for e in data["editions"]
        ],
    }


def _work_record(work: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": work["id"],
        "title": work["title"],
        "registry": work["registry"],
        "isbns": list(work["isbns"]),
        "group": work["group"] or work["id"],
    }


def _score_record(score: dict[str, Any]) -> dict[str, Any]:
    return {
        "similarity": round(score["similarity"], 4),
        "record_coverage": round(score["record_coverage"], 4),
        "matched_tokens": score["matched_tokens"],
    }


def _span_records(spans: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "record_start": s["record_start"],
            "record_end": s["record_end"],
            "work_start": s["work_start"],
            "work_end": s["work_end"],
        }
        for s in spans
    ]


def _suppression(data: dict[str, Any] | None) -> dict[str, Any] | None:
    if data is None:
        return None
    keys = ("kind", "reason", "approver", "expires", "where")
    return {key: data[key] for key in keys}


RECORDS_KEPT = 4096
"""How many records :class:`FindingRecords` keeps once made: the first in report order, a few KB each
(evidence included). Reporters pass over the findings about nine times for the six formats; a scan
with no more findings than this then reads its spill once, and a larger one reads the rest again
on each pass, its memory bounded all the same."""


class FindingRecords(Sequence[dict[str, Any]]):
    """report.json's ``findings``: each finding's record made when it is read, never all at once.

    A sequence (``len()``, iteration, indexing; a slice is another such sequence) over findings in
    report order. Over a scan's spilled findings each pass reads them back from the spill file, so a
    reporter may pass over them as often as it needs without the report holding them (only the first
    :data:`RECORDS_KEPT` records are kept once made); ``==`` compares the records with any sequence (a
    list read back from report.json).
    """

    def __init__(self, findings: Sequence[Finding]) -> None:
        self._findings = findings
        self._kept: list[dict[str, Any]] = []  # the first RECORDS_KEPT records, once made

    def __len__(self) -> int:
        return len(self._findings)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> FindingRecords: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | FindingRecords:
        if isinstance(index, slice):
            return FindingRecords(self._findings[index])
        position = range(len(self))[index]  # IndexError, and negative indices, as a list has them
        if position < len(self._kept):
            return self._kept[position]
        if isinstance(self._findings, SpilledFindings):
            return encoded_record(self._findings.encoded(position))
        return finding_record(self._findings[position])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        position = 0
        while position < len(self._kept):  # kept records may grow meanwhile, from another pass
            yield self._kept[position]
            position += 1
        rest = self._findings[position:]
        made = (
            map(encoded_record, rest.iter_encoded())
            if isinstance(rest, SpilledFindings)
            else map(finding_record, rest)
        )
        for record in made:
            if position == len(self._kept) < RECORDS_KEPT:
                self._kept.append(record)
            position += 1
            yield record

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FindingRecords({len(self)} findings)"


def in_report_order(findings: Sequence[Finding]) -> Sequence[Finding]:
    """Findings in report order (:func:`sort_key`); a spill orders them from its index, unread."""
    if isinstance(findings, FindingSpill):
        return findings.in_order(sort_key)
    return sorted(findings, key=sort_key)


def suppression_record(suppression: Suppression | None) -> dict[str, Any] | None:
    """A finding's ``suppressed`` value: null, or why it does not count (see docs/suppressions.md)."""
    return _suppression(encode(suppression))


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

    The summary's counts are taken from the findings first (from a spill's index, without reading
    it); ``findings`` is a :class:`FindingRecords` in report order, whose records are made as a
    reporter reads them, so the record of a scan with millions of findings stays small.

    Args:
        result: what the scan found.
        command: the command line as run, for the chain of custody.
        exit_code: the exit code the CLI decided, written into the summary.
        rules: the active rules (id, name, severity, kind, description), for reporters that list them.
    """
    counts = count_findings(result.findings)
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
            "records_flagged": counts.flagged,
            "by_severity": counts.by_severity,
            "suppressed": {**counts.suppressed_by_kind, "by_severity": counts.suppressed_by_severity},
            "exit_code": exit_code,
        },
        "findings": FindingRecords(in_report_order(result.findings)),
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
