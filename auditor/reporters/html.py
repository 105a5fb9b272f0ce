"""The ``html`` format: one self-contained evidence report for legal review (templates/report.html.j2)."""

from __future__ import annotations

import contextlib
import hashlib
import re
import shlex
from collections import Counter, defaultdict
from collections.abc import Iterator
from functools import cache
from itertools import zip_longest
from typing import Any

import jinja2
from jinja2 import ChainableUndefined, Environment, PackageLoader, Undefined, UndefinedError
from jinja2.bccache import Bucket, BytecodeCache, FileSystemBytecodeCache
from markupsafe import Markup, escape

from auditor.models import SEVERITY_NAMES
from auditor.reporters.align import Piece, align
from auditor.reporters.base import Reporter, chunked, register
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
SOURCES_LIMIT = 20_000
"""Rows of the sources table, riskiest first, and of the works table, most covered first; report.json
keeps them all (a web crawl has millions of hosts, a large registry millions of books)."""
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


_ENVIRONMENT_OPTIONS: dict[str, Any] = {
    "autoescape": True,
    "finalize": _finalize,
    # A report.json from an older or partial run may lack a key: show a dash, do not fail.
    "undefined": ChainableUndefined,
    "trim_blocks": True,
    "lstrip_blocks": True,
}


class _CompiledTemplates(FileSystemBytecodeCache):
    """jinja2's cache of compiled templates in a private (0700) folder of the temp directory, so a
    scan does not compile the report template again (jinja2 checks the template's checksum).

    The compiled code also depends on the jinja2 version and the environment's options, so both are
    part of each file's name. The cache is an optimisation only: a folder it cannot use, a file it
    cannot read or write, or a damaged file means the template is compiled as if there were none.
    """

    def __init__(self) -> None:
        options = repr(sorted((k, getattr(v, "__name__", v)) for k, v in _ENVIRONMENT_OPTIONS.items()))
        tag = hashlib.sha256(f"{jinja2.__version__} {options}".encode()).hexdigest()[:16]
        super().__init__(pattern=f"__auditor_{tag}_%s.cache")

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def _bytecode_cache() -> BytecodeCache | None:
    try:
        return _CompiledTemplates()
    except (OSError, RuntimeError):  # no private folder could be made in the temp directory
        return None


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("auditor", "templates"), bytecode_cache=_bytecode_cache(), **_ENVIRONMENT_OPTIONS
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


def _escape(text: str) -> str:
    """``markupsafe.escape(text)`` as a plain string (no ``Markup`` object made per value)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "'" in text:
        text = text.replace("'", "&#39;")
    if '"' in text:
        text = text.replace('"', "&#34;")
    return text


def _h(value: Any) -> str:
    """``value`` as the template prints ``{{ value }}``: through ``_finalize``, then HTML-escaped."""
    kind = type(value)
    if kind is str:
        return _escape(visible(value))
    if kind is int or kind is float:  # digits, signs, dots, "e", "inf", "nan": nothing to escape
        return repr(value)
    return str(escape(_finalize(value)))


def _finding_row(index: int, finding: dict[str, Any], source: str, anchor: str | None) -> dict[str, Any]:
    """What the findings table and the evidence show of one finding."""
    record = finding.get("record") or {}
    work = finding.get("work") or {}
    url = record.get("url") or ""
    location = _location(record)
    score = finding.get("score") or {}
    return {
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
        "source": source,
        "work_id": work.get("id", ""),
        "work_title": clamp(str(work.get("title") or ""), CELL_CHARS),
        "editions": _editions(finding.get("editions")),
        "score": _score(score),
        "sort_score": score.get("record_coverage") or score.get("similarity") or 0,
        "message": clamp(one_line(str(finding.get("message", ""))), CELL_CHARS),
        "detail": clamp(one_line(str(finding.get("detail") or "")), CELL_CHARS),
        "suppressed": suppression_text(finding.get("suppressed")),
        "evidence_anchor": anchor,
    }


def _finding_row_html(f: dict[str, Any]) -> str:
    """One row of the findings table (the template adds the line break after it)."""
    out = [
        '<tr id="f-', _h(f["index"]), '" data-sev="', _h(f["severity"]), '" data-kind="', _h(f["kind"]),
        '" data-src="', _h(f["source"]), '" data-work="', _h(f["work_id"]), '">\n<td data-v="', _h(f["rank"]),
        '"><span class="sev ', _h(f["sev_class"]), '">', _h(f["severity"]), "</span>",
    ]  # fmt: skip
    if f["suppressed"]:
        out += ['<div class="muted">suppressed: ', _h(f["suppressed"]), "</div>"]
    out += [
        '</td>\n<td class="mono">', _h(f["rule_id"]), "</td>\n<td>", _h(f["kind"]),
        '</td>\n<td class="break"><span class="mono">', _h(f["record_id"]), "</span>",
    ]  # fmt: skip
    if f["location"]:
        out += ['<div class="muted mono">', _h(f["location"]), "</div>"]
    if f["href"]:
        out += ['<div><a href="', _h(f["href"]), '" rel="noreferrer noopener" target="_blank">', _h(f["url"]),
                "</a></div>"]  # fmt: skip
    elif f["url"]:
        out += ['<div class="muted">', _h(f["url"]), "</div>"]
    out += ['<div class="muted">source: ', _h(f["source"]), '</div></td>\n<td class="break">']
    if f["work_id"]:
        out += [_h(f["work_title"] or f["work_id"]), '<div class="muted mono">', _h(f["work_id"]), "</div>"]
    if f["editions"]:
        out += ['<div class="muted">also matched editions: ', _h(f["editions"]), "</div>"]
    out += ['</td>\n<td data-v="', _h(f["sort_score"]), '">', _h(f["score"]), '</td>\n<td class="break">',
            _h(f["message"])]  # fmt: skip
    if f["detail"]:
        out += ['<div class="muted">', _h(f["detail"]), "</div>"]
    if f["evidence_anchor"]:
        out += ['<div><a href="#', _h(f["evidence_anchor"]), '">evidence</a></div>']
    out.append("</td>\n</tr>")
    return "".join(out)


def _source_row_html(s: dict[str, Any]) -> str:
    """One row of the sources table (the template adds the line break after it)."""
    risk = s.get("risk")
    severity = s.get("max_severity")
    # The template's "%.2f"|format(...) is %-formatting: the same text, and the same errors.
    shown_risk = "%.2f" % (risk or 0,)  # noqa: UP031
    return "".join(
        [
            '<tr><td class="break">', _h(s.get("key")),
            '</td><td class="num" data-v="', _h(s.get("records")), '">', _h(_num(s.get("records"))),
            '</td><td class="num" data-v="', _h(s.get("flagged")), '">', _h(_num(s.get("flagged"))),
            '</td><td data-v="', _h(severity_rank(severity)), '"><span class="sev ', _sev_class(severity),
            '">', _h(severity or "none"), '</span></td><td class="num" data-v="', _h(risk),
            '"><span class="bar"><span style="width:', _width(risk), '%"></span></span>', _h(shown_risk),
            "</td></tr>",
        ]
    )  # fmt: skip


def _has_evidence(finding: dict[str, Any]) -> bool:
    return finding.get("kind") in CONTENT_KINDS or bool(finding.get("spans") or finding.get("evidence"))


_PIECE_TAGS = {"same": ("<mark>", "</mark>"), "diff": ('<span class="chg">', "</span>"), "plain": ("", "")}


def _cell(pieces: tuple[Piece, ...]) -> str:
    """One side of an aligned row as HTML: every piece of text made visible and escaped, then tagged."""
    out = []
    for piece in pieces:
        text = _escape(visible(piece.text))
        opening, closing = _PIECE_TAGS.get(piece.kind, ("", ""))
        if opening:
            # Tag line by line, so a highlight never paints the empty end of a line or a blank line.
            if "\n" in text:
                text = "\n".join(
                    f"{opening}{line}{closing}" if line.strip() else line for line in text.split("\n")
                )
            elif text.strip():
                text = opening + text + closing
        out.append(text)
    return "".join(out)


def _span_length(span: dict[str, Any], side: str) -> int | None:
    try:
        return int(span[f"{side}_end"]) - int(span[f"{side}_start"])
    except (KeyError, TypeError, ValueError):
        return None


def _pair_html(number: int, span: dict[str, Any], ev: dict[str, Any]) -> str:
    """One span's evidence: aligned rows, or the record's text alone."""
    record_text = ev.get("record_text")
    work_text = ev.get("work_text")
    offsets = _offsets(span) if span else "offsets not recorded"
    record_caption = "Record text"
    work_caption = "Registered work text"
    if span.get("record_start") is not None:
        record_caption += f" · chars {_num(span.get('record_start'))}–{_num(span.get('record_end'))}"
    if span.get("work_start") is not None:
        work_caption += f" · chars {_num(span.get('work_start'))}–{_num(span.get('work_end'))}"
    out = ['<div class="offsets">span ', _h(number), " · ", _h(offsets)]
    if isinstance(record_text, str) and isinstance(work_text, str):
        alignment = align(
            record_text,
            work_text,
            record_length=_span_length(span, "record"),
            work_length=_span_length(span, "work"),
            limit=EVIDENCE_CHARS,
        )
        shared = (
            f"{alignment.shared_words:,} of the {alignment.record_words:,} words of the record excerpt "
            f"appear in the work excerpt in the same order ({_pct(alignment.shared_share)})"
        )
        out += [" · ", _h(shared), '</div>\n<div class="aligned">\n<div class="cap rec">', _h(record_caption),
                '</div><div class="cap wrk">', _h(work_caption), "</div>\n"]  # fmt: skip
        for row in alignment.rows:
            if row.gap:
                out += ['<div class="gap">', _h(row.gap), "</div>\n"]
            else:
                out += ['<div class="rec">', _cell(row.record), '</div><div class="wrk">', _cell(row.work),
                        "</div>\n"]  # fmt: skip
        out.append("</div>\n")
        return "".join(out)
    # A span with work offsets but no work text comes from a fingerprint-only registry: say so beside
    # the record; a span without work offsets is the record's own text (a notice): one column.
    mode = "no-work-text" if span.get("work_start") is not None else "record-only"
    out.append('</div>\n<div class="pair')
    if mode == "record-only":
        out.append(" single")
    out += ['">\n<figure><figcaption>', _h(record_caption), "</figcaption>"]
    if isinstance(record_text, str):
        out += ["<pre>", _h(clamp(record_text, EVIDENCE_CHARS)), "</pre>"]
    else:
        out.append('<pre class="muted">record text not recorded</pre>')
    out.append("</figure>\n")
    if mode == "no-work-text":
        out += ["<figure><figcaption>", _h(work_caption), "</figcaption><pre class=\"muted\">work text not "
                "available (the registry holds fingerprints only)</pre></figure>"]  # fmt: skip
    out.append("</div>\n")
    return "".join(out)


def _evidence_html(f: dict[str, Any], finding: dict[str, Any]) -> str:
    """One finding's evidence: its header and each span's excerpts (the template adds the line break)."""
    out = [
        '<article class="evidence" id="', _h(f["evidence_anchor"]), '">\n<header><span class="sev ',
        _h(f["sev_class"]), '">', _h(f["severity"]), '</span><span class="mono">', _h(f["rule_id"]),
        "</span><span>", _h(f["kind"]), '</span>\n<span class="break">record <span class="mono">',
        _h(f["record_id"]), "</span>",
    ]  # fmt: skip
    if f["location"]:
        out += [" (", _h(f["location"]), ")"]
    out.append("</span>\n")
    if f["work_id"]:
        out += ['<span class="break">work <b>', _h(f["work_title"] or f["work_id"]),
                '</b> <span class="mono muted">', _h(f["work_id"]), "</span></span>"]  # fmt: skip
    if f["editions"]:
        out += ['<span class="break muted">also matched editions: ', _h(f["editions"]), "</span>"]
    out += ['<a href="#f-', _h(f["index"]), '">back to finding</a></header>\n<div class="break">',
            _h(str(finding.get("message", "")))]  # fmt: skip
    if f["score"]:
        out += [' <span class="muted">(', _h(f["score"]), ")</span>"]
    out.append("</div>\n")
    spans = finding.get("spans") or []
    evidence = finding.get("evidence") or []
    number = 0
    for number, (span, ev) in enumerate(zip_longest(spans, evidence), 1):
        out.append(
            _pair_html(number, span if isinstance(span, dict) else {}, ev if isinstance(ev, dict) else {})
        )
    if not number:
        out.append('<p class="muted">No spans recorded for this finding.</p>\n')
    out.append("</article>")
    return "".join(out)


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
    """Everything the template shows, computed so the template only loops and prints.

    The findings table and the evidence are iterators that render each row as the template reaches
    it, so a large report is never held as one structure (or one string): what is kept for the whole
    run is one source key per finding row, and the counts and sets the filters and charts need.
    """
    summary = report.get("summary") or {}
    run = report.get("run") or {}
    command = [str(a) for a in run.get("command") or []]
    all_findings = worst_first(report.get("findings") or [])
    findings = all_findings[:FINDINGS_LIMIT]
    index = SourceIndex(report)
    # One pass for what must be known before the first row is written: the filters' choices, the
    # sources of each book, which findings show evidence.
    source_keys: list[str] = []
    severities: set[str] = set()
    kinds: set[Any] = set()
    works_seen: set[tuple[Any, str]] = set()
    per_work: dict[str, Counter[str]] = defaultdict(Counter)
    evidence_rows: list[int] = []
    evidence_omitted = 0
    limit = EVIDENCE_LIMIT
    for position, finding in enumerate(findings):
        record = finding.get("record") or {}
        source = index.key_for(record)
        source_keys.append(source)
        severity = finding.get("severity")
        for name in SEVERITY_NAMES:
            if severity == name:
                severities.add(name)
        kinds.add(finding.get("kind", ""))
        work = finding.get("work") or {}
        work_id = work.get("id", "")
        if work_id:
            works_seen.add((work_id, clamp(str(work.get("title") or ""), CELL_CHARS)))
        if finding.get("work"):
            per_work[str(work.get("group") or work.get("id") or "")][source] += 1
        if _has_evidence(finding):
            if len(evidence_rows) >= limit:
                evidence_omitted += 1
            else:
                evidence_rows.append(position)
    evidence_omitted += sum(1 for f in all_findings[FINDINGS_LIMIT:] if _has_evidence(f))
    anchored = set(evidence_rows)
    work_sources = {
        work: [key for key, _ in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:3]]
        for work, c in per_work.items()
    }

    def anchor(position: int) -> str | None:
        return f"ev-{position}" if position in anchored else None

    def finding_rows() -> Iterator[Markup]:
        for position, finding in enumerate(findings):
            row = _finding_row(position, finding, source_keys[position], anchor(position))
            yield Markup(_finding_row_html(row))

    def evidence() -> Iterator[Markup]:
        for position in evidence_rows:
            finding = findings[position]
            row = _finding_row(position, finding, source_keys[position], anchor(position))
            yield Markup(_evidence_html(row, finding))

    all_works = sorted(report.get("works") or [], key=lambda w: (-(w.get("coverage") or 0), w.get("id", "")))
    works = [
        dict(
            w,
            found_in=work_sources.get(str(w.get("group") or w.get("id") or ""), []),
            editions_text=_editions(w.get("editions")),
        )
        for w in all_works[:SOURCES_LIMIT]
    ]
    all_sources = sorted(report.get("sources") or [], key=lambda s: (-(s.get("risk") or 0), s.get("key", "")))
    sources = all_sources[:SOURCES_LIMIT]

    def source_rows() -> Iterator[Markup]:
        for source in sources:
            yield Markup(_source_row_html(source))

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
        "source_rows": source_rows(),
        "sources_omitted": len(all_sources) - len(sources),
        "works": works,
        "works_omitted": len(all_works) - len(works),
        "findings_total": len(all_findings),
        "findings": finding_rows(),
        "findings_shown": len(findings),
        "findings_omitted": len(all_findings) - len(findings),
        "filters": {
            "severity": [n for n in SEVERITY_NAMES if n in severities],
            "kind": sorted(kinds),
            "source": sorted(set(source_keys)),
            "work": sorted(works_seen),
        },
        "evidence": evidence(),
        "evidence_shown": len(evidence_rows),
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


"""Characters of rendered HTML gathered before a piece is handed to the writer."""


@register
class HtmlReporter(Reporter):
    """A single HTML file with inline CSS, JS and SVG that works offline and with JavaScript off."""

    name = "html"
    filename = "report.html"

    def render(self, report: dict[str, Any]) -> str:
        return "".join(self.stream(report))

    def stream(self, report: dict[str, Any]) -> Iterator[str]:
        """The page in pieces of about ``CHUNK_CHARS``, each row rendered as it is reached."""
        template = _environment().get_template("report.html.j2")
        yield from chunked(template.generate(build_context(report)))
