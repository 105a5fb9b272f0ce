"""The ``md`` format: a short Markdown summary that fits a pull-request comment."""

from __future__ import annotations

import re
from typing import Any

from auditor.models import SEVERITY_NAMES
from auditor.reporters.base import Reporter, register
from auditor.reporters.summary import editions_text, top_sources, top_works, verdict, worst_first
from auditor.reporters.text import clamp, one_line, visible

TOP_FINDINGS = 20
TOP_ROWS = 10
CELL_CHARS = 120

# Characters Markdown (CommonMark and GitHub's extensions) gives a meaning to; a backslash makes each
# literal. Angle brackets and ampersands become entities so no HTML reaches the renderer.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:])")
_ICON = {"PASS": "✅", "FAIL": "❌"}
_SEVERITY_HEADER = [n.capitalize() for n in SEVERITY_NAMES]


def md(value: Any, limit: int = CELL_CHARS) -> str:
    """Report text as literal Markdown for one table cell or line.

    Whitespace runs become one space, the text is cut to ``limit``, control and bidi characters show
    as ``[U+XXXX]``, HTML is entity-escaped, Markdown punctuation is backslash-escaped and ``@`` is
    broken so report text cannot mention (notify) a user.
    """
    text = visible(clamp(one_line("" if value is None else str(value)), limit))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return text.replace("@", "@<!-- -->")


def _with_editions(cell: str, editions: Any) -> str:
    """A work's table cell, followed on a new line by the other editions matched, when there are any."""
    text = editions_text(editions)
    # <br> is the one line break a Markdown table cell takes; the names themselves are escaped.
    return f"{cell}<br>also matched editions: {md(text)}" if text else cell


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def render_markdown(report: dict[str, Any]) -> str:
    """The summary: verdict, counts by severity, top sources, top works, the worst findings."""
    summary = report.get("summary") or {}
    outcome = verdict(report)
    findings = worst_first(report.get("findings") or [])
    lines = ["## Provenance audit", ""]
    icon = _ICON.get(outcome.status, "⚠️")
    lines.append(f"{icon} **{outcome.status}** (exit code {outcome.exit_code}): {md(outcome.meaning, 200)}.")
    if outcome.fail_on:
        lines.append(f"Fail threshold: **{md(outcome.fail_on, 20)}**.")
    lines.append("")
    lines.append(
        f"{int(summary.get('records_scanned') or 0):,} records scanned, "
        f"{int(summary.get('records_skipped') or 0):,} skipped, "
        f"{int(summary.get('inputs_skipped') or 0):,} inputs skipped, "
        f"**{int(summary.get('records_flagged') or 0):,} flagged**."
    )
    lines.append("")
    by_severity = summary.get("by_severity") or {}
    lines += _table(_SEVERITY_HEADER, [[f"{int(by_severity.get(n) or 0):,}" for n in SEVERITY_NAMES]])

    sources = top_sources(report, TOP_ROWS)
    if sources:
        lines += ["", "### Riskiest sources", ""]
        lines += _table(
            ["Source", "Records", "Flagged", "Worst", "Risk"],
            [
                [
                    md(s.get("key")),
                    f"{int(s.get('records') or 0):,}",
                    f"{int(s.get('flagged') or 0):,}",
                    md(s.get("max_severity") or "none"),
                    f"{float(s.get('risk') or 0):.2f}",
                ]
                for s in sources
            ],
        )
    works = top_works(report, TOP_ROWS)
    if works:
        lines += ["", "### Works most present", ""]
        lines += _table(
            ["Work", "Id", "Coverage", "Records"],
            [
                [
                    _with_editions(md(w.get("title")), w.get("editions")),
                    md(w.get("id")),
                    f"{float(w.get('coverage') or 0) * 100:.1f} %",
                    f"{int(w.get('records') or 0):,}",
                ]
                for w in works
            ],
        )
    if findings:
        shown = findings[:TOP_FINDINGS]
        lines += ["", f"### Findings ({len(shown)} of {len(findings):,}, worst first)", ""]
        rows = []
        for f in shown:
            record = f.get("record") or {}
            work = f.get("work") or {}
            sev = md(f.get("severity"))
            if f.get("suppressed"):
                sev += " (suppressed)"
            rows.append(
                [
                    sev,
                    md(f.get("rule_id"), 40),
                    md(f.get("kind"), 40),
                    md(f"{record.get('id')} ({record.get('input')}:{record.get('row')})", 80),
                    _with_editions(md(work.get("title") or work.get("id") or "", 60), f.get("editions")),
                    md(f.get("message")),
                ]
            )
        lines += _table(["Severity", "Rule", "Kind", "Record", "Work", "Message"], rows)
    else:
        lines += ["", "No findings."]
    lines += ["", "<sub>Full evidence: report.html · every finding: report.json</sub>", ""]
    return "\n".join(lines)


@register
class MarkdownReporter(Reporter):
    """A Markdown summary for pull-request comments and CI job summaries."""

    name = "md"
    filename = "summary.md"

    def render(self, report: dict[str, Any]) -> str:
        return render_markdown(report)
