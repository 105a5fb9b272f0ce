"""Output formats: one reporter per ``--format`` name, all rendered from the report.json record."""

from auditor.reporters.base import REPORTERS, Reporter, get_reporter, register, write_report

# Importing a format module registers its reporter; this order is the order `--format` lists them in.
from auditor.reporters import json, html, sarif, junit, markdown, parquet  # noqa: F401  isort: skip

__all__ = ["REPORTERS", "Reporter", "get_reporter", "register", "write_report"]
