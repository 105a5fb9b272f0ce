"""JSON Lines shards, plain or compressed with gzip or zstandard."""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import zstandard

from auditor.models import Record, Skipped
from auditor.readers.base import Reader, register, to_record

_BASE = (".jsonl", ".ndjson", ".json")


def open_binary(path: Path) -> IO[bytes]:
    """Open a file for reading, decompressing .gz and .zst transparently."""
    name = path.name.lower()
    raw = path.open("rb")
    if name.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if name.endswith(".zst"):
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=True)
        return io.BufferedReader(reader)
    return raw


@register
class JsonlReader(Reader):
    """One JSON object per line; blank lines are ignored, bad lines are skipped and counted."""

    format = "jsonl"
    suffixes = tuple(s + c for s in _BASE for c in ("", ".gz", ".zst"))

    def read(self, path: Path, input_name: str) -> Iterator[Record | Skipped]:
        row = 0
        try:
            with open_binary(path) as stream:
                for row, line in enumerate(stream, start=1):
                    if not line.strip():
                        continue
                    try:
                        obj = json.loads(line)
                    except UnicodeDecodeError as exc:
                        yield Skipped(input_name, row, f"invalid UTF-8 at byte {exc.start} of the line")
                        continue
                    except (json.JSONDecodeError, RecursionError) as exc:
                        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
                        yield Skipped(input_name, row, f"malformed JSON: {msg}")
                        continue
                    yield to_record(obj, fields=self.fields, input_name=input_name, row=row)
        except (EOFError, OSError, zlib.error, zstandard.ZstdError) as exc:
            yield Skipped(input_name, None, f"stopped reading after line {row}: {exc}")
