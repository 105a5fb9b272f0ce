"""Arrow IPC files (.arrow, .feather, .ipc) and streams (.arrows), read in the sandbox process.

The IPC file format (Feather version 2 is the same thing) is memory-mapped and read record batch by
record batch; the stream format is read message by message. Which of the two a file holds is decided
by its magic bytes, never its name. Reading happens in the sandbox process the Parquet reader uses
(``auditor.readers.parquet``): Arrow data is only safe to touch after full validation, the IPC readers
are still being fixed for crashes fuzzing finds, and an LZ4- or zstd-compressed IPC buffer states its
own decompressed size; so a crash, hang or out-of-memory kill there costs one file, never the scan.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from auditor.models import Record, Skipped
from auditor.readers.base import register
from auditor.readers.parquet import SandboxedReader
from auditor.readers.parquet_child import ARROW_FILE_MAGIC
from auditor.readers.stream import HEAD_BYTES, describe_bytes, open_regular, sniff

ARROW_STREAM_CONTINUATION = b"\xff\xff\xff\xff"
FEATHER_V1_MAGIC = b"FEA1"


def arrow_kind(head: bytes) -> str | None:
    """``file`` or ``stream`` when the first bytes are those of an Arrow IPC file or stream, else None."""
    if head.startswith(ARROW_FILE_MAGIC):
        return "file"
    if head.startswith(ARROW_STREAM_CONTINUATION):
        return "stream"
    return None


@register
class ArrowReader(SandboxedReader):
    """Rows of an Arrow IPC file or stream; each row is a record with the columns as fields.

    Like Parquet: a schema without a string text column is one file-level ``wrong schema:`` skip;
    struct columns are reached with dotted fields (``meta.url``); a text value over
    ``Limits.max_record_bytes`` characters is a row skip; a file that cannot be read through ends
    with one ``partial:`` skip after the rows before the fault. Feather version 1 (the pre-2020 format,
    magic ``FEA1``) is refused with a note on converting it.
    """

    format = "arrow"
    suffixes = (".arrow", ".arrows", ".feather", ".ipc")
    what = "Arrow"

    def _read(self, path: Path, input_name: str) -> Iterator[Record | Skipped]:
        with open_regular(path) as handle:  # refuses FIFOs and devices; raises OSError if unreadable
            head = handle.read(HEAD_BYTES)
        if not head:
            return  # an empty file: the base class notes it
        problem = _head_problem(head)
        if problem:
            yield Skipped(input_name, None, problem)
            return
        yield from self._read_sandboxed(
            {"format": "arrow", "path": os.fsdecode(os.path.abspath(path))}, input_name
        )


def _head_problem(head: bytes) -> str | None:
    if arrow_kind(head) is not None:
        return None
    if head.startswith(FEATHER_V1_MAGIC):
        return (
            "Feather version 1 (the legacy format) is not read; convert it to Arrow IPC with "
            "pyarrow.feather.write_feather(pyarrow.feather.read_table(PATH), NEW_PATH)"
        )
    kind = sniff(head)
    if kind in ("text", "non-utf8"):
        return (
            f"content/extension mismatch: text, not an Arrow IPC file or stream (starts with "
            f"{describe_bytes(head)})"
        )
    if kind != "binary":
        return (
            f"content/extension mismatch: not an Arrow IPC file or stream (starts with "
            f"{describe_bytes(head)}: looks like {kind})"
        )
    # Anything else may still be a stream written before Arrow 0.15 (no continuation marker): the
    # sandbox tries it and reports what is wrong.
    return None
