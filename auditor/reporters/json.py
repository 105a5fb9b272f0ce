"""The ``json`` format: report.json, the record every other format is rendered from."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.reporters.base import Reporter, register
from auditor.reporters.text import dump_json, iter_json_utf8


@register
class JsonReporter(Reporter):
    """report.json exactly as the record holds it; the same record always gives the same bytes."""

    name = "json"
    filename = "report.json"

    def render(self, report: dict[str, Any]) -> str:
        return dump_json(report) + "\n"

    def stream(self, report: dict[str, Any]) -> Iterator[bytes]:
        """The same bytes as :meth:`render`, written piece by piece as UTF-8 (report.json of a large
        scan is hundreds of MB of text)."""
        yield from iter_json_utf8(report)
        yield b"\n"
