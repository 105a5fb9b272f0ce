"""The ``json`` format: report.json, the record every other format is rendered from."""

from __future__ import annotations

from typing import Any

from auditor.reporters.base import Reporter, register
from auditor.reporters.text import dump_json


@register
class JsonReporter(Reporter):
    """report.json exactly as the record holds it; the same record always gives the same bytes."""

    name = "json"
    filename = "report.json"

    def render(self, report: dict[str, Any]) -> str:
        return dump_json(report) + "\n"
