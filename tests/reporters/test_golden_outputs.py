"""Every text format of a few report records stays byte for byte what it was, rendered or streamed."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.reporters import get_reporter, write_report
from tests.reporters.golden.regenerate import FORMATS, HERE, golden_reports, render

REPORTS = golden_reports()
CASES = [(name, fmt) for name in REPORTS for fmt in FORMATS]


@pytest.mark.parametrize(("name", "fmt"), CASES)
def test_rendered_output_is_the_golden_file(name: str, fmt: str) -> None:
    """After a deliberate change to a format run tests/reporters/golden/regenerate.py, review the diff."""
    assert render(REPORTS[name], fmt) == (HERE / f"{name}.{FORMATS[fmt]}").read_bytes()


@pytest.mark.parametrize(("name", "fmt"), CASES)
def test_streamed_output_is_the_golden_file(name: str, fmt: str, tmp_path: Path) -> None:
    write_report(tmp_path / "out", get_reporter(fmt).stream(REPORTS[name]))
    assert (tmp_path / "out").read_bytes() == (HERE / f"{name}.{FORMATS[fmt]}").read_bytes()


@pytest.mark.parametrize("name", list(REPORTS))
def test_streamed_parquet_is_the_rendered_one(name: str, tmp_path: Path) -> None:
    reporter = get_reporter("parquet")
    write_report(tmp_path / "out", reporter.stream(REPORTS[name]))
    assert (tmp_path / "out").read_bytes() == reporter.render(REPORTS[name])
