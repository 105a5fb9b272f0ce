"""The ``sarif`` format: SARIF 2.1.0 for code-scanning dashboards (GitHub, GitLab, Azure DevOps)."""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from auditor.reporters.base import Reporter, register
from auditor.reporters.summary import EXIT_CODE_MEANINGS, suppression_text, worst_first
from auditor.reporters.text import dump_json

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# GitHub code scanning's limits on an uploaded SARIF file (docs.github.com, "SARIF results exceed
# limit"): runs per file 20 (we write 1), results per run 25,000 (rejected above; only the top 5,000
# are shown), rules per run 25,000, tags per rule 20 (shown: 10), locations per result 1,000 (we write
# 1), and 10 MB for the gzip-compressed file.
RESULTS_LIMIT = 25_000
"""Results per run, worst first; GitHub code scanning rejects runs with more."""
RESULTS_SHOWN = 5_000
"""Results GitHub shows per run; a notification says so when there are more."""
RULES_LIMIT = 25_000
"""Rules per run; rules that results refer to are always kept."""
UPLOAD_LIMIT = 10 * 1000 * 1000
"""Largest gzip-compressed SARIF file GitHub accepts; results are cut (worst kept) to fit."""

_LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub ranks alerts by this score (CVSS-like, "0.0"–"10.0").
_SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}


def level_from_severity(severity: str | None) -> str:
    """The SARIF level of one of our severities: critical/high → error, medium → warning, else note."""
    return _LEVELS.get(str(severity).lower(), "note")


def artifact_uri(path: str) -> str:
    """An input path as a relative URI reference.

    Every character but unreserved ones and ``/`` is percent-encoded, so ``c:x.jsonl`` cannot read as
    a scheme and bidi or control characters are visible. A file name that was not UTF-8 (decoded with
    ``surrogateescape``) gets its original bytes back; any other lone surrogate is encoded as is.
    """
    path = path.replace("\\", "/")
    try:
        raw = path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = path.encode("utf-8", "surrogatepass")
    return quote(raw, safe="/")


def _text(value: Any) -> str:
    return str(value) if value not in (None, "") else "—"


def _utc(stamp: Any) -> str | None:
    """An ISO 8601 time as SARIF's UTC form, or None when it does not parse."""
    try:
        moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rules(report: dict[str, Any], findings: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    known: dict[str, dict[str, Any]] = {}
    for rule in report.get("rules") or []:
        known.setdefault(str(rule.get("id", "")), rule)
    for finding in findings:  # a re-rendered or older report may not list every rule it used
        rid = str(finding.get("rule_id", ""))
        known.setdefault(rid, {"id": rid, "severity": finding.get("severity"), "kind": finding.get("kind")})
    if len(known) > RULES_LIMIT:
        used = {str(f.get("rule_id", "")) for f in findings}
        unused = [rid for rid in known if rid not in used][: max(RULES_LIMIT - len(used), 0)]
        keep = used | set(unused)
        known = {rid: rule for rid, rule in known.items() if rid in keep}
    rules = []
    for rid, rule in known.items():
        name = rule.get("name") or rid
        description = rule.get("description") or name
        kind = rule.get("kind") or ""
        severity = rule.get("severity")
        rules.append(
            {
                "id": rid,
                "name": str(name),
                "shortDescription": {"text": _text(name)},
                "fullDescription": {"text": _text(description)},
                "help": {"text": f"{_text(description)} (kind: {_text(kind)}, severity: {_text(severity)})"},
                "defaultConfiguration": {"level": level_from_severity(severity)},
                "properties": {
                    "tags": [t for t in ("provenance", str(kind)) if t],
                    "security-severity": _SECURITY_SEVERITY.get(str(severity), "0.0"),
                },
            }
        )
    return rules


def _result(finding: dict[str, Any], rule_index: dict[str, int]) -> dict[str, Any]:
    record = finding.get("record") or {}
    region: dict[str, Any] = {"startLine": max(int(record.get("row") or 1), 1)}
    spans = finding.get("spans") or []
    if spans:
        # SARIF's charOffset counts from the start of the file, and ours from the start of the
        # record's text (JSON escapes, Parquet pages), so they go in the region's property bag.
        first = spans[0]
        region["properties"] = {
            "recordCharOffset": first.get("record_start"),
            "recordCharLength": (first.get("record_end") or 0) - (first.get("record_start") or 0),
        }
    work = finding.get("work")
    properties: dict[str, Any] = {
        "severity": finding.get("severity"),
        "kind": finding.get("kind"),
        "recordId": record.get("id"),
        "url": record.get("url"),
        "detail": finding.get("detail"),
    }
    if work:
        properties["work"] = {
            "id": work.get("id"),
            "title": work.get("title"),
            "registry": work.get("registry"),
        }
        editions = [e.get("work") for e in finding.get("editions") or [] if isinstance(e, dict)]
        if editions:
            # The other editions of the book the record also copies (one result per book).
            properties["work"]["editions"] = [e.get("id") for e in editions if isinstance(e, dict)]
    if finding.get("score"):
        properties["score"] = finding["score"]
    if spans:
        properties["spans"] = spans
    rid = str(finding.get("rule_id", ""))
    result: dict[str, Any] = {
        "ruleId": rid,
        "ruleIndex": rule_index[rid],
        "level": level_from_severity(finding.get("severity")),
        "message": {"text": _text(finding.get("message"))},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": artifact_uri(str(record.get("input", "")))},
                    "region": region,
                },
                "logicalLocations": [{"name": str(record.get("id", "")), "kind": "record"}],
            }
        ],
        "partialFingerprints": {"auditorFingerprint/v1": str(finding.get("fingerprint", ""))},
        "properties": properties,
    }
    suppressed = finding.get("suppressed")
    if suppressed:
        result["suppressions"] = [{"kind": "external", "justification": suppression_text(suppressed)}]
    return result


def _notification(text: str, level: str, descriptor: str, uri: str | None = None) -> dict[str, Any]:
    note: dict[str, Any] = {"level": level, "message": {"text": text}, "descriptor": {"id": descriptor}}
    if uri is not None:
        note["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": uri}}}]
    return note


def build_sarif(
    report: dict[str, Any], *, results_limit: int = RESULTS_LIMIT, cut_for_size: bool = False
) -> dict[str, Any]:
    """The SARIF 2.1.0 log of a report record (one run).

    Args:
        report: the report.json record.
        results_limit: most results in the run, worst first; a notification counts the rest.
        cut_for_size: the limit was lowered to fit GitHub's upload size; the notification says so.
    """
    log, findings, rule_index = _skeleton(report, results_limit, cut_for_size)
    log["runs"][0]["results"] = [_result(f, rule_index) for f in findings]
    return log


def _skeleton(
    report: dict[str, Any], results_limit: int, cut_for_size: bool
) -> tuple[dict[str, Any], Sequence[dict[str, Any]], dict[str, int]]:
    """The log of :func:`build_sarif` with its results left out (``None`` in their place), the
    findings that give the results, and each rule's index."""
    all_findings = worst_first(report.get("findings") or [])
    findings = all_findings[:results_limit]
    rules = _rules(report, findings)
    rule_index = {rule["id"]: i for i, rule in enumerate(rules)}
    summary = report.get("summary") or {}
    run_info = report.get("run") or {}
    command = [str(a) for a in run_info.get("command") or []]
    exit_code = summary.get("exit_code")

    notifications = [
        _notification(
            f"input skipped: {s.get('reason', '')}",
            "error",
            "input-skipped",
            artifact_uri(str(s.get("input", ""))),
        )
        for s in report.get("skipped") or []
        if s.get("row") is None
    ]
    rows_skipped = [s for s in report.get("skipped") or [] if s.get("row") is not None]
    if rows_skipped:
        notifications.append(
            _notification(
                f"{len(rows_skipped)} records could not be audited and were skipped; "
                "report.json lists each with its reason",
                "warning",
                "records-skipped",
            )
        )
    if len(all_findings) > results_limit:
        omitted = all_findings[results_limit:]
        counts: dict[str, int] = {}
        for f in omitted:
            counts[str(f.get("severity"))] = counts.get(str(f.get("severity")), 0) + 1
        breakdown = ", ".join(f"{n} {sev}" for sev, n in counts.items())
        why = (
            f"the run is capped at {results_limit} results to keep the gzip-compressed file under "
            f"GitHub's upload limit of {UPLOAD_LIMIT:,} bytes"
            if cut_for_size
            else f"SARIF runs are capped at {results_limit} results (GitHub code scanning's limit)"
        )
        notifications.append(
            _notification(
                f"{len(omitted)} results omitted ({breakdown}): {why}, worst kept; "
                "report.json has every finding",
                "warning",
                "results-capped",
            )
        )
    if len(findings) > RESULTS_SHOWN:
        notifications.append(
            _notification(
                f"{len(findings)} results: GitHub code scanning shows only {RESULTS_SHOWN} results of a run; "
                "they are listed worst first",
                "note",
                "results-shown",
            )
        )

    invocation: dict[str, Any] = {
        "executionSuccessful": exit_code in (0, 1),
        "toolExecutionNotifications": notifications,
    }
    if command:
        invocation["arguments"] = command
    if exit_code is not None:
        invocation["exitCode"] = exit_code
        invocation["exitCodeDescription"] = EXIT_CODE_MEANINGS.get(exit_code, "undocumented exit code")
    for key, field in (("startTimeUtc", "started"), ("endTimeUtc", "finished")):
        stamp = _utc(run_info.get(field))
        if stamp:
            invocation[key] = stamp

    tool = report.get("tool") or {}
    driver: dict[str, Any] = {"name": str(tool.get("name") or "auditor"), "rules": rules}
    if tool.get("version"):
        driver["version"] = str(tool["version"])
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "invocations": [invocation],
        "artifacts": [
            {
                "location": {"uri": artifact_uri(str(i.get("path", "")))},
                "hashes": {"sha-256": str(i.get("sha256", ""))},
                "properties": {
                    "format": i.get("format"),
                    "records": i.get("records"),
                    "skipped": i.get("skipped"),
                },
            }
            for i in report.get("inputs") or []
        ],
        "results": None,
        "properties": {
            "configId": run_info.get("config_id"),
            "registries": report.get("registries") or [],
            "rulePacks": report.get("rule_packs") or [],
            "summary": summary,
        },
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, findings, rule_index


def _json(value: Any) -> str:
    return dump_json(value, indent=None)


def iter_sarif(report: dict[str, Any], *, results_limit: int, cut_for_size: bool) -> Iterator[str]:
    """``dump_json(build_sarif(...), indent=None) + "\\n"`` in pieces, one result at a time, so the
    run is never held whole (compact JSON: ", " between items, ": " after keys)."""
    log, findings, rule_index = _skeleton(report, results_limit, cut_for_size)
    (run,) = log["runs"]
    head = [f"{_json(key)}: {_json(value)}" for key, value in log.items() if key != "runs"]
    yield "{" + ", ".join(head) + ', "runs": [{'
    for number, (key, value) in enumerate(run.items()):
        yield (", " if number else "") + _json(key) + ": "
        if key != "results":
            yield _json(value)
            continue
        yield "["
        pieces: list[str] = []
        for index, finding in enumerate(findings):
            pieces.append(_json(_result(finding, rule_index)))
            if len(pieces) >= 256 or index == len(findings) - 1:
                yield (", " if index >= len(pieces) else "") + ", ".join(pieces)
                pieces = []
        yield "]"
    yield "}]}\n"


def _gunzipped(deflated: list[bytes]) -> Iterator[bytes]:
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    for piece in deflated:
        data = piece
        while data:
            out = inflater.decompress(data, 1 << 20)
            data = inflater.unconsumed_tail
            yield out
    yield inflater.flush()


@register
class SarifReporter(Reporter):
    """One SARIF run: rules from the report, one result per finding (worst 25,000, fewer if the gzipped
    file would pass 10 MB), skips and caps as notifications."""

    name = "sarif"
    filename = "report.sarif"

    def render(self, report: dict[str, Any]) -> str:
        return b"".join(self.stream(report)).decode("utf-8")

    def stream(self, report: dict[str, Any]) -> Iterator[bytes]:
        """The log as UTF-8, in pieces.

        Compact JSON: a capped run is tens of MB, and indenting costs five times the time and twice
        the bytes. If the compressed file would pass GitHub's upload limit, fewer results are kept.
        The text is made once per try, result by result: up to ``UPLOAD_LIMIT`` bytes of it are kept
        as they are; past that everything is deflated as it comes (the size GitHub would see) and
        kept deflated while that stays under the limit, and the file is written from that copy.
        """
        limit, cut = RESULTS_LIMIT, False
        while True:
            results = min(limit, len(report.get("findings") or []))
            raw: list[bytes] = []
            size = 0
            deflater = None
            deflated: list[bytes] | None = []
            packed = 0
            for piece in iter_sarif(report, results_limit=limit, cut_for_size=cut):
                data = piece.encode("utf-8")
                size += len(data)
                if deflater is None:
                    raw.append(data)
                    if size <= UPLOAD_LIMIT:
                        continue
                    # gzip.compress(data, 6): a 10-byte header, raw deflate, an 8-byte trailer.
                    deflater = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
                    pending, raw = raw, []
                else:
                    pending = [data]
                for chunk in pending:
                    out = deflater.compress(chunk)
                    packed += len(out)
                    if deflated is not None:
                        deflated.append(out)
                if deflated is not None and packed > UPLOAD_LIMIT:
                    deflated = None  # over the limit: only the size is needed now
            if deflater is None:
                yield from raw
                return
            tail = deflater.flush()
            packed += len(tail)
            gzip_size = 10 + packed + 8
            if gzip_size <= UPLOAD_LIMIT and deflated is not None:
                deflated.append(tail)
                yield from _gunzipped(deflated)
                return
            if results == 0:
                yield from (
                    p.encode("utf-8") for p in iter_sarif(report, results_limit=limit, cut_for_size=cut)
                )
                return
            limit, cut = min(results - 1, int(results * UPLOAD_LIMIT / gzip_size * 0.95)), True
