"""The reader plug-in axis: a base class, a registry by file suffix, and field look-up."""

from __future__ import annotations

from abc import ABC, abstractmethod
from array import array
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import xxhash

from auditor.limits import Limits
from auditor.models import Record, Skipped
from auditor.readers.spans import Span

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
    if "." not in dotted:
        return None
    value: Any = obj
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _first(obj: Mapping[str, Any], named: str | None, candidates: tuple[str, ...]) -> tuple[str | None, Any]:
    for name in (named,) if named else candidates:
        # lookup's own first step, here: most names are plain, and this runs several times a record
        if name in obj:
            value = obj[name]
        elif "." in name:
            value = lookup(obj, name)
        else:
            continue
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
    if type(obj) is not dict and not isinstance(obj, Mapping):  # the ABC's check costs more than the rest
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
    meta = dict(obj)
    meta.pop(text_name, None)  # a dotted text field is not a top-level key: nothing to take out then
    rec_id = "" if rec_id is None else str(rec_id)
    return Record(
        id=rec_id or f"{input_name}:{row}",
        text=text,
        input=input_name,
        row=row,
        url=_as_optional_text(url),
        license=_as_optional_text(lic),
        meta=meta,
    )


class Reader(ABC):
    """Reads one input file into Records (and Skipped rows), streaming, in file order.

    ``read`` never raises for bad input: every problem is yielded as a Skipped (``row`` None for the
    file as a whole). It also notes a file that gave no records at all, and record ids that repeat
    within the file (each such record is still scanned on its own; see docs/reliability.md).
    Formats implement ``_read``.
    """

    format: ClassVar[str]
    suffixes: ClassVar[tuple[str, ...]]
    splits: ClassVar[bool] = False
    """Whether :meth:`read_span` reads a part of a plain input (line-oriented formats only)."""

    def __init__(self, fields: FieldSpec | None = None, limits: Limits | None = None) -> None:
        self.fields = fields or FieldSpec()
        self.limits = limits or Limits()

    def read(self, path: Path, input_name: str) -> Iterator[Record | Skipped]:
        """Yield every record of ``path``; problems are yielded as Skipped, never raised."""
        ids = DuplicateIds(input_name)
        produced = yield from self._entries(self._read(path, input_name), input_name, ids)
        yield from file_notes(input_name, produced, ids)

    def read_span(
        self, path: Path, input_name: str, span: Span, ids: DuplicateIds
    ) -> Iterator[Record | Skipped]:
        """Yield the records of one span of a plain ``path`` (see :mod:`auditor.readers.spans`), rows
        numbered as in the whole file; the caller adds the file-level notes of :func:`file_notes` once
        every span is read, from whether any span produced an entry and from ``ids``, which collects
        this span's record ids."""
        yield from self._entries(self._read_span(path, input_name, span), input_name, ids)

    @staticmethod
    def _entries(
        entries: Iterator[Record | Skipped], input_name: str, ids: DuplicateIds
    ) -> Generator[Record | Skipped, None, bool]:
        """Pass ``entries`` on, collecting record ids; returns whether there were any (so that
        :meth:`read` delegates with ``yield from`` instead of passing each entry on once more)."""
        produced = False
        try:
            for entry in entries:
                if isinstance(entry, Record):
                    ids.add(entry)
                produced = True
                yield entry
        except OSError as exc:
            produced = True
            yield Skipped(input_name, None, f"cannot read: {exc.strerror or exc}")
        return produced

    @abstractmethod
    def _read(self, path: Path, input_name: str) -> Iterator[Record | Skipped]:
        """Yield the records of ``path`` and a Skipped for each problem."""

    def _read_span(self, path: Path, input_name: str, span: Span) -> Iterator[Record | Skipped]:
        """Yield the records of one span of ``path``; formats whose ``splits`` is true implement it."""
        raise NotImplementedError(f"{self.format} inputs are read whole")


def file_notes(input_name: str, produced: bool, ids: DuplicateIds) -> list[Skipped]:
    """What is said of a whole input once it is read: that it gave nothing, and repeated record ids."""
    notes = [] if produced else [Skipped(input_name, None, "no records: the file is empty")]
    note = ids.note()
    if note:
        notes.append(Skipped(input_name, None, note))
    return notes


class DuplicateIds:
    """Finds record ids used more than once in one input, in 16 bytes per record.

    Ids are kept as 64-bit hashes with their rows (a set of strings would grow with the text of
    every id); the rare hash collision can only add a false "duplicate" note, never hide one.
    """

    SHOWN = 5

    def __init__(self, input_name: str) -> None:
        self.input_name = input_name
        self._row_ids = f"{input_name}:"
        self._hashes = array("Q")
        self._rows = array("Q")

    def add(self, record: Record) -> None:
        row_ids = self._row_ids
        if record.id.startswith(row_ids) and record.id == f"{row_ids}{record.row}":
            return  # ids made from the row are unique by construction
        self._hashes.append(xxhash.xxh3_64_intdigest(record.id.encode("utf-8", "surrogatepass")))
        self._rows.append(record.row)

    def extend(self, other: DuplicateIds) -> None:
        """Add the ids another part of the same input collected."""
        self._hashes.extend(other._hashes)
        self._rows.extend(other._rows)

    def note(self) -> str | None:
        """The file-level note for repeated ids, or None when every id is unique."""
        if len(self._hashes) < 2:
            return None
        hashes = np.frombuffer(self._hashes, dtype=np.uint64)
        rows = np.frombuffer(self._rows, dtype=np.uint64)
        order = np.lexsort((rows, hashes))
        hashes, rows = hashes[order], rows[order]
        repeat = np.flatnonzero(hashes[1:] == hashes[:-1]) + 1
        if not len(repeat):
            return None
        starts = np.concatenate([[True], hashes[1:] != hashes[:-1]])
        first = np.maximum.accumulate(np.where(starts, np.arange(len(rows)), 0))
        pairs = sorted((int(rows[i]), int(rows[first[i]])) for i in repeat)
        shown = ", ".join(f"row {row} repeats the id of row {orig}" for row, orig in pairs[: self.SHOWN])
        more = f", and {len(pairs) - self.SHOWN} more" if len(pairs) > self.SHOWN else ""
        return (
            f"duplicate record ids: {len(pairs)} record(s) reuse the id of an earlier record "
            f"({shown}{more}); every record was scanned on its own and findings name their row"
        )


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
