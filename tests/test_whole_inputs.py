"""With many inputs, workers read and audit whole inputs (decoding runs in them, not in the parent):
the outcome is the one of a batch scan, suppressions and checkpoints included."""

from __future__ import annotations

import dataclasses
import gzip
import json
import shutil
from pathlib import Path

import pytest

from auditor import engine
from auditor.checkpoint import CheckpointStore
from auditor.models import AuditResult
from auditor.readers import discover_inputs, spans
from auditor.registry import WorkRegistry, build_registry
from auditor.report import build_report
from auditor.rules import load_rule_set
from auditor.suppress import load_suppressor
from auditor.synth import build_sample_corpora


@pytest.fixture(scope="module")
def sharded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, WorkRegistry]:
    root = tmp_path_factory.mktemp("whole-inputs")
    build_sample_corpora(root / "source", 11)
    crawl = root / "source" / "webcrawl"
    shards = root / "shards"
    shards.mkdir()
    with gzip.open(crawl / "crawl-00000.jsonl.gz", "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    for n in range(6):
        with (shards / f"part-{n}.jsonl").open("w", encoding="utf-8") as out:
            out.writelines(json.dumps(row) + "\n" for row in rows[n::6])
    shutil.copy(crawl / "crawl-00001.parquet", shards / "part-6.parquet")
    (shards / "part-7.jsonl").write_text('{"text": "a short line of text to read"}\n{broken\n\n[1, 2]\n')
    build_registry([root / "source" / "registry"], root / "registry", name="gen")
    return shards, WorkRegistry(root / "registry")


def _same(a: AuditResult, b: AuditResult) -> None:
    assert dataclasses.replace(a, started="", finished="") == dataclasses.replace(b, started="", finished="")


def test_many_inputs_are_audited_whole_in_the_workers_with_the_batch_scan_s_outcome(sharded):
    shards, registry = sharded
    inputs, _ = discover_inputs([shards])
    assert engine.whole_inputs(inputs, 2) and not engine.whole_inputs(inputs, 1)
    rules = load_rule_set()
    batch = engine.scan([shards], [registry], rules, engine.ScanOptions(workers=1))
    whole = engine.scan([shards], [registry], rules, engine.ScanOptions(workers=2))
    assert batch.records_scanned > 3000 and any(f.kind == "near-duplicate" for f in batch.findings)
    assert [s.row for s in batch.skipped if s.input.endswith("part-7.jsonl")] == [2, 4]
    _same(batch, whole)


def test_a_baseline_suppresses_the_same_findings_in_either_mode(sharded, tmp_path):
    shards, registry = sharded
    rules = load_rule_set()
    first = engine.scan([shards], [registry], rules, engine.ScanOptions(workers=1))
    baseline = tmp_path / "baseline.json"
    report = build_report(first, command=["auditor"], exit_code=1, rules=rules.describe())
    # half the findings go into the baseline: the order in which findings meet it matters
    report["findings"] = list(report["findings"])[::2]  # a lazy sequence: listed to be json.dumps'd
    baseline.write_text(json.dumps(report), encoding="utf-8")
    results = [
        engine.scan(
            [shards],
            [registry],
            rules,
            engine.ScanOptions(workers=w),
            suppressor=load_suppressor(baseline, None, rules),
        )
        for w in (1, 2)
    ]
    assert any(f.suppressed for f in results[0].findings)
    _same(*results)


def test_checkpoints_written_by_whole_input_workers_restore_in_a_batch_scan(sharded, tmp_path):
    shards, registry = sharded
    rules = load_rule_set()
    store = CheckpointStore(tmp_path / "state", resume=False)
    whole = engine.scan([shards], [registry], rules, engine.ScanOptions(workers=2), checkpoints=store)
    again = CheckpointStore(tmp_path / "state", resume=True)
    resumed = engine.scan([shards], [registry], rules, engine.ScanOptions(workers=1), checkpoints=again)
    assert again.restored == 8
    _same(whole, resumed)


@pytest.fixture(scope="module")
def one_large_input(sharded: tuple[Path, WorkRegistry], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every shard's JSON Lines in one file, with broken rows and repeated ids spread through it."""
    shards, _ = sharded
    lines: list[str] = []
    for shard in sorted(shards.glob("part-*.jsonl")):
        lines += shard.read_text(encoding="utf-8").splitlines()
    for n, at in enumerate(range(0, len(lines), 150)):
        lines.insert(at, "{broken" if n % 2 else json.dumps({"id": "again", "text": f"repeated id {n}"}))
    path = tmp_path_factory.mktemp("large") / "large.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_one_large_input_is_read_in_spans_by_the_workers_with_the_batch_scan_s_outcome(
    sharded, one_large_input, small_parts
):
    _, registry = sharded
    cutters = small_parts((64 << 10, 256 << 10), 8 << 10)
    inputs, _ = discover_inputs([one_large_input])
    assert len(inputs) == 1 and engine.whole_inputs(inputs, 2)
    rules = load_rule_set()
    seen: list[engine.Progress] = []
    batch = engine.scan([one_large_input], [registry], rules, engine.ScanOptions(workers=1))
    spans = engine.scan(
        [one_large_input], [registry], rules, engine.ScanOptions(workers=2), progress=seen.append
    )
    assert batch.records_scanned > 1000 and any(f.kind == "near-duplicate" for f in batch.findings)
    assert any("duplicate record ids" in s.reason for s in batch.skipped)
    assert sum(s.row is not None for s in batch.skipped) > 5
    _same(batch, spans)
    # the parts shrink towards the end of the scan, down to the tail's size
    (cut,) = [c.cut for c in cutters]
    assert cut is not None
    sizes = [s.end - s.start for s in cut.spans]
    assert min(sizes[:3]) >= 64 << 10 and max(sizes[-3:-1]) < 16 << 10
    # progress moves with each span, not once at the end of the input
    done = [p.bytes_done for p in seen]
    assert len(set(done)) > 5 and done == sorted(done) and done[-1] == seen[-1].bytes_total


def test_guided_parts_shrink_with_the_bytes_left_in_the_scan_but_never_below_the_tail_size() -> None:
    part = engine.guided_part(100 << 20, 2, after=0)
    assert part(10 << 30) == 100 << 20  # plenty left: full parts
    assert part(200 << 20) == 50 << 20  # a quarter of what is left, with two workers
    assert part(1 << 20) == part(0) == engine.TAIL_PART_BYTES
    assert engine.guided_part(100 << 20, 2, after=1 << 30)(1 << 20) == 100 << 20  # inputs follow
    assert engine.guided_part(1 << 20, 2, after=0)(0) == 1 << 20  # never above the part


def test_an_input_whose_read_fails_part_way_through_its_cut_is_read_whole_instead(
    sharded, one_large_input, monkeypatch
):
    """Spans go out to the workers as the parent's read finds them; if that read then fails, the spans
    already audited are dropped and a worker reads the input whole: the batch scan's outcome."""
    _, registry = sharded
    monkeypatch.setattr(engine, "PART_BYTES", (64 << 10, 256 << 10))
    monkeypatch.setattr(spans, "_CHUNK", 64 << 10)
    rules = load_rule_set()
    batch = engine.scan([one_large_input], [registry], rules, engine.ScanOptions(workers=1))
    handed_out: list[int] = []
    failed: list[Path] = []
    opened, spans_of = spans.open_regular, spans.LineCutter._spans

    class FailingRead:  # reads fail after the twelfth
        def __init__(self, path: Path) -> None:
            self.path, self.handle, self.good = path, opened(path), 12

        def __enter__(self) -> FailingRead:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def read(self, size: int = -1) -> bytes:
            if self.good == 0:
                failed.append(self.path)
                raise OSError(5, "Input/output error")
            self.good -= 1
            return self.handle.read(size)

    def counted(self, *args):
        for span in spans_of(self, *args):
            handed_out.append(span.start)
            yield span

    monkeypatch.setattr(spans, "open_regular", FailingRead)
    monkeypatch.setattr(spans.LineCutter, "_spans", counted)
    read_whole = engine.scan([one_large_input], [registry], rules, engine.ScanOptions(workers=2))
    assert failed == [one_large_input]
    assert len(handed_out) >= 2  # spans had gone out to the workers before the read failed
    _same(batch, read_whole)


def test_a_large_compressed_input_is_not_cut(sharded, one_large_input, tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "PART_BYTES", (64 << 10, 256 << 10))
    packed = tmp_path / "large.jsonl.gz"
    packed.write_bytes(gzip.compress(one_large_input.read_bytes()))
    inputs, _ = discover_inputs([one_large_input, packed])
    assert engine.whole_inputs(inputs[:1], 2) and not engine.whole_inputs(inputs[1:], 2)


def test_checkpoints_of_an_input_read_in_spans_restore_in_a_batch_scan(
    sharded, one_large_input, tmp_path, monkeypatch
):
    _, registry = sharded
    monkeypatch.setattr(engine, "PART_BYTES", (64 << 10, 256 << 10))
    rules = load_rule_set()
    store = CheckpointStore(tmp_path / "state", resume=False)
    spans = engine.scan(
        [one_large_input], [registry], rules, engine.ScanOptions(workers=2), checkpoints=store
    )
    again = CheckpointStore(tmp_path / "state", resume=True)
    resumed = engine.scan(
        [one_large_input], [registry], rules, engine.ScanOptions(workers=1), checkpoints=again
    )
    assert again.restored == 1
    _same(spans, resumed)


def _recording_cut_ahead(monkeypatch: pytest.MonkeyPatch) -> list[spans.CutAhead]:
    made: list[spans.CutAhead] = []
    real = engine.CutAhead

    def record(cutters):
        made.append(real(cutters))
        return made[-1]

    monkeypatch.setattr(engine, "CutAhead", record)
    return made


def test_a_large_input_is_cut_while_the_auditor_loads_its_kernels(sharded, one_large_input, monkeypatch):
    """The cut (a read and a sha256 of the whole input) starts before the auditor is made, so it runs
    beside the start-up rather than beside the workers: this auditor waits for it to end."""
    _, registry = sharded
    monkeypatch.setattr(engine, "PART_BYTES", (64 << 10, 256 << 10))
    rules = load_rule_set()
    batch = engine.scan([one_large_input], [registry], rules, engine.ScanOptions(workers=1))
    made = _recording_cut_ahead(monkeypatch)
    real = engine.RecordAuditor

    class Waits(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs) -> None:
            (ahead,) = made
            ahead._thread.join(timeout=60)
            assert not ahead._thread.is_alive(), "the input was not being cut while the auditor loaded"
            (cutter,) = ahead.cutters.values()
            assert cutter.cut is not None and cutter.cut.sha256 == batch.inputs[0].sha256
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(engine, "RecordAuditor", Waits)
    cut_ahead = engine.scan([one_large_input], [registry], rules, engine.ScanOptions(workers=2))
    _same(batch, cut_ahead)


def test_a_scan_that_fails_while_loading_stops_the_cut_ahead(sharded, one_large_input, monkeypatch):
    _, registry = sharded
    monkeypatch.setattr(engine, "PART_BYTES", (64 << 10, 256 << 10))
    made = _recording_cut_ahead(monkeypatch)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "RecordAuditor", interrupted)
    with pytest.raises(KeyboardInterrupt):
        engine.scan([one_large_input], [registry], load_rule_set(), engine.ScanOptions(workers=2))
    (ahead,) = made
    ahead.join()
    assert all(cutter.cancelled() for cutter in ahead.cutters.values())


def test_a_resumed_scan_cuts_no_input_ahead(sharded, one_large_input, tmp_path, monkeypatch):
    """Inputs with a checkpoint are not audited when resuming: none is cut before that is known."""
    _, registry = sharded
    monkeypatch.setattr(engine, "PART_BYTES", (64 << 10, 256 << 10))
    rules = load_rule_set()
    made = _recording_cut_ahead(monkeypatch)
    first = engine.scan(
        [one_large_input],
        [registry],
        rules,
        engine.ScanOptions(workers=2),
        checkpoints=CheckpointStore(tmp_path / "state", resume=False),
    )
    assert len(made) == 1
    again = CheckpointStore(tmp_path / "state", resume=True)
    resumed = engine.scan(
        [one_large_input], [registry], rules, engine.ScanOptions(workers=2), checkpoints=again
    )
    assert len(made) == 1 and again.restored == 1
    _same(first, resumed)
