"""Parquet files, read in bounded record batches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from auditor.models import Record, Skipped
from auditor.readers.base import Reader, register, to_record

BATCH_ROWS = 1024


@register
class ParquetReader(Reader):
    """Rows of a Parquet file; each row is a record with the columns as fields."""

    format = "parquet"
    suffixes = (".parquet", ".pq")

    def read(self, path: Path, input_name: str) -> Iterator[Record | Skipped]:
        row = 0
        try:
            parquet = pq.ParquetFile(path)
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
                for obj in batch.to_pylist():
                    row += 1
                    yield to_record(obj, fields=self.fields, input_name=input_name, row=row)
        except (OSError, pa.ArrowException, ValueError) as exc:
            yield Skipped(input_name, None, f"stopped reading after row {row}: {exc}")
