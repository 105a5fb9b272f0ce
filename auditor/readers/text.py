"""Plain text and Markdown files: each file is one record."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from auditor.models import Record, Skipped
from auditor.readers.base import Reader, register


@register
class TextReader(Reader):
    """A whole .txt/.md file as one record whose id is its path."""

    format = "text"
    suffixes = (".txt", ".md", ".text", ".markdown")

    def read(self, path: Path, input_name: str) -> Iterator[Record | Skipped]:
        try:
            data = path.read_bytes()
        except OSError as exc:
            yield Skipped(input_name, None, f"cannot read: {exc.strerror or exc}")
            return
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            yield Skipped(input_name, 1, f"invalid UTF-8 at byte {exc.start}")
            return
        if not text.strip():
            yield Skipped(input_name, 1, "empty text")
            return
        yield Record(id=input_name, text=text, input=input_name, row=1)
