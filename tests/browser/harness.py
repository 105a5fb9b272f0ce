"""Shared by the browser tests and the screenshot script: Debian's chromium, and the sample report.

The browser is the system's chromium (``/usr/bin/chromium``, or ``AUDITOR_CHROMIUM``) driven by
Playwright for Python; Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("AUDITOR_CHROMIUM", "/usr/bin/chromium"))
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Chromium flags that work in containers and keep the browser itself off the network."""


def unavailable() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return (
            f"chromium not found at {CHROMIUM}: install Debian's chromium (.ci/run does) "
            "or point AUDITOR_CHROMIUM at a Chromium binary"
        )
    return None


def launch(playwright: Any) -> Any:
    """A headless chromium from the system, never a downloaded one."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)


def build_sample_report(workdir: Path) -> Path:
    """Build the sample registry and scan the sample crawl as README's quick start does.

    Runs ``python -m auditor`` from the repository root, so inputs are named ``sample_corpora/…`` and
    the command line in the chain of custody is the one a user would type. Returns the output folder
    (report.json, report.html).
    """
    registry, out = workdir / "sample-registry", workdir / "sample-report"
    shutil.rmtree(out, ignore_errors=True)
    auditor = [sys.executable, "-m", "auditor"]
    build = [
        "registry",
        "build",
        "sample_corpora/registry",
        "-o",
        str(registry),
        "--name",
        "sample",
        "--quiet",
    ]
    scan = [
        "scan",
        "sample_corpora/webcrawl",
        "-r",
        str(registry),
        "-o",
        str(out),
        "--workers",
        "2",
        "--quiet",
    ]
    for args, expected in ((build, 0), (scan, 1)):
        if args is build and (registry / "manifest.json").exists():
            continue
        done = subprocess.run([*auditor, *args], cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != expected:
            raise RuntimeError(
                f"auditor {' '.join(args)} exited {done.returncode}, expected {expected}: {done.stderr}"
            )
    return out
