"""Writing the chosen formats in parallel processes gives what writing them one by one gives."""

from __future__ import annotations

import errno
import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auditor.report import FindingRecords, sort_key
from auditor.reporters import REPORTERS, Reporter, get_reporter, outputs, write_report
from auditor.reporters.outputs import ReportNotWritten, write_reports
from auditor.spill import FindingSpill
from tests.reporters.conftest import hostile_report, make_finding, make_report, sample_report
from tests.test_spill import finding

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="formats are written in parallel with fork")

ALL = list(REPORTERS)


@pytest.fixture
def parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every report written in parallel, with as many processes as formats (also while a thread left by
    another test runs: the children here never take a lock such a thread could hold)."""
    monkeypatch.setattr(outputs, "PARALLEL_MIN_ROWS", 0)
    monkeypatch.setattr(outputs, "usable_cpus", lambda: 8)
    monkeypatch.setattr(outputs, "can_fork", lambda: True)


def _serial(tmp_path: Path, names: list[str], report: dict[str, Any]) -> dict[str, bytes]:
    folder = tmp_path / "serial"
    folder.mkdir()
    for name in names:
        reporter = get_reporter(name)
        write_report(folder / reporter.filename, reporter.stream(report))
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _random_report(seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    severities = ["critical", "high", "medium", "low", "info"]
    findings = [
        make_finding(
            severity=rng.choice(severities),
            record_id=f"doc-{i}-{rng.random():.6f}",
            row=rng.randrange(1, 10_000),
            message="".join(rng.choice("abc <&>\"'\u202e\n\u00e9") for _ in range(rng.randrange(0, 40))),
        )
        for i in range(rng.randrange(0, 60))
    ]
    return make_report(findings)


@pytest.mark.parametrize("processes", [2, 3, 8])
@pytest.mark.parametrize("seed", range(4))
def test_parallel_files_are_the_serial_files(
    parallel: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, processes: int, seed: int
) -> None:
    monkeypatch.setattr(outputs, "usable_cpus", lambda: processes)
    names = ALL[:]
    random.Random(seed).shuffle(names)
    report = _random_report(seed)
    out = tmp_path / "out"
    out.mkdir()
    written = write_reports(out, names, report)
    assert written == [out / get_reporter(n).filename for n in names]
    assert _files(out) == _serial(tmp_path, names, report)


@pytest.mark.parametrize("build", [sample_report, hostile_report])
def test_parallel_files_are_the_serial_files_for_hand_built_reports(
    parallel: None, tmp_path: Path, build: Any
) -> None:
    report = build()
    out = tmp_path / "out"
    out.mkdir()
    write_reports(out, ALL, report)
    assert _files(out) == _serial(tmp_path, ALL, report)


def test_parallel_files_from_a_spill_are_the_serial_files(parallel: None, tmp_path: Path) -> None:
    # A scan's findings are read back from its spill file by every process at once.
    findings = [finding(row=r, work=None if r % 3 else f"w{r % 7}") for r in range(1, 400)]
    with FindingSpill(tmp_path) as spill:
        spill.extend(findings)
        report = make_report([])
        report["findings"] = FindingRecords(spill.in_order(sort_key))
        out = tmp_path / "out"
        out.mkdir()
        write_reports(out, ALL, report)
        assert _files(out) == _serial(tmp_path, ALL, report)
        assert spill.path.exists()  # a child never removes its parent's spill
    assert not spill.path.exists()


def test_small_reports_and_a_single_cpu_are_written_here(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def no_fork() -> int:
        raise AssertionError("forked")

    monkeypatch.setattr(os, "fork", no_fork)
    write_reports(tmp_path, ["json", "html"], make_report([]))
    monkeypatch.setattr(outputs, "PARALLEL_MIN_ROWS", 0)
    monkeypatch.setattr(outputs, "usable_cpus", lambda: 1)
    write_reports(tmp_path, ["json", "html"], sample_report())
    assert sorted(_files(tmp_path)) == ["report.html", "report.json"]


def test_no_fork_while_another_thread_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def no_fork() -> int:
        raise AssertionError("forked with a thread running")

    monkeypatch.setattr(outputs, "PARALLEL_MIN_ROWS", 0)
    monkeypatch.setattr(outputs, "usable_cpus", lambda: 2)
    monkeypatch.setattr(os, "fork", no_fork)
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        write_reports(tmp_path, ["json", "html"], sample_report())
    finally:
        release.set()
        thread.join()
    assert sorted(_files(tmp_path)) == ["report.html", "report.json"]


def test_formats_are_shared_costliest_first_and_each_lane_keeps_their_order() -> None:
    names = ["json", "html", "sarif", "junit", "parquet", "md"]
    for processes in range(1, 8):
        lanes = outputs._lanes(names, processes)
        assert sorted(p for lane in lanes for p in lane.positions) == list(range(len(names)))
        assert all(lane.positions == sorted(lane.positions) for lane in lanes)
        assert len(lanes) == min(processes, len(names))
    assert [lane.positions for lane in outputs._lanes(["json", "html"], 2)] == [[1], [0]]


# ------------------------------------------------------------------------------ failures in order


class _Failing(Reporter):
    """A reporter that fails (or blocks) as its class attribute says, after writing a little."""

    name = "failing"
    filename = "failing.txt"
    failure: Any = None

    def render(self, report: dict[str, Any]) -> str:
        return "".join(self.stream(report))

    def stream(self, report: dict[str, Any]) -> Iterator[str]:
        yield "partial "
        action = type(self).failure
        if action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if action == "block":
            _write_whole(Path(report["marker"]), str(os.getpid()))
            time.sleep(60)
        if action == "interrupt":
            while not Path(report["marker"]).exists():  # the other process is writing
                time.sleep(0.01)
            raise KeyboardInterrupt
        if isinstance(action, BaseException):
            raise action
        yield "done\n"


def _write_whole(path: Path, text: str) -> None:
    """Write a marker another process waits for: it appears with its text (never empty, as a file that
    write_text has created but not yet written is)."""
    part = path.with_name(f".{path.name}.part")
    part.write_text(text)
    os.replace(part, path)


def _failing(monkeypatch: pytest.MonkeyPatch, name: str, failure: Any, cost: float) -> None:
    cls = type(f"Failing_{name}", (_Failing,), {"name": name, "filename": f"{name}.txt", "failure": failure})
    monkeypatch.setitem(REPORTERS, name, cls)
    monkeypatch.setitem(outputs.COSTS, name, cost)


def _previous(out: Path, names: list[str]) -> dict[str, bytes]:
    for name in names:
        (out / get_reporter(name).filename).write_bytes(f"previous {name}".encode())
    return _files(out)


@pytest.mark.parametrize("cost", [0.1, 9.0], ids=["failing-here", "failing-in-a-child"])
def test_an_os_error_names_the_first_failing_format_and_leaves_it_and_the_later_ones(
    parallel: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cost: float
) -> None:
    _failing(monkeypatch, "full", OSError(errno.ENOSPC, "No space left on device"), cost)
    names = ["json", "full", "html", "md"]
    out = tmp_path / "out"
    out.mkdir()
    before = _previous(out, names)
    report = sample_report()
    with pytest.raises(ReportNotWritten) as failed:
        write_reports(out, names, report)
    assert failed.value.path == out / "full.txt"
    assert (
        failed.value.error.errno == errno.ENOSPC and failed.value.error.strerror == "No space left on device"
    )
    after = _files(out)  # no temporary file left: the same names as before
    assert sorted(after) == sorted(before)
    assert after["report.json"] == _serial(tmp_path, ["json"], report)["report.json"]  # written before it
    for name in ["full.txt", "report.html", "summary.md"]:
        assert after[name] == before[name]


def test_a_temporary_file_that_cannot_be_made_fails_as_writing_one_by_one_does(
    parallel: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import tempfile

    mkstemp = tempfile.mkstemp

    def refused(*args: Any, **kwargs: Any) -> tuple[int, str]:
        if kwargs.get("prefix", "").startswith(".report.html."):
            raise PermissionError(errno.EACCES, "Permission denied")
        return mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ReportNotWritten) as failed:
        write_reports(out, ["json", "html", "md"], sample_report())
    assert failed.value.path == out / "report.html" and failed.value.error.strerror == "Permission denied"
    assert sorted(_files(out)) == ["report.json"]  # written before it, as one by one; nothing left behind


def test_the_first_of_two_failures_in_format_order_is_raised(
    parallel: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _failing(monkeypatch, "first", OSError(errno.EIO, "first"), 0.1)
    _failing(monkeypatch, "second", OSError(errno.EIO, "second"), 9.0)
    for names in (["json", "first", "second"], ["json", "second", "first"]):
        with pytest.raises(ReportNotWritten) as failed:
            write_reports(tmp_path, names, make_report([]))
        assert failed.value.path.name == f"{names[1]}.txt"
    assert sorted(_files(tmp_path)) == ["report.json"]


@pytest.mark.parametrize("cost", [0.1, 9.0], ids=["raised-here", "raised-in-a-child"])
def test_any_other_exception_is_raised_as_it_is(
    parallel: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cost: float
) -> None:
    _failing(monkeypatch, "buggy", ValueError("injected reporter bug"), cost)
    with pytest.raises(ValueError, match=r"^injected reporter bug$") as failed:
        write_reports(tmp_path, ["json", "buggy", "html"], sample_report())
    if cost > 1:
        assert "in the process that wrote this format" in str(failed.value.__cause__)
        assert "injected reporter bug" in str(failed.value.__cause__)
    assert sorted(_files(tmp_path)) == ["report.json"]


def test_an_unpicklable_exception_in_a_child_keeps_its_name_and_message(
    parallel: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    class Local(Exception):  # a local class cannot be pickled
        pass

    _failing(monkeypatch, "odd", Local("cannot travel"), 9.0)
    with pytest.raises(RuntimeError, match="Local: cannot travel"):
        write_reports(tmp_path, ["json", "odd"], sample_report())
    assert sorted(_files(tmp_path)) == ["report.json"]


def test_a_child_killed_while_writing_is_an_error_not_a_hang(
    parallel: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _failing(monkeypatch, "killed", "kill", 9.0)
    with pytest.raises(RuntimeError, match=r"killed\.txt ended without finishing it \(killed by signal 9\)"):
        write_reports(tmp_path, ["json", "killed", "html"], sample_report())
    assert sorted(_files(tmp_path)) == ["report.json"]


def test_a_failure_here_stops_children_that_only_write_later_formats(
    parallel: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    marker = tmp_path / "child-pid"
    _failing(monkeypatch, "full", OSError(errno.ENOSPC, "No space left on device"), 0.1)  # here
    _failing(monkeypatch, "slow", "block", 9.0)  # in a child, after it in order
    out = tmp_path / "out"
    out.mkdir()
    forked = []
    fork = os.fork

    def recorded() -> int:
        pid = fork()
        if pid:
            forked.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", recorded)
    started = time.monotonic()
    with pytest.raises(ReportNotWritten):
        write_reports(out, ["full", "slow"], dict(sample_report(), marker=str(marker)))
    assert time.monotonic() - started < 30  # not waiting for the child's 60 s
    assert len(forked) == 1
    with pytest.raises(ChildProcessError):
        os.waitpid(forked[0], os.WNOHANG)  # stopped and reaped
    assert _files(out) == {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_an_interrupt_here_stops_the_children_and_removes_every_temporary_file(
    parallel: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    marker = tmp_path / "child-pid"
    _failing(monkeypatch, "slow", "block", 9.0)  # in a child: blocks
    _failing(monkeypatch, "stop", "interrupt", 0.1)  # here: Ctrl-C once the child is writing
    out = tmp_path / "out"
    out.mkdir()
    report = dict(sample_report(), marker=str(marker))
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        write_reports(out, ["json", "slow", "stop"], report)
    assert time.monotonic() - started < 10
    assert not _alive(int(marker.read_text()))  # stopped and reaped, not left running
    assert _files(out) == {}  # the formats are renamed only once all are known: nothing written


def test_an_interrupt_while_waiting_for_a_child_stops_it(
    parallel: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    marker = tmp_path / "child-pid"
    _failing(monkeypatch, "slow", "block", 9.0)
    out = tmp_path / "out"
    out.mkdir()
    report = dict(sample_report(), marker=str(marker))

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        with pytest.raises(KeyboardInterrupt):
            write_reports(out, ["json", "slow"], report)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert not _alive(int(marker.read_text()))
    assert _files(out) == {}


# ------------------------------------------------------------------------------ Ctrl-C in a scan

BLOCKING_SCAN = """
import os, sys, time
from pathlib import Path
import auditor.reporters.outputs as outputs
from auditor.reporters.html import HtmlReporter
from auditor.reporters.json import JsonReporter
outputs.PARALLEL_MIN_ROWS = 0
markers = Path(sys.argv[1])
blocking = sys.argv[2].split(",")
def blocked(cls, name):
    stream = cls.stream
    def slow(self, report):
        yield from stream(self, report)
        if name in blocking:  # the marker appears with its text: written beside, then moved in
            part = markers.parent / f".{name}.part"
            part.write_text(str(os.getpid()))
            os.replace(part, markers / name)
            time.sleep(60)
    cls.stream = slow
blocked(HtmlReporter, "html")
blocked(JsonReporter, "json")
from auditor.cli import main
main(sys.argv[3:])
"""


@pytest.mark.parametrize("blocking", ["html", "html,json"], ids=["waiting", "writing-here"])
def test_ctrl_c_while_writing_reports_exits_130_and_leaves_no_process_or_file(
    tmp_path: Path, blocking: str
) -> None:
    import subprocess
    import sys

    from auditor.spill import SPILL_PREFIX
    from tests.hostile.conftest import jsonl, numbered
    from tests.hostile.test_exits import ROOT, _group_gone

    corpus = tmp_path / "c.jsonl"
    corpus.write_bytes(jsonl(numbered(50)))
    markers = tmp_path / "markers"
    markers.mkdir()
    script = tmp_path / "blocking.py"
    script.write_text(BLOCKING_SCAN)
    out = tmp_path / "out"
    argv = ["scan", str(corpus), "-o", str(out), "--workers", "1", "--fail-on", "never"]
    proc = subprocess.Popen(
        [sys.executable, str(script), str(markers), blocking, *argv],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    deadline = time.monotonic() + 60
    while len(list(markers.iterdir())) < len(blocking.split(",")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    writer = int((markers / "html").read_text())
    assert writer != proc.pid  # report.html is written by a child process
    assert list((out / ".auditor-state").glob(f"{SPILL_PREFIX}*"))  # the findings' spill file
    os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole process group
    _, err = proc.communicate(timeout=30)
    text = err.decode()
    assert proc.returncode == 130, text
    assert "Traceback" not in text and "auditor: interrupted" in text
    assert _group_gone(proc.pid), "a report writer outlived the scan"
    assert sorted(p.name for p in out.iterdir()) == [".auditor-state"]  # no report, no temporary file
    assert not list((out / ".auditor-state").glob(f"{SPILL_PREFIX}*"))  # the spill file is removed
