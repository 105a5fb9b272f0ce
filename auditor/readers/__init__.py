"""Input readers (one module per format) and the discovery of input files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from auditor.errors import UsageError
from auditor.models import Skipped
from auditor.readers import jsonl, parquet, text  # noqa: F401  (register the readers)
from auditor.readers.base import READERS, FieldSpec, Reader, reader_for

__all__ = ["READERS", "FieldSpec", "InputFile", "Reader", "discover_inputs", "reader_for"]


@dataclass(frozen=True, slots=True)
class InputFile:
    """One input file and the name it has in reports (its path as given, POSIX style)."""

    path: Path
    name: str
    reader: type[Reader]


def discover_inputs(paths: list[Path]) -> tuple[list[InputFile], list[Skipped]]:
    """Expand files and folders into input files, sorted by name; unsupported files are skipped.

    Raises:
        UsageError: a path does not exist.
    """
    found: dict[str, InputFile] = {}
    skipped: list[Skipped] = []
    for given in paths:
        if not given.exists():
            raise UsageError(f"corpus path {given} does not exist")
        if given.is_file():
            candidates = [given]
        else:
            candidates = []
            for root, dirs, files in os.walk(given, followlinks=False):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                candidates.extend(Path(root) / f for f in files if not f.startswith("."))
        for path in candidates:
            name = path.as_posix()
            cls = reader_for(path)
            if cls is None:
                skipped.append(
                    Skipped(name, None, f"unsupported file type {''.join(path.suffixes) or path.name!r}")
                )
                continue
            found[name] = InputFile(path=path, name=name, reader=cls)
    return [found[k] for k in sorted(found)], sorted(skipped, key=lambda s: s.input)
