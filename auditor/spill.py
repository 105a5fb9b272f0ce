"""The findings of a scan spilled to disk as they come, with a small index in memory, read back in order.

A scan used to hold every :class:`~auditor.models.Finding` until its reports were written (about 1.6 KB
of objects a finding, and as much again as report records): the one memory that grew with the corpus.
A :class:`FindingSpill` writes each finding to a temporary file as one line of the checkpoints' JSON
encoding (:func:`auditor.checkpoint.encode`, with the finding's fingerprint added) and keeps only
what ordering and counting need in memory, about 30 bytes a finding: severity, input, row, rule,
work, suppression kind and the line's offset.

It is a read-only sequence of findings in arrival (scan) order, decoded from the file when read, and
gives the report order (:meth:`FindingSpill.in_order`) and the report's counts
(:func:`count_findings`) from its index, without reading the file. The file is removed by
:meth:`FindingSpill.close` (the scan calls it when it fails or is interrupted, the CLI once its reports
are written), else when the spill is garbage-collected or the interpreter exits; a file left by a
process killed outright is removed by the next spill made in the same folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import weakref
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, overload

import numpy as np

from auditor.checkpoint import decode, dump_json, encode
from auditor.models import SEVERITY_NAMES, Finding, Severity

SPILL_PREFIX = "auditor-findings-"
"""Spill files are named ``auditor-findings-<pid>-<random>.spill``."""
SPILL_SUFFIX = ".spill"
_READ_BYTES = 1 << 20
"""How much of the file a sequential read takes at a time."""


def _dump(finding: Finding) -> bytes:
    # The checkpoints' line format: ASCII JSON, so any text (lone surrogates too) round-trips exactly.
    # The fingerprint (a hash) is made once here rather than on every read; decode ignores it.
    data = encode(finding)
    data["fingerprint"] = finding.fingerprint
    return dump_json(data) + b"\n"


_decode_json = json.JSONDecoder().decode  # lines are ASCII: no encoding to detect


def _loads(line: bytes) -> dict[str, Any]:
    data: dict[str, Any] = _decode_json(line.decode("ascii"))
    return data


def _load(line: bytes) -> Finding:
    finding: Finding = decode(_loads(line), Finding)
    return finding


class _Names:
    """Strings numbered in order of first sight (inputs, rules, works): a column holds the numbers."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.names: list[str] = []

    def id(self, name: str) -> int:
        found = self.ids.get(name)
        if found is None:
            found = self.ids[name] = len(self.names)
            self.names.append(name)
        return found

    def ranks(self) -> np.ndarray:
        """Each number's rank in the names' sorted order (Python's string order, as sort keys use)."""
        ranks = np.empty(len(self.names), dtype=np.int64)
        ranks[sorted(range(len(self.names)), key=self.names.__getitem__)] = np.arange(len(self.names))
        return ranks


_OPEN: weakref.WeakValueDictionary[int, FindingSpill] = weakref.WeakValueDictionary()


def _flush_open() -> None:
    # Before a fork (worker pools): a child must not inherit unwritten lines it could write again.
    for spill in list(_OPEN.values()):
        with contextlib.suppress(OSError, ValueError):
            spill._flush()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_flush_open)


def _remove(handle: IO[bytes], path: str, owner: int) -> None:
    # Forked workers inherit the spill but must never remove the parent's file.
    if os.getpid() != owner:
        return
    with contextlib.suppress(OSError):
        handle.close()
    with contextlib.suppress(OSError):
        os.unlink(path)


def _sweep(folder: Path) -> None:
    """Remove spill files of processes that no longer run (killed before they could clean up)."""
    with contextlib.suppress(OSError):
        for path in folder.glob(f"{SPILL_PREFIX}*{SPILL_SUFFIX}"):
            pid = path.name[len(SPILL_PREFIX) :].partition("-")[0]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                with contextlib.suppress(OSError):
                    path.unlink()


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (under any user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # not ours to signal: it runs, under another user
        return True
    return True


class FindingSpill(Sequence[Finding]):
    """A scan's findings in a temporary file, in arrival order; a sequence whose items are read back.

    ``len()``, iteration, indexing and slicing (a slice is a tuple) work as on the tuple of findings it
    replaces, as does ``==`` with any sequence of findings. Reading is safe while no finding is being
    added in another thread.

    Args:
        folder: where the file goes (it must exist); None for the system's temporary folder.
    """

    def __init__(self, folder: Path | str | None = None) -> None:
        where = Path(folder) if folder is not None else Path(tempfile.gettempdir())
        _sweep(where)
        fd, name = tempfile.mkstemp(prefix=f"{SPILL_PREFIX}{os.getpid()}-", suffix=SPILL_SUFFIX, dir=where)
        self.path = Path(name)
        self._file = os.fdopen(fd, "w+b", buffering=_READ_BYTES)
        self._finalizer = weakref.finalize(self, _remove, self._file, name, os.getpid())
        self._size = 0  # bytes written
        self._unflushed = False
        self._offsets = array("q")
        self._severity = array("b")
        self._rows = array("q")
        self._inputs, self._input_ids = _Names(), array("l")
        self._rules, self._rule_ids = _Names(), array("l")
        self._works, self._work_ids = _Names(), array("l")  # "" for a finding without a work
        self._kinds, self._suppressed = _Names(), array("l")  # suppression kind, "" when not suppressed
        self._kinds.id("")
        self._order: np.ndarray | None = None
        _OPEN[id(self)] = self

    # ------------------------------------------------------------------------------------- writing

    def append(self, finding: Finding) -> None:
        """Spill one finding (the order of arrival is kept)."""
        line = _dump(finding)
        self._file.write(line)
        self._offsets.append(self._size)
        self._size += len(line)
        self._unflushed = True
        self._severity.append(int(finding.severity))
        self._rows.append(finding.record.row)
        self._input_ids.append(self._inputs.id(finding.record.input))
        self._rule_ids.append(self._rules.id(finding.rule_id))
        self._work_ids.append(self._works.id(finding.work.id if finding.work else ""))
        self._suppressed.append(self._kinds.id(finding.suppressed.kind if finding.suppressed else ""))
        self._order = None

    def extend(self, findings: Iterable[Finding]) -> None:
        for finding in findings:
            self.append(finding)

    # ------------------------------------------------------------------------------------- reading

    def __len__(self) -> int:
        return len(self._offsets)

    @overload
    def __getitem__(self, index: int) -> Finding: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Finding, ...]: ...

    def __getitem__(self, index: int | slice) -> Finding | tuple[Finding, ...]:
        if isinstance(index, slice):
            return tuple(self._read(range(len(self))[index]))
        position = range(len(self))[index]  # IndexError, and negative indices, as a tuple has them
        return _load(self._line(position))

    def __iter__(self) -> Iterator[Finding]:
        return self._read(range(len(self)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # a mutable sequence's equality, as a list has

    def __repr__(self) -> str:
        return f"FindingSpill({len(self)} findings in {self.path})"

    def _line(self, position: int) -> bytes:
        self._flush()
        start = self._offsets[position]
        end = self._offsets[position + 1] if position + 1 < len(self._offsets) else self._size
        return os.pread(self._file.fileno(), end - start, start)

    def _read(self, positions: Iterable[int]) -> Iterator[Finding]:
        """The findings at ``positions``."""
        return map(_load, self._lines(positions))

    def _lines(self, positions: Iterable[int]) -> Iterator[bytes]:
        """The lines at ``positions``: one read each, but a run of consecutive positions (a pass in
        arrival order) is read ahead in large blocks."""
        self._flush()
        fd = self._file.fileno()
        block, block_start = b"", 0
        count = len(self._offsets)
        previous = -2
        for position in positions:
            start = self._offsets[position]
            end = self._offsets[position + 1] if position + 1 < count else self._size
            if block_start <= start and end <= block_start + len(block):
                line = block[start - block_start : end - block_start]
            elif position == previous + 1:
                block_start = start
                block = os.pread(fd, max(end - start, _READ_BYTES), start)
                line = block[: end - start]
            else:
                line = os.pread(fd, end - start, start)
            previous = position
            yield line

    def _flush(self) -> None:
        if self._unflushed:
            self._file.flush()
            self._unflushed = False

    # ------------------------------------------------------------------------------ order and counts

    def in_order(self, tiebreak: Callable[[Finding], Any]) -> Sequence[Finding]:
        """The findings worst first, then by input, row, rule id and work id (``report.sort_key``'s
        order), read from the file as they are iterated.

        The index decides the order; findings equal on all of those are read and ordered by
        ``tiebreak`` (the full sort key), and findings equal on it too keep their arrival order, as
        ``sorted`` would.
        """
        if self._order is None:
            self._order = self._ordered(tiebreak)
        return SpilledFindings(self, self._order)

    def _ordered(self, tiebreak: Callable[[Finding], Any]) -> np.ndarray:
        n = len(self)
        severity = (
            np.frombuffer(self._severity, dtype=np.int8).astype(np.int64) if n else np.zeros(0, np.int64)
        )
        columns = [
            _ranked(self._work_ids, self._works),
            _ranked(self._rule_ids, self._rules),
            np.frombuffer(self._rows, dtype=np.int64) if n else np.zeros(0, np.int64),
            _ranked(self._input_ids, self._inputs),
            -severity,
        ]
        order = np.lexsort(columns)  # stable: arrival order among equals
        keys = np.stack([c[order] for c in columns]) if n else np.zeros((5, 0), np.int64)
        same = np.all(keys[:, 1:] == keys[:, :-1], axis=0) if n > 1 else np.zeros(0, bool)
        if same.any():
            # Runs of findings equal on the index: their other sort fields (the rule's detail) decide.
            starts = np.flatnonzero(~np.concatenate([[False], same]))
            ends = np.append(starts[1:], n)
            for start, end in zip(starts, ends, strict=True):
                if end - start > 1:
                    run = order[start:end].tolist()
                    found = dict(zip(run, self._read(run), strict=True))
                    order[start:end] = sorted(run, key=lambda p: tiebreak(found[p]))
        return order

    def counts(self) -> FindingCounts:
        """:func:`count_findings` from the index alone."""
        counts = FindingCounts()
        if not len(self):
            return counts
        severity = np.frombuffer(self._severity, dtype=np.int8)
        suppressed = np.frombuffer(self._suppressed, dtype=np.dtype("l"))
        open_ = suppressed == 0
        for value, n in zip(*np.unique(severity[open_], return_counts=True), strict=True):
            counts.by_severity[Severity(int(value)).label] += int(n)
        for kind, value in zip(*np.unique(suppressed[~open_], return_counts=True), strict=True):
            name = self._kinds.names[int(kind)]
            counts.suppressed_by_kind[name] = counts.suppressed_by_kind.get(name, 0) + int(value)
        for value, n in zip(*np.unique(severity[~open_], return_counts=True), strict=True):
            counts.suppressed_by_severity[Severity(int(value)).label] += int(n)
        if open_.any():
            places = np.stack(
                [
                    np.frombuffer(self._input_ids, dtype=np.dtype("l"))[open_],
                    np.frombuffer(self._rows, np.int64)[open_],
                ]
            )
            counts.flagged = int(np.unique(places, axis=1).shape[1])
            counts.worst = Severity(int(severity[open_].max()))
        return counts

    def raw(self, start: int) -> RawFindings:
        """The findings from position ``start`` as the rules gave them (before suppression), by record:
        a checkpoint's findings, read from the file when it is written."""
        return RawFindings(self, start, len(self))

    # ------------------------------------------------------------------------------------- lifetime

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def close(self) -> None:
        """Remove the file; the spill can no longer be read. Safe to call more than once."""
        self._finalizer()

    def __enter__(self) -> FindingSpill:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ranked(ids: array[int], names: _Names) -> np.ndarray:
    if not len(ids):
        return np.zeros(0, np.int64)
    return names.ranks()[np.frombuffer(ids, dtype=np.dtype("l"))]


class SpilledFindings(Sequence[Finding]):
    """Findings of a spill in a given order of positions (a view: a slice is another); they are read
    as findings, or as their checkpoint encoding (:meth:`iter_encoded`), which report records are made
    from without building findings."""

    def __init__(self, spill: FindingSpill, order: np.ndarray) -> None:
        self._spill = spill
        self._order = order

    def __len__(self) -> int:
        return len(self._order)

    @overload
    def __getitem__(self, index: int) -> Finding: ...

    @overload
    def __getitem__(self, index: slice) -> SpilledFindings: ...

    def __getitem__(self, index: int | slice) -> Finding | SpilledFindings:
        if isinstance(index, slice):
            return SpilledFindings(self._spill, self._order[index])
        return self._spill[int(self._order[index])]

    def __iter__(self) -> Iterator[Finding]:
        return self._spill._read(self._order.tolist())

    def encoded(self, index: int) -> dict[str, Any]:
        """The checkpoint encoding of the finding at ``index``."""
        position = int(self._order[index])
        return _loads(self._spill._line(position))

    def iter_encoded(self) -> Iterator[dict[str, Any]]:
        """The checkpoint encoding of each finding, in this view's order."""
        return map(_loads, self._spill._lines(self._order.tolist()))


_FINGERPRINT_TAIL = len(b',"fingerprint":"') + 32 + len(b'"}\n')
"""Bytes a spilled line ends with after the encoding's last field: the fingerprint _dump appends."""


@dataclass(frozen=True, slots=True)
class RawFindings:
    """Positions ``start`` to ``stop`` of a spill by record, each record's findings as the rules gave
    them: a suppressed finding is read back with ``suppressed`` cleared (rules never suppress; the
    suppressor only sets it). Iterable more than once; :meth:`checkpoint_lines` gives the same
    findings as a checkpoint's lines, made from the file's lines without decoding them."""

    spill: FindingSpill
    start: int
    stop: int

    def __iter__(self) -> Iterator[tuple[int, list[Finding]]]:
        for row, lines in self._by_row():
            yield row, [decode(_unspilled(_loads(line)), Finding) for line in lines]

    def checkpoint_lines(self) -> Iterator[bytes]:
        """Per record with findings, its line of a checkpoint: ``[row,[encoding,...]]`` as
        :func:`auditor.checkpoint.write_checkpoint` would dump it, byte for byte. An unsuppressed
        finding's line is the spilled line less its fingerprint; a suppressed one's is dumped again."""
        for row, lines in self._by_row():
            parts = []
            for line in lines:
                if b'"suppressed":null' in line and line[-_FINGERPRINT_TAIL:].startswith(b',"fingerprint":"'):
                    parts.append(line[:-_FINGERPRINT_TAIL] + b"}")  # canonical JSON: as dumped again
                else:
                    parts.append(dump_json(_unspilled(_loads(line))))
            yield b"[%d,[%s]]\n" % (row, b",".join(parts))

    def _by_row(self) -> Iterator[tuple[int, list[bytes]]]:
        rows = self.spill._rows
        row: int | None = None
        found: list[bytes] = []
        for position, line in zip(
            range(self.start, self.stop), self.spill._lines(range(self.start, self.stop)), strict=True
        ):
            if rows[position] != row and found:
                yield row, found  # type: ignore[misc]
                found = []
            row = rows[position]
            found.append(line)
        if found:
            yield row, found  # type: ignore[misc]


def _unspilled(data: dict[str, Any]) -> dict[str, Any]:
    """A spilled line's data as the rules gave the finding: no fingerprint, not suppressed."""
    del data["fingerprint"]  # added by the spill (_dump): not part of the encoding
    data["suppressed"] = None
    return data


@dataclass(slots=True)
class FindingCounts:
    """What the report's summary and the exit code need of the findings.

    Attributes:
        by_severity: unsuppressed findings by severity name.
        suppressed_by_kind: suppressed findings by suppression kind (``baseline``, ``waiver``).
        suppressed_by_severity: suppressed findings by severity name.
        flagged: records with at least one unsuppressed finding.
        worst: the worst unsuppressed severity, None when there is none.
    """

    by_severity: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEVERITY_NAMES, 0))
    suppressed_by_kind: dict[str, int] = field(default_factory=lambda: {"baseline": 0, "waiver": 0})
    suppressed_by_severity: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEVERITY_NAMES, 0))
    flagged: int = 0
    worst: Severity | None = None


def count_findings(findings: Sequence[Finding]) -> FindingCounts:
    """Count findings for the report's summary: from a spill's index, or by reading any other sequence."""
    if isinstance(findings, FindingSpill):
        return findings.counts()
    counts = FindingCounts()
    flagged: set[tuple[str, int]] = set()
    for finding in findings:
        if finding.suppressed is not None:
            kind = finding.suppressed.kind
            counts.suppressed_by_kind[kind] = counts.suppressed_by_kind.get(kind, 0) + 1
            counts.suppressed_by_severity[finding.severity.label] += 1
            continue
        counts.by_severity[finding.severity.label] += 1
        flagged.add((finding.record.input, finding.record.row))
        if counts.worst is None or finding.severity > counts.worst:
            counts.worst = finding.severity
    counts.flagged = len(flagged)
    return counts
