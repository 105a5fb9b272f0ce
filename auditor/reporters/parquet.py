"""The ``parquet`` format: findings.parquet, one flat row per finding for data pipelines."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from auditor.reporters.base import Reporter, register
from auditor.reporters.text import encodable

SPAN = pa.struct(
    [
        pa.field("record_start", pa.int64()),
        pa.field("record_end", pa.int64()),
        pa.field("work_start", pa.int64()),
        pa.field("work_end", pa.int64()),
    ]
)
EDITION = pa.struct(
    [
        pa.field("work_id", pa.string()),
        pa.field("work_title", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("similarity", pa.float64()),
        pa.field("record_coverage", pa.float64()),
        pa.field("matched_tokens", pa.int64()),
        pa.field("spans", pa.list_(SPAN)),
    ]
)
"""One other edition of the finding's book the record also copies: the finding's own work and score
columns, by the same names, for that edition (its ``spans`` offsets point into that edition's text)."""
SCHEMA = pa.schema(
    [
        pa.field("fingerprint", pa.string(), nullable=False),
        pa.field("rule_id", pa.string(), nullable=False),
        pa.field("severity", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("input", pa.string(), nullable=False),
        pa.field("row", pa.int64()),
        pa.field("url", pa.string()),
        pa.field("work_id", pa.string()),
        pa.field("work_title", pa.string()),
        pa.field("similarity", pa.float64()),
        pa.field("record_coverage", pa.float64()),
        pa.field("matched_tokens", pa.int64()),
        pa.field("spans", pa.list_(SPAN)),
        pa.field("message", pa.string()),
        # Added after the first release: new columns go last, so readers by position keep working.
        pa.field("editions", pa.list_(EDITION)),
    ]
)
"""findings.parquet's columns; an empty report gives an empty file with the same schema."""


def _str(value: Any) -> str | None:
    # Arrow strings are UTF-8: a lone surrogate cannot be stored, so it is written as [U+XXXX].
    return None if value is None else encodable(str(value))


def _spans(value: Any) -> list[dict[str, Any]]:
    return [{key: span.get(key) for key in SPAN.names} for span in value or [] if isinstance(span, dict)]


def _editions(value: Any) -> list[dict[str, Any]]:
    """A finding's ``editions`` as ``EDITION`` rows, in report order (by work id)."""
    rows = []
    for entry in value if isinstance(value, list) else []:
        if not isinstance(entry, dict):
            continue
        work, score = entry.get("work"), entry.get("score")
        work = work if isinstance(work, dict) else {}
        score = score if isinstance(score, dict) else {}
        rows.append(
            {
                "work_id": _str(work.get("id")),
                "work_title": _str(work.get("title")),
                "kind": _str(entry.get("kind")),
                "similarity": score.get("similarity"),
                "record_coverage": score.get("record_coverage"),
                "matched_tokens": score.get("matched_tokens"),
                "spans": _spans(entry.get("spans")),
            }
        )
    return rows


def build_table(report: dict[str, Any]) -> pa.Table:
    """The findings of a report record as an Arrow table with ``SCHEMA``."""
    columns: dict[str, list[Any]] = {name: [] for name in SCHEMA.names}
    for finding in report.get("findings") or []:
        record = finding.get("record") or {}
        work = finding.get("work") or {}
        score = finding.get("score") or {}
        columns["fingerprint"].append(_str(finding.get("fingerprint", "")))
        columns["rule_id"].append(_str(finding.get("rule_id", "")))
        columns["severity"].append(_str(finding.get("severity", "")))
        columns["kind"].append(_str(finding.get("kind", "")))
        columns["record_id"].append(_str(record.get("id", "")))
        columns["input"].append(_str(record.get("input", "")))
        columns["row"].append(record.get("row"))
        columns["url"].append(_str(record.get("url")))
        columns["work_id"].append(_str(work.get("id")))
        columns["work_title"].append(_str(work.get("title")))
        columns["similarity"].append(score.get("similarity"))
        columns["record_coverage"].append(score.get("record_coverage"))
        columns["matched_tokens"].append(score.get("matched_tokens"))
        columns["spans"].append(_spans(finding.get("spans")))
        columns["message"].append(_str(finding.get("message", "")))
        columns["editions"].append(_editions(finding.get("editions")))
    return pa.table(columns, schema=SCHEMA)


@register
class ParquetReporter(Reporter):
    """findings.parquet (zstd): the findings only; the rest of the report stays in report.json."""

    name = "parquet"
    filename = "findings.parquet"
    binary = True

    def render(self, report: dict[str, Any]) -> bytes:
        table = build_table(report)
        tool = report.get("tool") or {}
        table = table.replace_schema_metadata(
            {
                "auditor.schema_version": str(report.get("schema_version", "")),
                "auditor.tool_version": _str(tool.get("version")) or "",
            }
        )
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        return sink.getvalue().to_pybytes()
