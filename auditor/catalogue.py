"""Catalogues of works (CSV, JSONL, Parquet): rows of metadata that name, and may point at, works.

Columns (DESIGN.md): work_id, title, authors, isbn, rights_holder, license, source, md5, sha256, path.
Names are matched without regard to case; ``id``, ``author``, ``isbns``, ``isbn13``/``isbn10`` and
``file`` are accepted too. A cell may hold several authors (``;`` or ``|``) or ISBNs (``;``, ``|`` or
``,``), and JSONL and Parquet cells may be lists. ISBN-10s become ISBN-13s; values that are not valid
ISBNs or hex digests are left out with a warning naming the file and line. A row with no ``path`` is a
metadata-only work: its ISBNs and file hashes are still registered, for metadata and exact-key matching.
"""

from __future__ import annotations

import csv
import io
import json
import re
import string
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.errors import UsageError
from auditor.rules.isbn import to_isbn13

CATALOGUE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".parquet")
"""Files read as catalogues when found in a registry source folder (``--catalogue`` also takes .json)."""

_ALIASES = {
    "id": "work_id",
    "author": "authors",
    "creator": "authors",
    "creators": "authors",
    "isbns": "isbn",
    "isbn13": "isbn",
    "isbn_13": "isbn",
    "isbn10": "isbn",
    "isbn_10": "isbn",
    "file": "path",
    "rights": "rights_holder",
    "licence": "license",
}
_LIST_FIELDS = ("authors", "isbn")
_HEX = {"md5": re.compile(r"[0-9a-f]{32}"), "sha256": re.compile(r"[0-9a-f]{64}")}
_ISBN_SPLIT = re.compile(r"[;|,]")
_AUTHOR_SPLIT = re.compile(r"[;|]")


@dataclass(slots=True)
class CatalogueRow:
    """One work as a catalogue describes it.

    Attributes:
        where: ``file:line`` of the row, for messages.
        isbns: valid ISBN-13s, in the order given, without repeats.
        md5, sha256: lower-case hex digests of the work's file as the catalogue gives them, or "".
        path: the work's file as written in the catalogue (relative to the catalogue's folder), or "".
    """

    work_id: str
    where: str
    title: str = ""
    authors: list[str] = field(default_factory=list)
    isbns: list[str] = field(default_factory=list)
    rights_holder: str = ""
    license: str = ""
    source: str = ""
    md5: str = ""
    sha256: str = ""
    path: str = ""


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an ISBN a spreadsheet stored as a number
    return str(value).strip()


def _values(value: Any, split: re.Pattern[str]) -> list[str]:
    if isinstance(value, list | tuple):
        return [v for item in value for v in _values(item, split)]
    return [part.strip() for part in split.split(_scalar(value)) if part.strip()]


def parse_isbns(value: Any, where: str, warnings: list[str]) -> list[str]:
    """ISBN-13s from a cell: one or several ISBN-10/13s, separated or in a list; bad ones warned."""
    out: list[str] = []
    for part in _values(value, _ISBN_SPLIT):
        isbn = to_isbn13(part)
        candidates = [isbn] if isbn else [to_isbn13(p) for p in part.split()]
        if not candidates or None in candidates:
            warnings.append(f"{where}: {part!r} is not a valid ISBN-10 or ISBN-13; left out")
            continue
        out.extend(c for c in candidates if c and c not in out)
    return out


def _digest(value: Any, kind: str, where: str, warnings: list[str]) -> str:
    text = _scalar(value).lower()
    if text and not _HEX[kind].fullmatch(text):
        warnings.append(f"{where}: {kind} {text[:80]!r} is not a hex {kind} digest; left out")
        return ""
    return text


def _row(raw: dict[str, Any], where: str, warnings: list[str]) -> CatalogueRow:
    row: dict[str, Any] = {}
    for key, value in raw.items():
        name = str(key or "").strip().lower().replace("-", "_").replace(" ", "_")
        name = _ALIASES.get(name, name)
        if name in _LIST_FIELDS and name in row:
            existing = row[name] if isinstance(row[name], list) else [row[name]]
            row[name] = [*existing, value]
        else:
            row.setdefault(name, value)
    work_id = _scalar(row.get("work_id"))
    if not work_id:
        raise UsageError(f"{where}: catalogue row has no work_id; every row needs one")
    return CatalogueRow(
        work_id=work_id,
        where=where,
        title=" ".join(_scalar(row.get("title")).split()),
        authors=_values(row.get("authors"), _AUTHOR_SPLIT),
        isbns=parse_isbns(row.get("isbn"), where, warnings),
        rights_holder=_scalar(row.get("rights_holder")),
        license=_scalar(row.get("license")),
        source=_scalar(row.get("source")),
        md5=_digest(row.get("md5"), "md5", where, warnings),
        sha256=_digest(row.get("sha256"), "sha256", where, warnings),
        path=_scalar(row.get("path")),
    )


def _csv_rows(path: Path, data: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    from auditor.extract import ExtractionError
    from auditor.extract.text import decode_text

    try:
        text, _ = decode_text(data)  # spreadsheets export UTF-8, UTF-16 or Windows-1252
    except ExtractionError as exc:
        raise UsageError(f"cannot read catalogue {path}: {exc}") from exc
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            yield reader.line_num, {k: v for k, v in row.items() if k is not None}
    except csv.Error as exc:
        raise UsageError(f"{path}:{reader.line_num}: not a valid CSV row: {exc}") from exc


def _json_rows(path: Path, data: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: a JSON catalogue must be UTF-8 (bad byte at {exc.start})") from exc
    if path.suffix.lower() == ".json" and text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
        numbered: Iterable[tuple[int, Any]] = ((i, r) for i, r in enumerate(rows, start=1))
    else:
        numbered = []
        for line_no, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                numbered.append((line_no, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise UsageError(f"{path}:{line_no}: not a JSON object: {exc.msg}") from exc
    for line_no, value in numbered:
        if not isinstance(value, dict):
            raise UsageError(
                f"{path}:{line_no}: a catalogue row must be a JSON object, not {type(value).__name__}"
            )
        yield line_no, value


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise UsageError(f"cannot read catalogue {path}: {exc}") from exc
    yield from enumerate(table.to_pylist(), start=1)


def read_catalogue(path: Path) -> tuple[list[CatalogueRow], list[str]]:
    """Read a catalogue file (CSV/TSV, JSONL/JSON, Parquet); returns (rows, warnings).

    Raises:
        UsageError: the file is unreadable, a row has no work_id, or a work_id repeats.
    """
    suffix = path.suffix.lower()
    warnings: list[str] = []
    if suffix == ".parquet":
        numbered = _parquet_rows(path)
        label = "row"
    else:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read catalogue {path}: {exc.strerror or exc}") from exc
        if suffix in (".csv", ".tsv"):
            numbered = _csv_rows(path, data)
        elif suffix in (".jsonl", ".ndjson", ".json"):
            numbered = _json_rows(path, data)
        else:
            raise UsageError(
                f"catalogue {path}: unsupported type {path.suffix!r}; "
                "use .csv, .tsv, .jsonl, .json or .parquet"
            )
        label = "line"
    rows: list[CatalogueRow] = []
    seen: dict[str, str] = {}
    for number, raw in numbered:
        where = f"{path}:{number}" if label == "line" else f"{path}:row {number}"
        row = _row(raw, where, warnings)
        if row.work_id in seen:
            raise UsageError(f"{where}: work_id {row.work_id!r} is already used at {seen[row.work_id]}")
        seen[row.work_id] = where
        rows.append(row)
    return rows, warnings


_BRACKETS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_PUNCT = str.maketrans({c: " " for c in string.punctuation + "‘’“”–—…·"})


def _fold(value: str) -> str:
    text = unicodedata.normalize("NFKD", value.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.translate(_PUNCT).split())


def title_key(title: str) -> str:
    """A title as editions share it: case, accents, punctuation and bracketed notes
    ("(2nd edition)", "[EPUB]") ignored."""
    return _fold(_BRACKETS.sub(" ", title.replace("’", "").replace("'", "")))


def author_key(author: str) -> str:
    """An author's surname as catalogues disagree on it: "Tolkien, J.R.R." and "J. R. R. Tolkien"
    give the same key."""
    name = author.strip()
    surname = name.split(",", 1)[0] if "," in name else (name.split() or [""])[-1]
    return _fold(surname)


_PLACEHOLDERS = frozenset({"unknown", "untitled", "no title", "anonymous", "anon", "various", "n a", "none"})


def edition_key(title: str, authors: list[str]) -> str | None:
    """The key that makes two works editions of one book: normalised title + first author's surname;
    None when either is missing or a placeholder ("Unknown", "Anonymous": a title alone, or a
    placeholder, is too weak to group by)."""
    t = title_key(title)
    a = author_key(authors[0]) if authors else ""
    if not t or not a or t in _PLACEHOLDERS or a in _PLACEHOLDERS:
        return None
    return f"{t}\x1f{a}"
