"""Registries of works: build one from work files and catalogues, add to it, open, verify and compare.

On disk a registry is a folder (never a pickle):

* ``manifest.json`` — format version, fingerprint config and its id, counts, the sha256 of every
  other file and a digest over them, tool version, snapshot date, the sources of every snapshot
  (``history``) and the report of the last build or add (sources skipped, PDF pages without text);
* ``works.parquet`` — one row per work: catalogue metadata, edition ``group``, file format and
  detected encoding, sizes, file md5/sha256 and the normalised-text hash;
* ``texts.arrow`` — the work texts as extracted, one row per work (Arrow IPC, memory-mapped at scan
  time so evidence excerpts cost no read of the whole registry); null when fingerprint-only;
* ``tokens.arrow`` — one row per work token, works in order: character offsets into the extracted
  text, the shingle starting at that token (0 where none starts) and whether it is masked as
  boilerplate. Raw shingles and offsets are all a rebuild needs, so ``registry add`` works on
  fingerprint-only registries too;
* ``passages.parquet`` — one row per passage window: work index, first shingle, MinHash signature;
* ``bands.arrow`` — the LSH band index: band key → passage, sorted by key; ``buckets.arrow`` — the
  position of the first key of each radix bucket of it (see :mod:`auditor.keyindex`);
* ``boilerplate.parquet`` — shingles shared by many edition groups (evidence of nothing);
* ``isbns.parquet`` and ``hashes.parquet`` — exact keys: ISBN-13s, file md5/sha256, text hashes.

The digest covers the data files only, so two snapshots with the same works have the same digest,
and ``registry add`` gives the registry a fresh build of all its sources would give.

The ``.arrow`` files are uncompressed Arrow IPC, memory-mapped when a scan opens the registry: worker
processes share one copy of the index in the page cache, and only the pages a scan touches are read.
Opening checks every file against a fast xxh3-128 checksum in the manifest (corruption, truncation),
except the files verified before whose size, times and inode are unchanged since (recorded in the
per-user cache, see :class:`_Verified`); ``registry info`` checks the sha256 digests of all files.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import mmap
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from auditor import __version__, cache, kernels
from auditor.catalogue import CATALOGUE_SUFFIXES, CatalogueRow, edition_key, read_catalogue
from auditor.errors import RegistryError, UsageError
from auditor.extract import Extracted, ExtractionError, extract, format_of
from auditor.fingerprint import MASKED, FingerprintConfig, Fingerprinter, mask_template_fills, shingles
from auditor.keyindex import KeyIndex, KeySet, bucket_bits, bucket_table, sort_keys_jobs
from auditor.models import RegistryInfo, WorkRef
from auditor.normalize import NORMALIZER_VERSION, tokenize

FORMAT = "auditor-registry"
FORMAT_VERSION = 3
MOSTLY_MASKED = 0.5
"""A work with more than this share of its shingles masked as boilerplate gets a build warning: it is
probably another edition of a work it was not grouped with."""
_DATA_FILES = (
    "works.parquet",
    "texts.arrow",
    "tokens.arrow",
    "passages.parquet",
    "bands.arrow",
    "buckets.arrow",
    "boilerplate.parquet",
    "isbns.parquet",
    "hashes.parquet",
)
_DIFF_FIELDS = (
    "title",
    "authors",
    "isbns",
    "rights_holder",
    "license",
    "source",
    "md5",
    "sha256",
    "text_hash",
    "format",
    "has_text",
    "group",
)

Progress = Callable[[int, int], None]


@dataclass(slots=True)
class WorkSource:
    """One work as gathered for a build: catalogue metadata, file keys and, if extracted, its text.

    ``origin`` is the catalogue row (``file:line``) the work comes from, "" for a work file found in a
    folder. ``text`` is None for metadata-only works and for works read back from a fingerprint-only
    registry (``has_text`` and ``chars`` still say what was extracted).
    """

    work_id: str
    title: str = ""
    authors: list[str] = field(default_factory=list)
    isbns: list[str] = field(default_factory=list)
    rights_holder: str = ""
    license: str = ""
    source: str = ""
    md5: str = ""
    sha256: str = ""
    alt_md5: str = ""
    alt_sha256: str = ""
    path: str = ""
    origin: str = ""
    text: str | None = None
    has_text: bool = False
    chars: int = 0
    format: str = ""
    encoding: str = ""
    pages: int = 0
    pages_without_text: list[int] = field(default_factory=list)
    text_hash: str = ""
    group: str = ""


@dataclass(frozen=True, slots=True)
class SkippedSource:
    """A work file whose text could not be extracted, and why (counted in the build report)."""

    path: str
    reason: str


@dataclass(slots=True)
class Gathered:
    """What ``gather_sources`` found: works, files skipped, warnings and the sources' digests."""

    works: list[WorkSource]
    skipped: list[SkippedSource] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    attempted: int = 0
    """Work files whose text extraction was tried (read from a folder or named by a catalogue)."""
    prepared: dict[str, Any] = field(default_factory=dict)
    """``prepare(text)`` of each work with text, by work id (see :func:`gather_sources`)."""
    utf8: dict[str, bytes] = field(default_factory=dict)
    """With ``prepare``: the UTF-8 of works' texts that are their files' bytes unchanged, by work id
    (``texts.arrow`` takes them as they are instead of encoding the texts again)."""


@dataclass(slots=True)
class _WorkTokens:
    starts: np.ndarray
    ends: np.ndarray
    shingles: np.ndarray


def text_hash(token_hashes: np.ndarray) -> str:
    """Hash of a text's normalised token sequence: equal for texts that differ only in layout or case."""
    return xxhash.xxh3_128_hexdigest(np.ascontiguousarray(token_hashes, dtype="<u8").data)


def _read_parquet(path: Path, columns: list[str] | None = None) -> pa.Table:
    """One of the registry's Parquet tables. Through ParquetFile, not ``pq.read_table``: that goes
    through pyarrow.dataset, whose first use costs ~0.5 s of imports in every scan."""
    with pq.ParquetFile(path) as handle:
        return handle.read(columns=columns)


def _sha256_file(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _checksum_file(path: Path) -> str:
    """The fast integrity checksum of a file (xxh3-128; not a cryptographic digest)."""
    h = xxhash.xxh3_128()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            h.update(chunk)
    return "xxh3_128:" + h.hexdigest()


def _write_arrow(path: Path, columns: dict[str, np.ndarray]) -> None:
    """One uncompressed Arrow IPC record batch: memory-mappable, every column one contiguous buffer."""
    table = pa.table({name: pa.array(values) for name, values in columns.items()})
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=max(1, table.num_rows))


def _mapped_columns(path: Path, *, random_access: bool = False) -> dict[str, np.ndarray]:
    return _mapped(path, random_access=random_access)[0]


def _mapped(path: Path, *, random_access: bool = False) -> tuple[dict[str, np.ndarray], int]:
    """The columns of an :func:`_write_arrow` file as read-only numpy views of its memory map, and
    the address the map starts at.

    Args:
        random_access: tell the kernel (``MADV_RANDOM``) that look-ups jump about the file, so a page
            fault maps that page alone, not the pages around it: memory then holds the pages a scan
            uses, not their neighbours.
    """
    if path.stat().st_size == 0:
        raise pa.ArrowInvalid(f"{path.name} is empty")
    with path.open("rb") as handle:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    if random_access and hasattr(mmap, "MADV_RANDOM"):
        mapped.madvise(mmap.MADV_RANDOM)
    buffer = pa.py_buffer(mapped)
    table = pa.ipc.open_file(pa.BufferReader(buffer)).read_all()
    return {name: _numpy(table.column(name)) for name in table.column_names}, buffer.address


def _numpy(column: pa.ChunkedArray) -> np.ndarray:
    """A primitive column without nulls as numpy: a read-only view of its buffer when it is one chunk.

    Arrow's own ``to_numpy`` imports pandas, ~1.4 s at the start of every scan."""
    dtype = np.dtype(column.type.to_pandas_dtype())
    if column.num_chunks == 1:
        return _view(column.chunk(0), dtype)
    return np.concatenate([np.empty(0, dtype)] + [_view(chunk, dtype) for chunk in column.chunks])


def _view(array: pa.Array, dtype: np.dtype) -> np.ndarray:
    if array.null_count:
        raise pa.ArrowInvalid(f"unexpected nulls in a {array.type} column")
    data = array.buffers()[1]
    if data is None:
        return np.empty(0, dtype)
    return np.frombuffer(data, dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize)


class _ColumnFile:
    """Reads slices of the columns of an :func:`_write_arrow` file with ``pread``, never mapping them.

    Verification reads a few hundred tokens of a work per candidate. Through a memory map each access
    would also map the neighbouring pages already in the page cache (the kernel's fault-around), so a
    long scan would end up holding most of the file; ``pread`` copies just the bytes asked for.

    Args:
        path: the file.
        columns: its columns as mapped by :func:`_mapped_columns` (for their file offsets).
        base: the address its map starts at.
    """

    def __init__(self, path: Path, columns: dict[str, np.ndarray], base: int) -> None:
        self._path = path
        self._fd: int | None = None
        self._pid = 0
        self._columns = {name: (v.ctypes.data - base, v.dtype, len(v)) for name, v in columns.items()}

    def read(self, name: str, lo: int, hi: int) -> np.ndarray:
        """Elements ``lo:hi`` of a column (clipped to it)."""
        offset, dtype, length = self._columns[name]
        lo, hi = max(0, lo), min(length, hi)
        if hi <= lo:
            return np.empty(0, dtype=dtype)
        size = dtype.itemsize
        return np.frombuffer(self.read_bytes(offset + lo * size, (hi - lo) * size), dtype=dtype)

    def whole(self, name: str) -> np.ndarray:
        """A column read whole into this process's memory: a read-only array of its own, not a view of
        the map (whose pages this leaves untouched). Read straight into an array numpy allocates, not
        through :meth:`read`'s bytes: numpy asks for huge pages, which is the point of the copy (see
        :meth:`WorkRegistry.hold_bands`)."""
        offset, dtype, length = self._columns[name]
        out = np.empty(length, dtype=dtype)
        view = out.data.cast("B")
        with open(self._path, "rb", buffering=0) as handle:
            handle.seek(offset)
            done = 0
            while done < len(view):
                got = handle.readinto(view[done:])
                if not got:
                    raise self._corrupt()
                done += got
        out.flags.writeable = False
        return out

    def read_bytes(self, offset: int, size: int) -> bytes:
        """``size`` bytes of the file from ``offset``."""
        if self._fd is None or self._pid != os.getpid():
            # One descriptor per process (a forked worker opens its own).
            self._fd, self._pid = os.open(self._path, os.O_RDONLY), os.getpid()
        data = os.pread(self._fd, size, offset)
        if len(data) != size:
            raise self._corrupt()
        return data

    def _corrupt(self) -> RegistryError:
        return RegistryError(f"{self._path} is shorter than its table says; the registry is corrupt")


_TEXT_BLOCK = 1024
"""Bytes of a work's text per entry of its :meth:`_TextFile._char_index`."""


class _TextFile:
    """The work texts of ``texts.arrow``: one work's UTF-8 bytes read with ``pread`` when asked for.

    Only the texts actually used are read, and they are not mapped into the process (see
    :class:`_ColumnFile`); the offsets come from the Arrow file's own metadata.
    """

    def __init__(self, path: Path) -> None:
        with path.open("rb") as handle:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        buffer = pa.py_buffer(mapped)
        # Written by _write_tables as one large_string chunk (the checksums vouch for the file).
        chunk = pa.ipc.open_file(pa.BufferReader(buffer)).read_all().column("text").chunk(0)
        data = chunk.buffers()[2]
        validity = chunk.buffers()[0]  # a bitmap, not Arrow's to_numpy (which imports pandas)
        if validity is None:
            self._null = np.zeros(len(chunk), dtype=bool)
        else:
            bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
            self._null = bits[chunk.offset : chunk.offset + len(chunk)] == 0
        self._offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64)[chunk.offset :][
            : len(chunk) + 1
        ].copy()
        self._data = (data.address - buffer.address) if data is not None else 0
        self._file = _ColumnFile(path, {}, 0)

    def text(self, work: int) -> str | None:
        if self._null[work]:
            return None
        lo, hi = int(self._offsets[work]), int(self._offsets[work + 1])
        return self._file.read_bytes(self._data + lo, hi - lo).decode("utf-8")

    def excerpt(self, work: int, start: int, end: int) -> str | None:
        """``text(work)[start:end]`` (``start``, ``end`` >= 0), reading and decoding only about that much.

        Evidence needs a few hundred characters of a book that may hold a million; decoding the whole
        book for them was a tenth of a scan's time. Character offsets become blocks of the text through
        :meth:`_char_index`, kept per work: the blocks that hold the excerpt are read in one ``pread``
        and decoded, and the excerpt is sliced from them by characters.
        """
        if self._null[work]:
            return None
        first, size, chars_before = self._char_index(work)
        chars = size if chars_before is None else int(chars_before[-1])
        start, end = min(start, chars), min(end, chars)
        if end <= start:
            return ""
        if chars_before is None:  # ASCII: a character is a byte
            return self._file.read_bytes(first + start, end - start).decode("ascii")
        # From the block where character `start` begins through the one where `end` begins (all that
        # comes before `end` ends there). A block's first bytes may end a character begun before it:
        # they are skipped, so the decoded text opens with character chars_before[lo], the first to
        # begin in the block. The last block may end inside a character after `end`: it is dropped.
        lo = int(np.searchsorted(chars_before, start, side="right")) - 1
        hi = int(np.searchsorted(chars_before, end, side="right"))
        lo_byte, hi_byte = lo * _TEXT_BLOCK, min(size, hi * _TEXT_BLOCK)
        data = self._file.read_bytes(first + lo_byte, hi_byte - lo_byte)
        skip = 0
        while data[skip] & 0xC0 == 0x80:
            skip += 1
        text = data[skip:].decode("utf-8", "ignore" if hi_byte < size else "strict")
        offset = int(chars_before[lo])
        return text[start - offset : end - offset]

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - a few KB a work; one text file per registry
    def _char_index(self, work: int) -> tuple[int, int, np.ndarray | None]:
        """Where work ``work``'s text starts in the file, its size in bytes, and how many characters
        come before each block of :data:`_TEXT_BLOCK` bytes and before its end (None when the text is
        ASCII). Built from one read of the text, without decoding it."""
        lo, hi = int(self._offsets[work]), int(self._offsets[work + 1])
        raw = self._file.read_bytes(self._data + lo, hi - lo)
        if raw.isascii():
            return self._data + lo, len(raw), None
        starts = _char_starts(np.frombuffer(raw, dtype=np.uint8))
        per_block = np.add.reduceat(starts, np.arange(0, len(raw), _TEXT_BLOCK), dtype=np.int64)
        return self._data + lo, len(raw), np.concatenate([[0], np.cumsum(per_block)])


def _char_starts(data: np.ndarray) -> np.ndarray:
    """Which bytes of UTF-8 ``data`` start a character: all but continuation bytes (0b10xxxxxx)."""
    return (data & 0xC0) != 0x80


def _safe_sha256(path: Path) -> str:
    try:
        return _sha256_file(path)
    except OSError:
        return "unreadable"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------------ gathering


def _load_work_file(path: Path) -> tuple[str, str, Extracted | None, str]:
    """(md5, sha256, extracted text or None, why not) of one work file."""
    return _load_work_bytes(path)[0]


def _load_work_bytes(path: Path) -> tuple[tuple[str, str, Extracted | None, str], bytes]:
    """:func:`_load_work_file`, and the file's bytes (empty if it could not be read)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return ("", "", None, f"cannot read: {exc.strerror or exc}"), b""
    return _extract_work(data, path.suffix), data


def _extract_work(data: bytes, suffix: str) -> tuple[str, str, Extracted | None, str]:
    md5, sha256 = hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()
    try:
        return md5, sha256, extract(data, suffix), ""
    except ExtractionError as exc:
        return md5, sha256, None, str(exc)
    except Exception as exc:  # a parser bug on one hostile file must not sink a build of thousands
        reason = f"extraction failed unexpectedly ({type(exc).__name__}: {exc}); please report it"
        return md5, sha256, None, reason


def _load_and_prepare(
    path: Path, prepare: Callable[[str], Any] | None
) -> tuple[tuple[str, str, Extracted | None, str], Any, bytes | None]:
    """:func:`_load_work_file`, ``prepare`` of the text extracted, and the text's UTF-8 when it is
    the file's bytes (a plain-text file decoded as UTF-8 is its text unchanged, without a BOM)."""
    result, data = _load_work_bytes(path)
    extracted = result[2]
    if extracted is None:
        return result, None, None
    utf8 = data if extracted.format in ("text", "markdown") and extracted.encoding == "utf-8" else None
    return result, (prepare(extracted.text) if prepare is not None else None), utf8


def _apply(work: WorkSource, extracted: Extracted, fallback_title: str) -> None:
    """Give a work its extracted text; the file's own metadata fills what the catalogue left blank."""
    work.text = extracted.text
    work.has_text = True
    work.chars = len(extracted.text)
    work.format = extracted.format
    work.encoding = extracted.encoding
    work.pages = extracted.pages
    work.pages_without_text = list(extracted.pages_without_text)
    work.title = work.title or extracted.title or fallback_title
    work.authors = work.authors or list(extracted.authors)
    work.isbns = work.isbns + [i for i in extracted.isbns if i not in work.isbns]


def _set_file_keys(work: WorkSource, md5: str, sha256: str, where: str, warnings: list[str]) -> None:
    """The file's own md5/sha256 are the keys; a different value in the catalogue is kept as a second
    key (the catalogue may describe the copy a pirate library distributes)."""
    for kind, actual in (("md5", md5), ("sha256", sha256)):
        declared = getattr(work, kind)
        if declared and actual and declared != actual:
            warnings.append(
                f"{where}: the catalogue's {kind} {declared[:12]}… differs from the file's {actual[:12]}…; "
                "both are registered as keys"
            )
            setattr(work, f"alt_{kind}", declared)
        if actual:
            setattr(work, kind, actual)


def _from_row(row: CatalogueRow) -> WorkSource:
    return WorkSource(
        work_id=row.work_id,
        title=row.title,
        authors=list(row.authors),
        isbns=list(row.isbns),
        rights_holder=row.rights_holder,
        license=row.license,
        source=row.source,
        md5=row.md5,
        sha256=row.sha256,
        path=row.path,
        origin=row.where,
    )


def _folder_digest(entries: list[tuple[str, str]]) -> str:
    listing = "".join(f"{name}\t{digest}\n" for name, digest in sorted(entries))
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


def _gathered_one(
    gathered: Gathered,
    works: dict[str, WorkSource],
    file_sha256: dict[Path, str],
    work: WorkSource,
    path: Path,
    resolved: Path,
    fallback: str,
    result: tuple[str, str, Extracted | None, str],
) -> None:
    """Record one work file as read: its keys and text, or why it was skipped."""
    gathered.attempted += 1
    md5, sha256, extracted, reason = result
    if sha256:
        file_sha256[resolved] = sha256
    if extracted is None:
        if work.origin:  # a catalogue row: its metadata and file keys still count
            _set_file_keys(work, md5, sha256, work.origin, gathered.warnings)
            reason += "; registered from its catalogue row without text"
        else:
            del works[work.work_id]
        gathered.skipped.append(SkippedSource(path.as_posix(), reason))
    else:
        _set_file_keys(work, md5, sha256, work.origin or path.as_posix(), gathered.warnings)
        _apply(work, extracted, fallback)
        gathered.warnings.extend(f"{path.as_posix()}: {note}" for note in extracted.notes)


def gather_sources(
    sources: Sequence[Path],
    catalogues: Sequence[Path] = (),
    progress: Progress | None = None,
    *,
    prepare: Callable[[str], Any] | None = None,
) -> Gathered:
    """Collect works from catalogues and from folders or files of works, sorted by work id.

    A work file that no catalogue row names becomes a work whose id is its path relative to the
    folder given, without suffix (with its suffix when two files differ only by it, e.g. the EPUB
    and PDF of one book). A file whose text cannot be extracted is skipped with the reason; a
    catalogue row whose file is missing or unreadable is still registered, without text.

    Args:
        prepare: called with each extracted text by the thread that read it (e.g. to tokenise it
            while other files are read); the results are in ``Gathered.prepared``.

    Raises:
        UsageError: a source does not exist or has an unsupported type, a catalogue is unreadable,
            or a work id repeats.
    """
    # Path.resolve stats every component of a path, and a file is looked up a few times.
    resolved = functools.lru_cache(maxsize=None)(Path.resolve)
    catalogue_files: list[Path] = []
    work_files: list[tuple[Path, Path]] = []
    members: dict[Path, list[tuple[str, Path]]] = {}  # folder source → (relative name, file)
    seen: set[Path] = set()  # a file reached twice (a folder and a file in it) is read once

    def add_catalogue(path: Path) -> None:
        if resolved(path) not in seen:
            seen.add(resolved(path))
            catalogue_files.append(path)

    def add_work(root: Path, path: Path) -> None:
        if resolved(path) not in seen:
            seen.add(resolved(path))
            work_files.append((root, path))

    for catalogue in catalogues:
        if not catalogue.is_file():
            raise UsageError(f"catalogue {catalogue} does not exist")
        add_catalogue(catalogue)
    for source in sources:
        if not source.exists():
            raise UsageError(f"registry source {source} does not exist")
        if source.is_file():
            suffix = source.suffix.lower()
            if suffix in CATALOGUE_SUFFIXES or suffix == ".json":
                add_catalogue(source)
            elif format_of(suffix):
                add_work(source.parent, source)
            else:
                raise UsageError(
                    f"registry source {source}: unsupported file type {source.suffix!r}; give work files "
                    "(.txt, .md, .html, .epub, .pdf), catalogues (.csv, .jsonl, .parquet) or folders"
                )
            continue
        members[source] = []
        # A registry written inside its own source folder must not be read back as works or catalogues.
        inner = {m.parent for m in source.rglob("manifest.json") if (m.parent / "works.parquet").is_file()}
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            relative = path.relative_to(source)
            if any(part.startswith(".") for part in relative.parts):
                continue  # .DS_Store, .git, editor swap files
            if any(parent in inner for parent in path.parents):
                continue
            suffix = path.suffix.lower()
            if suffix in CATALOGUE_SUFFIXES:
                add_catalogue(path)
                members[source].append((relative.as_posix(), path))
            elif format_of(suffix) and path.name.lower() != "readme.md":
                add_work(source, path)
                members[source].append((relative.as_posix(), path))

    gathered = Gathered(works=[])
    works: dict[str, WorkSource] = {}
    claimed: set[Path] = set()
    file_sha256: dict[Path, str] = {}
    pending: list[tuple[WorkSource, Path, str]] = []  # (work, file, fallback title)
    for catalogue in catalogue_files:
        rows, warnings = read_catalogue(catalogue)
        gathered.warnings.extend(warnings)
        file_sha256[resolved(catalogue)] = _sha256_file(catalogue)
        for row in rows:
            if row.work_id in works:
                raise UsageError(
                    f"{row.where}: work id {row.work_id!r} appears twice (also {works[row.work_id].origin})"
                )
            work = works[row.work_id] = _from_row(row)
            if not row.path:
                continue
            file = Path(row.path) if Path(row.path).is_absolute() else catalogue.parent / row.path
            claimed.add(resolved(file))
            if not file.is_file():
                gathered.attempted += 1
                gathered.skipped.append(
                    SkippedSource(
                        file.as_posix(),
                        f"{row.where}: file of work {row.work_id!r} not found; registered without text",
                    )
                )
            elif format_of(file.suffix) is None:
                gathered.warnings.append(
                    f"{row.where}: {row.path!r} is not a work file type this tool reads; "
                    "registered without text"
                )
            else:
                pending.append((work, file, file.stem))

    unclaimed = [(root, path) for root, path in work_files if resolved(path) not in claimed]
    stems: dict[str, int] = {}
    for root, path in unclaimed:
        stem = path.relative_to(root).with_suffix("").as_posix()
        stems[stem] = stems.get(stem, 0) + 1
    for root, path in unclaimed:
        relative = path.relative_to(root)
        work_id = relative.with_suffix("").as_posix()
        if stems[work_id] > 1:
            work_id = relative.as_posix()  # book.epub and book.pdf: keep both, told apart by suffix
        if work_id in works:
            other = works[work_id].origin or works[work_id].path
            raise UsageError(
                f"work id {work_id!r} appears twice ({path} and {other}); "
                "give the file a catalogue row with its own work_id, or rename it"
            )
        works[work_id] = WorkSource(work_id=work_id, path=path.as_posix())
        pending.append((works[work_id], path, path.stem))

    # Files are read, hashed and decoded by threads (hashlib and file reads release the GIL), and
    # taken in order.
    with ThreadPoolExecutor(max_workers=max(1, min(_threads(), len(pending)))) as pool:
        loaded = pool.map(
            functools.partial(_load_and_prepare, prepare=prepare), [path for _, path, _ in pending]
        )
        for done, ((work, path, fallback), (result, prepared, utf8)) in enumerate(
            zip(pending, loaded, strict=True), start=1
        ):
            _gathered_one(gathered, works, file_sha256, work, path, resolved(path), fallback, result)
            if prepare is not None and result[2] is not None:
                gathered.prepared[work.work_id] = prepared
                if utf8 is not None:
                    gathered.utf8[work.work_id] = utf8
            if progress:
                progress(done, len(pending))

    for source in sources:
        if source.is_file():
            kind = "catalogue" if resolved(source) in {resolved(c) for c in catalogue_files} else "file"
            digest = file_sha256.get(resolved(source)) or _safe_sha256(source)
            gathered.sources.append({"path": source.as_posix(), "kind": kind, "sha256": digest, "files": 1})
        else:
            entries = [
                (name, file_sha256.get(resolved(file)) or _safe_sha256(file))
                for name, file in members[source]
            ]
            gathered.sources.append(
                {
                    "path": source.as_posix(),
                    "kind": "folder",
                    "sha256": _folder_digest(entries),
                    "files": len(entries),
                }
            )
    listed = {resolved(Path(s["path"])) for s in gathered.sources}
    for catalogue in catalogues:
        if resolved(catalogue) not in listed:
            gathered.sources.append(
                {
                    "path": catalogue.as_posix(),
                    "kind": "catalogue",
                    "sha256": file_sha256[resolved(catalogue)],
                    "files": 1,
                }
            )
    gathered.works = [works[k] for k in sorted(works)]
    return gathered


def _rename(gathered: Gathered, names: Mapping[Path, str]) -> None:
    """Record paths under a copied source by the source's own name (a URL): the registry then says
    where its works came from, not where they were copied to."""
    prefixes = sorted(((Path(local).as_posix(), name) for local, name in names.items()), reverse=True)

    def named(text: str) -> str:
        for local, name in prefixes:  # copies live in folders of their own: the prefix is unique
            text = text.replace(local, name)
        return text

    for work in gathered.works:
        work.path, work.origin = named(work.path), named(work.origin)
    gathered.skipped = [SkippedSource(named(s.path), s.reason) for s in gathered.skipped]
    gathered.warnings = [named(w) for w in gathered.warnings]
    for source in gathered.sources:
        source["path"] = named(source["path"])


def _check_gathered(gathered: Gathered, what: str) -> None:
    """Refuse a build or add that read nothing: exit 2, saying why each file failed."""
    extracted = sum(1 for w in gathered.works if w.has_text)
    if gathered.attempted and not extracted:
        first = "; ".join(f"{s.path}: {s.reason}" for s in gathered.skipped[:3])
        raise UsageError(
            f"no work text could be read: all {gathered.attempted} work file(s) failed ({first}"
            f"{'; …' if len(gathered.skipped) > 3 else ''}); nothing was {what}"
        )
    if not gathered.works:
        raise UsageError(
            "no works found in the registry sources: give folders of .txt/.md/.html/.epub/.pdf files "
            f"or a catalogue; nothing was {what}"
        )


# ------------------------------------------------------------------------------------------ editions


def _edition_keys(work: WorkSource) -> list[str]:
    keys = [f"isbn:{isbn}" for isbn in work.isbns]
    edition = edition_key(work.title, work.authors)
    if edition:
        keys.append(f"edition:{edition}")
    if work.text_hash:
        keys.append(f"text:{work.text_hash}")
    if work.path and not work.origin:
        # book.epub and book.pdf side by side in one folder: two formats of one work.
        keys.append(f"file:{PurePosixPath(work.path).with_suffix('').as_posix()}")
    return keys


def edition_groups(works: Sequence[WorkSource]) -> list[str]:
    """The edition group of each work: works sharing any ISBN, the same normalised title and first
    author's surname, the same normalised text, or one file name in two formats, are one book.

    Returns:
        per work, its group id: the smallest work id in the group.
    """
    parent = list(range(len(works)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, work in enumerate(works):
        for key in _edition_keys(work):
            j = first.setdefault(key, i)
            a, b = find(i), find(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    label: dict[int, str] = {}
    for i, work in enumerate(works):
        root = find(i)
        if root not in label or work.work_id < label[root]:
            label[root] = work.work_id
    return [label[find(i)] for i in range(len(works))]


# ------------------------------------------------------------------------------------------ building


_NO_TOKENS = _WorkTokens(
    np.empty(0, dtype=np.uint32), np.empty(0, dtype=np.uint32), np.empty(0, dtype=np.uint64)
)


def _tokenise(work: WorkSource, k: int) -> _WorkTokens:
    tokens, work.text_hash = _tokens_of(work.text, k)
    return tokens


def _tokens_of(text: str | None, k: int) -> tuple[_WorkTokens, str]:
    """A work text's token offsets (uint32: texts are under 4G characters), shingles and text hash."""
    if not text:
        empty = np.empty(0, dtype=np.uint32)
        return _WorkTokens(empty, empty, np.empty(0, dtype=np.uint64)), ""
    toks = tokenize(text)
    shing = shingles(toks.hashes, k)
    return (
        _WorkTokens(toks.starts.astype(np.uint32), toks.ends.astype(np.uint32), shing),
        text_hash(toks.hashes) if len(shing) else "",
    )


def _threads() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class _Threads:
    """A thread pool for the build's steps: numpy's sorts, hashlib and the compiled kernels release
    the GIL, so threads share the work's arrays where processes would copy them through pipes."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._pool = ThreadPoolExecutor(max_workers=self.workers)

    def __enter__(self) -> _Threads:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, function: Callable[..., Any], *args: Any) -> Future[Any]:
        return self._pool.submit(function, *args)

    def map(self, function: Callable[..., Any], *iterables: Iterable[Any]) -> list[Any]:
        """``[function(*args) ...]``, in order (the first error is raised once all are done)."""
        return list(self._pool.map(function, *iterables))

    def run(self, jobs: list[Callable[[], None]]) -> None:
        """Run the jobs in the pool, side by side, and wait for all of them."""
        for future in [self._pool.submit(job) for job in jobs]:
            future.result()


Mapper = Callable[[Callable[..., Any], list[tuple[Any, ...]], tuple[Any, ...]], list[Any]]
"""``mapper(function, calls, shared)`` is ``[function(*call, *shared) for call in calls]`` run
somewhere else (the Ray engine's tasks, ``shared`` sent once); results in call order."""


def _tokenise_all(
    works: Sequence[WorkSource],
    k: int,
    mapper: Mapper | None = None,
    prepared: Mapping[str, tuple[_WorkTokens, str]] | None = None,
) -> list[_WorkTokens]:
    """:func:`_tokenise` of every work: through ``mapper`` if given, else here, except for the works
    in ``prepared`` (:func:`_tokens_of` of their text by work id, made while the files were read)."""
    if mapper is not None:
        done = mapper(_tokens_of, [(w.text,) for w in works], (k,))
    else:
        prepared = prepared or {}
        done = [prepared[w.work_id] if w.work_id in prepared else _tokens_of(w.text, k) for w in works]
    for work, (_, digest) in zip(works, done, strict=True):
        work.text_hash = digest
    return [tokens for tokens, _ in done]


def _group_order(works: Sequence[WorkSource]) -> tuple[dict[str, int], list[int]]:
    """Each edition group's id (groups sorted by name), and the works ordered by group."""
    group_ids = {g: i for i, g in enumerate(sorted({w.group for w in works}))}
    return group_ids, sorted(range(len(works)), key=lambda i: group_ids[works[i].group])


def _frequent_shingles(parts: list[np.ndarray], threshold: int, threads: _Threads | None) -> np.ndarray:
    """The distinct values, sorted, that occur at least ``threshold`` times in all ``parts``."""
    if not parts:
        return np.empty(0, dtype=np.uint64)
    threshold = max(1, threshold)  # every value present occurs at least once
    radix = 8
    shift = 64 - radix
    counts = np.zeros((1 << radix) + 1, dtype=np.int64)
    for part in parts:
        kernels.top_bits_histogram(part, shift, counts[1:])
    first = np.cumsum(counts)
    spread = np.empty(int(first[-1]), dtype=np.uint64)
    middle = int(np.searchsorted(first, first[-1] // 2))
    found: list[list[np.ndarray]] = [[], []]

    def frequent(half: int, lo: int, hi: int) -> Callable[[], None]:
        def work() -> None:
            cursor = first[:-1].copy()
            for part in parts:
                kernels.scatter_by_top_bits(part, shift, lo, hi, cursor, spread)
            for start, end in zip(first[lo:hi].tolist(), first[lo + 1 : hi + 1].tolist(), strict=True):
                if end - start >= threshold:
                    bucket = spread[start:end]
                    bucket.sort()
                    out = np.empty(len(bucket) // threshold, dtype=np.uint64)
                    found[half].append(out[: kernels.frequent_values(bucket, threshold, out)])

        return work

    _run(threads, [frequent(0, 0, middle), frequent(1, middle, 1 << radix)])
    return np.concatenate(found[0] + found[1]) if found[0] or found[1] else np.empty(0, dtype=np.uint64)


def _shared_shingles(
    works: Sequence[WorkSource],
    tokens: Sequence[_WorkTokens],
    threshold: int,
    threads: _Threads | None = None,
) -> np.ndarray:
    """Sorted shingles found in at least ``threshold`` edition groups (each group counts once).

    Candidates first: shingles that occur at least ``threshold`` times (a shingle in n groups occurs
    at least n times), from a radix partition of all shingles by their top bits, each part sorted
    and scanned for long enough runs. Then the groups holding each candidate are counted, group by
    group, through a hash table of the candidates. The two halves of either step run side by side
    in ``threads``. :func:`_shared_shingles_numpy` is the plain version.
    """
    parts = [t.shingles for t in tokens if len(t.shingles)]
    candidates = _frequent_shingles(parts, threshold, threads)
    if not len(candidates):
        return candidates
    table = KeySet(candidates)
    group_ids, order = _group_order(works)
    order = [i for i in order if len(tokens[i].shingles)]
    # Two halves of the works, cut between groups, each counted on its own.
    cut = len(order) // 2
    while 0 < cut < len(order) and works[order[cut]].group == works[order[cut - 1]].group:
        cut += 1
    groups = [np.zeros(len(candidates), dtype=np.int64) for _ in range(2)]

    def count(half: int, members: list[int]) -> Callable[[], None]:
        def work() -> None:
            last_group = np.full(len(candidates), -1, dtype=np.int64)
            for i in members:
                table.count_groups(tokens[i].shingles, group_ids[works[i].group], last_group, groups[half])

        return work

    _run(threads, [count(0, order[:cut]), count(1, order[cut:])])
    return candidates[groups[0] + groups[1] >= threshold]


def _run(threads: _Threads | None, jobs: list[Callable[[], None]]) -> None:
    if threads is None:
        for job in jobs:
            job()
    else:
        threads.run(jobs)


def _shared_shingles_numpy(
    works: Sequence[WorkSource], tokens: Sequence[_WorkTokens], threshold: int
) -> np.ndarray:
    """:func:`_shared_shingles` in plain numpy, kept to test it against: one count over all
    shingles gives the candidates; only the rows of candidates are then counted per distinct
    (group, shingle)."""
    parts = [t.shingles for t in tokens if len(t.shingles)]
    if not parts:
        return np.empty(0, dtype=np.uint64)
    everything = np.concatenate(parts)
    uniq, counts = np.unique(everything, return_counts=True)
    candidates = uniq[counts >= threshold]
    if not len(candidates):
        return candidates
    group_ids = {g: i for i, g in enumerate(sorted({w.group for w in works}))}
    owner = np.repeat(
        np.array(
            [group_ids[w.group] for w, t in zip(works, tokens, strict=True) if len(t.shingles)],
            dtype=np.int64,
        ),
        [len(p) for p in parts],
    )
    first, count = KeyIndex(candidates).lookup(everything)
    keep = count > 0
    # Distinct (candidate, group) pairs as one int64 each, then groups per candidate. (np.unique
    # with return_counts: without it numpy 2.4 takes a hash-based path, many times slower here.)
    pairs = np.unique(first[keep] * len(group_ids) + owner[keep], return_counts=True)[0]
    groups = np.bincount(pairs // len(group_ids), minlength=len(candidates))
    return candidates[groups >= threshold]


def _boilerplate_threshold(config: FingerprintConfig, groups_with_text: int) -> int:
    return max(config.boilerplate_min_works, int(np.ceil(config.boilerplate_min_share * groups_with_text)))


def _page_ranges(pages: Iterable[int]) -> str:
    """1, 2, 3, 5 → "1-3, 5"."""
    out: list[str] = []
    run: list[int] = []
    for page in sorted(pages):
        if run and page == run[-1] + 1:
            run.append(page)
            continue
        if run:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [page]
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ", ".join(out)


@functools.lru_cache(maxsize=4)
def _fingerprinter(config: FingerprintConfig) -> Fingerprinter:
    return Fingerprinter(config)


def _mask_and_sign(
    shingles: np.ndarray, boilerplate: KeySet, config: FingerprintConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One work's shingles with boilerplate masked, its passage signatures and their starts."""
    values = boilerplate.masked(shingles) if len(boilerplate) and len(shingles) else shingles.copy()
    if len(boilerplate) and len(values):
        values = mask_template_fills(values, config.boilerplate_fill)
    sigs, starts = _fingerprinter(config).window_signatures(values)
    return values, sigs, starts


def _sign_work(
    shingles: np.ndarray,
    boilerplate: np.ndarray,
    config: FingerprintConfig,
    boilerplate_index: KeySet | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One work's shingles with boilerplate masked, its passage signatures, their starts and their
    band keys (a unit of the build that may run on another machine)."""
    index = boilerplate_index if boilerplate_index is not None else KeySet(boilerplate)
    values, sigs, starts = _mask_and_sign(shingles, index, config)
    return values, sigs, starts, _fingerprinter(config).band_keys(sigs)


@dataclass(slots=True)
class _Tables:
    """The build's large tables, filled work by work (see :func:`_assemble`)."""

    tokens: dict[str, np.ndarray]
    passage_work: np.ndarray
    passage_start: np.ndarray
    signatures: np.ndarray
    keys: np.ndarray
    masked: list[int]


def _copy_tokens(tables: _Tables, idx: int, toks: Any, values: np.ndarray, lo: int, hi: int) -> None:
    """Work ``idx``'s token rows ``lo:hi``: its offsets and raw shingles (0 where none starts), and
    which are masked (``values``: its shingles with boilerplate as MASKED); counts its masked ones."""
    cols = tables.tokens
    cols["start"][lo:hi] = toks.starts
    cols["end"][lo:hi] = toks.ends
    n = len(toks.shingles)
    cols["shingle"][lo : lo + n] = toks.shingles
    cols["shingle"][lo + n : hi] = 0
    masked = cols["masked"][lo:hi].view(bool)
    np.equal(values, MASKED, out=masked[: len(values)])
    masked[len(values) :] = False
    tables.masked[idx] = int(np.count_nonzero(masked))


def _allocate(
    n_tokens: np.ndarray, n_passages: np.ndarray, config: FingerprintConfig
) -> tuple[_Tables, list[int], list[int]]:
    """Empty token and passage tables for works of ``n_tokens`` tokens and ``n_passages`` passages,
    and the row where each work's tokens and passages start (plus the totals, last)."""
    tok_at = np.concatenate([[0], np.cumsum(n_tokens)]).tolist()
    pas_at = np.concatenate([[0], np.cumsum(n_passages)]).tolist()
    total_tokens, total_passages = tok_at[-1], pas_at[-1]
    tables = _Tables(
        tokens={
            "start": np.empty(total_tokens, dtype=np.uint32),
            "end": np.empty(total_tokens, dtype=np.uint32),
            "shingle": np.empty(total_tokens, dtype=np.uint64),
            "masked": np.empty(total_tokens, dtype=np.uint8),
        },
        passage_work=np.empty(total_passages, dtype=np.uint32),
        passage_start=np.empty(total_passages, dtype=np.int32),
        signatures=np.empty((total_passages, config.num_perm), dtype=np.uint64),
        keys=np.empty((total_passages, config.bands), dtype=np.uint64),
        masked=[0] * len(n_tokens),
    )
    return tables, tok_at, pas_at


def _assemble(
    tokens: Sequence[_WorkTokens],
    signed: Sequence[tuple[np.ndarray, ...]],
    config: FingerprintConfig,
    threads: _Threads | None,
) -> _Tables:
    """The token and passage tables of all works, in work order, each work copied into its rows by
    a thread; band keys are computed into theirs unless ``signed`` brings them (``_sign_work``)."""
    n_tokens = np.array([len(t.starts) for t in tokens], dtype=np.int64)
    n_passages = np.array([len(s[1]) for s in signed], dtype=np.int64)
    tables, tok_at, pas_at = _allocate(n_tokens, n_passages, config)
    fingerprinter = _fingerprinter(config)

    def copy(idx: int) -> None:
        toks, (values, sigs, starts, *keys) = tokens[idx], signed[idx]
        lo, hi = tok_at[idx], tok_at[idx + 1]
        _copy_tokens(tables, idx, toks, values, lo, hi)
        lo, hi = pas_at[idx], pas_at[idx + 1]
        tables.passage_work[lo:hi] = idx
        tables.passage_start[lo:hi] = starts
        tables.signatures[lo:hi] = sigs
        if keys:
            tables.keys[lo:hi] = keys[0]
        elif hi > lo:
            fingerprinter.band_keys(sigs, out=tables.keys[lo:hi])

    if threads is None:
        for idx in range(len(tokens)):
            copy(idx)
    else:
        threads.map(copy, range(len(tokens)))
    return tables


def _sign_all(
    tokens: Sequence[_WorkTokens],
    boilerplate: np.ndarray,
    config: FingerprintConfig,
    mapper: Mapper,
) -> list[tuple[np.ndarray, ...]]:
    """Every work's masked shingles, signatures, starts and band keys, through ``mapper``."""
    return list(mapper(_sign_work, [(t.shingles,) for t in tokens], (boilerplate, config)))


def _sign_into_tables(
    tokens: list[_WorkTokens],
    boilerplate: np.ndarray,
    config: FingerprintConfig,
    threads: _Threads | None,
) -> _Tables:
    """:func:`_sign_all` and :func:`_assemble` in this process, without the per-work copies: each
    work's masked shingles and the number of passages it keeps first, then the tables, into whose
    rows each work is signed, band-keyed and copied by a thread.

    The per-work token arrays are copied into the tables and then dropped from ``tokens`` (each entry
    becomes empty), so they do not outlive this step.
    """
    index = KeySet(boilerplate)
    fingerprinter = _fingerprinter(config)  # made once, before the threads share it
    a, b = fingerprinter._a_flat, fingerprinter._b_flat
    stride = config.stride
    order = sorted(range(len(tokens)), key=lambda i: -len(tokens[i].shingles))
    values = [np.empty(0, dtype=np.uint64)] * len(tokens)
    n_passages = np.zeros(len(tokens), dtype=np.int64)

    def mask(i: int) -> None:
        shingles = tokens[i].shingles
        if len(boilerplate) and len(shingles):
            masked = mask_template_fills(index.masked(shingles), config.boilerplate_fill)
        else:
            masked = shingles
        values[i] = masked = np.ascontiguousarray(masked, dtype=np.uint64)
        n_passages[i] = kernels.window_count(masked, stride, a[0], b[0]) if len(masked) else 0

    _map(threads, mask, order)
    n_tokens = np.array([len(t.starts) for t in tokens], dtype=np.int64)
    tables, tok_at, pas_at = _allocate(n_tokens, n_passages, config)

    def fill(idx: int) -> None:
        toks, work_values = tokens[idx], values[idx]
        lo, hi = tok_at[idx], tok_at[idx + 1]
        _copy_tokens(tables, idx, toks, work_values, lo, hi)
        lo, hi = pas_at[idx], pas_at[idx + 1]
        if hi > lo:
            sigs = tables.signatures[lo:hi]
            written = kernels.window_minhashes_into(
                work_values, stride, a, b, sigs, tables.passage_start[lo:hi]
            )
            if written != hi - lo:
                raise RuntimeError(f"work {idx}: {written} passages signed, {hi - lo} counted")
            tables.passage_work[lo:hi] = idx
            fingerprinter.band_keys(sigs, out=tables.keys[lo:hi])
        values[idx] = np.empty(0, dtype=np.uint64)
        tokens[idx] = _NO_TOKENS

    _map(threads, fill, order)
    return tables


def _map(threads: _Threads | None, function: Callable[[int], None], items: list[int]) -> None:
    if threads is None:
        for item in items:
            function(item)
    else:
        threads.map(function, items)


def _hashed(path: Path, write: Callable[[Path], None]) -> tuple[str, str]:
    """Write a file, then read it back once for its sha256 and its xxh3-128 checksum (from the
    page cache; hashlib releases the GIL, so files are hashed side by side)."""
    write(path)
    sha = hashlib.sha256()
    fast = xxhash.xxh3_128()
    buffer = bytearray(1 << 22)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as handle:
        while size := handle.readinto(buffer):
            chunk = view[:size]
            sha.update(chunk)
            fast.update(chunk)
    return sha.hexdigest(), "xxh3_128:" + fast.hexdigest()


def _assemble_and_write(
    out: Path,
    works: list[WorkSource],
    tokens: list[_WorkTokens],
    config: FingerprintConfig,
    *,
    name: str,
    fingerprints_only: bool,
    action: str,
    gathered: Gathered,
    previous: dict[str, Any] | None,
    previous_ids: frozenset[str] = frozenset(),
    mapper: Mapper | None = None,
) -> dict[str, Any]:
    """Group editions, mask boilerplate, sign passages, index bands and write the registry folder.

    Each file is written, and hashed, by a thread as soon as its table is complete, while the next
    tables are computed: the work texts first, the band index last.
    """
    # Counted now: a local build lets the token arrays go once they are in the tables.
    n_tokens = [len(t.starts) for t in tokens]
    n_shingles = [len(t.shingles) for t in tokens]
    groups = edition_groups(works)
    for work, group in zip(works, groups, strict=True):
        work.group = group
    warnings = list(gathered.warnings)

    out = Path(out)
    if out.exists() and not (out / "manifest.json").is_file():
        raise UsageError(f"{out} exists and is not a registry; choose a new folder for -o")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        with _Threads(_threads()) as threads:
            hashed: dict[str, Future[tuple[str, str]]] = {}

            def write(name_: str, writer: Callable[[Path], None]) -> None:
                hashed[name_] = threads.submit(_hashed, tmp / name_, writer)

            write(
                "texts.arrow",
                functools.partial(
                    _write_texts, works=works, fingerprints_only=fingerprints_only, utf8=gathered.utf8
                ),
            )
            # Boilerplate: shingles found in many books carry no evidence of copying any one of them.
            # Each edition group counts once, so the EPUB and the PDF of one book never mask each other.
            threshold = _boilerplate_threshold(
                config, len({w.group for w, t in zip(works, tokens, strict=True) if len(t.shingles)})
            )
            boilerplate = _shared_shingles(works, tokens, threshold, threads)
            write(
                "works.parquet",
                functools.partial(_write_works, works=works, per_work_tokens=n_tokens),
            )
            write("boilerplate.parquet", functools.partial(_write_boilerplate, boilerplate=boilerplate))
            write("isbns.parquet", functools.partial(_write_isbns, works=works))
            write("hashes.parquet", functools.partial(_write_hashes, works=works))
            if mapper is not None:
                tables = _assemble(tokens, _sign_all(tokens, boilerplate, config, mapper), config, threads)
            else:
                tables = _sign_into_tables(tokens, boilerplate, config, threads)
            # The band keys' sort first (the band index waits for it), then the other tables. This
            # thread writes the token table meanwhile, so that its memory goes before the sort's grows;
            # a pool thread hashes the file.
            n_passages = len(tables.passage_work)
            band_keys, band_passages, jobs = sort_keys_jobs(tables.keys.reshape(-1), config.bands)
            sorting = [threads.submit(job) for job in jobs]
            write("passages.parquet", functools.partial(_write_passages, tables=tables, release=True))
            _write_tokens(tmp / "tokens.arrow", tables=tables)
            write("tokens.arrow", _written)
            for future in sorting:
                future.result()
            # The unsorted keys and the sort's scratch go (the jobs hold them), before the last tables.
            del jobs, sorting
            tables.keys = np.empty((0, config.bands), dtype=np.uint64)
            write(
                "bands.arrow",
                functools.partial(_write_arrow, columns={"key": band_keys, "passage": band_passages}),
            )
            write(
                "buckets.arrow",
                functools.partial(_write_buckets, sorted_keys=band_keys),
            )
            digests = {name_: future.result() for name_, future in hashed.items()}
        files = {name_: digests[name_][0] for name_ in _DATA_FILES}
        checksums = {name_: digests[name_][1] for name_ in _DATA_FILES}
        for work, n_values, masked in zip(works, n_shingles, tables.masked, strict=True):
            if n_values >= config.window and masked > MOSTLY_MASKED * n_values:
                warnings.append(
                    f"work {work.work_id!r}: {masked / n_values:.0%} of its text is shared with other "
                    "works and masked as boilerplate; if it is an edition of one of them, give them a common "
                    "ISBN or the same title and author so they are grouped"
                )
        snapshot = _now()
        digest = _digest(files)
        history = list((previous or {}).get("history", []))
        history.append(
            {
                "snapshot": snapshot,
                "action": action,
                "tool_version": __version__,
                "sources": gathered.sources,
                "works_added": sum(1 for w in works if w.work_id not in previous_ids),
                "works": len(works),
                "digest": digest,
            }
        )
        missing_pages = [
            {"work_id": w.work_id, "pages": _page_ranges(w.pages_without_text), "of": w.pages}
            for w in works
            if w.pages_without_text and w.work_id not in previous_ids
        ]
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": name,
            "snapshot": snapshot,
            "tool_version": __version__,
            "fingerprints_only": fingerprints_only,
            "config": config.to_dict(),
            "config_id": config.config_id,
            "counts": {
                "works": len(works),
                "works_with_text": sum(1 for w in works if w.has_text),
                "groups": len(set(groups)),
                "tokens": sum(n_tokens),
                "passages": n_passages,
                "boilerplate_shingles": len(boilerplate),
                "boilerplate_threshold": threshold,
                "isbns": sum(len(w.isbns) for w in works),
                "pages_without_text": sum(len(w.pages_without_text) for w in works),
            },
            "sources": [s for entry in history for s in entry["sources"]],
            "history": history,
            "report": {
                "action": action,
                "works_added": history[-1]["works_added"],
                "skipped": [{"path": s.path, "reason": s.reason} for s in gathered.skipped],
                "pages_without_text": missing_pages,
                "warnings": warnings,
            },
            "files": files,
            "checksums": checksums,
            "digest": digest,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def build_registry(
    sources: Sequence[Path],
    out: Path,
    *,
    name: str | None = None,
    catalogues: Sequence[Path] = (),
    config: FingerprintConfig | None = None,
    fingerprints_only: bool = False,
    progress: Progress | None = None,
    mapper: Mapper | None = None,
    names: Mapping[Path, str] | None = None,
) -> dict[str, Any]:
    """Build a registry folder from work files and catalogues; returns its manifest.

    Args:
        sources: folders or files of works (.txt, .md, .html, .epub, .pdf) and catalogues.
        out: the registry folder to write; replaced atomically if it exists and is a registry.
        name: the registry's name (default: the folder's name).
        catalogues: catalogue files given explicitly (CSV, JSONL, Parquet).
        config: fingerprint settings (default settings if None).
        fingerprints_only: keep signatures, offsets, hashes and metadata but no work text.
        progress: called with (work files read, work files in all).
        mapper: where works are tokenised and fingerprinted (the Ray engine's tasks); by default in
            this machine's processes. The registry is the same either way.
        names: sources that are local copies (of URLs) and the names to record for them: every
            path under such a source is recorded under its name instead (works, skips, warnings).

    Raises:
        UsageError: bad sources, or no work could be read at all (the manifest's ``report`` lists
            files skipped when some could).
    """
    config = config or FingerprintConfig()
    # Locally, each work is tokenised by the thread that read it, while other files are read.
    prepare = None if mapper else functools.partial(_tokens_of, k=config.shingle_size)
    gathered = gather_sources(sources, catalogues, progress, prepare=prepare)
    if names:
        _rename(gathered, names)
    _check_gathered(gathered, "built")
    tokens = _tokenise_all(gathered.works, config.shingle_size, mapper, gathered.prepared)
    gathered.prepared.clear()  # ``tokens`` holds them now, and lets them go once they are in the tables
    return _assemble_and_write(
        Path(out),
        gathered.works,
        tokens,
        config,
        name=name or Path(out).name,
        fingerprints_only=fingerprints_only,
        action="build",
        gathered=gathered,
        previous=None,
        mapper=mapper,
    )


def _stored_works(registry: WorkRegistry) -> tuple[list[WorkSource], list[_WorkTokens]]:
    """A registry's works and their tokens as ``build`` had them, read back from its tables."""
    rows = _read_parquet(registry.path / "works.parquet").to_pylist()
    starts, ends, raw = registry.tok_start, registry.tok_end, registry.tok_shingle_raw
    k = registry.config.shingle_size
    works: list[WorkSource] = []
    tokens: list[_WorkTokens] = []
    for idx, row in enumerate(rows):
        lo, hi = int(registry.work_offset[idx]), int(registry.work_offset[idx + 1])
        n_shingles = max(0, hi - lo - k + 1)
        tokens.append(
            _WorkTokens(
                starts[lo:hi].astype(np.uint32),
                ends[lo:hi].astype(np.uint32),
                raw[lo : lo + n_shingles].copy(),
            )
        )
        works.append(
            WorkSource(
                **{f: row[f] for f in WorkSource.__dataclass_fields__ if f in row and f != "text"},
                text=registry.work_text(idx),
            )
        )
    return works, tokens


def add_to_registry(
    path: Path,
    sources: Sequence[Path],
    *,
    catalogues: Sequence[Path] = (),
    progress: Progress | None = None,
    mapper: Mapper | None = None,
    names: Mapping[Path, str] | None = None,
) -> dict[str, Any]:
    """Add works to a registry, as a new snapshot; returns the new manifest.

    The index is rebuilt from the stored tokens (raw shingles and offsets) of the works already in
    it plus the new ones, so boilerplate and edition groups are recomputed over all works and the
    result equals a fresh build of all the sources; fingerprint-only registries can be added to as
    well (the new works' text is not stored either). ``mapper`` and ``names`` are
    :func:`build_registry`'s.

    Raises:
        UsageError: bad sources, nothing readable, or a work id already in the registry.
        RegistryError: the registry is missing, corrupt or from another version.
    """
    registry = WorkRegistry(Path(path))
    existing, existing_tokens = _stored_works(registry)
    prepare = None if mapper else functools.partial(_tokens_of, k=registry.config.shingle_size)
    gathered = gather_sources(sources, catalogues, progress, prepare=prepare)
    if names:
        _rename(gathered, names)
    _check_gathered(gathered, "added")
    have = {w.work_id: w for w in existing}
    clash = [w.work_id for w in gathered.works if w.work_id in have]
    if clash:
        shown = ", ".join(repr(c) for c in clash[:5]) + (" …" if len(clash) > 5 else "")
        raise UsageError(
            f"work id(s) {shown} already in registry {path}: `registry add` only adds works; "
            "give them new work ids, or rebuild the registry with `registry build` to replace them"
        )
    by_sha = {w.sha256: w.work_id for w in existing if w.sha256}
    for work in gathered.works:
        if work.sha256 and work.sha256 in by_sha:
            gathered.warnings.append(
                f"work {work.work_id!r} is the same file (sha256) as {by_sha[work.sha256]!r}, "
                "already registered"
            )
    new_tokens = _tokenise_all(gathered.works, registry.config.shingle_size, mapper, gathered.prepared)
    merged = sorted(
        zip(existing + gathered.works, existing_tokens + new_tokens, strict=True), key=lambda p: p[0].work_id
    )
    return _assemble_and_write(
        registry.path,
        [w for w, _ in merged],
        [t for _, t in merged],
        registry.config,
        name=registry.name,
        fingerprints_only=registry.fingerprints_only,
        action="add",
        gathered=gathered,
        previous=registry.manifest,
        previous_ids=frozenset(have),
        mapper=mapper,
    )


def _digest(files: dict[str, str]) -> str:
    canonical = json.dumps(files, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def _write_works(path: Path, *, works: list[WorkSource], per_work_tokens: list[int]) -> None:
    def strings(attr: str) -> pa.Array:
        return pa.array([getattr(w, attr) for w in works], type=pa.string())

    works_table = pa.table(
        {
            "work_id": strings("work_id"),
            "title": strings("title"),
            "authors": pa.array([w.authors for w in works], type=pa.list_(pa.string())),
            "isbns": pa.array([w.isbns for w in works], type=pa.list_(pa.string())),
            "rights_holder": strings("rights_holder"),
            "license": strings("license"),
            "source": strings("source"),
            "md5": strings("md5"),
            "sha256": strings("sha256"),
            "alt_md5": strings("alt_md5"),
            "alt_sha256": strings("alt_sha256"),
            "path": strings("path"),
            "origin": strings("origin"),
            "group": strings("group"),
            "format": strings("format"),
            "encoding": strings("encoding"),
            "pages": pa.array([w.pages for w in works], type=pa.int32()),
            "pages_without_text": pa.array([w.pages_without_text for w in works], type=pa.list_(pa.int32())),
            "tokens": pa.array(per_work_tokens, type=pa.int64()),
            "chars": pa.array([w.chars for w in works], type=pa.int64()),
            "has_text": pa.array([w.has_text for w in works], type=pa.bool_()),
            "text_hash": strings("text_hash"),
        }
    )
    pq.write_table(works_table, path)


def _write_texts(
    path: Path, *, works: list[WorkSource], fingerprints_only: bool, utf8: dict[str, bytes] | None = None
) -> None:
    """``texts.arrow``: one large_string column, one record batch.

    Args:
        utf8: texts already encoded (the files' bytes), by work id; emptied once used.
    """
    column: pa.Array | None = None
    if not fingerprints_only and all(w.text is not None for w in works):
        known = utf8 or {}
        try:
            encoded = [known.get(w.work_id) or (w.text or "").encode("utf-8") for w in works]
        except UnicodeEncodeError:
            pass  # lone surrogates: pyarrow says what is wrong
        else:
            # The array pa.array would build, from one buffer instead of string by string.
            offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
            np.cumsum([len(e) for e in encoded], out=offsets[1:])
            data = b"".join(encoded)
            del encoded
            column = pa.LargeStringArray.from_buffers(len(works), pa.py_buffer(offsets), pa.py_buffer(data))
    if column is None:
        column = pa.array([None if fingerprints_only else w.text for w in works], type=pa.large_string())
    if utf8:
        utf8.clear()
    texts = pa.table({"text": column})
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, texts.schema) as writer:
        writer.write_table(texts)


def _written(path: Path) -> None:
    """The writer of a file already written (for :func:`_hashed` to hash it alone)."""


def _write_tokens(path: Path, *, tables: _Tables) -> None:
    """``tokens.arrow``; the token table's memory goes once written (hashing reads the file back)."""
    _write_arrow(path, tables.tokens)
    tables.tokens = {}


def _write_passages(path: Path, *, tables: _Tables, release: bool = False) -> None:
    """``passages.parquet``; with ``release``, the passage table's memory goes once it is written."""
    sigs = tables.signatures
    sig_col = pa.FixedSizeListArray.from_arrays(pa.array(sigs.reshape(-1), type=pa.uint64()), sigs.shape[1])
    # Signatures are random 64-bit values: compression would cost time and save nothing.
    pq.write_table(
        pa.table({"work": tables.passage_work, "start": tables.passage_start, "signature": sig_col}),
        path,
        compression="none",
    )
    if release:
        tables.signatures = np.empty((0, sigs.shape[1]), dtype=np.uint64)
        tables.passage_work = np.empty(0, dtype=np.uint32)
        tables.passage_start = np.empty(0, dtype=np.int32)


def _write_buckets(path: Path, *, sorted_keys: np.ndarray) -> None:
    _write_arrow(path, {"first": bucket_table(sorted_keys, bucket_bits(len(sorted_keys)))})


def _write_boilerplate(path: Path, *, boilerplate: np.ndarray) -> None:
    pq.write_table(pa.table({"shingle": boilerplate}), path)


def _write_isbns(path: Path, *, works: list[WorkSource]) -> None:
    isbn_rows = [(isbn, i) for i, w in enumerate(works) for isbn in w.isbns]
    pq.write_table(
        pa.table(
            {
                "isbn": pa.array([r[0] for r in isbn_rows], type=pa.string()),
                "work": pa.array([r[1] for r in isbn_rows], type=pa.uint32()),
            }
        ),
        path,
    )


def _write_hashes(path: Path, *, works: list[WorkSource]) -> None:
    hash_rows = [
        (kind, digest, i)
        for i, w in enumerate(works)
        for kind, digest in (
            ("md5", w.md5),
            ("sha256", w.sha256),
            ("md5", w.alt_md5),
            ("sha256", w.alt_sha256),
            ("text", w.text_hash),
        )
        if digest
    ]
    pq.write_table(
        pa.table(
            {
                "kind": pa.array([r[0] for r in hash_rows], type=pa.string()),
                "digest": pa.array([r[1] for r in hash_rows], type=pa.string()),
                "work": pa.array([r[2] for r in hash_rows], type=pa.uint32()),
            }
        ),
        path,
    )


# ------------------------------------------------------------------------------------------ opening


def read_manifest(path: Path) -> dict[str, Any]:
    """Read and check a registry's manifest; raises RegistryError saying what is wrong."""
    path = Path(path)
    manifest_path = path / "manifest.json"
    if path.is_file() and path.suffix in (".pkl", ".pickle"):
        raise RegistryError(f"{path} is a pickle; registries are folders built by `auditor registry build`")
    if not manifest_path.is_file():
        raise RegistryError(
            f"{path} is not a registry (no manifest.json); build one with `auditor registry build`"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RegistryError(f"{manifest_path} is unreadable: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise RegistryError(f"{manifest_path} is not an auditor registry manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise RegistryError(
            f"{path}: registry format {manifest.get('format_version')!r} is not supported by this "
            f"scanner (format {FORMAT_VERSION}); rebuild it with this version of auditor"
        )
    return manifest


def verify_files(
    path: Path, manifest: dict[str, Any], names: Iterable[str] | None = None, *, full: bool = False
) -> None:
    """Check data files (all, or ``names``) against the manifest (corruption, truncation, tampering).

    A file whose xxh3-128 checksum was verified before is not read again while its status (size,
    modification and change times, inode, device) is the one recorded then (see :class:`_Verified`).

    Args:
        full: compare sha256 digests (reads at ~0.3 GB/s) of every file, trusting no earlier check;
            otherwise the xxh3-128 checksums (many GB/s), which catch any accidental change but are
            not a defence against a forger.
    """
    files = manifest.get("files", {})
    checksums = manifest.get("checksums", {})
    if _digest(files) != manifest.get("digest"):
        raise RegistryError(f"{path}: manifest digest does not match its file list; the registry was altered")
    if set(checksums) != set(files):
        raise RegistryError(
            f"{path}: manifest checksums do not list its data files; the registry was altered"
        )
    expected_of = files if full else checksums
    wanted = set(files) if names is None else set(names)
    verified = None if full else _Verified.load(Path(path))
    for name_, expected in sorted(expected_of.items()):
        if name_ not in wanted:
            continue
        file_path = Path(path) / name_
        if not file_path.is_file():
            raise RegistryError(f"{path}: {name_} is missing; the registry is incomplete")
        if verified is not None and verified.unchanged(name_, file_path, expected):
            continue
        before = _file_status(file_path)
        actual = _sha256_file(file_path) if full else _checksum_file(file_path)
        if actual != expected:
            algo, _, got = actual.rpartition(":")
            want = expected.rpartition(":")[2]
            raise RegistryError(
                f"{path}: {name_} has {algo or 'sha256'} {got[:12]}…, the manifest says {want[:12]}…; "
                "the registry is corrupt or was altered — rebuild it"
            )
        if verified is not None:
            verified.record(name_, file_path, expected, before)
    if verified is not None:
        verified.save()


# A file changed less than this long before it was verified is not recorded as verified: a change
# within the same tick of a coarse file system clock (FAT: 2 s) would leave its times as they were.
_RACY_NS = 3_000_000_000


def _file_status(path: Path) -> list[int]:
    """What :class:`_Verified` compares: size, modification and change times (ns), inode, device."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


class _Verified:
    """The registry files whose checksum was verified, with their status then (size, mtime, ctime,
    inode, device), kept in the per-user cache (:mod:`auditor.cache`), one small JSON file per
    registry folder, like git's index: a file whose status is unchanged is not read again.

    What the status catches: any write through the file system changes the change time (ctime),
    which no user can set back (``touch``/``os.utime`` restore the modification time only and set
    ctime to now); truncating or extending changes the size; replacing the file (a new copy moved
    over it, a rebuild) changes the inode. What it cannot catch: a change that bypasses the file
    system — a disk or memory fault, a write to the raw device, a file system bug — or a forger who
    resets the system clock. Those are what ``auditor registry info`` is for: it reads every file
    and checks its sha256, trusting nothing recorded here (and ``AUDITOR_CACHE_DIR=off`` makes every
    scan read every file again).
    """

    VERSION = 1

    def __init__(self, registry: Path, name: str, files: dict[str, Any]) -> None:
        self.registry = registry
        self.name = name
        self.files = files
        self.changed = False
        self.started = time.time_ns()

    @classmethod
    def load(cls, registry: Path) -> _Verified:
        where = str(registry.resolve())
        name = f"verified/{hashlib.sha256(where.encode()).hexdigest()[:32]}.json"
        files: dict[str, Any] = {}
        data = cache.read_bytes(name)
        if data is not None:
            try:
                saved = json.loads(data)
                if saved.get("version") == cls.VERSION and saved.get("registry") == where:
                    files = dict(saved["files"])
            except (ValueError, TypeError, KeyError, AttributeError):
                files = {}
        return cls(registry, name, files)

    def unchanged(self, name: str, path: Path, checksum: str) -> bool:
        """Whether ``path`` was verified to have ``checksum`` and its status is still the same."""
        seen = self.files.get(name)
        if not isinstance(seen, dict) or seen.get("checksum") != checksum:
            return False
        try:
            return bool(seen.get("status") == _file_status(path))
        except OSError:
            return False

    def record(self, name: str, path: Path, checksum: str, before: list[int]) -> None:
        """Record ``path`` as verified, if its status did not change while it was read and its last
        change is older than :data:`_RACY_NS`; forget it otherwise."""
        try:
            after = _file_status(path)
        except OSError:
            after = []
        settled = after == before and max(before[1], before[2]) < self.started - _RACY_NS
        if settled:
            self.files[name] = {"checksum": checksum, "status": before}
        elif self.files.pop(name, None) is None:
            return
        self.changed = True

    def save(self) -> None:
        if self.changed:
            where = str(self.registry.resolve())
            data = {"version": self.VERSION, "registry": where, "files": self.files}
            cache.write_bytes(self.name, json.dumps(data, sort_keys=True).encode())
            self.changed = False


def _check_config(path: Path, manifest: dict[str, Any], config: FingerprintConfig) -> None:
    """Refuse a registry whose signatures this scanner cannot reproduce: a silent zero-match scan is
    the failure to avoid (records would be hashed differently from the works)."""
    if manifest.get("config_id") != config.config_id:
        raise RegistryError(
            f"{path}: the manifest's config_id {manifest.get('config_id')!r} does not match its fingerprint "
            f"settings ({config.config_id}); the manifest was altered — rebuild the registry"
        )
    if config.normalizer != NORMALIZER_VERSION:
        raise RegistryError(
            f"{path}: built with text normaliser version {config.normalizer} (auditor "
            f"{manifest.get('tool_version', '?')}); this scanner uses version {NORMALIZER_VERSION} "
            f"(auditor {__version__}), so no record would match it — rebuild the registry with this auditor"
        )


_META_COLUMNS = [
    "work_id",
    "title",
    "isbns",
    "tokens",
    "chars",
    "has_text",
    "text_hash",
    "md5",
    "sha256",
    "authors",
    "rights_holder",
    "license",
    "source",
    "group",
    "format",
    "encoding",
    "pages",
    "pages_without_text",
]


class WorkRegistry:
    """An opened registry, ready for matching: arrays in memory, work texts read on demand."""

    def __init__(
        self, path: Path, *, verify: bool = True, full_check: bool = False, bands: bool = True
    ) -> None:
        """Open and check the registry at ``path``.

        Args:
            verify: check the data files against the manifest's checksums (``full_check``: sha256).
            bands: map the band index and read the passage table; without them the registry
                verifies candidates but cannot find them (a Ray worker: its look-ups go to the
                partitions of the index, see :func:`read_band_partition`).
        """
        self.path = Path(path)
        self._with_bands = bands
        self.manifest = read_manifest(self.path)
        if verify:
            verify_files(self.path, self.manifest, full=full_check)
        try:
            self.config = FingerprintConfig.from_dict(self.manifest["config"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RegistryError(f"{self.path}: fingerprint config in manifest is invalid: {exc}") from exc
        _check_config(self.path, self.manifest, self.config)
        self.name: str = self.manifest.get("name") or self.path.name
        try:
            self._load()
        except (OSError, pa.ArrowException, KeyError) as exc:
            raise RegistryError(f"{self.path}: cannot read registry tables: {exc}") from exc

    def _load(self) -> None:
        works = _read_parquet(self.path / "works.parquet", columns=_META_COLUMNS).to_pylist()
        self.works_meta: list[dict[str, Any]] = works
        self.refs = [
            WorkRef(
                id=w["work_id"],
                title=w["title"] or w["work_id"],
                registry=self.name,
                isbns=tuple(w["isbns"]),
                group=w["group"],
            )
            for w in works
        ]
        self._index = {ref.id: i for i, ref in enumerate(self.refs)}
        # Memory-mapped, read-only: pages are read when a look-up touches them and shared by workers.
        tokens, base = _mapped(self.path / "tokens.arrow", random_access=True)
        # Matching reads tokens with pread (see _ColumnFile); the maps serve `registry add`.
        self._tokens = _ColumnFile(self.path / "tokens.arrow", tokens, base)
        self.tok_start = tokens["start"]
        self.tok_end = tokens["end"]
        self.tok_shingle_raw = tokens["shingle"]
        counts = np.array([w["tokens"] for w in works], dtype=np.int64)
        self.work_offset = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        if self.work_offset[-1] != len(self.tok_start):
            raise RegistryError(f"{self.path}: tokens.arrow does not hold the tokens works.parquet counts")
        if self._with_bands:
            passages = _read_parquet(self.path / "passages.parquet", columns=["work", "start"])
            self.passage_work = _numpy(passages["work"])
            self.passage_start = _numpy(passages["start"]).astype(np.int64)
            # Band look-ups touch every page of the keys; passages are read only for the rows found,
            # through the map (a pread per row costs more than the pages it saves).
            bands, base = _mapped(self.path / "bands.arrow", random_access=True)
            self.band_key = bands["key"]
            self.band_passage = bands["passage"]
            self._band_file: _ColumnFile | None = _ColumnFile(
                self.path / "bands.arrow", {"key": bands["key"]}, base
            )
            buckets, base = _mapped(self.path / "buckets.arrow", random_access=True)
            self.band_buckets = buckets["first"]
            self._bucket_file: _ColumnFile | None = _ColumnFile(self.path / "buckets.arrow", buckets, base)
        else:
            self._band_file = self._bucket_file = None
            self.passage_work = np.empty(0, dtype=np.uint32)
            self.passage_start = np.empty(0, dtype=np.int64)
            self.band_key = np.empty(0, dtype=np.uint64)
            self.band_passage = np.empty(0, dtype=np.uint32)
            self.band_buckets = np.zeros(2, dtype=np.int32)
        self.boilerplate = _numpy(_read_parquet(self.path / "boilerplate.parquet")["shingle"])
        self.isbn_work: dict[str, int] = {}
        for row in _read_parquet(self.path / "isbns.parquet").to_pylist():
            self.isbn_work.setdefault(row["isbn"], int(row["work"]))
        self.hash_work: dict[tuple[str, str], int] = {}
        for row in _read_parquet(self.path / "hashes.parquet").to_pylist():
            self.hash_work.setdefault((row["kind"], row["digest"]), int(row["work"]))
        self._texts: _TextFile | None = None

    @property
    def band_bytes(self) -> int:
        """The size of what band look-ups read at random: the band keys and their bucket table."""
        return int(self.band_key.nbytes + self.band_buckets.nbytes)

    def hold_bands(self) -> None:
        """Read the band keys and their bucket table into this process's memory, in place of their maps.

        A band look-up reads the bucket table, then the keys, at random places in ~400 MB (for a
        registry of 200 MB of books). Through the file's map each read also misses the TLB, as the page
        cache's pages are 4 KB; numpy backs a large array of its own with transparent huge pages where
        the system has them, and look-ups in such a copy took 0.55x the time (64-68 ns against 113-131
        ns a key, measured on this index). The copy costs one read of the two columns (0.2-0.9 s per
        400 MB from the page cache): worth it for a large corpus, not a small one (the scan decides,
        see ``engine.HOLD_BANDS_SHARE``). Worker processes forked after this share the copy.
        """
        if self._band_file is None or self._bucket_file is None:
            return
        keys, first = self._band_file.whole("key"), self._bucket_file.whole("first")
        self.band_key, self.band_buckets = keys, first

    @property
    def info(self) -> RegistryInfo:
        return RegistryInfo(
            name=self.name,
            digest=self.manifest["digest"],
            works=len(self.refs),
            config_id=self.manifest["config_id"],
        )

    @property
    def fingerprints_only(self) -> bool:
        return bool(self.manifest.get("fingerprints_only"))

    def index_of(self, work_id: str) -> int:
        return self._index[work_id]

    def work_chars(self, work: int) -> int:
        return int(self.works_meta[work]["chars"])

    def work_tokens(self, work: int) -> int:
        return int(self.work_offset[work + 1] - self.work_offset[work])

    def work_shingles(self, work: int, positions: np.ndarray | slice | None = None) -> np.ndarray:
        """The work's shingles at token ``positions`` (all by default), boilerplate as MASKED (0 where
        no shingle starts); only those pages of the memory-mapped tables are read."""
        base, end = int(self.work_offset[work]), int(self.work_offset[work + 1])
        if isinstance(positions, slice):
            lo, hi, _ = positions.indices(end - base)
            take: np.ndarray | None = None
        elif positions is None:
            lo, hi, take = 0, end - base, None
        elif len(positions) == 0:
            return np.empty(0, dtype=np.uint64)
        else:
            lo, hi = int(positions.min()), int(positions.max()) + 1
            take = np.asarray(positions) - lo
        raw = self._tokens.read("shingle", base + lo, base + hi)
        masked = self._tokens.read("masked", base + lo, base + hi)
        if take is not None:
            raw, masked = raw[take], masked[take]
        return np.where(masked.view(bool), MASKED, raw)

    def token_offsets(self, work: int, first: int, last: int) -> tuple[int, int]:
        """Character offsets in the work's text: where token ``first`` starts and token ``last`` ends."""
        base = int(self.work_offset[work])
        return (
            int(self._tokens.read("start", base + first, base + first + 1)[0]),
            int(self._tokens.read("end", base + last, base + last + 1)[0]),
        )

    def work_text(self, work: int) -> str | None:
        """The work's text as extracted at build time, or None (fingerprint-only, or no text)."""
        if self.fingerprints_only:
            return None
        return self._decoded_text(work)

    def work_excerpt(self, work: int, start: int, end: int) -> str | None:
        """``work_text(work)[start:end]`` (offsets >= 0), decoding only about that much of the text."""
        return None if self.fingerprints_only else self._text_file().excerpt(work, start, end)

    @functools.lru_cache(maxsize=16)  # noqa: B019 - one registry per scan; copies cluster on few books
    def _decoded_text(self, work: int) -> str | None:
        return self._text_file().text(work)

    def _text_file(self) -> _TextFile:
        if self._texts is None:
            self._texts = _TextFile(self.path / "texts.arrow")
        return self._texts

    def work_for_isbn(self, isbn13: str) -> WorkRef | None:
        idx = self.isbn_work.get(isbn13)
        return self.refs[idx] if idx is not None else None

    def work_for_hash(self, kind: str, digest: str) -> int | None:
        """The work with this exact key: ``md5``/``sha256`` of its file, or ``text`` (normalised text)."""
        return self.hash_work.get((kind, digest))


def band_bounds(path: Path, parts: int) -> np.ndarray:
    """Where to cut a registry's band index into ``parts`` key ranges of about equal rows: the first
    key of each part (the first part starts at 0). Keys are sorted, so a part is one slice."""
    keys = _mapped_columns(Path(path) / "bands.arrow")["key"]
    cuts = [keys[len(keys) * p // parts] for p in range(1, parts)] if len(keys) else []
    return np.array([0, *cuts], dtype=np.uint64)


def read_band_partition(path: Path, lo: int, hi: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows of a registry's band index with ``lo <= key < hi`` (``hi`` None: to the end), joined
    with their passages: (sorted keys, the passage's work, the passage's start), in memory: 16 bytes
    a row (uint64, uint32, uint32).

    Only that slice of the index is read; the passage table is read once and dropped.
    """
    path = Path(path)
    bands = _mapped_columns(path / "bands.arrow", random_access=True)
    keys = bands["key"]
    first = int(np.searchsorted(keys, np.uint64(lo), side="left"))
    last = len(keys) if hi is None else int(np.searchsorted(keys, np.uint64(hi), side="left"))
    passage = np.array(bands["passage"][first:last])
    table = _read_parquet(path / "passages.parquet", columns=["work", "start"])
    work = _numpy(table["work"]).astype(np.uint32, copy=False)[passage]
    start = _numpy(table["start"]).astype(np.uint32, copy=False)[passage]
    return np.array(keys[first:last]), work, start


def open_registries(paths: Iterable[Path], *, verify: bool = True) -> list[WorkRegistry]:
    """Open registries and check they share one fingerprint config (a scan hashes records once)."""
    registries = [WorkRegistry(Path(p), verify=verify) for p in paths]
    names = [r.name for r in registries]
    if len(set(names)) != len(names):
        raise RegistryError(
            f"two registries share a name ({', '.join(sorted(names))}); rebuild one with --name"
        )
    if registries:
        first = registries[0]
        for other in registries[1:]:
            diff = first.config.differences(other.config)
            if diff:
                raise RegistryError(
                    f"registries {first.name} and {other.name} were built with different fingerprint "
                    f"settings ({'; '.join(diff)}); rebuild one with the other's settings"
                )
    return registries


# ------------------------------------------------------------------------------------------ describing


def build_summary(manifest: dict[str, Any], limit: int = 20) -> list[str]:
    """What a build or add did, for people: counts, then skipped files, PDF page gaps and warnings
    (``limit`` of each; manifest.json's ``report`` has them all)."""
    counts = manifest["counts"]
    report = manifest.get("report", {})
    verb = "written" if report.get("action", "build") == "build" else "updated"
    lines = [
        f"registry {manifest['name']!r} {verb}: {counts['works']} works in {counts['groups']} edition groups "
        f"({counts['works_with_text']} with text, {report.get('works_added', counts['works'])} new), "
        f"{counts['passages']:,} passages, {counts['boilerplate_shingles']:,} boilerplate shingles masked; "
        f"digest {manifest['digest']}"
    ]
    skipped = report.get("skipped", [])
    gaps = report.get("pages_without_text", [])
    warnings = report.get("warnings", [])
    if skipped:
        lines.append(f"{len(skipped)} work file(s) skipped:")
    sections = (
        (skipped, lambda s: f"  skipped {s['path']}: {s['reason']}"),
        (
            gaps,
            lambda g: (
                f"  work {g['work_id']!r}: PDF page(s) {g['pages']} of {g['of']} have no text layer "
                "(scanned?) and cannot be matched"
            ),
        ),
        (warnings, lambda w: f"  warning: {w}"),
    )
    for items, line in sections:
        lines += [line(item) for item in items[:limit]]
        if len(items) > limit:
            lines.append(f'  … and {len(items) - limit} more (manifest.json, "report")')
    return lines


def _folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file())


def describe_registry(registry: WorkRegistry) -> list[str]:
    """``registry info`` for people: identity, config, sizes, snapshots, sources, and every work."""
    m = registry.manifest
    counts = m["counts"]
    lines = [
        f"registry   {m['name']}  ({registry.path})",
        f"snapshot   {m['snapshot']}   tool {m['tool_version']}   format {m['format_version']}",
        f"digest     {m['digest']}",
        f"config     {m['config_id']}",
        f"text       {'fingerprints only (no work text)' if m.get('fingerprints_only') else 'included'}",
        f"counts     {counts['works']} works in {counts['groups']} edition groups "
        f"({counts['works_with_text']} with text), {counts['tokens']:,} tokens, {counts['passages']:,} "
        f"passages, {counts['isbns']} ISBNs, {counts['boilerplate_shingles']:,} boilerplate shingles",
        f"size       {_folder_size(registry.path) / 1e6:,.1f} MB on disk",
        "history",
    ]
    for entry in m.get("history", []):
        lines.append(
            f"  {entry['snapshot']}  {entry['action']:<5}  +{entry['works_added']} works "
            f"(total {entry['works']})  {entry['digest'][:19]}…"
        )
        lines += [
            f"      {s['kind']:<9} {s['path']}  sha256 {s['sha256'][:12]}…  ({s['files']} files)"
            for s in entry.get("sources", [])
        ]
    report = m.get("report", {})
    if report.get("skipped") or report.get("pages_without_text"):
        lines.append(f"last {report.get('action', 'build')}")
        lines += [f"  skipped {s['path']}: {s['reason']}" for s in report.get("skipped", [])]
        lines += [
            f"  {g['work_id']}: PDF pages without text {g['pages']} (of {g['of']})"
            for g in report.get("pages_without_text", [])
        ]
    lines.append("")
    lines.append(
        f"{'work id':<32} {'format':<8} {'encoding':<10} {'tokens':>9} {'chars':>10}  {'group':<20} "
        f"{'ISBNs':<15} title"
    )
    for meta in registry.works_meta:
        isbns = ",".join(meta["isbns"][:1]) + ("…" if len(meta["isbns"]) > 1 else "")
        group = "" if meta["group"] == meta["work_id"] else meta["group"]
        lines.append(
            f"{meta['work_id']:<32} {meta['format'] or '-':<8} {meta['encoding'] or '-':<10} "
            f"{meta['tokens']:>9,} {meta['chars']:>10,}  {group:<20} {isbns:<15} {meta['title']}"
        )
    return lines


def registry_listing(registry: WorkRegistry) -> dict[str, Any]:
    """``registry info --json``: the manifest plus one object per work."""
    return {**registry.manifest, "works": registry.works_meta}


def _verified_works(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    manifest = read_manifest(path)
    verify_files(path, manifest, names=["works.parquet"])
    try:
        rows = _read_parquet(Path(path) / "works.parquet").to_pylist()
    except (OSError, pa.ArrowException) as exc:
        raise RegistryError(f"{path}: cannot read works.parquet: {exc}") from exc
    return manifest, rows


def diff_registries(a: Path, b: Path) -> dict[str, Any]:
    """What changed from registry (snapshot) A to B: works added, removed, and changed — by file
    sha256/md5, normalised-text hash, or metadata — with the old and new value of each change."""
    ma, rows_a = _verified_works(a)
    mb, rows_b = _verified_works(b)
    wa = {r["work_id"]: r for r in rows_a}
    wb = {r["work_id"]: r for r in rows_b}

    def side(path: Path, m: dict[str, Any]) -> dict[str, Any]:
        return {
            "path": Path(path).as_posix(),
            "name": m.get("name"),
            "snapshot": m.get("snapshot"),
            "digest": m.get("digest"),
            "works": m.get("counts", {}).get("works"),
            "config_id": m.get("config_id"),
            "fingerprints_only": bool(m.get("fingerprints_only")),
        }

    def brief(row: dict[str, Any]) -> dict[str, Any]:
        return {"work_id": row["work_id"], "title": row["title"], "sha256": row["sha256"]}

    changed = []
    for work_id in sorted(set(wa) & set(wb)):
        before, after = wa[work_id], wb[work_id]
        fields = {f: [before.get(f), after.get(f)] for f in _DIFF_FIELDS if before.get(f) != after.get(f)}
        if fields:
            changed.append({"work_id": work_id, "title": after["title"], "changes": fields})
    config = FingerprintConfig.from_dict(ma.get("config", {})).differences(
        FingerprintConfig.from_dict(mb.get("config", {}))
    )
    return {
        "a": side(a, ma),
        "b": side(b, mb),
        "same_content": ma.get("digest") == mb.get("digest"),
        "config_differences": config,
        "added": [brief(wb[w]) for w in sorted(set(wb) - set(wa))],
        "removed": [brief(wa[w]) for w in sorted(set(wa) - set(wb))],
        "changed": changed,
        "unchanged": len(set(wa) & set(wb)) - len(changed),
    }


def _short(value: Any) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    if len(text) == 64 or len(text) == 32:  # a digest
        return text[:12] + "…"
    return repr(text)


def format_diff(diff: dict[str, Any]) -> list[str]:
    """``registry diff`` for people."""
    lines = []
    for key in ("a", "b"):
        s = diff[key]
        lines.append(
            f"{key.upper()}  {s['name']}  ({s['path']})  snapshot {s['snapshot']}  {s['works']} works  "
            f"{s['digest']}"
        )
    if diff["same_content"]:
        lines.append("same content (equal digests)")
    if diff["config_differences"]:
        lines.append(
            "fingerprint settings differ: "
            + "; ".join(diff["config_differences"])
            + " (scans cannot combine them)"
        )
    lines.append(f"added ({len(diff['added'])})")
    lines += [f"  + {w['work_id']}  {w['title']}" for w in diff["added"]]
    lines.append(f"removed ({len(diff['removed'])})")
    lines += [f"  - {w['work_id']}  {w['title']}" for w in diff["removed"]]
    lines.append(f"changed ({len(diff['changed'])})")
    for w in diff["changed"]:
        what = "; ".join(f"{f} {_short(old)} → {_short(new)}" for f, (old, new) in w["changes"].items())
        lines.append(f"  ~ {w['work_id']}: {what}")
    lines.append(f"unchanged ({diff['unchanged']})")
    return lines
