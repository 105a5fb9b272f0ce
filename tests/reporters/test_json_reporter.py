"""report.json: deterministic, round-trips, survives any text."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from auditor.reporters.json import JsonReporter


def test_json_round_trips(report: dict[str, Any]) -> None:
    assert json.loads(JsonReporter().render(report)) == report


def test_json_is_byte_stable_across_renders_and_rereads(report: dict[str, Any]) -> None:
    reporter = JsonReporter()
    first = reporter.render(report)
    assert reporter.render(report) == first
    assert reporter.render(json.loads(first)) == first
    assert first.endswith("}\n")


def test_json_keeps_key_order_indent_and_unicode(report: dict[str, Any]) -> None:
    text = JsonReporter().render(report)
    assert text.startswith('{\n  "schema_version": 1,\n  "tool": {')
    assert "© 2019 Acme Books" in text  # not \u00a9


def test_json_escapes_lone_surrogates_so_it_can_be_written(hostile: dict[str, Any]) -> None:
    text = JsonReporter().render(hostile)
    text.encode("utf-8")
    assert "\\udcb2" in text and "\\ud800" in text
    assert json.loads(text) == hostile


def test_json_refuses_nan(report: dict[str, Any]) -> None:
    report["findings"][0]["score"]["similarity"] = math.nan
    with pytest.raises(ValueError):
        JsonReporter().render(report)


@pytest.mark.parametrize("name", ["report", "empty", "hostile"])
def test_streamed_report_json_is_byte_identical_to_the_rendered_one(name, request, tmp_path):
    from auditor.reporters import get_reporter, write_report

    record = request.getfixturevalue(name)
    reporter = get_reporter("json")
    write_report(tmp_path / "streamed.json", reporter.stream(record))
    write_report(tmp_path / "rendered.json", reporter.render(record))
    assert (tmp_path / "streamed.json").read_bytes() == (tmp_path / "rendered.json").read_bytes()
