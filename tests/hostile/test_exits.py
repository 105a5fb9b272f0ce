"""Exit codes under interruption and crashes, and outputs that never clobber inputs or fail silently."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditor import cli, engine
from auditor.readers.jsonl import JsonlReader
from tests.hostile.conftest import jsonl, numbered

ROOT = Path(__file__).resolve().parents[2]

SLOW_SCAN = """
import sys, time
from pathlib import Path
import auditor.engine as engine
marker = Path(sys.argv[1])
audit = engine.RecordAuditor.audit_batch
def slow(self, records):
    marker.touch()
    time.sleep(0.02 * len(records))
    return audit(self, records)
engine.RecordAuditor.audit_batch = slow
from auditor.cli import main
main(sys.argv[2:])
"""


def _start_slow_scan(tmp_path: Path, workers: int) -> tuple[subprocess.Popen[bytes], Path]:
    corpus = tmp_path / "c.jsonl"
    corpus.write_bytes(jsonl(numbered(5000)))
    marker = tmp_path / "started"
    script = tmp_path / "slow.py"
    script.write_text(SLOW_SCAN)
    argv = ["scan", str(corpus), "-o", str(tmp_path / "out"), "--workers", str(workers), "--quiet"]
    proc = subprocess.Popen(
        [sys.executable, str(script), str(marker), *argv],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    return proc, marker


def _group_gone(pgid: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_ctrl_c_stops_a_parallel_scan_with_130_and_no_traceback(tmp_path):
    proc, _ = _start_slow_scan(tmp_path, workers=2)
    os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole process group
    _, err = proc.communicate(timeout=30)
    text = err.decode()
    assert proc.returncode == 130, text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text
    assert "interrupted" in text and "--resume" in text
    assert _group_gone(proc.pid), "worker processes outlived the scan"
    assert not (tmp_path / "out" / "report.json").exists()


def test_sigterm_exits_143_and_stops_the_workers(tmp_path):
    proc, _ = _start_slow_scan(tmp_path, workers=2)
    os.kill(proc.pid, signal.SIGTERM)  # `kill PID`: the scanner alone gets it
    _, err = proc.communicate(timeout=30)
    text = err.decode()
    assert proc.returncode == 143, text
    assert "Traceback" not in text and "terminated" in text
    assert _group_gone(proc.pid), "worker processes outlived the scan"


@pytest.mark.parametrize("workers", [1, 2])
def test_a_crash_while_reading_exits_4_never_0_or_1(monkeypatch, tmp_path, run_scan, workers):
    def boom(self, line, row, name):
        raise RuntimeError("injected reader bug")

    monkeypatch.setattr(JsonlReader, "_decode", boom)
    (tmp_path / "c.jsonl").write_bytes(jsonl(numbered(3)))
    run = run_scan(tmp_path / "c.jsonl", traceback_ok=True, workers=workers)
    assert run.code == 4 and "internal error: RuntimeError: injected reader bug" in run.err


def test_a_closed_output_pipe_is_never_reported_as_clean(monkeypatch, tmp_path, run_scan):
    def broken(*args, **kwargs):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    monkeypatch.setattr(engine, "scan", broken)
    (tmp_path / "c.jsonl").write_bytes(jsonl(numbered(3)))
    assert run_scan(tmp_path / "c.jsonl").code == 141


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("out-is-input-file", "exists and is not a folder"),
        ("out-is-input-dir", "is inside the corpus path"),
        ("out-inside-input-dir", "is inside the corpus path"),
        ("input-named-like-a-report", "would be overwritten by a report"),
        ("out-is-dangling-link", "exists and is not a folder"),
    ],
)
def test_output_never_goes_over_or_into_an_input(tmp_path, run_scan, layout, message):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shard = corpus / "a.jsonl"
    shard.write_bytes(jsonl(numbered(2)))
    args: list[Path] = [corpus]
    out = {
        "out-is-input-file": shard,
        "out-is-input-dir": corpus,
        "out-inside-input-dir": corpus / "audit",
    }.get(layout, tmp_path / "out")
    if layout == "input-named-like-a-report":
        out.mkdir()
        (out / "report.json").write_bytes(jsonl(numbered(2)))
        args = [out / "report.json"]
    if layout == "out-is-dangling-link":
        os.symlink(tmp_path / "nowhere", out)
    before = shard.read_bytes()
    run = run_scan(*args, out=out)
    assert run.code == 2 and message in run.err
    assert shard.read_bytes() == before
    assert not (corpus / "audit").exists()


def test_an_output_folder_next_to_an_input_file_is_fine(tmp_path, run_scan):
    (tmp_path / "a.jsonl").write_bytes(jsonl(numbered(2)))
    assert run_scan(tmp_path / "a.jsonl", out=tmp_path / "audit").code == 0


def _visible(folder: Path) -> list[str]:
    # Leftover temporary reports would be hidden (.report.json.*.tmp); the checkpoint folder is expected.
    return sorted(p.name for p in folder.iterdir() if p.name != ".auditor-state")


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_leaves_the_previous_report_and_exits_4(monkeypatch, tmp_path, run_scan):
    (tmp_path / "c.jsonl").write_bytes(jsonl(numbered(3)))
    assert run_scan(tmp_path / "c.jsonl").code == 0
    previous = (tmp_path / "out" / "report.json").read_bytes()
    (tmp_path / "c.jsonl").write_bytes(jsonl(numbered(9)))
    monkeypatch.setattr(os, "fsync", _enospc)
    run = run_scan(tmp_path / "c.jsonl")
    assert run.code == 4 and "cannot write" in run.err and "No space left on device" in run.err
    assert (tmp_path / "out" / "report.json").read_bytes() == previous
    assert _visible(tmp_path / "out") == ["report.json"]  # no temporary file left behind


@pytest.fixture
def tiny_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_a_really_full_disk_leaves_the_previous_report_and_exits_4(tiny_disk, tmp_path, run_scan):
    (tmp_path / "c.jsonl").write_bytes(jsonl(numbered(3)))
    out = tiny_disk / "out"
    assert run_scan(tmp_path / "c.jsonl", out=out).code == 0
    previous = (out / "report.json").read_bytes()
    (tmp_path / "c.jsonl").write_bytes(b"{broken\n" * 3000 + jsonl(numbered(3)))  # a big skipped list
    run = run_scan(tmp_path / "c.jsonl", out=out)
    assert run.code == 4 and "No space left on device" in run.err
    assert (out / "report.json").read_bytes() == previous
    assert json.loads(previous)["summary"]["records_scanned"] == 3
    assert _visible(out) == ["report.json"]


def test_in_process_keyboard_interrupt_during_reading_exits_130(monkeypatch, tmp_path, run_scan):
    def interrupted(self, line, row, name):
        raise KeyboardInterrupt

    monkeypatch.setattr(JsonlReader, "_decode", interrupted)
    (tmp_path / "c.jsonl").write_bytes(jsonl(numbered(3)))
    assert run_scan(tmp_path / "c.jsonl").code == 130
    assert cli.EXIT_INTERRUPTED == 130 and cli.EXIT_TERMINATED == 143


def test_an_interrupted_registry_build_exits_130_without_a_resume_hint(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("auditor.registry.build_registry", interrupted)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "book.txt").write_text("a registered book " * 50, encoding="utf-8")
    with pytest.raises(SystemExit) as stopped:
        cli.main(["registry", "build", str(tmp_path / "src"), "-o", str(tmp_path / "reg")])
    err = capsys.readouterr().err
    assert stopped.value.code == 130
    assert "auditor: interrupted" in err and "--resume" not in err  # only a scan can resume


@pytest.mark.parametrize(
    ("handler", "code", "word"), [("_on_sigint", 130, "interrupted"), ("_on_sigterm", 143, "terminated")]
)
def test_a_signal_a_library_turns_into_its_own_error_still_exits_as_the_signal(
    monkeypatch, tmp_path, run_scan, handler, code, word
):
    """Ctrl-C while numba loads its extension modules surfaces as "ImportError: numba._devicearray failed
    to import": the run was interrupted, and says so, rather than reporting an internal error."""
    monkeypatch.setattr(cli, "_arm_watchdog", lambda code: None)  # its timer would end pytest

    def interrupted_while_importing(self, line, row, name):
        try:
            getattr(cli, handler)(signal.SIGINT, None)
        except KeyboardInterrupt:
            raise ImportError("numba._devicearray failed to import") from None

    monkeypatch.setattr(JsonlReader, "_decode", interrupted_while_importing)
    (tmp_path / "c.jsonl").write_bytes(jsonl(numbered(3)))
    run = run_scan(tmp_path / "c.jsonl")
    assert run.code == code and f"auditor: {word}" in run.err and "internal error" not in run.err
    # the next run in this process starts afresh: the same error without a signal is a crash
    monkeypatch.setattr(JsonlReader, "_decode", lambda *args: (_ for _ in ()).throw(ImportError("broken")))
    crash = run_scan(tmp_path / "c.jsonl", traceback_ok=True)
    assert crash.code == 4 and "internal error: ImportError: broken" in crash.err
