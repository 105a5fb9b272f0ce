"""Fixtures of the browser tests: one headless chromium, the sample report, hostile reports, page probes."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from auditor.reporters import get_reporter
from tests.browser.harness import build_sample_report, launch, unavailable
from tests.conftest import Words

# Each payload sets window.__pwned (and opens a dialog) if it ever runs; the tests assert neither happens.
RUN = "window.__pwned='{tag}';alert('{tag}')"
PAYLOADS = {
    "script": "<script>" + RUN.format(tag="script") + "</script>",
    "close": "</script><script>" + RUN.format(tag="close") + "</script>",
    "img": '"><img src=x onerror="' + RUN.format(tag="img") + '">',
    "svg": "'><svg onload=" + RUN.format(tag="svg").replace("'", "`") + ">",
    "style": "</style><style>body{background:url(https://evil.example/x)}</style>",
    "template": "{{7*7}}${7*7}<%= 7*7 %>",
    "bidi": "evil\u202egnp.exe",
}
JS_URL = "javascript:" + RUN.format(tag="url")
HOSTILE = " ".join(PAYLOADS.values())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = unavailable()
    for item in items:
        if "tests/browser/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives Debian's chromium headless (tests/browser)")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """report.json and report.html of the README's sample scan."""
    return build_sample_report(tmp_path_factory.mktemp("browser-sample"))


@pytest.fixture(scope="session")
def sample_report(sample_dir: Path) -> dict[str, Any]:
    return json.loads((sample_dir / "report.json").read_text(encoding="utf-8"))


@dataclass
class Probe:
    """One loaded page and everything it did: requests, console messages, errors, dialogs."""

    page: Any
    url: str
    requests: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def pwned(self) -> Any:
        return self.page.evaluate("window.__pwned")

    def visible_rows(self, table: str, *, laid_out: bool = False) -> list[dict[str, str]]:
        """The data-* attributes and first cell of every shown body row of a table.

        A row is shown when it is not ``hidden`` (the filters' only switch; author CSS can't override
        it); with ``laid_out`` it must also have a layout box, which makes the browser lay out the page.
        """
        return self.page.evaluate(
            """([id, laidOut]) => Array.from(document.getElementById(id).tBodies[0].rows)
                 .filter((r) => !r.hidden && (!laidOut || r.getClientRects().length > 0))
                 .map((r) => Object.assign({first: r.cells[0].textContent.trim()}, r.dataset))""",
            [table, laid_out],
        )


def _open(browser: Any, path: Path, *, javascript: bool = True) -> tuple[Any, Probe]:
    context = browser.new_context(java_script_enabled=javascript, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    probe = Probe(page=page, url=path.resolve().as_uri())
    page.on("request", lambda request: probe.requests.append(request.url))
    page.on("console", lambda message: probe.console.append((message.type, message.text)))
    page.on("pageerror", lambda error: probe.errors.append(str(error)))

    def on_dialog(dialog: Any) -> None:
        probe.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(probe.url, wait_until="load")
    return context, probe


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[..., Probe]]:
    """Open a file in a fresh browser context, recording what the page does."""
    contexts: list[Any] = []

    def opener(path: Path, *, javascript: bool = True) -> Probe:
        context, probe = _open(browser, path, javascript=javascript)
        contexts.append(context)
        return probe

    yield opener
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def sample_page(browser: Any, sample_dir: Path) -> Iterator[Probe]:
    """The sample report, loaded once for the tests that click through it (each leaves filters cleared)."""
    context, probe = _open(browser, sample_dir / "report.html")
    yield probe
    context.close()


def _render(report: dict[str, Any], path: Path) -> Path:
    path.write_text(get_reporter("html").render(report), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def hostile_scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """report.html of a real scan where titles, ids, URLs, licences, paths and texts carry payloads."""
    from auditor import cli

    root = tmp_path_factory.mktemp("hostile")
    words = Words(31)
    books = {f"w{i}": words.text(1500) for i in range(3)}
    (root / "works").mkdir()
    rows = []
    for i, (work_id, text) in enumerate(books.items()):
        (root / "works" / f"{work_id}.txt").write_text(text, encoding="utf-8")
        rows.append(
            {
                "work_id": f"{work_id}{PAYLOADS['img']}",
                "title": f"Title {i} {HOSTILE}",
                "authors": HOSTILE,
                "isbn": "",
                "rights_holder": HOSTILE,
                "license": "All rights reserved",
                "source": "publisher",
                "md5": "",
                "sha256": "",
                "path": f"works/{work_id}.txt",
            }
        )
    with (root / "catalogue.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    filler = words.text(120)
    copy = books["w0"][2000:5000]
    records = [
        {
            "id": PAYLOADS["script"],
            "url": JS_URL,
            "license": PAYLOADS["img"],
            "text": f"{HOSTILE} {copy} {HOSTILE}",
        },
        {
            "id": PAYLOADS["close"],
            "url": f"https://libgen.is/book/{PAYLOADS['img']}",
            "license": "CC-BY-NC-4.0",
            "text": books["w1"][1000:2500] + f" {HOSTILE} " + books["w1"][2500:4000],
        },
        {
            "id": PAYLOADS["svg"],
            "url": f"https://evil.example/{PAYLOADS['close']}",
            "text": f"{filler} Copyright © 2020 {HOSTILE}. All rights reserved. No part of this publication "
            f"may be reproduced, stored in a retrieval system, or transmitted in any form. {filler}",
        },
    ]
    corpus = root / f"corpus{PAYLOADS['img'].replace('/', '')}"
    corpus.mkdir()
    shard = corpus / "shard.jsonl"
    shard.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    out = root / "out"
    for args in (
        ["registry", "build", root / "works", "--catalogue", root / "catalogue.csv", "-o", root / "reg",
         "--name", HOSTILE, "--quiet"],
        ["scan", corpus, "-r", root / "reg", "-o", out, "--quiet", "--workers", "1"],
    ):  # fmt: skip
        with pytest.raises(SystemExit):
            cli.main([str(a) for a in args])
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    kinds = {f["kind"] for f in report["findings"]}
    assert {"near-duplicate", "notice", "source"} <= kinds, kinds  # the payloads reach every part of the page
    return out / "report.html"


@pytest.fixture(scope="session")
def hostile_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """report.html of a hand-built report whose every field (tool, command, paths, rules…) is hostile."""
    from tests.reporters.conftest import hostile_report

    return _render(hostile_report(), tmp_path_factory.mktemp("hostile-built") / "report.html")


@pytest.fixture(scope="session")
def large_report(sample_report: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """report.html with 10,000 findings (the sample's findings repeated on new rows)."""
    base = sample_report["findings"]
    findings = []
    for i in range(10_000):
        finding = json.loads(json.dumps(base[i % len(base)]))
        finding["record"]["row"] += 100_000 * (i // len(base))
        finding["record"]["id"] = f"{finding['record']['id']}-{i}"
        findings.append(finding)
    report = dict(sample_report, findings=findings)
    by_severity = dict.fromkeys(report["summary"]["by_severity"], 0)
    for f in findings:
        by_severity[f["severity"]] += 1
    report["summary"] = dict(report["summary"], by_severity=by_severity)
    path = _render(report, tmp_path_factory.mktemp("large") / "report.html")
    return path, sum(1 for f in findings if f["severity"] == "medium")
