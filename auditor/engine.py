"""The local scan engine: inputs → records → tokens → matches → rules → AuditResult.

Records stream from the readers in input order and are audited in bounded batches, in this process
or in worker processes (``workers``); results come back in input order, so the outcome does not
depend on the number of workers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from auditor.match import Matcher, MatchSettings
from auditor.models import (
    AuditResult,
    Finding,
    InputSummary,
    Record,
    Severity,
    Skipped,
    WorkPresence,
    WorkRef,
)
from auditor.normalize import tokenize
from auditor.readers import FieldSpec, InputFile, discover_inputs
from auditor.registry import WorkRegistry
from auditor.rules import RuleSet
from auditor.sources import SourceTally

BATCH_RECORDS = 256


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """How to scan: fields to read, severity floor, workers and matcher thresholds."""

    fields: FieldSpec = field(default_factory=FieldSpec)
    min_severity: Severity = Severity.INFO
    workers: int = 1
    match: MatchSettings = field(default_factory=MatchSettings)


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a scan is: records audited, input bytes read so far of the total."""

    records: int
    bytes_done: int
    bytes_total: int


class _Facts:
    """What rules may ask of the registries (ISBN look-up across all of them)."""

    def __init__(self, registries: Sequence[WorkRegistry]) -> None:
        self._registries = registries

    def work_for_isbn(self, isbn13: str) -> WorkRef | None:
        for registry in self._registries:
            ref = registry.work_for_isbn(isbn13)
            if ref is not None:
                return ref
        return None


class RecordAuditor:
    """Audits one record at a time against every registry and rule; held once per worker."""

    def __init__(self, registries: Sequence[WorkRegistry], rules: RuleSet, options: ScanOptions) -> None:
        self.matchers = [Matcher(r, options.match) for r in registries]
        self.rules = rules
        self.facts = _Facts(registries)
        self.min_severity = options.min_severity

    def audit(self, record: Record) -> list[Finding]:
        tokens = tokenize(record.text)
        matches = [m for matcher in self.matchers for m in matcher.match(record.text, tokens)]
        findings = self.rules.evaluate(record, matches, self.facts)
        return [f for f in findings if f.severity >= self.min_severity]


_WORKER: RecordAuditor | None = None


def _init_worker(auditor: RecordAuditor) -> None:
    global _WORKER
    _WORKER = auditor


def _audit_batch(batch: list[Record]) -> list[list[Finding]]:
    assert _WORKER is not None, "worker used before initialisation"
    return [_WORKER.audit(record) for record in batch]


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _batches(
    inputs: list[InputFile],
    fields: FieldSpec,
    skipped: list[Skipped],
    counts: dict[str, list[int]],
) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for item in inputs:
        tally = counts.setdefault(item.name, [0, 0])
        for entry in item.reader(fields).read(item.path, item.name):
            if isinstance(entry, Skipped):
                skipped.append(entry)
                tally[1] += 1
                continue
            tally[0] += 1
            batch.append(entry)
            if len(batch) >= BATCH_RECORDS:
                yield batch
                batch = []
    if batch:
        yield batch


def scan(
    corpus: Sequence[Path],
    registries: Sequence[WorkRegistry],
    rules: RuleSet,
    options: ScanOptions | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> AuditResult:
    """Audit every record of the corpus against the registries and rules.

    Args:
        corpus: files and folders of corpus shards.
        registries: opened registries (may be empty: rules still run).
        rules: the active rule set.
        options: scan settings.
        progress: called after each batch.

    Raises:
        UsageError: a corpus path does not exist.
    """
    options = options or ScanOptions()
    started = _now()
    inputs, skipped = discover_inputs(list(corpus))
    skipped = list(skipped)
    bytes_total = sum(item.path.stat().st_size for item in inputs)
    counts: dict[str, list[int]] = {}
    auditor = RecordAuditor(registries, rules, options)
    findings: list[Finding] = []
    tally = SourceTally()
    work_spans: dict[tuple[str, str], list[tuple[int, int]]] = {}
    work_records: dict[tuple[str, str], set[tuple[str, int]]] = {}
    records_done = 0

    def consume(batch: list[Record], results: list[list[Finding]]) -> None:
        nonlocal records_done
        for record, found in zip(batch, results, strict=True):
            findings.extend(found)
            tally.add(record.ref, max((f.severity for f in found), default=None))
            for f in found:
                if f.work is None or f.kind not in ("near-duplicate", "exact-duplicate"):
                    continue
                key = (f.work.registry, f.work.id)
                work_records.setdefault(key, set()).add((record.input, record.row))
                work_spans.setdefault(key, []).extend(
                    (s.work_start, s.work_end)
                    for s in f.spans
                    if s.work_start is not None and s.work_end is not None
                )
        records_done += len(batch)
        if progress:
            done = sum(i.path.stat().st_size for i in inputs if i.name in counts) if inputs else 0
            progress(Progress(records_done, min(done, bytes_total), bytes_total))

    batches = _batches(inputs, options.fields, skipped, counts)
    workers = max(1, options.workers)
    if workers == 1:
        for batch in batches:
            consume(batch, [auditor.audit(r) for r in batch])
    else:
        ctx = multiprocessing.get_context(
            "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        )
        # Pool.imap pulls tasks as fast as it can; the semaphore keeps at most a few batches per worker
        # in flight, so memory stays bounded however large the corpus.
        in_flight = threading.Semaphore(workers * 4)
        sent: deque[list[Record]] = deque()

        def bounded() -> Iterator[list[Record]]:
            for batch in batches:
                in_flight.acquire()
                sent.append(batch)
                yield batch

        with ctx.Pool(workers, initializer=_init_worker, initargs=(auditor,)) as pool:
            for results in pool.imap(_audit_batch, bounded(), chunksize=1):
                consume(sent.popleft(), results)
                in_flight.release()

    summaries = tuple(
        InputSummary(
            path=item.name,
            sha256=_sha256(item.path),
            records=counts.get(item.name, [0, 0])[0],
            skipped=counts.get(item.name, [0, 0])[1],
            format=item.reader.format,
        )
        for item in inputs
    )
    return AuditResult(
        inputs=summaries,
        registries=tuple(r.info for r in registries),
        rule_packs=rules.packs,
        findings=tuple(findings),
        skipped=tuple(sorted(skipped, key=lambda s: (s.input, s.row if s.row is not None else -1))),
        works=_presence(registries, work_spans, work_records),
        sources=tally.ranked(),
        records_scanned=records_done,
        config_id=_config_id(registries, rules),
        started=started,
        finished=_now(),
    )


def _presence(
    registries: Sequence[WorkRegistry],
    spans: dict[tuple[str, str], list[tuple[int, int]]],
    records: dict[tuple[str, str], set[tuple[str, int]]],
) -> tuple[WorkPresence, ...]:
    out: list[WorkPresence] = []
    by_name = {r.name: r for r in registries}
    for (registry_name, work_id), intervals in spans.items():
        registry = by_name[registry_name]
        idx = registry.index_of(work_id)
        chars = registry.work_chars(idx)
        covered = 0
        end_so_far = -1
        for start, end in sorted(intervals):
            start = max(start, end_so_far)
            if end > start:
                covered += end - start
            end_so_far = max(end_so_far, end)
        out.append(
            WorkPresence(
                work=registry.refs[idx],
                coverage=covered / chars if chars else 0.0,
                records=len(records[(registry_name, work_id)]),
                work_tokens=registry.work_tokens(idx),
            )
        )
    return tuple(sorted(out, key=lambda w: (-w.coverage, -w.records, w.work.registry, w.work.id)))


def _config_id(registries: Sequence[WorkRegistry], rules: RuleSet) -> str:
    """One id for everything that decides findings: fingerprint config, registries, rule packs."""
    parts = [r.manifest["config_id"] + "@" + r.manifest["digest"] for r in registries]
    parts += [p.name + "@" + p.digest for p in rules.packs]
    return "sha256:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
