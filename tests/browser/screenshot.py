"""Screenshots of the sample report for docs/: ``python tests/browser/screenshot.py``.

Builds the README's sample scan in a temporary folder, opens its report.html in Debian's chromium
(headless, offline) and writes docs/report-screenshot.png (the overview) and docs/report-evidence.png
(the aligned evidence of the worst finding). Run it after a change to the report's look.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.browser.harness import ROOT, build_sample_report, launch, unavailable

SHOTS = (
    ("report-screenshot.png", None, 1500),
    ("report-evidence.png", "#ev-0", 1100),
)
"""(file name, element to scroll to the top or None for the page top, height in CSS pixels)."""
WIDTH = 1280


def take_screenshots(html: Path, out_dir: Path, *, browser: Any = None) -> list[Path]:
    """Write the SHOTS of ``html`` into ``out_dir``; uses ``browser`` if given, else launches one."""
    if browser is None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            chromium = launch(playwright)
            try:
                return take_screenshots(html, out_dir, browser=chromium)
            finally:
                chromium.close()
    written = []
    context = browser.new_context(viewport={"width": WIDTH, "height": SHOTS[0][2]}, device_scale_factor=1)
    try:
        page = context.new_page()
        page.goto(html.resolve().as_uri(), wait_until="load")
        for name, anchor, height in SHOTS:
            page.set_viewport_size({"width": WIDTH, "height": height})
            if anchor:
                page.locator(anchor).evaluate("(e) => e.scrollIntoView({block: 'start'})")
            else:
                page.evaluate("window.scrollTo(0, 0)")
            # Rows far from the viewport are drawn lazily (content-visibility): let two frames paint
            # after the scroll, or the shot can come out blank on a loaded machine.
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            page.wait_for_timeout(300)
            path = out_dir / name
            page.screenshot(path=str(path))
            written.append(path)
    finally:
        context.close()
    return written


def main() -> None:
    reason = unavailable()
    if reason:
        sys.exit(f"screenshot.py: {reason}")
    with tempfile.TemporaryDirectory() as tmp:
        out = build_sample_report(Path(tmp))
        for path in take_screenshots(out / "report.html", ROOT / "docs"):
            print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
