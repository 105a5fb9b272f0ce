"""report.html: self-contained, inert with hostile text, readable without JavaScript, shows the evidence."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from auditor.reporters import html as html_reporter
from auditor.reporters.html import HtmlReporter

CSP = (
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'; img-src data:\">"
)
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "main", "header", "nav", "section", "article", "div",
    "span", "strong", "b", "i", "a", "p", "h1", "h2", "h3", "svg", "text", "rect", "table", "thead", "tbody",
    "tr", "th", "td", "label", "select", "option", "input", "figure", "figcaption", "pre", "code", "dl", "dt",
    "dd", "script",
}  # fmt: skip


class Page(HTMLParser):
    """Every tag and attribute of a page, as a browser's tokenizer would see them."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data

    def attrs(self, name: str) -> list[str]:
        return [a[name] or "" for _, a in self.tags if name in a]


def render(report: dict[str, Any]) -> str:
    return HtmlReporter().render(report)


def test_html_has_the_csp_and_no_external_resource(report: dict[str, Any]) -> None:
    text = render(report)
    assert CSP in text
    page = Page(text)
    assert not page.attrs("src")
    assert not [t for t, _ in page.tags if t in ("link", "img", "iframe", "object", "embed", "base", "form")]
    assert "@import" not in text and "url(" not in text
    for href in page.attrs("href"):
        assert href.startswith("#") or re.match(r"https?://", href)


def test_html_links_only_http_urls_and_with_noreferrer(report: dict[str, Any]) -> None:
    page = Page(render(report))
    external = [a for t, a in page.tags if t == "a" and not (a.get("href") or "").startswith("#")]
    assert {a["href"] for a in external} == {
        "https://libgen.is/book/1",
        "https://example.org/post/9?a=1&b=2",
        "http://example.org/12",
    }
    for a in external:
        assert set((a.get("rel") or "").split()) >= {"noreferrer", "noopener"}


def test_html_hostile_text_is_inert(hostile: dict[str, Any], payloads: list[str]) -> None:
    text = render(hostile)
    lowered = text.lower()
    assert "<script>alert" not in lowered
    assert "<img" not in lowered
    assert lowered.count("<script") == 1
    assert "\u202e" not in text and "[U+202E]" in text
    assert "\x00" not in text and "[U+0000]" in text
    assert "[U+DCB2]" in text
    assert "{{7*7}}" in text  # printed, never evaluated
    page = Page(text)
    assert {t for t, _ in page.tags} <= ALLOWED_TAGS
    for _, attrs in page.tags:
        assert not [name for name in attrs if name.startswith("on")]
    for href in page.attrs("href"):
        assert not re.match(r"\s*(javascript|data|vbscript):", href, re.I)
        assert href.startswith("#") or re.fullmatch(r"https?://[^\s<>\"']+", href)
    # The script is the page's own: no report data inside it.
    assert len(page.scripts) == 1
    assert "alert" not in page.scripts[0] and "evil" not in page.scripts[0]


def test_html_only_the_plain_https_url_of_the_hostile_report_is_a_link(hostile: dict[str, Any]) -> None:
    page = Page(render(hostile))
    external = [a["href"] for t, a in page.tags if t == "a" and not (a.get("href") or "").startswith("#")]
    assert external == ["https://ok.example/fine?q=1&r=2"]


def test_html_shows_evidence_side_by_side_with_offsets(report: dict[str, Any]) -> None:
    text = render(report)
    assert "record chars 120–980 · work chars 10,400–11,260" in text
    assert "record chars 1,200–1,500 · work chars 20,000–20,300" in text
    assert "record chars 5–48" in text  # a notice: record-only evidence
    assert "It was the coldest winter anyone could remember." in text
    assert "work text not available" in text
    assert "© 2019 Acme Books. All rights reserved." in text


def test_html_clamps_long_evidence(report: dict[str, Any]) -> None:
    report["findings"][0]["evidence"][0]["record_text"] = "x" * 5000
    text = render(report)
    longest = max(len(run) for run in re.findall(r"x+", text))
    assert longest == html_reporter.EVIDENCE_CHARS - 1
    assert "x" * (html_reporter.EVIDENCE_CHARS - 1) + "…" in text


def test_html_caps_the_evidence_shown_worst_first(
    report_factory: Any, finding_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(html_reporter, "EVIDENCE_LIMIT", 3)
    findings = [
        finding_factory(
            severity="low" if i < 4 else "critical",
            row=i + 1,
            record_id=f"doc-{i}",
            spans=[{"record_start": i, "record_end": i + 1, "work_start": 0, "work_end": 1}],
            evidence=[{"record_text": f"record-{i}", "work_text": "w"}],
            work={"id": "w", "title": "W", "registry": "r", "isbns": []},
        )
        for i in range(6)
    ]
    text = render(report_factory(findings))
    assert text.count('<article class="evidence"') == 3
    assert "3 more are omitted" in text
    assert "record-4" in text and "record-5" in text  # the critical ones come first
    assert "<pre>record-0</pre>" in text  # then the first low one, in report order
    assert "<pre>record-1</pre>" not in text and "<pre>record-3</pre>" not in text


def test_html_is_readable_without_javascript(report: dict[str, Any]) -> None:
    text = render(report)
    page = Page(text)
    rows = [a for t, a in page.tags if t == "tr" and (a.get("id") or "").startswith("f-")]
    assert len(rows) == len(report["findings"])
    assert not [a for t, a in page.tags if t == "tr" and "hidden" in a]
    # Filter controls only appear once the script runs (and author CSS must not override [hidden]).
    assert "[hidden] { display: none !important; }" in text
    for _, attrs in page.tags:
        if "data-filter-for" in attrs:
            continue
        if "data-js" in attrs:
            assert "hidden" in attrs


def test_html_rows_carry_filter_attributes(report: dict[str, Any]) -> None:
    page = Page(render(report))
    rows = {a["id"]: a for t, a in page.tags if t == "tr" and (a.get("id") or "").startswith("f-")}
    first = rows["f-0"]
    assert first["data-sev"] == "critical"
    assert first["data-kind"] == "near-duplicate"
    assert first["data-src"] == "libgen.is"
    assert first["data-work"] == "isbn-9780000000001"
    assert rows["f-4"]["data-src"] == "example.org"  # http://example.org/12 → the report's source key
    options = [a.get("value") for t, a in page.tags if t == "option"]
    assert "libgen.is" in options and "near-duplicate" in options


def test_html_header_tells_the_verdict_and_the_counts(report: dict[str, Any]) -> None:
    text = render(report)
    assert "FAIL" in text and "exit code 1" in text
    assert "findings of severity <b>high</b> or worse fail the run" in text
    assert "records scanned" in text and "records flagged" in text
    assert 'aria-label="Findings by severity"' in text
    assert "CC-BY-NC-4.0" in text  # licence mix


def test_html_methodology_lists_the_chain_of_custody(report: dict[str, Any]) -> None:
    text = render(report)
    assert "auditor scan corpus/ -r reg/ -o out/ --fail-on high" in text
    assert "5ng_14bs_8hs_xx64" in text
    assert "sha256:" + "ab" * 32 in text and "sha256:" + "cd" * 32 in text
    assert "11" * 32 in text and "parquet" in text
    assert "truncated gzip stream" in text and "invalid JSON at column 12" in text
    assert "Record comes from a known pirate library." in text
    assert "suppressed: by: baseline; reason: accepted 2026-01" in text


def test_html_renders_an_empty_report(empty: dict[str, Any]) -> None:
    text = render(empty)
    assert "No findings." in text and "No content findings." in text
    assert "ERROR" in text and "exit code 3" in text


def test_html_tolerates_a_report_missing_optional_keys(report: dict[str, Any]) -> None:
    partial = copy.deepcopy(report)
    for key in ("rules", "skipped", "sources", "works"):
        del partial[key]
    del partial["summary"]["inputs_skipped"]
    for f in partial["findings"]:
        del f["detail"]
        del f["evidence"]
    assert "Findings" in render(partial)
