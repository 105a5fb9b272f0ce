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
    "dd", "script", "g", "mark",
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


def test_html_windows_long_evidence_around_a_marked_gap(report: dict[str, Any]) -> None:
    report["findings"][0]["evidence"][0]["record_text"] = "x" * 5000
    text = render(report)
    longest = max(len(run) for run in re.findall(r"x+", text))
    assert longest == html_reporter.EVIDENCE_CHARS // 2
    assert "3,500 characters of the record not shown here" in text


def test_html_clamps_long_record_only_evidence(report: dict[str, Any]) -> None:
    report["findings"][4]["evidence"][0]["record_text"] = "y" * 5000  # the notice: no work side
    text = render(report)
    assert "y" * (html_reporter.EVIDENCE_CHARS - 1) + "…" in text
    assert "y" * html_reporter.EVIDENCE_CHARS not in text


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
    assert "record-0" in text  # then the first low one, in report order
    assert "record-1" not in text and "record-3" not in text


def test_html_lists_the_riskiest_sources_up_to_a_cap_and_counts_the_rest(
    report: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(html_reporter, "SOURCES_LIMIT", 2)
    report["sources"] = [
        {"key": f"host{i}.example", "records": 10, "flagged": i, "max_severity": "high", "risk": i / 10}
        for i in range(5)
    ]
    text = render(report)
    table = text[text.index('id="sources-table"') : text.index("</table>", text.index('id="sources-table"'))]
    assert "host4.example" in table and "host3.example" in table
    assert "host2.example" not in table and "host0.example" not in table
    assert "The riskiest 2 sources are listed; 3 more are in report.json." in text
    monkeypatch.setattr(html_reporter, "SOURCES_LIMIT", 5)
    assert (
        "more are in report.json" not in render(report).split('id="sources-table"')[1].split("</section>")[0]
    )


def test_html_lists_the_works_found_most_completely_up_to_a_cap(
    report: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(html_reporter, "SOURCES_LIMIT", 1)
    report["works"] = [
        {"id": f"w{i}", "title": f"Title {i}", "registry": "r", "coverage": i / 10, "records": 1}
        for i in range(3)
    ]
    section = render(report).split('id="works-table"')[1].split("</section>")[0]
    assert "Title 2" in section and "Title 1" not in section and "Title 0" not in section
    assert "The 1 works found most completely are listed; 2 more are in report.json." in section


def test_html_evidence_marks_shared_words_and_aligns_the_rows(
    report_factory: Any, finding_factory: Any
) -> None:
    record = "The quick brown fox jumps over the lazy dog. It ran home."
    work = "The quick red fox jumps over the lazy cat. It ran home."
    finding = finding_factory(
        spans=[{"record_start": 10, "record_end": 67, "work_start": 500, "work_end": 555}],
        evidence=[{"record_text": record, "work_text": work}],
        work={"id": "w", "title": "W", "registry": "r", "isbns": []},
    )
    text = render(report_factory([finding]))
    assert '<div class="rec"><mark>The quick</mark> <span class="chg">brown</span> <mark>fox jumps' in text
    assert '<div class="wrk"><mark>The quick</mark> <span class="chg">red</span> <mark>fox jumps' in text
    assert '<span class="chg">dog</span>' in text and '<span class="chg">cat</span>' in text
    assert "10 of the 12 words of the record excerpt appear in the work excerpt in the same order" in text
    assert "Record text · chars 10–67" in text and "Registered work text · chars 500–555" in text


def test_html_evidence_shows_the_engines_middle_cut_as_a_gap(
    report_factory: Any, finding_factory: Any
) -> None:
    head, tail = "alpha beta gamma delta " * 26, " omega psi chi phi" * 33  # 598 + 594 characters
    record = head[:600].ljust(600, "x") + " … " + tail[:600].rjust(600, "y")
    work = head[:580].ljust(580, "z") + " … " + tail[:580].rjust(580, "y")
    finding = finding_factory(
        spans=[{"record_start": 0, "record_end": 5000, "work_start": 100, "work_end": 3100}],
        evidence=[{"record_text": record, "work_text": work}],
        work={"id": "w", "title": "W", "registry": "r", "isbns": []},
    )
    text = render(report_factory([finding]))
    assert "3,800 characters of the record and 1,840 of the work not kept in the report" in text
    assert " … " not in re.sub(r"<[^>]+>", "", text.split('id="evidence"')[1].split("</article>")[0])


def test_html_overview_draws_the_works_and_the_licence_mix_as_svg(report: dict[str, Any]) -> None:
    text = render(report)
    assert 'aria-label="Works most present: share of each work found"' in text
    assert 'aria-label="Licence mix: records per declared licence"' in text
    assert "<title>The Long Winter</title>" in text and "35.0 % · 12 records" in text
    assert "<title>CC-BY-NC-4.0</title>" in text and "1 findings" in text


def test_html_names_the_other_editions_of_a_book(report_factory: Any, finding_factory: Any) -> None:
    epub = {"id": "novel", "title": "The Novel", "registry": "r", "isbns": [], "group": "novel"}
    pdf = {"id": "novel-pdf", "title": "The Novel (print)", "registry": "r", "isbns": [], "group": "novel"}
    finding = finding_factory(
        work=epub,
        spans=[{"record_start": 0, "record_end": 5, "work_start": 0, "work_end": 5}],
        evidence=[{"record_text": "words", "work_text": "words"}],
        editions=[{"work": pdf, "kind": "near-duplicate", "score": None, "spans": []}],
    )
    works = [
        {"id": "novel-pdf", "title": "The Novel (print)", "registry": "r", "coverage": 0.5, "records": 1,
         "group": "novel", "editions": [{"id": "novel", "title": "The Novel"}]},
    ]  # fmt: skip
    text = render(report_factory([finding], works=works))
    # The findings table and the evidence name the PDF beside the EPUB; the works table the reverse.
    assert text.count("also matched editions: The Novel (print) (novel-pdf)") == 2
    assert text.count("also matched editions: The Novel (novel)") == 1
    # One book: the works row finds the sources of the EPUB's finding through the group.
    assert "libgen.is</td></tr>" in text
    alone = finding_factory(work=epub)
    assert "also matched editions" not in render(report_factory([alone]))


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
