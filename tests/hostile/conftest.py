"""Helpers for the hostile-input suite: every fixture is generated at test time (no committed bombs)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from auditor import cli
from auditor.limits import Limits
from auditor.models import Record, Skipped
from auditor.readers import FieldSpec, discover_inputs

Entries = list[Record | Skipped]


def read_input(path: Path, fields: FieldSpec | None = None, limits: Limits | None = None) -> Entries:
    """Everything one input gives, read as a scan would (reader chosen by discovery)."""
    (item,), _ = discover_inputs([path])
    return list(item.reader(fields, limits).read(item.path, item.name))


def records(entries: Entries) -> list[Record]:
    return [e for e in entries if isinstance(e, Record)]


def skips(entries: Entries) -> list[Skipped]:
    return [e for e in entries if isinstance(e, Skipped)]


def one_skip(entries: Entries) -> Skipped:
    found = skips(entries)
    assert len(found) == 1, found
    return found[0]


def jsonl(rows: Sequence[Any]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def numbered(n: int, words: int = 8) -> list[dict[str, str]]:
    return [{"id": f"r{i}", "text": " ".join(f"w{i}x{j}" for j in range(words))} for i in range(n)]


class ScanRun:
    """One in-process ``auditor scan``: its exit code, stderr and report.json (None if not written)."""

    def __init__(self, code: int, err: str, report: dict[str, Any] | None) -> None:
        self.code = code
        self.err = err
        self.report = report


@pytest.fixture
def run_scan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., ScanRun]:
    """Run the CLI's scan with one worker and only the bundled rules (fast); returns a ScanRun."""

    def run(*args: Any, out: Path | None = None, workers: int = 1, traceback_ok: bool = False) -> ScanRun:
        out = out or tmp_path / "out"
        argv = ["scan", *map(str, args), "-o", str(out), "--workers", str(workers), "--format", "json"]
        capsys.readouterr()
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        err = capsys.readouterr().err
        try:
            report = json.loads((out / "report.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            report = None
        assert traceback_ok or "Traceback" not in err, err
        return ScanRun(int(exc.value.code or 0), err, report)

    return run


def without_times(report: dict[str, Any], *, command: bool = False) -> dict[str, Any]:
    """A report without its run times (and, with ``command``, without the command line as typed)."""
    copy = json.loads(json.dumps(report))
    copy["run"].pop("started")
    copy["run"].pop("finished")
    if command:
        copy["run"].pop("command")
    return copy
