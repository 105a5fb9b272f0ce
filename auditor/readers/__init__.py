"""Input readers (one module per format) and the discovery of input files."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from auditor.errors import UsageError
from auditor.models import Skipped
from auditor.readers import arrow, delimited, jsonl, parquet, text  # noqa: F401  (register the readers)
from auditor.readers.arrow import ArrowReader
from auditor.readers.base import READERS, FieldSpec, Reader, reader_for
from auditor.readers.parquet import ParquetReader, interrupt_sandbox
from auditor.readers.parquet_child import ARROW_FILE_MAGIC
from auditor.readers.stream import file_kind, open_regular

__all__ = [
    "FILTER_MANIFEST_NAME",
    "HEAD_BYTES",
    "READERS",
    "FieldSpec",
    "InputFile",
    "Reader",
    "discover_inputs",
    "interrupt_reading",
    "is_filter_manifest",
    "is_filter_manifest_head",
    "reader_by_content",
    "reader_for",
]

FILTER_MANIFEST_NAME = "filter-manifest.json"
"""The file ``auditor filter`` writes next to the cleaned corpus; never read as corpus."""
_FILTER_MANIFEST_HEAD = re.compile(rb'\s*\{"manifest_version": \d+, "tool": \{"name": "auditor"')


@dataclass(frozen=True, slots=True)
class InputFile:
    """One input file, the name it has in reports (its path as given, POSIX style), and its size."""

    path: Path
    name: str
    reader: type[Reader]
    size: int = 0


@dataclass(frozen=True, slots=True)
class _Candidate:
    path: Path
    name: str
    st: os.stat_result


def discover_inputs(paths: list[Path]) -> tuple[list[InputFile], list[Skipped]]:
    """Expand files and folders into input files, sorted by name; whatever is not read is a Skipped.

    Folders are walked without recursion limits and without following symbolic links to folders (so
    link loops cannot occur); a link to a file is followed only when the file lies inside the folder
    given. FIFOs, sockets and devices are never opened. A file reached under two names (a link, a
    hard link, a folder given twice) is read once, under the first name in sorted order. Hidden files
    and folders (``.name``) are not scanned. A Parquet or Arrow IPC file is read as such whatever its
    name. The manifest ``auditor filter`` writes into a cleaned corpus (``filter-manifest.json``,
    recognised by its content too) is not corpus: in a folder it is passed over without a word; given
    by name it is listed as skipped, saying what it is.

    Raises:
        UsageError: a path does not exist, or is a broken link or a link loop.
    """
    candidates: dict[str, _Candidate] = {}
    skipped: list[Skipped] = []
    for given in paths:
        name = given.as_posix()
        try:
            st = given.stat()
        except OSError as exc:
            if os.path.lexists(given):
                raise UsageError(
                    f"corpus path {name} cannot be opened ({exc.strerror}): a broken link or a link loop?"
                ) from None
            raise UsageError(f"corpus path {name} does not exist") from None
        if stat.S_ISDIR(st.st_mode):
            _walk(given, candidates, skipped)
        elif stat.S_ISREG(st.st_mode):
            if is_filter_manifest(given):
                what = "the manifest auditor filter wrote with a cleaned corpus, not corpus; not read"
                skipped.append(Skipped(name, None, what))
                continue
            candidates.setdefault(name, _Candidate(given, name, st))
        else:
            skipped.append(Skipped(name, None, f"not a regular file ({file_kind(st.st_mode)}); not read"))
    found: list[InputFile] = []
    seen: dict[tuple[int, int], str] = {}
    for key in sorted(candidates):
        cand = candidates[key]
        identity = (cand.st.st_dev, cand.st.st_ino)
        if identity in seen:
            skipped.append(Skipped(cand.name, None, f"same file as {seen[identity]} (a link); read once"))
            continue
        seen[identity] = cand.name
        cls = reader_for(cand.path)
        if cls is None:
            suffix = "".join(cand.path.suffixes) or cand.path.name
            skipped.append(Skipped(cand.name, None, f"unsupported file type {suffix!r}"))
            continue
        cls = _by_content(cand.path) or cls  # decoded by content: never hash Parquet or Arrow bytes as text
        found.append(InputFile(path=cand.path, name=cand.name, reader=cls, size=cand.st.st_size))
    return found, sorted(skipped, key=lambda s: s.input)


def interrupt_reading() -> None:
    """Make a read blocked in another thread give up now (the scan is being stopped): the Parquet
    sandbox is killed, so a thread waiting for it sees the file end."""
    interrupt_sandbox()


HEAD_BYTES = 256
"""How much of a file's start :func:`is_filter_manifest_head` and :func:`reader_by_content` look at."""


def is_filter_manifest_head(name: str, head: bytes) -> bool:
    """True for a ``filter-manifest.json`` written by ``auditor filter``, by its name and first bytes."""
    return name == FILTER_MANIFEST_NAME and _FILTER_MANIFEST_HEAD.match(head) is not None


def is_filter_manifest(path: Path) -> bool:
    """:func:`is_filter_manifest_head` of a local file."""
    if path.name != FILTER_MANIFEST_NAME:
        return False
    try:
        with open_regular(path) as handle:
            return is_filter_manifest_head(path.name, handle.read(HEAD_BYTES))
    except OSError:
        return False  # the reader reports why it cannot read the file


_REGISTRY_HEAD = re.compile(rb'\s*\{\s*"format":\s*"auditor-registry"')


def _is_registry(folder: Path) -> bool:
    """A registry folder (``registry build`` output) found in a corpus folder: its tables are not corpus."""
    try:
        with open_regular(folder / "manifest.json") as handle:
            return _REGISTRY_HEAD.match(handle.read(HEAD_BYTES)) is not None
    except OSError:
        return False


def reader_by_content(head: bytes) -> type[Reader] | None:
    """The reader a file's first bytes call for whatever its name (Parquet, Arrow); None: go by name."""
    if head.startswith(b"PAR1"):
        return ParquetReader
    if head.startswith(ARROW_FILE_MAGIC):
        return ArrowReader
    return None


def _by_content(path: Path) -> type[Reader] | None:
    try:
        with open_regular(path) as handle:
            return reader_by_content(handle.read(len(ARROW_FILE_MAGIC)))
    except OSError:
        return None  # the reader reports why it cannot read the file


def _walk(root: Path, candidates: dict[str, _Candidate], skipped: list[Skipped]) -> None:
    real_root = os.path.realpath(root)
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            skipped.append(Skipped(folder.as_posix(), None, f"cannot list folder: {exc.strerror or exc}"))
            continue
        if _is_registry(folder):
            what = "an auditor registry (its manifest.json says so), not corpus; not read"
            skipped.append(Skipped(folder.as_posix(), None, what))
            continue
        subfolders = []
        for entry in entries:
            path = folder / entry.name
            name = path.as_posix()
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_symlink():
                    _link(path, name, real_root, candidates, skipped)
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                skipped.append(Skipped(name, None, f"cannot read: {exc.strerror or exc}"))
                continue
            if stat.S_ISDIR(st.st_mode):
                subfolders.append(path)
            elif stat.S_ISREG(st.st_mode):
                if not is_filter_manifest(path):  # a cleaned corpus's own manifest is not corpus
                    candidates.setdefault(name, _Candidate(path, name, st))
            else:
                skipped.append(Skipped(name, None, f"not a regular file ({file_kind(st.st_mode)}); not read"))
        stack.extend(reversed(subfolders))


def _link(
    path: Path, name: str, real_root: str, candidates: dict[str, _Candidate], skipped: list[Skipped]
) -> None:
    try:
        target = os.path.realpath(path, strict=True)
        st = os.stat(target)
    except OSError:
        skipped.append(Skipped(name, None, "broken symbolic link or link loop; not followed"))
        return
    if stat.S_ISDIR(st.st_mode):
        skipped.append(Skipped(name, None, "symbolic link to a folder; not followed"))
    elif os.path.commonpath([real_root, target]) != real_root:
        skipped.append(Skipped(name, None, "symbolic link to a file outside the corpus folder; not followed"))
    elif not stat.S_ISREG(st.st_mode):
        skipped.append(Skipped(name, None, f"symbolic link to a {file_kind(st.st_mode)}; not followed"))
    else:
        candidates.setdefault(name, _Candidate(path, name, st))
