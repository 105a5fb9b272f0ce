"""The ``junit`` format: JUnit XML, a test suite per input file and per source, for CI test views."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any
from xml.etree import ElementTree as ET

from auditor.reporters.base import Reporter, register
from auditor.reporters.summary import (
    SourceIndex,
    editions_text,
    failing_rank,
    severity_rank,
    suppression_text,
    worst_first,
)
from auditor.reporters.text import clamp, one_line, visible

MESSAGE_CHARS = 500
"""Longest ``message`` attribute; the full text goes in the element body."""


def _s(value: Any) -> str:
    # XML 1.0 cannot carry most control characters or surrogates at all, escaped or not.
    return visible("" if value is None else str(value))


def _describe(finding: dict[str, Any]) -> str:
    record = finding.get("record") or {}
    work = finding.get("work") or {}
    lines = [
        f"{finding.get('severity')} {finding.get('rule_id')} ({finding.get('kind')}): "
        f"{finding.get('message', '')}",
        f"record {record.get('id')} at {record.get('input')}:{record.get('row')}",
    ]
    if record.get("url"):
        lines.append(f"url {record['url']}")
    if work:
        lines.append(f"work {work.get('title')} [{work.get('id')}] in registry {work.get('registry')}")
    editions = editions_text(finding.get("editions"))
    if editions:
        lines.append(f"also matched editions: {editions}")
    if finding.get("detail"):
        lines.append(f"detail {finding['detail']}")
    for span in finding.get("spans") or []:
        text = f"record chars {span.get('record_start')}-{span.get('record_end')}"
        if span.get("work_start") is not None:
            text += f", work chars {span.get('work_start')}-{span.get('work_end')}"
        lines.append(text)
    if finding.get("suppressed"):
        lines.append(f"suppressed: {suppression_text(finding['suppressed'])}")
    lines.append(f"fingerprint {finding.get('fingerprint')}")
    return "\n".join(lines)


class _Suite:
    """One test suite being built: its element and its counters."""

    def __init__(self, parent: ET.Element, name: str, timestamp: str) -> None:
        self.element = ET.SubElement(parent, "testsuite", name=_s(name), timestamp=_s(timestamp))
        self.tests = self.failures = self.errors = self.skipped = 0

    def case(self, classname: str, name: str) -> ET.Element:
        self.tests += 1
        return ET.SubElement(self.element, "testcase", classname=_s(classname), name=_s(name), time="0")

    def close(self) -> tuple[int, int, int, int]:
        for key, value in (
            ("tests", self.tests),
            ("failures", self.failures),
            ("errors", self.errors),
            ("skipped", self.skipped),
        ):
            self.element.set(key, str(value))
        self.element.set("time", "0")
        return self.tests, self.failures, self.errors, self.skipped


def _finding_cases(
    suite: _Suite, classname: str, findings: Iterable[dict[str, Any]], fail_rank: int | None
) -> None:
    for finding in findings:
        record = finding.get("record") or {}
        work = finding.get("work") or {}
        name = f"{finding.get('rule_id')} {record.get('id')}" + (f" → {work.get('id')}" if work else "")
        case = suite.case(classname, name)
        text = _describe(finding)
        fails = (
            fail_rank is not None
            and severity_rank(finding.get("severity")) >= fail_rank
            and not finding.get("suppressed")
        )
        if fails:
            suite.failures += 1
            failure = ET.SubElement(
                case,
                "failure",
                message=_s(clamp(one_line(str(finding.get("message", ""))), MESSAGE_CHARS)),
                type=_s(f"{finding.get('severity')}:{finding.get('rule_id')}"),
            )
            failure.text = _s(text)
        else:
            ET.SubElement(case, "system-out").text = _s(text)


def _clean_case(suite: _Suite, classname: str, clean: int) -> None:
    case = suite.case(classname, f"{clean} records without findings")
    ET.SubElement(case, "system-out").text = f"{clean} records were scanned and nothing was found."


def build_junit(report: dict[str, Any]) -> ET.Element:
    """The ``<testsuites>`` element of a report record."""
    findings = worst_first(report.get("findings") or [])
    fail_rank = failing_rank((report.get("run") or {}).get("command") or [])
    timestamp = str((report.get("run") or {}).get("started") or "")
    root = ET.Element("testsuites", name="auditor")

    by_input: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
    sources = SourceIndex(report)
    for finding in findings:
        record = finding.get("record") or {}
        by_input[str(record.get("input", ""))].append(finding)
        by_source[sources.key_for(record)].append(finding)

    suites: list[_Suite] = []
    skipped_inputs = {str(s.get("input", "")): s for s in report.get("skipped") or [] if s.get("row") is None}
    skipped_rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in report.get("skipped") or []:
        if s.get("row") is not None:
            skipped_rows[str(s.get("input", ""))].append(s)

    inputs = [str(i.get("path", "")) for i in report.get("inputs") or []]
    records = {str(i.get("path", "")): int(i.get("records") or 0) for i in report.get("inputs") or []}
    for path in list(skipped_inputs) + list(by_input) + list(skipped_rows):
        if path not in records:
            inputs.append(path)
            records[path] = 0
    for path in dict.fromkeys(inputs):
        suite = _Suite(root, f"input: {path}", timestamp)
        suites.append(suite)
        if path in skipped_inputs:
            case = suite.case(path, "read input")
            suite.errors += 1
            error = ET.SubElement(
                case,
                "error",
                message=_s(clamp(one_line(str(skipped_inputs[path].get("reason", ""))), MESSAGE_CHARS)),
                type="input-skipped",
            )
            error.text = _s(skipped_inputs[path].get("reason", ""))
        _finding_cases(suite, path, by_input.get(path, []), fail_rank)
        flagged = len({(f.get("record") or {}).get("row") for f in by_input.get(path, [])})
        clean = max(records[path] - flagged, 0)
        if clean:
            _clean_case(suite, path, clean)
        rows = skipped_rows.get(path, [])
        if rows:
            case = suite.case(path, f"{len(rows)} records skipped")
            suite.skipped += 1
            skipped = ET.SubElement(case, "skipped", message=f"{len(rows)} records could not be audited")
            skipped.text = _s("\n".join(f"row {s.get('row')}: {s.get('reason', '')}" for s in rows))

    source_rows = {str(s.get("key", "")): s for s in report.get("sources") or []}
    for key in dict.fromkeys(list(source_rows) + list(by_source)):
        suite = _Suite(root, f"source: {key}", timestamp)
        suites.append(suite)
        _finding_cases(suite, key, by_source.get(key, []), fail_rank)
        row = source_rows.get(key)
        if row is not None:
            clean = max(int(row.get("records") or 0) - int(row.get("flagged") or 0), 0)
            if clean:
                _clean_case(suite, key, clean)

    totals = [suite.close() for suite in suites]
    for index, key in enumerate(("tests", "failures", "errors", "skipped")):
        root.set(key, str(sum(t[index] for t in totals)))
    root.set("time", "0")
    return root


@register
class JunitReporter(Reporter):
    """JUnit XML: failures for unsuppressed findings at or above the run's fail threshold (default high)."""

    name = "junit"
    filename = "junit.xml"

    def render(self, report: dict[str, Any]) -> str:
        root = build_junit(report)
        ET.indent(root)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
