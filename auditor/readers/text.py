"""Plain text and Markdown files: each file is one record (gzip or zstd content is decompressed)."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

from auditor.limits import format_size
from auditor.models import Record, Skipped
from auditor.readers.base import Reader, register
from auditor.readers.stream import (
    STREAM_ERRORS,
    check_decoded_head,
    describe_stream_error,
    open_decoded,
    read_capped,
)


@register
class TextReader(Reader):
    """A whole .txt/.md file as one record whose id is its path.

    Refused with a counted skip: a file longer than ``Limits.max_record_bytes`` (never read into
    memory whole), binary content, NUL bytes, and text that is not UTF-8.
    """

    format = "text"
    suffixes = (".txt", ".md", ".text", ".markdown")

    def _read(self, path: Path, input_name: str) -> Iterator[Record | Skipped]:
        opened = open_decoded(path, self.limits, "text")
        if isinstance(opened, str):
            yield Skipped(input_name, None, opened)
            return
        cap = self.limits.max_record_bytes
        try:
            first = b""
            if opened.codec != "text":
                first, problem = check_decoded_head(opened.stream, opened.codec, "text")
                if problem:
                    yield Skipped(input_name, None, problem)
                    return
            data = read_capped(opened.stream, first, cap)
        except STREAM_ERRORS as exc:
            yield Skipped(input_name, None, describe_stream_error(exc, opened.codec, "in the text"))
            return
        finally:
            with contextlib.suppress(OSError, EOFError, ValueError):
                opened.close()
        if isinstance(data, int):
            yield Skipped(
                input_name,
                1,
                f"text too long: over the --max-record-size limit of {format_size(cap)}; not read",
            )
            return
        if b"\x00" in data:
            yield Skipped(input_name, 1, "NUL bytes in a text file: binary data, not text")
            return
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            yield Skipped(input_name, 1, f"invalid UTF-8 at byte {exc.start}")
            return
        if not text.strip():
            yield Skipped(input_name, 1, "empty text")
            return
        # The file's own digests: a record that *is* a registered file (LibGen keys files by md5) is
        # matched exactly, without MinHash.
        meta = {"_file_md5": hashlib.md5(data).hexdigest(), "_file_sha256": hashlib.sha256(data).hexdigest()}
        yield Record(id=input_name, text=text, input=input_name, row=1, meta=meta)
