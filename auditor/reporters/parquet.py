"""The ``parquet`` format: findings.parquet, one flat row per finding for data pipelines."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
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


def _columns(findings: Sequence[dict[str, Any]]) -> dict[str, Callable[[], list[Any]]]:
    """Each column of ``SCHEMA`` as a function that lists its values, one per finding."""

    def records() -> Iterator[dict[str, Any]]:
        return (finding.get("record") or {} for finding in findings)

    def works() -> Iterator[dict[str, Any]]:
        return (finding.get("work") or {} for finding in findings)

    def scores() -> Iterator[dict[str, Any]]:
        return (finding.get("score") or {} for finding in findings)

    return {
        "fingerprint": lambda: [_str(f.get("fingerprint", "")) for f in findings],
        "rule_id": lambda: [_str(f.get("rule_id", "")) for f in findings],
        "severity": lambda: [_str(f.get("severity", "")) for f in findings],
        "kind": lambda: [_str(f.get("kind", "")) for f in findings],
        "record_id": lambda: [_str(r.get("id", "")) for r in records()],
        "input": lambda: [_str(r.get("input", "")) for r in records()],
        "row": lambda: [r.get("row") for r in records()],
        "url": lambda: [_str(r.get("url")) for r in records()],
        "work_id": lambda: [_str(w.get("id")) for w in works()],
        "work_title": lambda: [_str(w.get("title")) for w in works()],
        "similarity": lambda: [s.get("similarity") for s in scores()],
        "record_coverage": lambda: [s.get("record_coverage") for s in scores()],
        "matched_tokens": lambda: [s.get("matched_tokens") for s in scores()],
        "spans": lambda: [_spans(f.get("spans")) for f in findings],
        "message": lambda: [_str(f.get("message", "")) for f in findings],
        "editions": lambda: [_editions(f.get("editions")) for f in findings],
    }


BATCH_FINDINGS = 512
"""Findings turned into Arrow arrays at a time."""


def build_table(report: dict[str, Any]) -> pa.Table:
    """The findings of a report record as an Arrow table with ``SCHEMA``.

    The findings are read once, :data:`BATCH_FINDINGS` at a time: each batch's records are listed
    column by column into Arrow arrays and dropped, and each column's arrays are joined into one at
    the end, so only one batch is ever held as Python objects (the same arrays, in the same order, as
    ``pa.table(dict, schema=SCHEMA)`` makes from lists of every column at once).
    """
    pieces: list[list[pa.Array]] = [[] for _ in SCHEMA]
    findings = report.get("findings") or []
    batch: list[dict[str, Any]] = []
    for finding in itertools.chain(findings, [None]):
        if finding is not None:
            batch.append(finding)
            if len(batch) < BATCH_FINDINGS:
                continue
        if batch or not pieces[0]:
            columns = _columns(batch)
            for column, schema_field in zip(pieces, SCHEMA, strict=True):
                column.append(pa.array(columns[schema_field.name](), type=schema_field.type))
            batch = []
    arrays = [column[0] if len(column) == 1 else pa.concat_arrays(column) for column in pieces]
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def _parquet(report: dict[str, Any]) -> pa.Buffer:
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
    return sink.getvalue()


@register
class ParquetReporter(Reporter):
    """findings.parquet (zstd): the findings only; the rest of the report stays in report.json."""

    name = "parquet"
    filename = "findings.parquet"
    binary = True

    def render(self, report: dict[str, Any]) -> bytes:
        return _parquet(report).to_pybytes()

    def stream(self, report: dict[str, Any]) -> Iterator[bytes]:
        """The file's bytes as Arrow holds them (no copy into a Python bytes object)."""
        yield memoryview(_parquet(report))  # type: ignore[misc]
