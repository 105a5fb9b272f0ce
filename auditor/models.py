"""Values that cross stages: records, works, matches, findings, skips and the audit result."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class Severity(IntEnum):
    """How bad a finding is; ordered so that comparisons mean "at least as bad as"."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str | int | Severity) -> Severity:
        """Read a severity from its name (any case) or its number.

        Raises:
            ValueError: the value names no severity; the message lists the valid ones.
        """
        if isinstance(value, Severity):
            return value
        if isinstance(value, int):
            return cls(value)
        try:
            return cls[str(value).strip().upper()]
        except KeyError:
            names = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {value!r}: use one of {names}") from None


SEVERITY_NAMES: tuple[str, ...] = tuple(s.label for s in sorted(Severity, reverse=True))
"""Severity names from the worst down, the order reports list them in."""


@dataclass(frozen=True, slots=True)
class Record:
    """One corpus record as read from an input.

    Attributes:
        id: the record's id field, else ``<input>:<row>``.
        text: the text to audit, exactly as read (offsets point into it).
        input: the input file, relative to the corpus root given on the command line.
        row: 1-based position of the record in its input (the line for JSONL, the row for Parquet).
        url: the record's URL, if any.
        license: the declared licence, as written, if any.
        meta: every other top-level field, for metadata rules.
    """

    id: str
    text: str
    input: str
    row: int
    url: str | None = None
    license: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> RecordRef:
        return RecordRef(id=self.id, input=self.input, row=self.row, url=self.url)


@dataclass(frozen=True, slots=True)
class RecordRef:
    """Where a record is: enough to find it again without holding its text."""

    id: str
    input: str
    row: int
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Skipped:
    """An input, or one row of it, that could not be audited, and why."""

    input: str
    row: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class WorkRef:
    """Enough of a registered work to name it in a finding."""

    id: str
    title: str
    registry: str
    isbns: tuple[str, ...] = ()
    group: str = ""
    """The work's edition group in its registry (editions and formats of one book share it; the
    smallest work id of the group); "" when unknown."""


@dataclass(frozen=True, slots=True)
class Span:
    """Character offsets of one matched passage in the record and, for copies, in the work.

    Ends are exclusive. ``work_start``/``work_end`` are None for record-only evidence (a notice).
    """

    record_start: int
    record_end: int
    work_start: int | None = None
    work_end: int | None = None


class Evidence:
    """The text behind one span, cut to a readable length; ``work_text`` is None when unavailable.

    Immutable, and held as one UTF-8 string of bytes until read: evidence is most of a finding's
    memory (two excerpts of ~900 characters, 3.6 KB as str when one curly quote makes them two bytes
    a character; about half that in UTF-8). It was zlib-compressed too while a scan held every finding
    until its reports were written; findings now go to disk as they come (:mod:`auditor.spill`), and
    compressing cost a worker 60-90 µs an excerpt pair, ~1% of its time on a corpus with many copies.
    """

    __slots__ = ("_packed", "_split")

    _packed: bytes
    _split: int  # bytes of the record text before the work text; -1 when there is no work text

    def __init__(self, record_text: str, work_text: str | None = None) -> None:
        record = record_text.encode("utf-8", "surrogatepass")
        work = b"" if work_text is None else work_text.encode("utf-8", "surrogatepass")
        object.__setattr__(self, "_packed", record + work)
        object.__setattr__(self, "_split", -1 if work_text is None else len(record))

    @property
    def record_text(self) -> str:
        return self.texts()[0]

    @property
    def work_text(self) -> str | None:
        return self.texts()[1]

    def as_dict(self) -> dict[str, str | None]:
        """``{"record_text": ..., "work_text": ...}``, unpacked once: report.json's and checkpoints' form."""
        record_text, work_text = self.texts()
        return {"record_text": record_text, "work_text": work_text}

    def texts(self) -> tuple[str, str | None]:
        """Both texts, unpacked once: (record_text, work_text)."""
        data = self._packed
        if self._split < 0:
            return data.decode("utf-8", "surrogatepass"), None
        return (
            data[: self._split].decode("utf-8", "surrogatepass"),
            data[self._split :].decode("utf-8", "surrogatepass"),
        )

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Evidence is immutable: cannot set {name}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Evidence):
            return NotImplemented
        return self._split == other._split and self._packed == other._packed

    def __hash__(self) -> int:
        return hash((self._packed, self._split))

    def __repr__(self) -> str:
        return f"Evidence(record_text={self.record_text!r}, work_text={self.work_text!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_packed_evidence, (self._packed, self._split))


def _packed_evidence(packed: bytes, split: int) -> Evidence:
    evidence = Evidence.__new__(Evidence)
    object.__setattr__(evidence, "_packed", packed)
    object.__setattr__(evidence, "_split", split)
    return evidence


@dataclass(frozen=True, slots=True)
class Score:
    """How much of a record copies a work (contract fields of report.json)."""

    similarity: float
    record_coverage: float
    matched_tokens: int


@dataclass(frozen=True, slots=True)
class EditionMatch:
    """Another edition of a match's work, copied by the same record: named beside the finding, not
    reported as a finding of its own (docs/registries.md, "Editions").

    Attributes:
        work: the other edition (same registry and edition group as the finding's work).
        kind: how it matched: ``near-duplicate`` or ``exact-duplicate``.
        score: its own similarity, record coverage and matched tokens.
        spans: its matched passages; ``work_*`` offsets point into this edition's text.
    """

    work: WorkRef
    kind: str
    score: Score
    spans: tuple[Span, ...] = ()


@dataclass(frozen=True, slots=True)
class Match:
    """A verified copy of (part of) a registered work inside one record.

    Attributes:
        work: the work that was copied.
        kind: ``near-duplicate`` (verified passage match) or ``exact-duplicate`` (same text or file hash).
        similarity: Jaccard similarity of the shingles of the matched record and work spans.
        record_coverage: share of the record's tokens inside matched spans.
        matched_tokens: record tokens inside matched spans.
        work_tokens: work tokens inside matched spans (for the share of the work found).
        spans: the matched passages, in record order.
        evidence: the text of each span, in the same order.
        editions: the other editions of the work's edition group the record also copies, by work id
            (set by :func:`auditor.editions.group_editions`; empty straight from the matcher).
    """

    work: WorkRef
    kind: str
    similarity: float
    record_coverage: float
    matched_tokens: int
    work_tokens: int
    spans: tuple[Span, ...]
    evidence: tuple[Evidence, ...] = ()
    editions: tuple[EditionMatch, ...] = ()

    @property
    def score(self) -> Score:
        return Score(self.similarity, self.record_coverage, self.matched_tokens)


@dataclass(frozen=True, slots=True)
class Suppression:
    """Why a finding does not count: a baseline entry or a waiver (see docs/suppressions.md).

    Attributes:
        kind: ``baseline`` or ``waiver``.
        reason: the waiver's reason, or which baseline accepted the finding.
        approver: who approved the waiver (None for a baseline).
        expires: the waiver's last valid day, ISO 8601 (None for a baseline).
        where: the waiver's ``file:line``, or the baseline's path.
    """

    kind: str
    reason: str
    approver: str | None = None
    expires: str | None = None
    where: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule's verdict on one record (and, for content rules, one work)."""

    rule_id: str
    severity: Severity
    kind: str
    record: RecordRef
    message: str
    work: WorkRef | None = None
    score: Score | None = None
    spans: tuple[Span, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    detail: str = ""
    """What made the rule fire (a domain, a licence, a notice's text); part of the fingerprint."""
    suppressed: Suppression | None = None
    """Set when a baseline or waiver suppresses the finding: kept in reports, not counted."""
    editions: tuple[EditionMatch, ...] = ()
    """For a copy: the other editions of ``work``'s edition group the record also copies (``work`` is
    the group's representative, see auditor/editions.py). Not part of the fingerprint."""

    @property
    def fingerprint(self) -> str:
        """Stable id for baselines: the same rule on the same record (and work, and detail)."""
        return fingerprint_of(
            self.rule_id, self.record.input, self.record.id, self.work.id if self.work else "", self.detail
        )


def fingerprint_of(rule_id: str, input: str, record_id: str, work_id: str, detail: str) -> str:
    """A finding's fingerprint from its parts (``work_id`` "" without a work): see ``Finding.fingerprint``."""
    parts = [rule_id, input, record_id, work_id, detail]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class InputSummary:
    """One input file: where it is, its digest, and how many records it gave."""

    path: str
    sha256: str
    records: int
    skipped: int
    format: str


@dataclass(frozen=True, slots=True)
class PackInfo:
    """A rule pack that took part in a run."""

    name: str
    digest: str
    path: str


@dataclass(frozen=True, slots=True)
class RegistryInfo:
    """A registry that took part in a run."""

    name: str
    digest: str
    works: int
    config_id: str


@dataclass(frozen=True, slots=True)
class WorkPresence:
    """How much of one work — one book: all editions of its edition group — was found in the corpus."""

    work: WorkRef
    coverage: float
    records: int
    work_tokens: int
    editions: tuple[WorkRef, ...] = ()
    """The other editions of ``work``'s edition group found in the corpus, by work id; ``work`` is
    the edition ``coverage`` was measured on (see ``engine._presence``)."""


@dataclass(frozen=True, slots=True)
class SourceRisk:
    """One provenance source (URL host, else input file): how many records, how many flagged, how risky."""

    key: str
    records: int
    flagged: int
    max_severity: Severity | None
    risk: float


@dataclass(frozen=True, slots=True)
class Notification:
    """Something about the run a reviewer must see that is not a finding (an expired waiver …).

    Attributes:
        level: ``warning`` (acts on what is reported) or ``note``.
        code: stable machine-readable kind, e.g. ``waiver-expired``.
        message: one sentence for people.
        where: the file (and line) it is about, if any.
    """

    level: str
    code: str
    message: str
    where: str = ""


@dataclass(frozen=True, slots=True)
class WaiverUse:
    """One waiver of a ``--waivers`` file and what it did in this run."""

    where: str
    criteria: tuple[tuple[str, str], ...]
    """The waiver's matching fields (rule, work, source, record, input, fingerprint) as given."""
    reason: str
    approver: str
    expires: str
    expired: bool
    matched: int
    """Findings it matched: suppressed when active, reported again when expired."""


@dataclass(frozen=True, slots=True)
class BaselineUse:
    """The ``--baseline`` report of this run and how much of it was matched."""

    path: str
    sha256: str
    findings: int
    """Findings the baseline accepts (its unsuppressed and baseline-suppressed findings)."""
    matched: int


@dataclass(frozen=True, slots=True)
class AuditResult:
    """Everything a scan found; reporters and the CLI turn it into files and an exit code.

    ``findings`` are in scan order. A scan's result holds them in a :class:`auditor.spill.FindingSpill`
    (a temporary file read back as they are used, so memory does not grow with the findings): it
    supports ``len()``, iteration, indexing and ``==`` like the tuple a result built by hand may hold,
    and its file lasts until ``result.findings.close()`` (or until the result is garbage-collected).
    """

    inputs: tuple[InputSummary, ...]
    registries: tuple[RegistryInfo, ...]
    rule_packs: tuple[PackInfo, ...]
    findings: Sequence[Finding]
    skipped: tuple[Skipped, ...]
    works: tuple[WorkPresence, ...]
    sources: tuple[SourceRisk, ...]
    records_scanned: int
    config_id: str
    started: str
    finished: str
    sources_by: Mapping[str, tuple[SourceRisk, ...]] = field(default_factory=dict)
    """Sources ranked per dimension: ``domain``, ``dataset``, ``input`` (see auditor/sources.py)."""
    baseline: BaselineUse | None = None
    waivers: tuple[WaiverUse, ...] = ()
    suppressed_as_of: str | None = None
    """The day waiver expiry was judged on (ISO 8601), when waivers were given."""
    notifications: tuple[Notification, ...] = ()
