"""The reader plug-in axis: a base class, a registry by file suffix, and field look-up."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from auditor.models import Record, Skipped

TEXT_FIELDS = ("text", "content", "body", "raw_content", "document")
ID_FIELDS = ("id", "doc_id", "document_id", "uuid", "key")
URL_FIELDS = ("url", "meta.url", "metadata.url", "source_url", "meta.source_url", "link")
LICENSE_FIELDS = ("license", "licence", "meta.license", "metadata.license", "license_name")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """Which record fields hold the text, id, URL and licence; None means "look for the usual names"."""

    text: str | None = None
    id: str | None = None
    url: str | None = None
    license: str | None = None


def lookup(obj: Mapping[str, Any], dotted: str) -> Any:
    """Value at a dotted path (``meta.url``), or None when any step is missing."""
    if dotted in obj:
        return obj[dotted]
    value: Any = obj
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _first(obj: Mapping[str, Any], named: str | None, candidates: tuple[str, ...]) -> tuple[str | None, Any]:
    for name in (named,) if named else candidates:
        value = lookup(obj, name)
        if value is not None:
            return name, value
    return None, None


def _as_optional_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list):
        parts = [str(v).strip() for v in value if v is not None and str(v).strip()]
        return " AND ".join(parts) or None
    return str(value)


def to_record(obj: Any, *, fields: FieldSpec, input_name: str, row: int) -> Record | Skipped:
    """Turn one decoded row into a Record, or a Skipped saying what is wrong with it."""
    if not isinstance(obj, Mapping):
        return Skipped(input_name, row, f"record is not an object but {type(obj).__name__}")
    text_name, text = _first(obj, fields.text, TEXT_FIELDS)
    if text is None:
        wanted = fields.text or " / ".join(TEXT_FIELDS)
        return Skipped(input_name, row, f"no text field ({wanted}); name it with --text-field")
    if not isinstance(text, str):
        return Skipped(input_name, row, f"text field {text_name!r} is {type(text).__name__}, not a string")
    if not text.strip():
        return Skipped(input_name, row, "empty text")
    _, rec_id = _first(obj, fields.id, ID_FIELDS)
    _, url = _first(obj, fields.url, URL_FIELDS)
    _, lic = _first(obj, fields.license, LICENSE_FIELDS)
    used = {text_name}
    meta = {k: v for k, v in obj.items() if k not in used}
    return Record(
        id=str(rec_id) if rec_id is not None and str(rec_id) != "" else f"{input_name}:{row}",
        text=text,
        input=input_name,
        row=row,
        url=_as_optional_text(url),
        license=_as_optional_text(lic),
        meta=meta,
    )


class Reader(ABC):
    """Reads one input file into Records (and Skipped rows), streaming, in file order."""

    format: ClassVar[str]
    suffixes: ClassVar[tuple[str, ...]]

    def __init__(self, fields: FieldSpec | None = None) -> None:
        self.fields = fields or FieldSpec()

    @abstractmethod
    def read(self, path: Path, input_name: str) -> Iterator[Record | Skipped]:
        """Yield every record of ``path``; problems are yielded as Skipped, never raised."""


READERS: list[type[Reader]] = []


def register(cls: type[Reader]) -> type[Reader]:
    READERS.append(cls)
    return cls


def reader_for(path: Path) -> type[Reader] | None:
    """The reader class for a file, chosen by its (compound) suffix; None if unsupported."""
    name = path.name.lower()
    best: tuple[int, type[Reader]] | None = None
    for cls in READERS:
        for suffix in cls.suffixes:
            if name.endswith(suffix) and (best is None or len(suffix) > best[0]):
                best = (len(suffix), cls)
    return best[1] if best else None
