"""report.html in a real browser: offline, sorts and filters, inert with hostile text, readable without JS."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}


def assert_quiet(probe: Any) -> None:
    """No request but the file itself, no console message, no script error, no dialog, no payload run."""
    assert probe.requests == [probe.url]
    assert probe.page.evaluate("performance.getEntriesByType('resource').length") == 0
    assert [m for m in probe.console if m[0] in ("error", "warning")] == []
    assert probe.errors == [] and probe.dialogs == []
    assert probe.pwned() is None


# ------------------------------------------------------------------------------------------ loading


def test_sample_report_loads_offline_without_console_errors(sample_page, sample_report) -> None:
    probe = sample_page
    assert_quiet(probe)
    assert probe.console == []
    page = probe.page
    assert page.title() == "Provenance audit report — FAIL"
    assert len(probe.visible_rows("findings-table", laid_out=True)) == len(sample_report["findings"])
    assert not page.locator("[data-nojs]").is_visible()  # the "no sorting or filtering" note
    # The script ran: the controls are shown and the counters filled.
    assert page.locator('[data-count-for="findings-table"]').inner_text() == (
        f"showing {len(sample_report['findings'])} of {len(sample_report['findings'])}"
    )
    assert page.locator("#evidence article").count() == 500
    assert page.locator("#evidence mark").count() > 1000


def test_evidence_link_jumps_to_the_aligned_excerpts(sample_page) -> None:
    probe = sample_page
    page = probe.page
    page.locator("#f-0 a", has_text="evidence").click()
    assert page.evaluate("location.hash") == "#ev-0"
    article = page.locator("#ev-0")
    assert article.is_visible() and article.locator(".aligned .rec mark").count() > 0
    # Record and work rows line up: the n-th record cell and the n-th work cell share a top edge.
    tops = page.evaluate(
        """() => Array.from(document.querySelectorAll('#ev-0 .aligned > .rec'))
             .map((r) => [r.getBoundingClientRect().top, r.nextElementSibling.getBoundingClientRect().top])"""
    )
    assert tops and all(abs(a - b) < 1 for a, b in tops)
    page.locator("#ev-0 a", has_text="back to finding").click()
    assert page.evaluate("location.hash") == "#f-0"
    assert_quiet(probe)


# ------------------------------------------------------------------------------------ sort and filter


def test_sorting_by_clicking_headers(sample_page) -> None:
    probe = sample_page
    page = probe.page
    header = page.locator("#sources-table th", has_text="Records")
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    records = [int(v) for v in _column(page, "sources-table", 1)]
    assert records == sorted(records, reverse=True) and records[0] > records[-1]
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    records = [int(v) for v in _column(page, "sources-table", 1)]
    assert records == sorted(records)

    source = page.locator("#sources-table th", has_text="Source")
    source.click()  # text columns sort ascending first
    keys = [r["first"].lower() for r in probe.visible_rows("sources-table")]
    assert keys == sorted(keys)

    severity = page.locator("#findings-table th", has_text="Severity")
    severity.click()
    severity.click()  # numeric: descending first, then ascending
    ranks = [SEVERITY_RANK[r["sev"]] for r in probe.visible_rows("findings-table")]
    assert ranks == sorted(ranks) and ranks[0] < ranks[-1]
    severity.focus()  # headers are reachable and sortable from the keyboard too
    page.keyboard.press("Enter")
    ranks = [SEVERITY_RANK[r["sev"]] for r in probe.visible_rows("findings-table")]
    assert ranks == sorted(ranks, reverse=True)
    assert_quiet(probe)


def _column(page: Any, table: str, col: int) -> list[str]:
    """The sort values (data-v) of one column of a table's visible rows, top to bottom."""
    return page.evaluate(
        """([id, col]) => Array.from(document.getElementById(id).tBodies[0].rows)
             .filter((r) => !r.hidden).map((r) => r.cells[col].getAttribute('data-v'))""",
        [table, col],
    )


def test_findings_filters_by_severity_kind_source_and_work(
    open_page, sample_dir: Path, sample_report
) -> None:
    probe = open_page(sample_dir / "report.html")
    page = probe.page
    findings = sample_report["findings"]
    counter = page.locator('[data-count-for="findings-table"]')

    page.select_option('select[data-attr="sev"]', "medium")
    rows = probe.visible_rows("findings-table")
    assert rows and {r["sev"] for r in rows} == {"medium"}
    assert len(rows) == sum(1 for f in findings if f["severity"] == "medium")
    assert counter.inner_text() == f"showing {len(rows)} of {len(findings)}"

    page.select_option('select[data-attr="kind"]', "near-duplicate")
    rows = probe.visible_rows("findings-table")
    expected = [f for f in findings if f["severity"] == "medium" and f["kind"] == "near-duplicate"]
    assert len(rows) == len(expected) > 0 and {(r["sev"], r["kind"]) for r in rows} == {
        ("medium", "near-duplicate")
    }

    page.select_option('select[data-attr="sev"]', "")
    page.select_option('select[data-attr="kind"]', "")
    work_id, work_count = Counter(f["work"]["id"] for f in findings if f["work"]).most_common(1)[0]
    page.select_option('select[data-attr="work"]', work_id)
    rows = probe.visible_rows("findings-table")
    assert len(rows) == work_count and {r["work"] for r in rows} == {work_id}

    page.select_option('select[data-attr="work"]', "")
    page.select_option('select[data-attr="src"]', "libgen.is")
    rows = probe.visible_rows("findings-table")
    assert rows and {r["src"] for r in rows} == {"libgen.is"}

    page.select_option('select[data-attr="src"]', "")
    page.fill('input[data-filter-for="findings-table"]', "AUD-NOT")
    rows = probe.visible_rows("findings-table")
    assert len(rows) == sum(1 for f in findings if f["rule_id"].startswith("AUD-NOT")) > 0
    page.fill('input[data-filter-for="findings-table"]', "")
    assert len(probe.visible_rows("findings-table")) == len(findings)
    assert_quiet(probe)


def test_sources_and_works_text_filters(sample_page, sample_report) -> None:
    probe = sample_page
    page = probe.page
    page.fill('input[data-filter-for="sources-table"]', "libgen")
    keys = [r["first"] for r in probe.visible_rows("sources-table")]
    assert keys and all("libgen" in k for k in keys)
    assert len(keys) == sum(1 for s in sample_report["sources"] if "libgen" in s["key"])
    title = sample_report["works"][0]["title"]
    page.fill('input[data-filter-for="works-table"]', title.lower())
    assert [r["first"] for r in probe.visible_rows("works-table")] == [title]
    page.fill('input[data-filter-for="sources-table"]', "")
    page.fill('input[data-filter-for="works-table"]', "")
    assert_quiet(probe)


# ------------------------------------------------------------------------------------------ hostile


@pytest.mark.parametrize("which", ["hostile_scan", "hostile_built"])
def test_hostile_payloads_stay_inert(open_page, request: pytest.FixtureRequest, which: str) -> None:
    path: Path = request.getfixturevalue(which)
    probe = open_page(path)
    page = probe.page
    # Real clicks and typing on a few controls, then every control through the DOM: each option of
    # each filter, a payload typed into each search, every sortable header, every in-page link.
    page.locator("#findings-table th").first.click()
    page.locator('a[href^="#ev-"]').first.click()
    page.fill('input[data-filter-for="findings-table"]', "<script>window.__pwned='typed'</script>")
    page.evaluate(
        """() => {
             for (const select of document.querySelectorAll('select[data-filter-for]')) {
               for (const option of select.options) {
                 select.value = option.value;
                 select.dispatchEvent(new Event('change'));
               }
               select.value = '';
               select.dispatchEvent(new Event('change'));
             }
             for (const input of document.querySelectorAll('input[data-filter-for]')) {
               input.value = '"><img src=x onerror="window.__pwned=1">';
               input.dispatchEvent(new Event('input'));
             }
             document.querySelectorAll('table.sortable th').forEach((th) => { th.click(); th.click(); });
             document.querySelectorAll('a[href^="#"]').forEach((a) => a.click());
           }"""
    )
    assert_quiet(probe)
    dom = page.evaluate(
        """() => ({
             scripts: document.scripts.length,
             handlers: Array.from(document.querySelectorAll('*')).flatMap((e) =>
               Array.from(e.attributes).filter((a) => a.name.startsWith('on')).map((a) => a.name)),
             links: Array.from(document.links).map((a) => a.getAttribute('href'))
               .filter((h) => !h.startsWith('#')),
             embedded: document.querySelectorAll('img, iframe, object, embed, link, base, form').length,
           })"""
    )
    assert dom["scripts"] == 1 and dom["handlers"] == [] and dom["embedded"] == 0
    assert all(h.startswith(("https://", "http://")) for h in dom["links"]), dom["links"]
    assert "<script>" in page.locator("body").inner_text()  # the payloads are shown as text, not run


# -------------------------------------------------------------------------------------- no JavaScript


def test_without_javascript_every_finding_and_all_evidence_is_visible(
    open_page, sample_dir: Path, sample_report
) -> None:
    probe = open_page(sample_dir / "report.html", javascript=False)
    page = probe.page
    assert probe.requests == [probe.url] and probe.errors == []
    rows = probe.visible_rows("findings-table", laid_out=True)
    assert len(rows) == len(sample_report["findings"])
    assert len(probe.visible_rows("sources-table", laid_out=True)) == len(sample_report["sources"])
    assert len(probe.visible_rows("works-table", laid_out=True)) == len(sample_report["works"])
    assert page.locator("#evidence article").count() == 500
    assert page.locator("#evidence article").last.is_visible()
    assert page.locator("#evidence mark").first.is_visible()
    assert not page.locator("[data-js]").first.is_visible()  # controls need the script: hidden
    note = page.locator("[data-nojs]")
    assert note.is_visible() and "every row of every table is listed" in note.inner_text()
    assert page.locator('svg[aria-label^="Licence mix"]').is_visible()
    assert page.locator('svg[aria-label^="Works most present"]').is_visible()


# ------------------------------------------------------------------------------------------- scale


def test_ten_thousand_findings_load_and_filter(open_page, large_report: tuple[Path, int]) -> None:
    path, medium = large_report
    probe = open_page(path)
    page = probe.page
    assert len(probe.visible_rows("findings-table")) == 10_000
    page.select_option('select[data-attr="sev"]', "medium")
    assert len(probe.visible_rows("findings-table")) == medium
    assert_quiet(probe)


# --------------------------------------------------------------------------------------- screenshot


def test_screenshot_script_writes_the_docs_images(browser: Any, sample_dir: Path, tmp_path: Path) -> None:
    from tests.browser.screenshot import SHOTS, take_screenshots

    written = take_screenshots(sample_dir / "report.html", tmp_path, browser=browser)
    assert [p.name for p in written] == [name for name, _, _ in SHOTS]
    for path in written:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(data[16:20], "big") == 1280  # IHDR width
