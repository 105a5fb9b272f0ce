"""The ``html`` format: one self-contained evidence report for legal review (templates/report.html.j2)."""

from __future__ import annotations

import re
import shlex
from collections import Counter, defaultdict
from functools import cache
from itertools import zip_longest
from typing import Any

from jinja2 import ChainableUndefined, Environment, PackageLoader, Undefined, UndefinedError
from markupsafe import Markup, escape

from auditor.models import SEVERITY_NAMES
from auditor.reporters.align import Piece, align
from auditor.reporters.base import Reporter, register
from auditor.reporters.summary import (
    CONTENT_KINDS,
    SourceIndex,
    editions_text,
    fail_threshold,
    licence_mix,
    severity_rank,
    suppression_text,
    top_sources,
    top_works,
    verdict,
    worst_first,
)
from auditor.reporters.text import clamp, one_line, visible

EVIDENCE_LIMIT = 500
"""Findings shown with their full evidence, worst first; the rest are counted, not shown."""
EVIDENCE_CHARS = 1_500
"""Longest excerpt shown per side of a span: longer ones show their two ends around a marked gap (the
engine already keeps ~1,200 characters per side; this bounds the page for any report.json)."""
FINDINGS_LIMIT = 20_000
"""Rows of the findings table; report.json keeps them all."""
SKIPPED_LIMIT = 1_000
"""Skipped inputs and rows listed; the rest are counted."""
LICENCES_SHOWN = 12
"""Licences in the overview chart, most findings first."""
CELL_CHARS = 300
"""Longest id, title, URL or message shown in a table cell."""

# Only a plain absolute http(s) URL becomes a link: no whitespace or controls a browser would strip
# to find another scheme, no quotes or angle brackets.
_LINKABLE = re.compile(
    r"https?://[^\s\x00-\x1f\x7f-\x9f\"'<>\\`\u200b-\u200f\u202a-\u202e\u2066-\u2069]+", re.I
)


def _finalize(value: Any) -> Any:
    # Every {{ }} passes through here before autoescape: data text shows its control, bidi and
    # surrogate characters as [U+XXXX] instead of acting on the page or breaking the UTF-8 encoding.
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible(value)
    if value is None or isinstance(value, Undefined):
        return "—"
    return value


def _num(value: Any) -> str:
    if value is None or value == "" or isinstance(value, Undefined):
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}"
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


def _pct(value: Any) -> str:
    if value is None or isinstance(value, Undefined):
        return "—"
    try:
        return f"{float(value) * 100:.1f} %"
    except (TypeError, ValueError):
        return str(value)


def _width(value: Any) -> str:
    """A CSS percentage for a 0–1 share, clamped, as a plain number string safe in a style attribute."""
    try:
        share = min(max(float(value or 0), 0.0), 1.0)
    except (TypeError, ValueError, UndefinedError):
        share = 0.0
    return f"{share * 100:.1f}"


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("auditor", "templates"),
        autoescape=True,
        finalize=_finalize,
        # A report.json from an older or partial run may lack a key: show a dash, do not fail.
        undefined=ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=_num, pct=_pct, width=_width)
    return env


def _sev_class(name: str | None) -> str:
    # A CSS class from a fixed list, never from report text.
    return name if name in SEVERITY_NAMES else "none"


def _offsets(span: dict[str, Any]) -> str:
    text = f"record chars {_num(span.get('record_start'))}–{_num(span.get('record_end'))}"
    if span.get("work_start") is not None:
        text += f" · work chars {_num(span.get('work_start'))}–{_num(span.get('work_end'))}"
    return text


def _score(score: dict[str, Any] | None) -> str:
    if not score:
        return ""
    parts = []
    if score.get("similarity") is not None:
        parts.append(f"similarity {float(score['similarity']):.2f}")
    if score.get("record_coverage") is not None:
        parts.append(f"record coverage {_pct(score['record_coverage'])}")
    if score.get("matched_tokens") is not None:
        parts.append(f"{_num(score['matched_tokens'])} tokens")
    return " · ".join(parts)


def _editions(value: Any) -> str:
    return clamp(editions_text(value), CELL_CHARS)


def _location(record: dict[str, Any]) -> str:
    return f"{record.get('input', '')}:{record.get('row', '')}"


def _finding_rows(report: dict[str, Any], findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sources = SourceIndex(report)
    rows = []
    for index, finding in enumerate(findings):
        record = finding.get("record") or {}
        work = finding.get("work") or {}
        url = record.get("url") or ""
        location = _location(record)
        score = finding.get("score") or {}
        rows.append(
            {
                "index": index,
                "severity": finding.get("severity"),
                "sev_class": _sev_class(finding.get("severity")),
                "rank": severity_rank(finding.get("severity")),
                "rule_id": finding.get("rule_id", ""),
                "kind": finding.get("kind", ""),
                "record_id": clamp(str(record.get("id", "")), CELL_CHARS),
                "location": "" if record.get("id") == location else clamp(location, CELL_CHARS),
                "url": clamp(url, CELL_CHARS),
                "href": url if _LINKABLE.fullmatch(url) else None,
                "source": sources.key_for(record),
                "work_id": work.get("id", ""),
                "work_title": clamp(str(work.get("title") or ""), CELL_CHARS),
                "work_group": str(work.get("group") or work.get("id") or ""),
                "editions": _editions(finding.get("editions")),
                "score": _score(score),
                "sort_score": score.get("record_coverage") or score.get("similarity") or 0,
                "message": clamp(one_line(str(finding.get("message", ""))), CELL_CHARS),
                "detail": clamp(one_line(str(finding.get("detail") or "")), CELL_CHARS),
                "suppressed": suppression_text(finding.get("suppressed")),
                "evidence_anchor": None,
            }
        )
    return rows


def _has_evidence(finding: dict[str, Any]) -> bool:
    return finding.get("kind") in CONTENT_KINDS or bool(finding.get("spans") or finding.get("evidence"))


_PIECE_TAGS = {"same": ("<mark>", "</mark>"), "diff": ('<span class="chg">', "</span>"), "plain": ("", "")}


def _cell(pieces: tuple[Piece, ...]) -> Markup:
    """One side of an aligned row as HTML: every piece of text made visible and escaped, then tagged."""
    out = []
    for piece in pieces:
        text = str(escape(visible(piece.text)))
        opening, closing = _PIECE_TAGS.get(piece.kind, ("", ""))
        if opening:
            # Tag line by line, so a highlight never paints the empty end of a line or a blank line.
            text = "\n".join(
                f"{opening}{line}{closing}" if line.strip() else line for line in text.split("\n")
            )
        out.append(text)
    return Markup("".join(out))


def _span_length(span: dict[str, Any], side: str) -> int | None:
    try:
        return int(span[f"{side}_end"]) - int(span[f"{side}_start"])
    except (KeyError, TypeError, ValueError):
        return None


def _pair(span: dict[str, Any], ev: dict[str, Any]) -> dict[str, Any]:
    """One span's evidence as the template shows it: aligned rows, or the record's text alone."""
    record_text = ev.get("record_text")
    work_text = ev.get("work_text")
    pair: dict[str, Any] = {
        "offsets": _offsets(span) if span else "offsets not recorded",
        "record_caption": "Record text",
        "work_caption": "Registered work text",
    }
    if span.get("record_start") is not None:
        pair["record_caption"] += f" · chars {_num(span.get('record_start'))}–{_num(span.get('record_end'))}"
    if span.get("work_start") is not None:
        pair["work_caption"] += f" · chars {_num(span.get('work_start'))}–{_num(span.get('work_end'))}"
    if isinstance(record_text, str) and isinstance(work_text, str):
        alignment = align(
            record_text,
            work_text,
            record_length=_span_length(span, "record"),
            work_length=_span_length(span, "work"),
            limit=EVIDENCE_CHARS,
        )
        pair["mode"] = "aligned"
        pair["rows"] = [
            {"gap": row.gap, "record": _cell(row.record), "work": _cell(row.work)} for row in alignment.rows
        ]
        pair["shared"] = (
            f"{alignment.shared_words:,} of the {alignment.record_words:,} words of the record excerpt "
            f"appear in the work excerpt in the same order ({_pct(alignment.shared_share)})"
        )
        return pair
    pair["record_text"] = clamp(record_text, EVIDENCE_CHARS) if isinstance(record_text, str) else None
    # A span with work offsets but no work text comes from a fingerprint-only registry: say so beside
    # the record; a span without work offsets is the record's own text (a notice): one column.
    pair["mode"] = "no-work-text" if span.get("work_start") is not None else "record-only"
    return pair


def _evidence(findings: list[dict[str, Any]], rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Side-by-side, aligned excerpts of the worst content findings, and how many more were left out."""
    shown: list[dict[str, Any]] = []
    omitted = 0
    for finding, row in zip(findings, rows, strict=True):
        spans = finding.get("spans") or []
        evidence = finding.get("evidence") or []
        if not _has_evidence(finding):
            continue
        if len(shown) >= EVIDENCE_LIMIT:
            omitted += 1
            continue
        pairs = [
            _pair(span if isinstance(span, dict) else {}, ev if isinstance(ev, dict) else {})
            for span, ev in zip_longest(spans, evidence)
        ]
        row["evidence_anchor"] = f"ev-{row['index']}"
        shown.append({"row": row, "pairs": pairs, "message": str(finding.get("message", ""))})
    return shown, omitted


def _work_sources(findings: list[dict[str, Any]], rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """For each book (edition group, else work id), the sources its copies came from, most records
    first (top 3)."""
    per_work: dict[str, Counter[str]] = defaultdict(Counter)
    for finding, row in zip(findings, rows, strict=True):
        if finding.get("work"):
            per_work[row["work_group"]][row["source"]] += 1
    return {
        work: [key for key, _ in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:3]]
        for work, c in per_work.items()
    }


def _severity_chart(by_severity: dict[str, int]) -> list[dict[str, Any]]:
    most = max([int(by_severity.get(n) or 0) for n in SEVERITY_NAMES] + [1])
    return [
        {
            "name": name,
            "count": int(by_severity.get(name) or 0),
            "width": round(300 * int(by_severity.get(name) or 0) / most, 1),
        }
        for name in SEVERITY_NAMES
    ]


CHART_LABEL_CHARS = 64
"""Longest label in an overview chart; the full text is the bar's tooltip."""


def _hbars(items: list[tuple[str, float, str]], cls: str) -> dict[str, Any]:
    """Rows of a horizontal bar chart: a label above each bar, a 0–1 share as its length, a value after it."""
    rows = []
    for i, (label, share, value) in enumerate(items):
        try:
            share = min(max(float(share), 0.0), 1.0)
        except (TypeError, ValueError):
            share = 0.0
        full = one_line(str(label))
        rows.append(
            {
                "label": clamp(full, CHART_LABEL_CHARS),
                "full": clamp(full, CELL_CHARS),
                "y": i * 34,
                "width": round(300 * share, 1),
                "value": value,
                "cls": cls,
            }
        )
    return {"rows": rows, "height": len(rows) * 34 + 4}


def _works_chart(works: list[dict[str, Any]]) -> dict[str, Any]:
    return _hbars(
        [
            (
                str(w.get("title") or w.get("id") or ""),
                w.get("coverage") or 0,
                f"{_pct(w.get('coverage') or 0)} · {_num(w.get('records') or 0)} records",
            )
            for w in works
        ],
        "cov",
    )


def _licence_chart(licences: list[tuple[str, int]], unit: str) -> dict[str, Any]:
    most = max([count for _, count in licences] + [1])
    return _hbars(
        [(name, count / most, f"{_num(count)} {unit}") for name, count in licences[:LICENCES_SHOWN]],
        "lic",
    )


def build_context(report: dict[str, Any]) -> dict[str, Any]:
    """Everything the template shows, computed once so the template only loops and prints."""
    summary = report.get("summary") or {}
    run = report.get("run") or {}
    command = [str(a) for a in run.get("command") or []]
    all_findings = worst_first(report.get("findings") or [])
    findings = all_findings[:FINDINGS_LIMIT]
    rows = _finding_rows(report, findings)
    evidence, evidence_omitted = _evidence(findings, rows)
    evidence_omitted += sum(1 for f in all_findings[FINDINGS_LIMIT:] if _has_evidence(f))
    work_sources = _work_sources(findings, rows)
    works = [
        dict(
            w,
            found_in=work_sources.get(str(w.get("group") or w.get("id") or ""), []),
            editions_text=_editions(w.get("editions")),
        )
        for w in sorted(report.get("works") or [], key=lambda w: (-(w.get("coverage") or 0), w.get("id", "")))
    ]
    sources = [
        dict(s, sev_class=_sev_class(s.get("max_severity")), rank=severity_rank(s.get("max_severity")))
        for s in sorted(report.get("sources") or [], key=lambda s: (-(s.get("risk") or 0), s.get("key", "")))
    ]
    skipped = report.get("skipped") or []
    by_severity = summary.get("by_severity") or {}
    return {
        "tool": report.get("tool") or {},
        "run": run,
        "command_line": shlex.join(command) if command else "",
        "fail_on": fail_threshold(command),
        "verdict": verdict(report),
        "summary": summary,
        "by_severity": [(name, int(by_severity.get(name) or 0)) for name in SEVERITY_NAMES],
        "chart": _severity_chart(by_severity),
        "top_sources": [dict(s, sev_class=_sev_class(s.get("max_severity"))) for s in top_sources(report)],
        "top_works": top_works(report),
        "works_chart": _works_chart(top_works(report)),
        "licences": licence_mix(report),
        "licence_chart": _licence_chart(
            licence_mix(report),
            "records" if (report.get("sources_by") or {}).get("license") else "findings",
        ),
        "sources": sources,
        "works": works,
        "findings_total": len(all_findings),
        "findings": rows,
        "findings_omitted": len(all_findings) - len(findings),
        "filters": {
            "severity": [n for n in SEVERITY_NAMES if any(r["severity"] == n for r in rows)],
            "kind": sorted({r["kind"] for r in rows}),
            "source": sorted({r["source"] for r in rows}),
            "work": sorted({(r["work_id"], r["work_title"]) for r in rows if r["work_id"]}),
        },
        "evidence": evidence,
        "evidence_omitted": evidence_omitted,
        "evidence_limit": EVIDENCE_LIMIT,
        "evidence_chars": EVIDENCE_CHARS,
        "registries": report.get("registries") or [],
        "rule_packs": report.get("rule_packs") or [],
        "rules": report.get("rules") or [],
        "inputs": report.get("inputs") or [],
        "skipped": skipped[:SKIPPED_LIMIT],
        "skipped_omitted": max(len(skipped) - SKIPPED_LIMIT, 0),
        "schema_version": report.get("schema_version"),
    }


@register
class HtmlReporter(Reporter):
    """A single HTML file with inline CSS, JS and SVG that works offline and with JavaScript off."""

    name = "html"
    filename = "report.html"

    def render(self, report: dict[str, Any]) -> str:
        return _environment().get_template("report.html.j2").render(build_context(report))
