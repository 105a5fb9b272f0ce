"""The ``junit`` format: JUnit XML, a test suite per input file and per source, for CI test views."""

from __future__ import annotations

from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from xml.etree import ElementTree as ET

from auditor.reporters.base import Reporter, chunked, register
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
"""Characters of XML gathered before a piece is handed to the writer."""


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


# ElementTree's own escaping, so the streamed XML is the bytes ``ET.tostring`` gave for the same tree.
_attr = ET._escape_attrib  # type: ignore[attr-defined]
_cdata = ET._escape_cdata  # type: ignore[attr-defined]
_INDENT = "  "


def _attributes(pairs: Iterable[tuple[str, str]]) -> str:
    return "".join(f' {key}="{_attr(value)}"' for key, value in pairs)


def _case(classname: str, name: str, inner: str) -> str:
    """A test case as ``ET.indent`` lays it out two levels deep, around its one element."""
    return (
        f'<testcase classname="{_attr(_s(classname))}" name="{_attr(_s(name))}" time="0">'
        f"\n{_INDENT * 3}{inner}\n{_INDENT * 2}</testcase>"
    )


def _element(tag: str, attributes: Iterable[tuple[str, str]], text: str) -> str:
    body = f">{_cdata(text)}</{tag}>" if text else " />"
    return f"<{tag}{_attributes(attributes)}{body}"


class _Suite:
    """One test suite: counted before anything is written, so its counts can lead its tag.

    Its findings are kept as their positions in the report's findings; each one's record is read, and
    its case made, as it is written.
    """

    def __init__(self, name: str, timestamp: str, classname: str, fail_rank: int | None) -> None:
        self.name, self.timestamp, self.classname, self.fail_rank = name, timestamp, classname, fail_rank
        self.first: list[str] = []
        self.findings: Sequence[dict[str, Any]] = ()
        self.positions: Sequence[int] = ()
        self.last: list[str] = []
        self.failures = self.errors = self.skipped = 0

    def fails(self, finding: dict[str, Any]) -> bool:
        return (
            self.fail_rank is not None
            and severity_rank(finding.get("severity")) >= self.fail_rank
            and not finding.get("suppressed")
        )

    def add_findings(
        self, findings: Sequence[dict[str, Any]], positions: Sequence[int], failures: int
    ) -> None:
        """The findings at ``positions`` of the report's ``findings``, ``failures`` of them failing."""
        self.findings, self.positions = findings, positions
        self.failures += failures

    def add_clean(self, clean: int) -> None:
        text = f"{clean} records were scanned and nothing was found."
        self.last.append(
            _case(self.classname, f"{clean} records without findings", _element("system-out", (), text))
        )

    def counts(self) -> tuple[int, int, int, int]:
        return (
            len(self.first) + len(self.positions) + len(self.last),
            self.failures,
            self.errors,
            self.skipped,
        )

    def finding_case(self, finding: dict[str, Any]) -> str:
        record = finding.get("record") or {}
        work = finding.get("work") or {}
        name = f"{finding.get('rule_id')} {record.get('id')}" + (f" → {work.get('id')}" if work else "")
        text = _s(_describe(finding))
        if self.fails(finding):
            attributes = (
                ("message", _s(clamp(one_line(str(finding.get("message", ""))), MESSAGE_CHARS))),
                ("type", _s(f"{finding.get('severity')}:{finding.get('rule_id')}")),
            )
            return _case(self.classname, name, _element("failure", attributes, text))
        return _case(self.classname, name, _element("system-out", (), text))

    def xml(self) -> Iterator[str]:
        """The suite as ``ET.indent`` lays it out one level deep, case by case."""
        tests = self.counts()[0]
        head = (
            f"<testsuite{_attributes([('name', _s(self.name)), ('timestamp', _s(self.timestamp))])}"
            f' tests="{tests}" failures="{self.failures}" errors="{self.errors}"'
            f' skipped="{self.skipped}" time="0"'
        )
        if not tests:
            yield head + " />"
            return
        yield head + ">"
        margin = "\n" + _INDENT * 2
        for case in self.first:
            yield margin + case
        for position in self.positions:
            yield margin + self.finding_case(self.findings[position])
        for case in self.last:
            yield margin + case
        yield "\n" + _INDENT + "</testsuite>"


def plan_junit(report: dict[str, Any]) -> list[_Suite]:
    """The test suites of a report record, in order: one per input file, then one per source."""
    findings = worst_first(report.get("findings") or [])
    fail_rank = failing_rank((report.get("run") or {}).get("command") or [])
    timestamp = str((report.get("run") or {}).get("started") or "")

    # One pass over the findings: what each suite needs to know before its first case is written.
    # Positions, failures and rows only: the findings are read again as the cases are written.
    by_input: dict[str, array[int]] = defaultdict(lambda: array("q"))
    by_source: dict[str, array[int]] = defaultdict(lambda: array("q"))
    rows_by_input: dict[str, list[Any]] = defaultdict(list)
    failures: Counter[tuple[str, str]] = Counter()
    sources = SourceIndex(report)
    probe = _Suite("", "", "", fail_rank)
    for position, finding in enumerate(findings):
        record = finding.get("record") or {}
        path, key = str(record.get("input", "")), sources.key_for(record)
        by_input[path].append(position)
        by_source[key].append(position)
        row = record.get("row")
        rows_by_input[path].append(row)
        if probe.fails(finding):
            failures["input", path] += 1
            failures["source", key] += 1

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
        suite = _Suite(f"input: {path}", timestamp, path, fail_rank)
        suites.append(suite)
        if path in skipped_inputs:
            suite.errors += 1
            reason = skipped_inputs[path].get("reason", "")
            attributes = (
                ("message", _s(clamp(one_line(str(reason)), MESSAGE_CHARS))),
                ("type", "input-skipped"),
            )
            suite.first.append(_case(path, "read input", _element("error", attributes, _s(reason))))
        suite.add_findings(findings, by_input.get(path, ()), failures["input", path])
        flagged = len(set(rows_by_input.get(path, ())))
        clean = max(records[path] - flagged, 0)
        if clean:
            suite.add_clean(clean)
        rows = skipped_rows.get(path, [])
        if rows:
            suite.skipped += 1
            text = _s("\n".join(f"row {s.get('row')}: {s.get('reason', '')}" for s in rows))
            skipped = (("message", f"{len(rows)} records could not be audited"),)
            suite.last.append(_case(path, f"{len(rows)} records skipped", _element("skipped", skipped, text)))

    source_rows = {str(s.get("key", "")): s for s in report.get("sources") or []}
    for key in dict.fromkeys(list(source_rows) + list(by_source)):
        suite = _Suite(f"source: {key}", timestamp, key, fail_rank)
        suites.append(suite)
        suite.add_findings(findings, by_source.get(key, ()), failures["source", key])
        row = source_rows.get(key)
        if row is not None:
            clean = max(int(row.get("records") or 0) - int(row.get("flagged") or 0), 0)
            if clean:
                suite.add_clean(clean)
    return suites


def iter_junit(report: dict[str, Any]) -> Iterator[str]:
    """junit.xml in pieces: the text ``ET.indent`` and ``ET.tostring`` give for the same tree (each
    finding's text is made as its case is written, so the whole document is never held)."""
    suites = plan_junit(report)
    totals = [0, 0, 0, 0]
    for suite in suites:
        totals = [total + count for total, count in zip(totals, suite.counts(), strict=True)]
    yield '<?xml version="1.0" encoding="UTF-8"?>\n'
    head = (
        f'<testsuites name="auditor" tests="{totals[0]}" failures="{totals[1]}" errors="{totals[2]}"'
        f' skipped="{totals[3]}" time="0"'
    )
    if not suites:
        yield head + " />\n"
        return
    yield head + ">"
    for suite in suites:
        yield "\n" + _INDENT
        yield from suite.xml()
    yield "\n</testsuites>\n"


@register
class JunitReporter(Reporter):
    """JUnit XML: failures for unsuppressed findings at or above the run's fail threshold (default high)."""

    name = "junit"
    filename = "junit.xml"

    def render(self, report: dict[str, Any]) -> str:
        return "".join(self.stream(report))

    def stream(self, report: dict[str, Any]) -> Iterator[str]:
        """The same text as :meth:`render`, suite by suite and case by case."""
        yield from chunked(iter_junit(report))
