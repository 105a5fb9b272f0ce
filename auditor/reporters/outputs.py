"""Writing a scan's chosen formats into its output folder, in parallel processes where ``fork`` exists.

A large report takes seconds per format to render (report.html most), all after the scan's workers
have finished: rendering the formats in several processes at once uses the idle cores. The result is
what writing them one after another in ``--format`` order gives: the same files, the same error for
the first format that fails (the formats before it written, none after it), nothing left behind.

Every temporary file is made, renamed and, on any failure or interrupt, removed by this process; a
forked child only fills the files it was given and reports each outcome through a pipe. A child
renders from the same report record, whose findings read the scan's spill file with ``os.pread``
(no shared file offset), so the processes never disturb each other's reads.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import struct
import threading
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.reporters.base import commit, fill, get_reporter, temporary_file, write_report

PARALLEL_MIN_ROWS = 200
"""Reports with fewer rows (findings, sources, works and skipped inputs together) are written in this
process, one format after another: rendering them costs about what a fork and its pipe cost (~15 ms
next to a scan's registry) or less."""

COSTS = {"html": 3.0, "json": 1.5, "sarif": 1.5, "junit": 1.0, "parquet": 1.0, "md": 0.5}
"""Rough relative rendering time per format, to share the formats fairly among the processes."""

_HEADER = struct.Struct("<I")


class ReportNotWritten(Exception):
    """Writing one format failed with an ``OSError`` (a full disk): the first such format in order.

    The formats before it were written; it and the formats after it were not, and their previous files
    are unchanged.
    """

    def __init__(self, path: Path, error: OSError) -> None:
        super().__init__(f"cannot write {path}: {error}")
        self.path = path
        self.error = error


class _ChildTraceback(Exception):
    """The traceback of an exception raised in a child process, shown as its cause."""


@dataclass
class _Lane:
    """Formats (positions in the chosen order) rendered one after another by one process."""

    positions: list[int] = field(default_factory=list)
    cost: float = 0.0
    pid: int = 0
    pipe: int = -1


def usable_cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether formats can be rendered in forked children: ``fork`` exists, and this process runs no
    other thread (a thread's locks would be copied held; a Ray client's threads may still run)."""
    import multiprocessing

    return (
        hasattr(os, "fork")
        and "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
    )


def write_reports(outdir: Path, names: Sequence[str], report: dict[str, Any]) -> list[Path]:
    """Write ``report`` in each format of ``names`` into ``outdir``, as :func:`write_report` would one
    after another, but rendering several at once when there is more than one CPU and the report is large.

    Args:
        outdir: the output folder (it must exist).
        names: the formats, in the order they are written and listed.
        report: the report.json record.

    Returns:
        The files written, in the order of ``names``.

    Raises:
        ReportNotWritten: the first format (in order) whose rendering or writing raised an ``OSError``.
        Any other exception of the first format that failed, as rendering it alone would raise it.
    """
    reporters = [get_reporter(name) for name in names]
    targets = [outdir / reporter.filename for reporter in reporters]
    processes = min(len(names), usable_cpus())
    if processes >= 2 and _rows(report) >= PARALLEL_MIN_ROWS and can_fork():
        writer = _Writer(reporters, targets, report, _lanes(names, processes))
        if writer.prepare():
            writer.run()
            return targets
        # A temporary file could not be made: one by one, the formats before it are written and it
        # fails as it would have.
    for reporter, target in zip(reporters, targets, strict=True):
        try:
            write_report(target, reporter.stream(report))
        except OSError as exc:
            raise ReportNotWritten(target, exc) from exc
    return targets


def _rows(report: dict[str, Any]) -> int:
    """About how much there is to render: the lengths of the report's long lists."""
    return sum(len(report.get(key) or ()) for key in ("findings", "sources", "works", "skipped"))


def _lanes(names: Sequence[str], processes: int) -> list[_Lane]:
    """The formats shared among ``processes`` lanes, costliest first to the least loaded lane; each
    lane keeps the formats' order. Empty lanes are dropped."""
    lanes = [_Lane() for _ in range(processes)]
    for position in sorted(range(len(names)), key=lambda p: -COSTS.get(names[p], 1.0)):
        lane = min(lanes, key=lambda lane: lane.cost)
        lane.positions.append(position)
        lane.cost += COSTS.get(names[position], 1.0)
    for lane in lanes:
        lane.positions.sort()
    return [lane for lane in lanes if lane.positions]


class _Writer:
    """One concurrent write: the last lane is rendered here, the others in forked children."""

    def __init__(
        self, reporters: Sequence[Any], targets: Sequence[Path], report: dict[str, Any], lanes: list[_Lane]
    ) -> None:
        self.reporters = reporters
        self.targets = targets
        self.report = report
        self.lanes = lanes
        self.temporary: dict[int, str] = {}  # position -> temporary file not yet renamed or removed
        self.fds: dict[int, int] = {}  # position -> its temporary file, open, not yet given away
        self.outcomes: dict[int, BaseException | None] = {}  # position -> None (filled) or its error

    def prepare(self) -> bool:
        """Make every temporary file; False (and none left) when one cannot be made."""
        try:
            for position, target in enumerate(self.targets):
                self.fds[position], self.temporary[position] = temporary_file(target)
        except OSError:
            self._remove_temporary()
            return False
        return True

    def run(self) -> None:
        fds = self.fds
        try:
            here = self.lanes[-1]
            for lane in self.lanes[:-1]:
                if not self._fork(lane, fds):
                    here.positions.extend(lane.positions)  # no fork today: render it here
            for lane in self.lanes[:-1]:
                for position in lane.positions:
                    if lane.pid:
                        os.close(fds.pop(position))
            for position in sorted(here.positions):
                if self._failed_before(position):
                    break
                self.outcomes[position] = self._fill(position, fds.pop(position))
            failed = min((p for p, error in self.outcomes.items() if error is not None), default=None)
            for lane in self.lanes[:-1]:
                if failed is not None and min(lane.positions) > failed:
                    continue  # only formats after a failure: never renamed, stopped below
                if lane.pid:
                    self._collect(lane)
            self._commit()
        finally:
            self._stop_children()
            self._remove_temporary()

    def _remove_temporary(self) -> None:
        for fd in self.fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds.clear()
        for name in self.temporary.values():
            with contextlib.suppress(OSError):
                os.unlink(name)
        self.temporary.clear()

    def _failed_before(self, position: int) -> bool:
        return any(error is not None and p < position for p, error in self.outcomes.items())

    def _fill(self, position: int, fd: int) -> BaseException | None:
        try:
            fill(fd, self.reporters[position].stream(self.report))
        except Exception as exc:  # kept for the verdict in order; KeyboardInterrupt stops everything
            return exc
        return None

    def _fork(self, lane: _Lane, fds: dict[int, int]) -> bool:
        try:
            read_end, write_end = os.pipe()
        except OSError:
            return False
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            return False
        if pid == 0:  # the child: never returns
            os.close(read_end)
            self._child(lane, fds, write_end)
        os.close(write_end)
        lane.pid, lane.pipe = pid, read_end
        return True

    def _child(self, lane: _Lane, fds: dict[int, int], pipe: int) -> None:
        code = 1
        try:
            # Ctrl-C reaches the whole process group: a child just stops, its parent cleans up.
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            mine = set(lane.positions)
            for position, fd in fds.items():
                if position not in mine:
                    os.close(fd)
            for position in lane.positions:
                error = self._fill(position, fds[position])
                _send(pipe, position, error)
                if error is not None:
                    break
            code = 0
        finally:
            os._exit(code)

    def _collect(self, lane: _Lane) -> None:
        """Read the child's outcomes until it closes its pipe, then reap it."""
        data = bytearray()
        with os.fdopen(lane.pipe, "rb") as pipe:
            lane.pipe = -1
            while chunk := pipe.read(1 << 16):
                data += chunk
        _, status = os.waitpid(lane.pid, 0)
        lane.pid = 0
        offset = 0
        while offset + _HEADER.size <= len(data):
            (size,) = _HEADER.unpack_from(data, offset)
            position, error = _receive(bytes(data[offset + _HEADER.size : offset + _HEADER.size + size]))
            self.outcomes[position] = error
            offset += _HEADER.size + size
        for position in lane.positions:
            if position not in self.outcomes and not self._failed_before(position):
                self.outcomes[position] = RuntimeError(
                    f"the process writing {self.targets[position].name} ended without finishing it "
                    f"({_describe(status)})"
                )
                break

    def _commit(self) -> None:
        """Rename the filled files in order up to the first failure, which is then raised."""
        for position, target in enumerate(self.targets):
            error = self.outcomes.get(position)
            if error is None and position in self.outcomes:
                try:
                    commit(self.temporary.pop(position), target)
                except OSError as exc:
                    raise ReportNotWritten(target, exc) from exc
                continue
            if isinstance(error, OSError):
                raise ReportNotWritten(target, error) from error
            if error is not None:
                raise error
            raise RuntimeError(f"{target.name} was not written")  # unreachable: a failure comes first

    def _stop_children(self) -> None:
        # Children still running after an interrupt or a failure before all their formats: stop them.
        for lane in self.lanes:
            if lane.pid:
                with contextlib.suppress(OSError):
                    os.kill(lane.pid, signal.SIGKILL)
                with contextlib.suppress(OSError):
                    os.waitpid(lane.pid, 0)
                lane.pid = 0
            if lane.pipe >= 0:
                with contextlib.suppress(OSError):
                    os.close(lane.pipe)
                lane.pipe = -1


def _send(pipe: int, position: int, error: BaseException | None) -> None:
    trace = "".join(traceback.format_exception(error)) if error is not None else ""
    try:
        payload = pickle.dumps((position, error, trace))
    except Exception:  # an exception that cannot be pickled: its type's name and message
        payload = pickle.dumps((position, RuntimeError(f"{type(error).__name__}: {error}"), trace))
    data = _HEADER.pack(len(payload)) + payload
    while data:
        data = data[os.write(pipe, data) :]


def _receive(payload: bytes) -> tuple[int, BaseException | None]:
    position, error, trace = pickle.loads(payload)
    if error is not None and trace:
        error.__cause__ = _ChildTraceback(f"in the process that wrote this format:\n{trace}")
    return position, error


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
