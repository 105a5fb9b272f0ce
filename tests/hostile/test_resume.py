"""--resume: checkpoints survive Ctrl-C and kill -9, torn ones are redone, changed settings are refused."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditor.checkpoint import InputCheckpoint, decode, encode, read_checkpoint, write_checkpoint
from auditor.models import Evidence, Finding, RecordRef, Score, Severity, Skipped, Span, Suppression, WorkRef
from auditor.readers.jsonl import JsonlReader
from auditor.sources import SourceTally
from tests.hostile.conftest import jsonl, without_times

ROOT = Path(__file__).resolve().parents[2]
SHARDS = 6


@pytest.fixture
def corpus(tmp_path, words, small_works):
    """Six shards with copies of registered works, licences, bad lines and duplicate ids."""
    root = tmp_path / "corpus"
    root.mkdir()
    for k in range(SHARDS):
        rows = []
        for i in range(12):
            text = words.text(80)
            if i % 4 == 0:
                work = small_works[f"work-{(k + i) % 8}"].split(" ")
                text += " " + " ".join(work[300 + 10 * i : 560 + 10 * i])
            rows.append({"id": f"s{k}-{i % 10}", "text": text, "url": f"https://h{i % 3}.example/{k}/{i}"})
        data = jsonl(rows) + b"{not json\n"
        name = f"shard{k}.jsonl.gz" if k % 2 else f"shard{k}.jsonl"
        (root / name).write_bytes(gzip.compress(data, mtime=0) if k % 2 else data)
    return root


def _report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def _state_files(out: Path) -> list[Path]:
    folder = out / ".auditor-state" / "inputs"
    return sorted(p for p in folder.glob("*.jsonl")) if folder.is_dir() else []


def test_checkpoint_codec_round_trips_findings_and_tallies(tmp_path):
    work = WorkRef("w\ud800", "T\u202e", "reg", ("9780306406157",))
    finding = Finding(
        rule_id="AUD-1",
        severity=Severity.HIGH,
        kind="near-duplicate",
        record=RecordRef("id\udcb2", "in/a.jsonl", 3, None),
        message="m\x00",
        work=work,
        score=Score(0.1 + 0.2, 1.0, 7),
        spans=(Span(1, 2, None, None), Span(3, 4, 5, 6)),
        evidence=(Evidence("a", None),),
        detail="d",
        suppressed=Suppression("waiver", "ok", "me", "2030-01-01", "w.yaml:3"),
    )
    assert decode(json.loads(json.dumps(encode(finding))), Finding) == finding
    tally = SourceTally()
    tally.add(finding.record, Severity.HIGH)
    back = decode(json.loads(json.dumps(encode(tally))), SourceTally)
    assert back.ranked() == tally.ranked()
    checkpoint = InputCheckpoint(
        name="in/a.jsonl",
        key="k",
        sha256="s",
        records=1,
        skipped_rows=1,
        skipped=[Skipped("in/a.jsonl", 2, "bad \udcb2")],
        findings=[(3, [finding])],
        tally=tally,
    )
    path = tmp_path / "c.jsonl"
    write_checkpoint(path, checkpoint)
    again = read_checkpoint(path)
    assert again is not None and again.findings == checkpoint.findings and again.skipped == checkpoint.skipped


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "trailer"])
def test_a_torn_or_altered_checkpoint_is_detected(tmp_path, damage):
    path = tmp_path / "c.jsonl"
    write_checkpoint(path, InputCheckpoint(name="a", key="k", sha256="s", records=2))
    data = path.read_bytes()
    damaged = {
        "truncate": data[: len(data) // 2],
        "flip": data.replace(b'"records":2', b'"records":3'),
        "empty": b"",
        "trailer": data[: data.rindex(b"{")],
    }[damage]
    path.write_bytes(damaged)
    assert read_checkpoint(path) is None


def test_ctrl_c_then_resume_gives_the_clean_report_with_a_baseline(
    monkeypatch, tmp_path, corpus, small_registry, run_scan
):
    base = ["-r", small_registry.path]
    clean = run_scan(corpus, *base, out=tmp_path / "clean")
    assert clean.code == 1 and len(clean.report["findings"]) > 10
    baseline = tmp_path / "clean" / "report.json"
    with_baseline = run_scan(corpus, *base, "--baseline", baseline, out=tmp_path / "clean2")
    assert with_baseline.report["summary"]["suppressed"]["baseline"] > 0

    decode_line = JsonlReader._decode

    def interrupt_in_shard3(self, line, row, name):
        if "shard3" in name:
            raise KeyboardInterrupt
        return decode_line(self, line, row, name)

    monkeypatch.setattr(JsonlReader, "_decode", interrupt_in_shard3)
    out = tmp_path / "resumed"
    # One worker: with a pool, records are read in a feeder thread, and Ctrl-C only ever reaches the
    # main thread (the subprocess tests send real signals to parallel scans).
    first = run_scan(corpus, *base, "--baseline", baseline, out=out, workers=1)
    assert first.code == 130 and "--resume" in first.err and not (out / "report.json").exists()
    assert len(_state_files(out)) == 3  # shards 0, 1 and 2 completed before the interrupt
    monkeypatch.setattr(JsonlReader, "_decode", decode_line)
    resumed = run_scan(corpus, *base, "--baseline", baseline, "--resume", out=out, workers=2)
    assert "resumed: 3 input(s) restored" in resumed.err
    assert without_times(resumed.report, command=True) == without_times(with_baseline.report, command=True)


SLOW_SCAN = """
import sys, time
from pathlib import Path
import auditor.engine as engine
audit = engine.RecordAuditor.audit_batch
def slow(self, records):
    time.sleep(0.02 * len(records))
    return audit(self, records)
engine.RecordAuditor.audit_batch = slow
from auditor.cli import main
main(sys.argv[1:])
"""


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the workers")
def test_kill_9_then_resume_gives_the_same_report_as_an_uninterrupted_run(
    tmp_path, corpus, small_registry, run_scan
):
    out = tmp_path / "killed"
    script = tmp_path / "slow.py"
    script.write_text(SLOW_SCAN)
    argv = ["scan", str(corpus), "-r", str(small_registry.path), "-o", str(out), "--format", "json"]
    proc = subprocess.Popen(
        [sys.executable, str(script), *argv, "--workers", "2", "--quiet"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    deadline = time.monotonic() + 60
    while not _state_files(out):
        assert proc.poll() is None, "the scan finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    workers = _children(proc.pid)
    assert len(workers) >= 2
    os.kill(proc.pid, signal.SIGKILL)  # the scanner alone: its workers must not outlive it
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "worker processes outlived a kill -9 of the scanner"
        time.sleep(0.05)
    done = len(_state_files(out))
    assert 1 <= done < SHARDS and not (out / "report.json").exists()

    resumed = run_scan(corpus, "-r", small_registry.path, "--resume", out=out, workers=2)
    restored = int(resumed.err.split("resumed: ")[1].split(" ")[0])
    assert restored >= done
    clean = run_scan(corpus, "-r", small_registry.path, out=tmp_path / "clean")
    assert resumed.code == clean.code == 1
    assert without_times(resumed.report, command=True) == without_times(clean.report, command=True)


def test_torn_checkpoints_and_leftover_temporary_files_are_redone(tmp_path, corpus, small_registry, run_scan):
    out = tmp_path / "out"
    clean = run_scan(corpus, "-r", small_registry.path, out=out)
    files = _state_files(out)
    assert len(files) == SHARDS
    files[0].write_bytes(files[0].read_bytes()[:-40])  # killed while writing: no valid trailer
    files[1].write_bytes(b"")
    (files[2].parent / f".{files[2].name}.999.tmp").write_bytes(b"half a checkpoint")
    resumed = run_scan(corpus, "-r", small_registry.path, "--resume", out=out)
    assert f"resumed: {SHARDS - 2} input(s) restored" in resumed.err
    assert without_times(resumed.report, command=True) == without_times(clean.report, command=True)
    assert not list(files[2].parent.glob(".*.tmp"))


def test_a_changed_input_is_scanned_again_on_resume(tmp_path, corpus, run_scan):
    out = tmp_path / "out"
    run_scan(corpus, out=out)
    shard = corpus / "shard0.jsonl"
    shard.write_bytes(shard.read_bytes() + jsonl([{"id": "new", "text": "one more record"}]))
    resumed = run_scan(corpus, "--resume", out=out)
    assert f"resumed: {SHARDS - 1} input(s) restored" in resumed.err
    assert resumed.report == run_scan(corpus, out=tmp_path / "fresh").report | {"run": resumed.report["run"]}


@pytest.mark.parametrize(
    ("change", "differs"),
    [
        (["--min-severity", "high"], 'min_severity: "info" then, "high" now'),
        (["--text-field", "body"], "fields:"),
        (["--max-record-size", "1MiB"], "limits:"),
        (["--use", "research"], "use:"),
    ],
)
def test_resume_with_other_settings_is_refused_saying_what_differs(
    tmp_path, corpus, run_scan, change, differs
):
    out = tmp_path / "out"
    assert run_scan(corpus, out=out).code == 0
    before = (out / "report.json").read_bytes()
    refused = run_scan(corpus, "--resume", *change, out=out)
    assert refused.code == 2 and "cannot --resume" in refused.err and differs in refused.err
    assert "without --resume to start over" in refused.err
    assert (out / "report.json").read_bytes() == before
    assert run_scan(corpus, *change, out=out).code in (0, 3)  # starting over is always possible


def test_resume_on_a_day_a_waiver_has_expired_since_is_refused(tmp_path, corpus, run_scan, monkeypatch):
    # A checkpoint's source tally counts what the waivers suppressed on the day it was written.
    import datetime as dt
    import functools

    from auditor import suppress

    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "version: 1\nwaivers:\n"
        "  - rule: AUD-*\n    reason: licensed\n    approver: Legal\n    expires: 2030-06-30\n"
        "  - input: '*shard1*'\n    reason: reviewed\n    approver: Legal\n    expires: 2031-01-01\n",
        encoding="utf-8",
    )
    load = suppress.load_suppressor

    def on(day: str) -> None:
        today = dt.date.fromisoformat(day)
        monkeypatch.setattr(suppress, "load_suppressor", functools.partial(load, today=today))

    out = tmp_path / "out"
    on("2030-06-29")
    first = run_scan(corpus, "--waivers", waivers, "--fail-on", "never", out=out)
    assert first.code == 0 and first.report["summary"]["suppressed"]["waiver"] > 0
    on("2030-06-30")  # the same waivers still in force: the checkpoints hold
    assert (
        f"resumed: {SHARDS} input(s) restored"
        in run_scan(corpus, "--waivers", waivers, "--fail-on", "never", "--resume", out=out).err
    )
    on("2030-07-01")  # the first waiver has expired since
    refused = run_scan(corpus, "--waivers", waivers, "--fail-on", "never", "--resume", out=out)
    assert refused.code == 2 and "waivers_expired:" in refused.err and "waivers.yaml:3" in refused.err
    fresh = run_scan(corpus, "--waivers", waivers, "--fail-on", "never", out=out)
    waived = [run.report["summary"]["suppressed"]["waiver"] for run in (first, fresh)]
    assert fresh.code == 0 and waived[1] < waived[0]


def test_resume_with_another_registry_is_refused(tmp_path, corpus, small_registry, run_scan):
    out = tmp_path / "out"
    run_scan(corpus, out=out)
    refused = run_scan(corpus, "-r", small_registry.path, "--resume", out=out)
    assert refused.code == 2 and "config_id:" in refused.err and "registries:" in refused.err


def test_two_scans_cannot_share_an_output_folder(tmp_path, corpus, run_scan):
    import fcntl

    out = tmp_path / "out"
    (out / ".auditor-state").mkdir(parents=True)
    with (out / ".auditor-state" / "lock").open("a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("4242")
        held.flush()
        run = run_scan(corpus, out=out)
    assert run.code == 2 and "in use by another scan (pid 4242)" in run.err


def test_a_checkpoint_that_cannot_be_written_costs_resumability_not_the_scan(
    monkeypatch, tmp_path, corpus, run_scan
):
    import errno

    from auditor import checkpoint

    def full(path, value):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint, "write_checkpoint", full)
    run = run_scan(corpus, out=tmp_path / "out")
    assert run.code == 0 and run.report["summary"]["records_scanned"] == SHARDS * 12
    assert "warning: cannot write checkpoints" in run.err and "No space left on device" in run.err
