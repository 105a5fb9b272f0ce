"""The local scan engine: inputs → records → tokens → matches → rules → AuditResult.

Records stream from the readers in input order and are audited in bounded batches, in this process
or in worker processes (``workers``); results come back in input order, so the outcome does not
depend on the number of workers. Another :class:`Engine` (the Ray engine) may instead audit whole
inputs elsewhere and hand back an :class:`InputAudit` of each, in input order: the outcome is the same.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from auditor import kernels
from auditor.checkpoint import CheckpointStore, InputCheckpoint
from auditor.errors import RegistryError
from auditor.lifetime import die_with_parent
from auditor.limits import Limits
from auditor.match import BandLookup, Matcher, MatchSettings
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
from auditor.normalize import tokenize_many
from auditor.readers import FieldSpec, InputFile, discover_inputs, interrupt_reading
from auditor.readers.base import DuplicateIds, file_notes
from auditor.readers.spans import CutAhead, LineCutter, Span, is_plain
from auditor.readers.stream import open_regular
from auditor.registry import WorkRegistry
from auditor.rules import RuleSet
from auditor.sources import SourceKeys, SourceTally, source_keys
from auditor.spill import FindingSpill
from auditor.suppress import Suppressor

BATCH_RECORDS = 256


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """How to scan: fields to read, severity floor, workers and matcher thresholds."""

    fields: FieldSpec = field(default_factory=FieldSpec)
    min_severity: Severity = Severity.INFO
    workers: int = 1
    match: MatchSettings = field(default_factory=MatchSettings)
    limits: Limits = field(default_factory=Limits)


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

    def __init__(
        self,
        registries: Sequence[WorkRegistry],
        rules: RuleSet,
        options: ScanOptions,
        lookups: Sequence[BandLookup] | None = None,
    ) -> None:
        """Audit against ``registries`` with ``rules``; ``lookups`` (one per registry) are where band
        keys are looked up, by default each registry's own index in this process."""
        where: Sequence[BandLookup | None] = lookups or [None] * len(registries)
        self.matchers = [Matcher(r, options.match, at) for r, at in zip(registries, where, strict=True)]
        if self.matchers:
            # Load compiled kernels and the tokenizer's Unicode tables once, here, so that forked
            # workers inherit them instead of each loading them again.
            kernels.warm_up()
            tokenize_many(["\u00e9", "e"])
        rules.warm_up()  # the rules' keyword automaton, likewise
        self.rules = rules
        self.facts = _Facts(registries)
        self.min_severity = options.min_severity

    def audit(self, record: Record) -> list[Finding]:
        return self.audit_batch([record])[0]

    def audit_batch(self, records: Sequence[Record]) -> list[list[Finding]]:
        """Findings of each record: the batch is tokenised and fingerprinted in one pass per registry."""
        texts = [r.text for r in records]
        tokens = tokenize_many(texts)
        metas = [r.meta for r in records]
        per_registry = [matcher.match_many(texts, tokens, metas) for matcher in self.matchers]
        matches = [[m for found in per_registry for m in found[i]] for i in range(len(records))]
        return [
            [f for f in findings if f.severity >= self.min_severity]
            for findings in self.rules.evaluate_many(records, matches, self.facts)
        ]


_WORKER: RecordAuditor | None = None


def _init_worker(auditor: RecordAuditor, parent: int | None = None) -> None:
    global _WORKER
    _WORKER = auditor
    # Ctrl-C reaches the whole process group: the parent alone handles it (and terminates the pool),
    # so workers print no tracebacks; SIGTERM from Pool.terminate() must simply end them; and after a
    # kill -9 of the parent they must not go on auditing queued batches.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if parent is not None:
        die_with_parent(parent)


_Audited = tuple[list[list[Finding]], list[SourceKeys]]
"""A batch's findings and the source keys of its records, both worked out in the worker."""


def _audit_batch(batch: list[Record]) -> _Audited:
    assert _WORKER is not None, "worker used before initialisation"
    return _audited(_WORKER, batch)


def _audited(auditor: RecordAuditor, batch: list[Record]) -> _Audited:
    return auditor.audit_batch(batch), [source_keys(r) for r in batch]


@dataclass(slots=True)
class InputAudit:
    """One input audited whole, by a worker that may be on another machine: what the scan needs of it,
    without the records' texts.

    Attributes:
        name: the input's name in reports.
        size: its size in bytes, and ``mtime_ns`` its modification time, when it was read.
        sha256: the digest of the bytes read ("" when it could not be read).
        records: records audited.
        skipped_rows: records skipped.
        skipped: every Skipped the input gave, in reading order (for an input that could not be
            read, the one that says why).
        found: per record with findings, in row order: its row, raw findings (before suppression)
            and source keys.
        clean: the source tally of the records without findings.
        final: False for a piece of the input (one span of it, see :func:`audit_span`) that more
            pieces follow; the last piece is final and carries the input's size, time and digest.
        span_bytes: a piece's bytes of the input (for progress).
        ids: a piece's record ids, for the input's note on repeated ids.
    """

    name: str
    size: int = 0
    mtime_ns: int = 0
    sha256: str = ""
    records: int = 0
    skipped_rows: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    found: list[tuple[int, list[Finding], SourceKeys]] = field(default_factory=list)
    clean: SourceTally = field(default_factory=SourceTally)
    final: bool = True
    span_bytes: int = 0
    ids: DuplicateIds | None = None

    @property
    def unreadable(self) -> bool:
        return not self.sha256

    def add(self, piece: InputAudit) -> None:
        """Append the next piece of the same input; its last piece also gives size, time and digest."""
        self.records += piece.records
        self.skipped_rows += piece.skipped_rows
        self.skipped.extend(piece.skipped)
        self.found.extend(piece.found)
        self.clean.merge(piece.clean)
        self.span_bytes += piece.span_bytes
        if piece.final:
            self.size, self.mtime_ns, self.sha256, self.final = piece.size, piece.mtime_ns, piece.sha256, True


def _records(
    entries: Iterator[Record | Skipped], on_skip: Callable[[Skipped], None]
) -> Iterator[list[Record]]:
    """Records in batches of :data:`BATCH_RECORDS`; every Skipped goes to ``on_skip``."""
    batch: list[Record] = []
    for entry in entries:
        if isinstance(entry, Skipped):
            on_skip(entry)
            continue
        batch.append(entry)
        if len(batch) >= BATCH_RECORDS:
            yield batch
            batch = []
    if batch:
        yield batch


def audit_input(auditor: RecordAuditor, item: InputFile, fields: FieldSpec, limits: Limits) -> InputAudit:
    """Read and audit one whole input in this process (a worker's unit of work)."""
    result = InputAudit(item.name)
    try:
        stat = item.path.stat()
        result.sha256 = _sha256(item.path)  # hashed before reading, as the local engine does
    except OSError as exc:
        result.skipped.append(Skipped(item.name, None, f"cannot read: {exc.strerror or exc}"))
        result.sha256 = ""
        return result
    result.size, result.mtime_ns = stat.st_size, stat.st_mtime_ns
    _audit_entries(auditor, result, item.reader(fields, limits).read(item.path, item.name))
    return result


def audit_span(
    auditor: RecordAuditor, item: InputFile, span: Span, fields: FieldSpec, limits: Limits
) -> InputAudit:
    """Read and audit one span of a large plain input: a piece of it (not final), with its record ids."""
    ids = DuplicateIds(item.name)
    result = InputAudit(item.name, final=False, span_bytes=span.end - span.start, ids=ids)
    _audit_entries(auditor, result, item.reader(fields, limits).read_span(item.path, item.name, span, ids))
    return result


def _audit_entries(auditor: RecordAuditor, result: InputAudit, entries: Iterator[Record | Skipped]) -> None:
    def on_skip(entry: Skipped) -> None:
        result.skipped.append(entry)
        if entry.row is not None:
            result.skipped_rows += 1

    for batch in _records(entries, on_skip):
        findings, keys = _audited(auditor, batch)
        result.records += len(batch)
        for record, raw, record_keys in zip(batch, findings, keys, strict=True):
            if raw:
                result.found.append((record.row, raw, record_keys))
            else:
                result.clean.add_keys(record_keys, None)


class Engine(Protocol):
    """Where whole inputs are audited when not in this machine's processes (see ``auditor.ray_engine``)."""

    def discover(self, corpus: Sequence[str]) -> tuple[list[Any], list[Skipped]]:
        """The corpus's inputs, sorted by name (each with ``name``, ``size`` and ``reader``), and skips."""
        ...

    def identify(self, item: Any) -> tuple[int, int, str]:
        """An input's size, modification time (ns) and sha256, for resuming from checkpoints."""
        ...

    def audit_inputs(
        self,
        items: Sequence[Any],
        registries: Sequence[WorkRegistry],
        rules: RuleSet,
        options: ScanOptions,
    ) -> Iterator[InputAudit]:
        """:func:`audit_input` of every item, yielded in the order given; an engine may instead yield
        an item in pieces (each a part of its records, in order, see :func:`audit_span`), the last of
        them final."""
        ...


def identify_file(path: Path) -> tuple[int, int, str]:
    """A local input's size, modification time (ns) and sha256: what its checkpoint is keyed on."""
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns, _sha256(path)


def _sha256(path: Path) -> str:
    with open_regular(path) as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class _InputDone:
    """Follows an input's last batch: once consumed, the input is complete and can be checkpointed."""

    checkpoint: InputCheckpoint


@dataclass(slots=True)
class _Replay:
    """Stands for an input restored from its checkpoint, in the place it would have been read."""

    checkpoint: InputCheckpoint


@dataclass(slots=True)
class _Remote:
    """Stands for an input another engine audited whole, with the key its checkpoint is saved under."""

    audit: InputAudit
    key: str


@dataclass(slots=True)
class _Piece:
    """A piece of an input audited in pieces has come back (not the last: that one ends the input's
    :class:`_Remote`). Its findings and source tally are taken as it comes, not held until the input
    is complete: one input may be the whole corpus."""

    piece: InputAudit


_Event = _InputDone | _Replay | _Remote | _Piece | None


def _batches(
    inputs: list[InputFile],
    fields: FieldSpec,
    skipped: list[Skipped],
    counts: dict[str, list[int]],
    limits: Limits,
    digests: dict[str, str],
    store: CheckpointStore | None,
) -> Iterator[tuple[list[Record], _Event]]:
    """Batches of records in input order; a batch never spans two inputs, and each input ends with an
    event (with a batch that may be empty) so that the consumer sees, in order, when it is complete."""
    for item in inputs:
        tally = counts.setdefault(item.name, [0, 0])
        try:
            # Hashed before reading: the digest in the report is of the bytes that were read.
            stat = item.path.stat()
            digests[item.name] = _sha256(item.path)
        except OSError as exc:
            skipped.append(Skipped(item.name, None, f"cannot read: {exc.strerror or exc}"))
            continue
        key = store.key_for(item.name, stat.st_size, stat.st_mtime_ns, digests[item.name]) if store else ""
        saved = store.load(item.name, key) if store else None
        if saved is not None:
            skipped.extend(saved.skipped)
            tally[:] = [saved.records, saved.skipped_rows]
            yield [], _Replay(saved)
            continue
        done = InputCheckpoint(name=item.name, key=key, sha256=digests[item.name])

        def on_skip(entry: Skipped, done: InputCheckpoint = done, tally: list[int] = tally) -> None:
            skipped.append(entry)
            done.skipped.append(entry)
            if entry.row is not None:  # records read = records scanned + records skipped
                tally[1] += 1

        last: list[Record] = []  # held back: the input's last batch travels with its event
        for batch in _records(item.reader(fields, limits).read(item.path, item.name), on_skip):
            tally[0] += len(batch)
            if last:
                yield last, None
            last = batch
        done.records, done.skipped_rows = tally
        yield last, _InputDone(done)


def _remote_batches(
    engine: Engine,
    items: list[Any],
    work: tuple[Sequence[WorkRegistry], RuleSet, ScanOptions],
    skipped: list[Skipped],
    counts: dict[str, list[int]],
    digests: dict[str, str],
    store: CheckpointStore | None,
) -> Iterator[tuple[list[Record], _Event]]:
    """:func:`_batches` for an engine that audits whole inputs: one event per input, in input order."""
    restored: dict[str, InputCheckpoint] = {}
    if store is not None and store.resume:
        for item in items:
            try:
                size, mtime_ns, digest = engine.identify(item)
            except OSError:
                continue  # the worker reports why it cannot be read
            saved = store.load(item.name, store.key_for(item.name, size, mtime_ns, digest))
            if saved is not None:
                restored[item.name] = saved
    audits = engine.audit_inputs([i for i in items if i.name not in restored], *work)
    for item in items:
        tally = counts.setdefault(item.name, [0, 0])
        saved = restored.get(item.name)
        if saved is not None:
            digests[item.name] = saved.sha256
            skipped.extend(saved.skipped)
            tally[:] = [saved.records, saved.skipped_rows]
            yield [], _Replay(saved)
            continue
        audit = InputAudit(item.name, final=False)
        while not audit.final:
            piece = next(audits)
            if piece.name != item.name:
                raise RuntimeError(f"engine returned {piece.name!r} in the place of {item.name!r}")
            if not piece.final:
                yield [], _Piece(piece)  # its findings and tally are taken; the counts add up here
                piece.found, piece.clean = [], SourceTally()
            audit.add(piece)
        skipped.extend(audit.skipped)
        if audit.unreadable:
            continue
        digests[item.name] = audit.sha256
        tally[:] = [audit.records, audit.skipped_rows]
        key = store.key_for(item.name, audit.size, audit.mtime_ns, audit.sha256) if store else ""
        yield [], _Remote(audit, key)


def scan(
    corpus: Sequence[Path | str],
    registries: Sequence[WorkRegistry],
    rules: RuleSet,
    options: ScanOptions | None = None,
    progress: Callable[[Progress], None] | None = None,
    suppressor: Suppressor | None = None,
    checkpoints: CheckpointStore | None = None,
    engine: Engine | None = None,
) -> AuditResult:
    """Audit every record of the corpus against the registries and rules.

    Args:
        corpus: files and folders of corpus shards.
        registries: opened registries (may be empty: rules still run).
        rules: the active rule set.
        options: scan settings.
        progress: called after each batch.
        suppressor: a baseline and waivers to apply to findings as they come (in input order);
            suppressed findings are kept but count towards neither source risk nor flagged records.
        checkpoints: where each completed input is saved and, when resuming, restored from; it
            covers the suppressor only through the settings its caller gives it.
        engine: audit whole inputs there (the Ray engine) instead of in this machine's processes;
            the corpus may then name URLs the engine reads. The outcome is the same.

    Raises:
        UsageError: a corpus path does not exist.
    """
    options = options or ScanOptions()
    started = _now()
    if engine is None:
        inputs, skipped = discover_inputs([Path(c) for c in corpus])
    else:
        inputs, skipped = engine.discover([str(c) for c in corpus])
    skipped = list(skipped)
    bytes_total = sum(item.size for item in inputs)
    counts: dict[str, list[int]] = {}
    # Read the band indexes into memory while the auditor loads its kernels; joined before any look-up.
    holding = _hold_bands(registries, bytes_total) if engine is None else None
    workers = max(1, options.workers)
    plan = _plan(inputs, workers, options.limits) if engine is None else None
    # Large plain inputs are cut (and hashed) from now, in a thread, on the core the start-up leaves
    # idle; not when resuming, where inputs with a checkpoint are not audited at all.
    stop = threading.Event()
    ahead = None
    if plan is not None and (checkpoints is None or not checkpoints.resume):
        ahead = CutAhead(plan_cutters(inputs, plan, workers, stop.is_set))
    # Another engine audits elsewhere: this process then only merges, and needs no auditor of its own.
    try:
        auditor = RecordAuditor(registries, rules, options) if engine is None else None
    except BaseException:
        stop.set()
        raise
    # Findings go to a spill file as they come (made once the checkpoints' folder, where it goes, is
    # locked): memory does not grow with them. What the works' presence needs is kept per work and per
    # book, not per record: spans merged as they pile up, and a count of the records copying each book.
    findings: FindingSpill | None = None
    tally = SourceTally()
    work_spans: dict[tuple[str, str], list[tuple[int, int]]] = {}
    merge_at: dict[tuple[str, str], int] = {}  # a work's spans are merged when they are this many
    book_of: dict[tuple[str, str], tuple[str, str]] = {}  # (registry, work id) → (registry, book)
    book_records: dict[tuple[str, str], int] = {}
    by_name = {r.name: r for r in registries}
    records_done = 0

    # The spill position where each input being audited starts, and its source tally, kept until the
    # input is complete (its checkpoint's findings are read back from the spill).
    open_inputs: dict[str, tuple[int, SourceTally]] = {}

    def take(raw: Sequence[Finding]) -> Sequence[Finding]:
        """Suppress and spill one record's findings, and count what they copy."""
        assert findings is not None, "findings taken before the scan began"
        found = suppressor.apply(raw) if suppressor is not None else raw
        findings.extend(found)
        books: set[tuple[str, str]] = set()
        for f in found:
            if f.work is None or f.kind not in ("near-duplicate", "exact-duplicate"):
                continue
            # Per edition, in its own offsets; _presence merges the editions of a book.
            for work, spans in ((f.work, f.spans), *((e.work, e.spans) for e in f.editions)):
                key = (work.registry, work.id)
                book = book_of.get(key)
                if book is None:
                    registry = by_name[work.registry]
                    book = book_of[key] = (
                        work.registry,
                        registry.refs[registry.index_of(work.id)].group or work.id,
                    )
                books.add(book)
                intervals = work_spans.setdefault(key, [])
                intervals.extend(
                    (s.work_start, s.work_end)
                    for s in spans
                    if s.work_start is not None and s.work_end is not None
                )
                if len(intervals) >= merge_at.get(key, _MERGE_SPANS):
                    intervals[:] = _union(intervals)
                    merge_at[key] = max(_MERGE_SPANS, 2 * len(intervals))
        for book in books:  # a record counts once for each book it copies, whatever the editions
            book_records[book] = book_records.get(book, 0) + 1
        return found

    sizes = {item.name: item.size for item in inputs}
    bytes_done = 0  # of the inputs complete
    open_bytes = 0  # of the input being audited: its pieces' spans, or in batches its texts' lengths
    open_records = 0  # of the input being audited in pieces, counted as its pieces came

    def open_tally(input_name: str) -> SourceTally:
        """The source tally of an input being audited; its spill position is noted when it opens."""
        assert findings is not None, "findings taken before the scan began"
        return open_inputs.setdefault(input_name, (len(findings), SourceTally()))[1]

    def take_record(input_name: str, raw: Sequence[Finding], record_keys: SourceKeys) -> None:
        """Take one record's findings and add its source keys to its input's tally."""
        input_tally = open_tally(input_name)
        found = take(raw)
        worst = max((f.severity for f in found if f.suppressed is None), default=None)
        input_tally.add_keys(record_keys, worst)

    def take_audited(audit: InputAudit) -> None:
        """Take the findings and source tally of an input (or a piece of it) audited by a worker."""
        open_tally(audit.name).merge(audit.clean)
        for _, raw, record_keys in audit.found:
            take_record(audit.name, raw, record_keys)

    def consume(batch: list[Record], audited: _Audited, event: _Event) -> None:
        nonlocal records_done, bytes_done, open_bytes, open_records
        assert findings is not None, "batches consumed before the scan began"
        results, keys = audited
        for record, raw, record_keys in zip(batch, results, keys, strict=True):
            take_record(record.input, raw, record_keys)
        records_done += len(batch)
        if batch:
            open_bytes = min(open_bytes + sum(len(r.text) for r in batch), sizes[batch[0].input])
        if isinstance(event, _Piece):
            take_audited(event.piece)
            records_done += event.piece.records
            open_records += event.piece.records
            open_bytes += event.piece.span_bytes
        if isinstance(event, _Replay):
            for _, raw in event.checkpoint.findings:
                take(raw)
            tally.merge(event.checkpoint.tally)
            records_done += event.checkpoint.records
        elif isinstance(event, _Remote):
            audit = event.audit
            take_audited(audit)
            start, input_tally = open_inputs.pop(audit.name)
            records_done += audit.records - open_records
            tally.merge(input_tally)
            if checkpoints is not None:
                checkpoints.save(
                    InputCheckpoint(
                        name=audit.name,
                        key=event.key,
                        sha256=audit.sha256,
                        records=audit.records,
                        skipped_rows=audit.skipped_rows,
                        skipped=audit.skipped,
                        findings=findings.raw(start),  # read from the spill as the checkpoint is written
                        tally=input_tally,
                    )
                )
        elif isinstance(event, _InputDone):
            complete = event.checkpoint
            start, complete.tally = open_inputs.pop(complete.name, (len(findings), SourceTally()))
            complete.findings = findings.raw(start)  # read from the spill as the checkpoint is written
            tally.merge(complete.tally)
            if checkpoints is not None:
                checkpoints.save(complete)
        if isinstance(event, _Replay | _Remote | _InputDone):
            name = event.checkpoint.name if isinstance(event, _Replay | _InputDone) else event.audit.name
            bytes_done += sizes[name]
            open_bytes = open_records = 0
        if progress:
            progress(Progress(records_done, min(bytes_done + open_bytes, bytes_total), bytes_total))

    digests: dict[str, str] = {}
    try:
        if checkpoints is not None:
            checkpoints.begin(_run_settings(registries, rules, options))
        findings = FindingSpill(checkpoints.folder if checkpoints is not None else None)
    except BaseException:
        stop.set()
        raise
    if plan is not None:
        assert auditor is not None  # planned only for this machine's workers
        engine = _LocalInputs(auditor, workers, plan, stop, ahead)
    if engine is None:
        batches = _batches(inputs, options.fields, skipped, counts, options.limits, digests, checkpoints)
    else:
        work = (registries, rules, options)
        batches = _remote_batches(engine, inputs, work, skipped, counts, digests, checkpoints)
        workers = 1  # the engine audits; this process only takes its results in order
    try:
        if holding is not None:
            holding.join()  # before the first look-up, and before workers fork (they share the copy)
        _run(batches, auditor, consume, workers)
        works = _presence(registries, work_spans, book_of, book_records)
    except BaseException:
        findings.close()  # an error or Ctrl-C: no result will hold the spill
        raise
    finally:
        stop.set()  # the cut ahead, if its inputs were not all audited
        if checkpoints is not None:
            checkpoints.close()

    summaries = tuple(
        InputSummary(
            path=item.name,
            sha256=digests.get(item.name, ""),
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
        findings=findings,
        skipped=tuple(sorted(skipped, key=lambda s: (s.input, s.row if s.row is not None else -1))),
        works=works,
        sources=tally.ranked(),
        sources_by=tally.ranked_by(),
        records_scanned=records_done,
        config_id=_config_id(registries, rules),
        started=started,
        finished=_now(),
        **_suppression_fields(suppressor),
    )


HOLD_BANDS_SHARE = 8
"""A scan reads a registry's band index into memory (:meth:`WorkRegistry.hold_bands`) when its corpus is
at least 1/8 of the index's size. Measured on a 408 MB index: the copy costs 0.2-0.9 CPU-s (0.5-2.2 ms
per MB of index; the more when huge pages must first be compacted), and saves ~17 ms of CPU per MB of
corpus (0.35 of 3.1 CPU-s per 20 MB), so it pays from 1/35 to 1/8 of the index; it runs beside the
auditor's start-up, so its time is hidden where a core is free."""


def _hold_bands(registries: Sequence[WorkRegistry], corpus_bytes: int) -> threading.Thread | None:
    """Start reading into memory the band indexes that a corpus of ``corpus_bytes`` is worth it for,
    in a thread (the read releases the GIL: it overlaps loading the kernels); None when there are none.

    A copy that cannot be made (the file unreadable, no memory) leaves the registry's map in place: the
    same keys, only slower look-ups.
    """
    chosen = [r for r in registries if r.band_bytes and corpus_bytes * HOLD_BANDS_SHARE >= r.band_bytes]
    if not chosen:
        return None

    def hold() -> None:
        for registry in chosen:
            with contextlib.suppress(OSError, MemoryError, RegistryError):
                registry.hold_bands()

    thread = threading.Thread(target=hold, name="auditor-hold-bands", daemon=True)
    thread.start()
    return thread


PART_BYTES = (4 << 20, 64 << 20)
"""The smallest and the largest part of a large plain input that a worker reads on its own."""

TAIL_PART_BYTES = 2 << 20
"""The smallest part near the end of a scan, where parts shrink so that the workers finish together."""


def part_bytes(inputs: Sequence[InputFile], workers: int) -> int:
    """How large the parts are that large plain inputs are cut into: about 8 parts per worker over the
    whole corpus, within :data:`PART_BYTES`."""
    return min(max(sum(item.size for item in inputs) // (8 * workers), PART_BYTES[0]), PART_BYTES[1])


def guided_part(part: int, workers: int, after: int) -> Callable[[int], int]:
    """The size of each part of an input being cut, from the bytes left in it: ``part`` while the scan
    has plenty left (what is left of the input plus ``after``, the inputs after it), then shrinking with
    what is left to :data:`TAIL_PART_BYTES`, so that no worker is still on a large last part while the
    others have nothing left to do (guided self-scheduling)."""

    def size(left: int) -> int:
        return max(min(part, (left + after) // (2 * workers)), min(part, TAIL_PART_BYTES))

    return size


def whole_inputs(inputs: Sequence[InputFile], workers: int, limits: Limits | None = None) -> bool:
    """Whether worker processes should each read and audit whole inputs, or parts of large ones, rather
    than batches this process reads (see :func:`_plan`)."""
    return _plan(inputs, workers, limits or Limits()) is not None


@dataclass(frozen=True, slots=True)
class _Plan:
    """How workers share a scan's inputs: the size of a part, and the inputs cut into parts."""

    part: int
    cut: frozenset[str]


def _plan(inputs: Sequence[InputFile], workers: int, limits: Limits) -> _Plan | None:
    """Workers read and audit whole inputs, or parts of large ones, themselves: reading and decoding
    then run in the workers too, where batches leave them to this process (the limit of a batch scan's
    speed-up). It takes enough units of work (inputs and parts) of even enough size: a large
    compressed input, which only one worker can read, would keep the others waiting. None: batches."""
    if workers < 2:
        return None
    plan = cut_plan(inputs, workers, limits)
    units: list[int] = []
    for item in inputs:
        units += [plan.part] * -(-item.size // plan.part) if item.name in plan.cut else [item.size]
    if len(units) >= 2 * workers and max(units) * workers <= sum(units):
        return plan
    return None


def cut_plan(inputs: Sequence[Any], workers: int, limits: Limits) -> _Plan:
    """The size of parts for ``workers`` and the inputs read in parts: this machine's large plain
    line-oriented files (an input of another kind, such as a URL, is never cut)."""
    part = part_bytes(inputs, workers)
    return _Plan(
        part, frozenset(i.name for i in inputs if isinstance(i, InputFile) and _cuts(i, part, limits))
    )


def _cuts(item: InputFile, part: int, limits: Limits) -> bool:
    """Whether an input is read in parts: line-oriented, plain (not compressed) and over two parts."""
    if not item.reader.splits or item.size <= 2 * part:
        return False
    try:
        return is_plain(item.path, limits)
    except OSError:
        return False  # read whole, by a worker that reports why it cannot


def _audit_unit(call: tuple[InputFile, Span | None, FieldSpec, Limits]) -> InputAudit:
    assert _WORKER is not None, "worker used before initialisation"
    item, span, fields, limits = call
    if span is None:
        return audit_input(_WORKER, item, fields, limits)
    return audit_span(_WORKER, item, span, fields, limits)


Unit = tuple[Any, Span | None]
"""A unit of work: an input, and one span of it to audit (None: the whole input)."""


def plan_cutters(
    items: Sequence[Any], plan: _Plan, workers: int, cancelled: Callable[[], bool]
) -> dict[str, LineCutter]:
    """A :class:`LineCutter` for each input the plan cuts, by name, in input order: its parts shrink
    towards the end of the scan (:func:`guided_part`), counting the inputs after it."""
    cutters = {}
    after = sum(item.size for item in items)  # bytes of the inputs after the current one
    for item in items:
        after -= item.size
        if item.name in plan.cut:
            cutters[item.name] = LineCutter(item.path, guided_part(plan.part, workers, after), cancelled)
    return cutters


def audit_in_parts(
    items: Sequence[Any],
    plan: _Plan,
    workers: int,
    audit: Callable[[Iterator[Unit]], Iterator[InputAudit]],
    stop: threading.Event,
    ahead: CutAhead | None = None,
) -> Iterator[InputAudit]:
    """Inputs audited whole, or in spans for those the plan cuts, as the :class:`Engine` protocol
    yields them: each input's pieces, then the input itself (see :meth:`InputAudit.add`).

    A cut input is hashed and cut as it is read (:class:`LineCutter`), and each span goes out as soon
    as it is found, so the audits start before the input has been read to its end; parts shrink
    towards the end of the scan (:func:`guided_part`). The pieces of an input are held until its cut is
    complete: a read that fails part way turns them into one whole read (the pieces are dropped), which
    then reports what a batch scan would.

    Args:
        audit: audits the units it pulls from the iterator it is given, yielding one InputAudit per
            unit, in order (a pool's ``imap``, or a cluster's ordered tasks); it may pull ahead.
        stop: set to stop cutting (the caller sets it when it stops, on an error or Ctrl-C).
        ahead: the cutters of :func:`plan_cutters` for these items, already cutting in a thread (made
            with ``stop``); None to cut here, as the units are pulled.
    """
    # What each unit sent is, in order: its input, and for a span the cutter and the span's index.
    sent: deque[tuple[Any, LineCutter | None, int]] = deque()
    if ahead is not None and set(ahead.cutters) != {i.name for i in items if i.name in plan.cut}:
        raise ValueError("the inputs cut ahead are not the ones these items' plan cuts")
    cutters = ahead.cutters if ahead is not None else plan_cutters(items, plan, workers, stop.is_set)

    def units() -> Iterator[Unit]:
        for item in items:
            cutter = cutters.get(item.name)
            if cutter is not None:
                found = ahead.spans(item.name) if ahead is not None else iter(cutter)
                with contextlib.suppress(OSError):  # kept in cutter.error
                    for index, span in enumerate(found):
                        sent.append((item, cutter, index))
                        yield item, span
                if stop.is_set():
                    return
                if cutter.error is None:
                    continue
            # Read whole: not cut, or its read failed (whatever spans had gone out). A worker then
            # reports why it cannot read it, or reads it after all: what a batch scan reports.
            sent.append((item, None, 0))
            yield item, None

    ids, produced = DuplicateIds(""), False
    # The pieces of the input being cut, held until its cut is complete: until then a failed read may
    # still turn them into one whole read (and they are dropped).
    held: list[InputAudit] = []
    for piece in audit(units()):
        item, cutter, index = sent.popleft()
        if cutter is None:
            held.clear()  # a failed cut's pieces, replaced by this whole read
            yield piece
            continue
        if index == 0:
            ids, produced = DuplicateIds(item.name), False
        assert piece.ids is not None
        ids.extend(piece.ids)
        produced = produced or bool(piece.records or piece.skipped)
        piece.ids = None
        held.append(piece)
        cut = cutter.cut
        if cut is None:
            continue  # still cutting
        yield from held
        held.clear()
        if index == len(cut.spans) - 1:
            yield InputAudit(
                item.name,
                size=cut.size,
                mtime_ns=cut.mtime_ns,
                sha256=cut.sha256,
                skipped=file_notes(item.name, produced, ids),
            )


class _LocalInputs:
    """The :class:`Engine` protocol over this machine's worker processes: each audits whole inputs, or
    spans of a large plain input, which this process cuts (hashing the input as it goes) and hands out
    as it finds them, so the workers start before the input has been read to its end."""

    def __init__(
        self,
        auditor: RecordAuditor,
        workers: int,
        plan: _Plan,
        stop: threading.Event | None = None,
        ahead: CutAhead | None = None,
    ) -> None:
        self.auditor = auditor
        self.workers = workers
        self.plan = plan
        self.stop = stop or threading.Event()
        self.ahead = ahead

    def discover(self, corpus: Sequence[str]) -> tuple[list[Any], list[Skipped]]:
        found, skipped = discover_inputs([Path(c) for c in corpus])
        return list(found), list(skipped)

    def identify(self, item: Any) -> tuple[int, int, str]:
        return identify_file(item.path)

    def audit_inputs(
        self,
        items: Sequence[Any],
        registries: Sequence[WorkRegistry],
        rules: RuleSet,
        options: ScanOptions,
    ) -> Iterator[InputAudit]:
        if not items:
            return
        ctx = multiprocessing.get_context(
            "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        )
        stop, ahead = self.stop, self.ahead
        self.ahead = None  # its cutters are for one pass over these items

        def audit(units: Iterator[Unit]) -> Iterator[InputAudit]:
            # The pool pulls units in its task thread: spans go out as the cutter finds them.
            calls = ((item, span, options.fields, options.limits) for item, span in units)
            return pool.imap(_audit_unit, calls, chunksize=1)

        with ctx.Pool(self.workers, initializer=_init_worker, initargs=(self.auditor, os.getpid())) as pool:
            try:
                yield from audit_in_parts(items, self.plan, self.workers, audit, stop, ahead)
            finally:
                stop.set()


def _run(
    batches: Iterator[tuple[list[Record], _Event]],
    auditor: RecordAuditor | None,
    consume: Callable[[list[Record], _Audited, _Event], None],
    workers: int,
) -> None:
    """Audit the batches here or in worker processes; results are consumed in input order either way."""
    if workers == 1:
        for batch, event in batches:
            if not batch:  # an input without records, or one another engine audited whole
                consume(batch, ([], []), event)
                continue
            assert auditor is not None, "records to audit in a scan without an auditor"
            consume(batch, _audited(auditor, batch), event)
        return
    assert auditor is not None, "worker processes without an auditor"
    ctx = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    )
    # Pool.imap pulls tasks as fast as it can; the semaphore keeps at most a few batches per worker
    # in flight, so memory stays bounded however large the corpus.
    in_flight = threading.Semaphore(workers * 4)
    sent: deque[tuple[list[Record], _Event]] = deque()
    # The pool reads `bounded` in its task-handler thread and joins that thread when it shuts down:
    # after Ctrl-C, SIGTERM or an error, the reader must stop waiting (for a permit or for the Parquet
    # sandbox) or the shutdown would hang.
    stop = threading.Event()

    def bounded() -> Iterator[list[Record]]:
        for batch, event in batches:
            while not in_flight.acquire(timeout=0.1):
                if stop.is_set():
                    return
            if stop.is_set():
                return
            sent.append((batch, event))
            yield batch

    with ctx.Pool(workers, initializer=_init_worker, initargs=(auditor, os.getpid())) as pool:
        try:
            for results in pool.imap(_audit_batch, bounded(), chunksize=1):
                batch, event = sent.popleft()
                consume(batch, results, event)
                in_flight.release()
        finally:
            stop.set()
            interrupt_reading()


def _run_settings(registries: Sequence[WorkRegistry], rules: RuleSet, options: ScanOptions) -> dict[str, Any]:
    """Everything besides the inputs that decides a scan's findings: checkpoints are valid only under it."""
    return {
        "config_id": _config_id(registries, rules),
        "registries": [r.manifest["digest"] for r in registries],
        "rule_packs": [p.digest for p in rules.packs],
        "rules": rules.describe(),
        "use": rules.use,
        "fields": dataclasses.asdict(options.fields),
        "min_severity": options.min_severity.label,
        "match": dataclasses.asdict(options.match),
        "limits": options.limits.to_dict(),
    }


def _suppression_fields(suppressor: Suppressor | None) -> dict[str, Any]:
    """The AuditResult fields of the suppressions' audit trail (none without suppressions)."""
    if suppressor is None:
        return {}
    outcome = suppressor.outcome()
    return {
        "baseline": outcome.baseline,
        "waivers": outcome.waivers,
        "suppressed_as_of": outcome.as_of,
        "notifications": outcome.notifications,
    }


_MERGE_SPANS = 256
"""Matched spans kept per work before they are merged into their union (coverage needs only that);
after a merge, twice as many as the union has, so merging stays linear in the spans."""


def _union(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The union of half-open intervals as disjoint ones, in order (empty ones dropped)."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def _presence(
    registries: Sequence[WorkRegistry],
    spans: dict[tuple[str, str], list[tuple[int, int]]],
    books: dict[tuple[str, str], tuple[str, str]],
    records: dict[tuple[str, str], int],
) -> tuple[WorkPresence, ...]:
    """How much of each book was found: one entry per (registry, edition group).

    Editions of one book (the EPUB and the PDF) have their own texts, so their work offsets are in
    different coordinate systems and are never unioned together. Each edition's coverage is the union
    of its own matched spans (as the finding's work or as one of its ``editions``) over its own
    characters; the book's entry names the edition with the highest coverage (ties: the smallest work
    id) and reports that coverage — a lower bound of the share of the book found — and lists the other
    editions found. ``records`` counts each record that copies any edition of the book once.

    Args:
        registries: the registries of the scan.
        spans: per (registry, work id), the work offsets of spans matched in that edition (any of them
            may already be merged into their union).
        books: per (registry, work id) of every edition copied, its book: (registry, edition group).
        records: per book, the records that copy any edition of it.
    """

    def coverage(intervals: list[tuple[int, int]], chars: int) -> float:
        covered = sum(end - start for start, end in _union(intervals))
        return covered / chars if chars else 0.0

    by_name = {r.name: r for r in registries}
    editions_of: dict[tuple[str, str], list[int]] = {}
    for (registry_name, work_id), book in books.items():
        editions_of.setdefault(book, []).append(by_name[registry_name].index_of(work_id))
    out: list[WorkPresence] = []
    for book, editions in editions_of.items():
        registry_name = book[0]
        registry = by_name[registry_name]
        ids = {idx: registry.refs[idx].id for idx in editions}
        shares = {
            idx: coverage(spans.get((registry_name, ids[idx]), []), registry.work_chars(idx))
            for idx in editions
        }
        best = min(editions, key=lambda idx: (-shares[idx], ids[idx]))
        out.append(
            WorkPresence(
                work=registry.refs[best],
                coverage=shares[best],
                records=records[book],
                work_tokens=registry.work_tokens(best),
                editions=tuple(
                    registry.refs[idx] for idx in sorted(editions, key=ids.__getitem__) if idx != best
                ),
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
