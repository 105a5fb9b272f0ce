"""The findings spill: findings on disk in scan order, report order from the index, cleaned up always."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import os
import random
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from auditor import engine
from auditor import report as report_module
from auditor.checkpoint import STATE_DIR, CheckpointStore, read_checkpoint
from auditor.models import (
    AuditResult,
    EditionMatch,
    Evidence,
    Finding,
    RecordRef,
    Score,
    Severity,
    Span,
    Suppression,
    WorkRef,
)
from auditor.registry import WorkRegistry
from auditor.report import FindingRecords, build_report, finding_record, sort_key
from auditor.reporters import REPORTERS, get_reporter
from auditor.reporters import parquet as parquet_reporter
from auditor.rules import load_rule_set
from auditor.spill import SPILL_PREFIX, SPILL_SUFFIX, FindingSpill, count_findings
from auditor.suppress import Suppressor, Waiver
from tests.conftest import Words


def finding(
    severity: Severity = Severity.HIGH,
    input: str = "a.jsonl",
    row: int = 1,
    rule: str = "AUD-ND-001",
    work: str | None = "work-1",
    detail: str = "",
    message: str = "m",
    suppressed: Suppression | None = None,
) -> Finding:
    ref = (
        WorkRef(id=work, title=f"Title of {work}", registry="reg", isbns=("9780000000002",)) if work else None
    )
    return Finding(
        rule_id=rule,
        severity=severity,
        kind="near-duplicate" if work else "source",
        record=RecordRef(id=f"{input}:{row}", input=input, row=row, url="https://example.org/x"),
        message=message,
        work=ref,
        score=Score(0.912345678, 0.4, 310) if work else None,
        spans=(Span(10, 400, 1000, 1390),) if work else (),
        evidence=(Evidence("record ‘text’ \udc80", "work text"),) if work else (),
        detail=detail,
        suppressed=suppressed,
        editions=(EditionMatch(WorkRef("work-1b", "Other", "reg"), "near-duplicate", Score(0.5, 0.1, 3)),)
        if work
        else (),
    )


def spill_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"{SPILL_PREFIX}*{SPILL_SUFFIX}"))


# ------------------------------------------------------------------------------------ the sequence


def test_a_spill_reads_back_every_finding_in_arrival_order_like_a_tuple(tmp_path: Path) -> None:
    findings = [finding(row=r, detail=f"d{r}", work=None if r % 3 else f"w{r}") for r in range(1, 40)]
    findings.append(finding(suppressed=Suppression("waiver", "licensed", "Legal", "2030-01-01", "w.yaml:3")))
    with FindingSpill(tmp_path) as spill:
        spill.extend(findings)
        assert len(spill) == len(findings)
        assert list(spill) == findings
        assert spill == findings and spill == tuple(findings) and spill != findings[:-1]
        assert spill[0] == findings[0] and spill[-1] == findings[-1] and spill[3:7] == tuple(findings[3:7])
        assert spill[-1].evidence[0].record_text == "record ‘text’ \udc80"  # any text round-trips
        with pytest.raises(IndexError):
            spill[len(findings)]
        spill.append(finding(row=99))  # reading, then writing, then reading again
        assert spill[-1].record.row == 99 and len(spill) == len(findings) + 1


def test_the_report_order_breaks_ties_on_rule_work_and_detail_and_keeps_arrival_order_last(
    tmp_path: Path,
) -> None:
    rng = random.Random(5)
    findings = []
    for number in range(600):
        findings.append(
            finding(
                severity=rng.choice(list(Severity)),
                input=rng.choice(["b.jsonl", "a.jsonl", "a.jsonl.gz", "Z.parquet"]),
                row=rng.randint(1, 4),  # few rows: many findings share severity, input and row
                rule=rng.choice(["AUD-ND-001", "AUD-SRC-002", "AUD-LIC-001"]),
                work=rng.choice([None, "w-2", "w-10", "w-1"]),
                detail=rng.choice(["", "b", "a"]),
                message=f"arrival {number}",  # tells apart findings equal on the whole sort key
            )
        )
    with FindingSpill(tmp_path) as spill:
        spill.extend(findings)
        ordered = list(spill.in_order(sort_key))
    expected = sorted(findings, key=sort_key)  # stable: arrival order among equal keys
    assert [f.message for f in ordered] == [f.message for f in expected]
    assert len({sort_key(f) for f in findings}) < len(findings)  # the ties were there to break


def test_counts_from_the_index_equal_counts_from_reading_every_finding(tmp_path: Path) -> None:
    rng = random.Random(11)
    kinds = [None, Suppression("waiver", "r"), Suppression("baseline", "b"), Suppression("other", "o")]
    findings = [
        finding(severity=rng.choice(list(Severity)), row=rng.randint(1, 30), suppressed=rng.choice(kinds))
        for _ in range(300)
    ]
    with FindingSpill(tmp_path) as spill:
        spill.extend(findings)
        from_index = spill.counts()
    from_reading = count_findings(tuple(findings))
    assert from_index == from_reading
    assert from_reading.flagged and from_reading.suppressed_by_kind["other"]
    with FindingSpill(tmp_path) as empty:
        assert empty.counts() == count_findings(()) and empty.counts().worst is None


def test_a_spill_holds_an_index_not_the_findings(tmp_path: Path) -> None:
    findings = [finding(row=r, message="x" * 500) for r in range(5000)]
    spill = FindingSpill(tmp_path)
    tracemalloc.start()
    try:
        spill.extend(findings[:1000])  # the write buffer and the encoder's caches are made once
        before = tracemalloc.get_traced_memory()[0]
        spill.extend(findings[1000:])
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        spill.close()
    assert grown / 4000 < 100  # bytes a finding: the index; the finding's objects take over 1 KB


def test_finding_records_are_made_from_the_encoding_exactly_as_from_findings(tmp_path: Path) -> None:
    findings = [finding(row=r, work=None if r % 2 else f"w{r}") for r in range(1, 9)]
    findings.append(finding(suppressed=Suppression("baseline", "accepted in baseline x", where="x")))
    with FindingSpill(tmp_path) as spill:
        spill.extend(findings)
        records = FindingRecords(spill.in_order(sort_key))
        expected = [finding_record(f) for f in sorted(findings, key=sort_key)]
        assert list(records) == expected and records == expected and len(records) == len(expected)
        assert records[2] == expected[2] and records[-1] == expected[-1]
        assert list(records[1:4]) == expected[1:4] and list(records[::2]) == expected[::2]


def test_finding_records_keep_the_first_records_made_and_remake_the_rest_on_each_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reporters pass over the records several times: the first RECORDS_KEPT are made once, the rest
    on every pass (memory stays bounded), and every pass, index and interleaved pass gives the same."""
    monkeypatch.setattr(report_module, "RECORDS_KEPT", 3)
    findings = [finding(row=r, work=f"w{r % 4}") for r in range(1, 11)]
    with FindingSpill(tmp_path) as spill:
        spill.extend(findings)
        expected = [finding_record(f) for f in sorted(findings, key=sort_key)]
        records = FindingRecords(spill.in_order(sort_key))
        assert records[-1] == expected[-1] and records[4] == expected[4]  # before any pass
        outer = iter(records)
        first_two = [next(outer), next(outer)]
        inner = list(records)  # a whole pass in the middle of another
        first = first_two + list(outer)
        again = list(records)
        assert first == inner == again == expected
        assert [a is b for a, b in zip(inner, again, strict=True)] == [True] * 3 + [False] * 7
        assert all(records[i] is again[i] for i in range(3)) and records[3] is not again[3]
        assert [records[i] for i in range(-10, 10)] == expected + expected


def test_a_spill_file_is_removed_on_close_and_when_the_spill_is_collected(tmp_path: Path) -> None:
    spill = FindingSpill(tmp_path)
    spill.append(finding())
    (path,) = spill_files(tmp_path)
    assert spill.path == path
    spill.close()
    spill.close()
    assert spill.closed and not spill_files(tmp_path)
    other = FindingSpill(tmp_path)
    assert spill_files(tmp_path)
    del other
    assert not spill_files(tmp_path)


def test_a_spill_left_by_a_killed_process_is_removed_by_the_next_one(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale = tmp_path / f"{SPILL_PREFIX}{int(dead.stdout)}-abc{SPILL_SUFFIX}"
    alive = tmp_path / f"{SPILL_PREFIX}{os.getppid()}-abc{SPILL_SUFFIX}"  # another scan still running
    stale.write_bytes(b"{}\n")
    alive.write_bytes(b"{}\n")
    with FindingSpill(tmp_path):
        assert not stale.exists() and alive.exists()


# ----------------------------------------------------------------------------------- in the engine


@pytest.fixture
def corpus(tmp_path: Path, small_works: dict[str, str], words: Words) -> Path:
    """Two inputs, each with copies of works (several works in some records) and clean records."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    texts = list(small_works.values())
    for number in range(2):
        rows = []
        for i in range(24):
            if i % 3 == 0:
                text = texts[i % 8][4000:6500] + " " + texts[(i + 1) % 8][9000:11000]
            elif i % 3 == 1:
                text = words.text(300) + " " + texts[(i + number) % 8][12000:14500]
            else:
                text = words.text(400)
            rows.append({"id": f"r{number}-{i}", "text": text, "url": f"https://site{i % 4}.example/{i}"})
        path = folder / f"part-{number}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return folder


def _scan(corpus: Path, registry: WorkRegistry, **kwargs: Any) -> AuditResult:
    options = engine.ScanOptions(
        workers=kwargs.pop("workers", 1), min_severity=kwargs.pop("min_severity", Severity.INFO)
    )
    return engine.scan([corpus], [registry], load_rule_set(), options, **kwargs)


def _rendered(report: dict[str, Any]) -> dict[str, bytes]:
    out = {}
    for name in REPORTERS:
        data = get_reporter(name).stream(report)
        if isinstance(data, str | bytes):
            data = [data]
        out[name] = b"".join(p.encode("utf-8") if isinstance(p, str) else bytes(p) for p in data)
    return out


def test_every_format_is_the_same_from_the_spill_as_from_findings_held_in_memory(
    corpus: Path, small_registry: WorkRegistry
) -> None:
    result = _scan(corpus, small_registry)
    assert isinstance(result.findings, FindingSpill) and len(result.findings) > 20
    rules = load_rule_set().describe()
    spilled = build_report(result, command=["auditor", "scan"], exit_code=1, rules=rules)
    held = build_report(
        dataclasses.replace(result, findings=tuple(result.findings)),
        command=["auditor", "scan"],
        exit_code=1,
        rules=rules,
    )
    assert isinstance(spilled["findings"], FindingRecords)
    listed = {**spilled, "findings": list(spilled["findings"])}  # what reporters were given before
    assert spilled == held and listed == held
    assert _rendered(spilled) == _rendered(listed) == _rendered(held)
    result.findings.close()


def test_the_works_presence_counts_each_record_once_per_book(
    corpus: Path, small_registry: WorkRegistry
) -> None:
    result = _scan(corpus, small_registry)
    copies: dict[tuple[str, str], set[tuple[str, int]]] = {}
    for f in result.findings:
        if f.work is not None and f.kind in ("near-duplicate", "exact-duplicate"):
            copies.setdefault((f.work.registry, f.work.group or f.work.id), set()).add(
                (f.record.input, f.record.row)
            )
    assert result.works and {
        (w.work.registry, w.work.group or w.work.id): w.records for w in result.works
    } == {book: len(rows) for book, rows in copies.items()}
    result.findings.close()


def test_the_spill_is_in_the_checkpoints_folder_during_a_scan_and_lasts_as_long_as_the_result(
    corpus: Path, small_registry: WorkRegistry, tmp_path: Path
) -> None:
    store = CheckpointStore(tmp_path / "out" / STATE_DIR, resume=False)
    seen: list[int] = []
    result = _scan(
        corpus,
        small_registry,
        checkpoints=store,
        progress=lambda _: seen.append(len(spill_files(store.folder))),
    )
    assert seen and set(seen) == {1}
    assert isinstance(result.findings, FindingSpill) and result.findings.path.parent == store.folder
    assert len(list(result.findings)) == len(result.findings) > 0
    result.findings.close()
    assert not spill_files(store.folder)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_the_spill_is_removed_when_a_scan_fails_or_is_interrupted(
    corpus: Path, small_registry: WorkRegistry, tmp_path: Path, error: type[BaseException], workers: int
) -> None:
    store = CheckpointStore(tmp_path / "out" / STATE_DIR, resume=False)
    calls: list[int] = []

    def progress(_: object) -> None:
        calls.append(len(spill_files(store.folder)))
        if len(calls) == 2:
            raise error("stop")

    # The traceback keeps the scan's frame, and its spill, alive: the scan itself must remove it.
    with pytest.raises(error) as caught:
        _scan(corpus, small_registry, checkpoints=store, progress=progress, workers=workers)
    assert caught.tb is not None and calls[0] == 1  # it was there
    assert not spill_files(store.folder)


def test_a_scan_without_findings_gives_an_empty_spill_and_empty_reports(
    tmp_path: Path, small_registry: WorkRegistry, words: Words
) -> None:
    clean = tmp_path / "clean.jsonl"
    rows = [{"id": f"c{i}", "text": words.text(200)} for i in range(5)]
    clean.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = _scan(clean, small_registry, min_severity=Severity.MEDIUM)  # no notes on missing licences
    assert result.records_scanned == 5
    assert len(result.findings) == 0 and list(result.findings) == [] and result.findings == ()
    report = build_report(result, command=["auditor", "scan"], exit_code=0)
    assert len(report["findings"]) == 0 and report["summary"]["records_flagged"] == 0
    empty = build_report(dataclasses.replace(result, findings=()), command=["auditor", "scan"], exit_code=0)
    assert _rendered(report) == _rendered(empty)
    result.findings.close()


def test_findings_survive_a_resume_from_checkpoints_and_checkpoints_hold_them_unsuppressed(
    corpus: Path, small_registry: WorkRegistry, tmp_path: Path
) -> None:
    def suppressor() -> Suppressor:
        waiver = Waiver("w.yaml:1", "licensed", "Legal", dt.date(2099, 1, 1), input="*part-1.jsonl")
        return Suppressor(waivers=(waiver,))

    folder = tmp_path / "out" / STATE_DIR
    first = _scan(
        corpus, small_registry, checkpoints=CheckpointStore(folder, resume=False), suppressor=suppressor()
    )
    assert any(f.suppressed for f in first.findings) and any(not f.suppressed for f in first.findings)
    saved = [read_checkpoint(path) for path in sorted((folder / "inputs").glob("*.jsonl"))]
    assert len(saved) == 2 and all(c is not None for c in saved)
    raw = [f for c in saved if c is not None for _, found in c.findings for f in found]
    assert len(raw) == len(first.findings) and all(f.suppressed is None for f in raw)
    store = CheckpointStore(folder, resume=True)
    again = _scan(corpus, small_registry, checkpoints=store, suppressor=suppressor())
    assert store.restored == 2
    assert again.findings == first.findings and again.works == first.works
    rules = load_rule_set().describe()
    again = dataclasses.replace(again, started=first.started, finished=first.finished)
    assert _rendered(build_report(again, command=["x"], exit_code=1, rules=rules)) == _rendered(
        build_report(first, command=["x"], exit_code=1, rules=rules)
    )
    for result in (first, again):
        result.findings.close()


def test_a_checkpoint_written_from_the_spill_lines_equals_one_written_from_the_findings(
    tmp_path: Path,
) -> None:
    # Checkpoints of a scan are written from the spill's lines without decoding them; the file must be
    # the one the decoded findings give, byte for byte, suppressed findings back to unsuppressed.
    spill = FindingSpill(tmp_path)
    waived = Suppression("waiver", "licensed", "Legal", "2099-01-01", "w.yaml:1")
    kept = [finding(row=1), finding(row=1, rule="AUD-SRC-002", work=None)]
    kept += [finding(row=3, suppressed=waived), finding(row=4, detail="d")]
    spill.extend([finding(row=9, input="before.jsonl"), *kept])
    raw = spill.raw(1)
    assert [row for row, _ in raw] == [1, 3, 4]
    assert [f for _, found in raw for f in found] == [dataclasses.replace(f, suppressed=None) for f in kept]
    from auditor.checkpoint import InputCheckpoint, write_checkpoint

    paths = []
    for name, found_by_row in (("spill", raw), ("findings", [(r, list(fs)) for r, fs in raw])):
        path = tmp_path / f"{name}.jsonl"
        write_checkpoint(path, InputCheckpoint(name="a.jsonl", key="k", sha256="s", findings=found_by_row))
        paths.append(path)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    restored = read_checkpoint(paths[0])
    assert restored is not None and [f for _, fs in restored.findings for f in fs] == [
        f for _, fs in raw for f in fs
    ]
    spill.close()


# --------------------------------------------------------------------------------------- reporters


def test_parquet_written_in_batches_is_the_same_file(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.reporters.conftest import make_finding, make_report

    report = make_report([make_finding(row=r) for r in range(1, 11)])
    whole = get_reporter("parquet").render(report)
    monkeypatch.setattr(parquet_reporter, "BATCH_FINDINGS", 3)
    assert get_reporter("parquet").render(report) == whole


def test_the_cli_removes_the_spill_after_writing_reports_and_when_writing_fails(
    corpus: Path, small_registry: WorkRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from auditor import spill as spill_module
    from auditor.cli import cli

    made: list[FindingSpill] = []
    original = spill_module.FindingSpill.__init__

    def recording(self: FindingSpill, folder: Any = None) -> None:
        original(self, folder)
        made.append(self)

    monkeypatch.setattr(spill_module.FindingSpill, "__init__", recording)
    out = tmp_path / "out"
    args = ["scan", str(corpus), "-r", str(small_registry.path), "-o", str(out), "--workers", "1", "--quiet"]
    ok = CliRunner().invoke(cli, [*args, "--format", "json,sarif"])
    assert ok.exit_code == 1, ok.output
    assert len(made) == 1 and made[0].closed and not spill_files(out / STATE_DIR)

    def broken(self: Any, report: dict[str, Any]) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(REPORTERS["sarif"], "stream", broken)
    CliRunner().invoke(cli, [*args, "--format", "json,sarif"])
    assert len(made) == 2 and made[1].closed and not spill_files(out / STATE_DIR)


def test_merged_spans_cover_what_the_spans_cover() -> None:
    rng = random.Random(3)
    for _ in range(200):
        spans = [
            (a, a + rng.randint(-3, 40)) for a in (rng.randint(0, 300) for _ in range(rng.randint(0, 30)))
        ]
        covered = {i for start, end in spans for i in range(start, end)}
        merged = engine._union(spans)
        assert sum(end - start for start, end in merged) == len(covered)
        assert all(a[1] < b[0] for a, b in itertools.pairwise(merged))  # disjoint, in order
        assert engine._union(merged[: len(merged) // 2] + spans) == merged
