"""Check kinds: the base class every kind implements, the kind registry and the per-record subject."""

from __future__ import annotations

import string
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from auditor.models import EditionMatch, Evidence, Finding, Match, Record, Score, Severity, Span, WorkRef
from auditor.rules.hosts import host_of
from auditor.rules.isbn import IsbnHit, iter_isbns, meta_isbns
from auditor.rules.keywords import ISBN_KEYWORDS
from auditor.rules.licenses import LicenseClassifier
from auditor.rules.params import Cursor
from auditor.rules.rule import Rule


class RegistryFacts(Protocol):
    """What rules may ask of the registries a scan uses."""

    def work_for_isbn(self, isbn13: str) -> WorkRef | None:
        """The registered work catalogued under this ISBN-13, if any."""
        ...


class NoFacts:
    """Registry facts when no registry is open: nothing is registered."""

    def work_for_isbn(self, isbn13: str) -> WorkRef | None:
        return None


class Subject:
    """One record under evaluation; values several checks need are computed once, on first use."""

    __slots__ = ("_host", "_isbns", "_lowered", "facts", "keywords", "matches", "record")

    _UNSET: ClassVar[Any] = object()

    def __init__(
        self,
        record: Record,
        matches: Sequence[Match],
        facts: RegistryFacts,
        keywords: frozenset[str] | None = None,
    ) -> None:
        self.record = record
        self.matches = matches
        self.facts = facts
        self.keywords = keywords
        """The rule set's keywords found in the text (lower case), when known for its batch; the search
        covered :data:`~auditor.rules.keywords.ISBN_KEYWORDS` (so "isbn" missing means no ISBN label)."""
        self._host: Any = Subject._UNSET
        self._isbns: tuple[IsbnHit, ...] | None = None
        self._lowered: str | None = None

    @property
    def host(self) -> str | None:
        """The canonical host of the record's URL."""
        if self._host is Subject._UNSET:
            self._host = host_of(self.record.url)
        return self._host

    def may_contain(self, keywords: Iterable[str]) -> bool:
        """False only when it is known that none of these lower-case keywords is in the text."""
        return self.keywords is None or not self.keywords.isdisjoint(keywords)

    @property
    def lowered(self) -> str:
        """The record's text in lower case, for keyword pre-tests (offsets may differ from the text's)."""
        if self._lowered is None:
            self._lowered = self.record.text.lower()
        return self._lowered

    @property
    def isbns(self) -> tuple[IsbnHit, ...]:
        """Valid ISBNs in the record's text (with offsets) and then in its metadata."""
        if self._isbns is None:
            text = self.record.text
            hits: list[IsbnHit] = []
            if text and self.may_contain(ISBN_KEYWORDS):
                # The batch's keywords tell whether the lower-cased text holds "isbn" without lowering it.
                if self.keywords is not None:
                    hits.extend(iter_isbns(text, labelled="isbn" in self.keywords))
                else:
                    hits.extend(iter_isbns(text, lowered=self.lowered))
            if self.record.meta:
                hits.extend(meta_isbns(self.record.meta))
            self._isbns = tuple(hits)
        return self._isbns


@dataclass(frozen=True, slots=True)
class CompileContext:
    """What a kind may use while compiling a rule: the use, the pack's folder and the licence classifier."""

    use: str
    pack_dir: Path
    classifier: LicenseClassifier


COMMON_PLACEHOLDERS: Mapping[str, Any] = {
    "rule_id": "AUD-EX-001",
    "rule_name": "example",
    "severity": "high",
    "record_id": "doc-1",
    "input": "shard.jsonl",
    "row": 1,
    "url": "https://example.com/a",
    "detail": "example",
}
"""Placeholders every message may use, with the sample values templates are checked against."""


class Check(ABC):
    """A compiled rule: evaluates one record and returns its findings.

    Subclasses set ``kind`` (the name packs use), ``placeholders`` (message placeholders with sample
    values) and ``uses_matches`` (True when only the record's matches matter, so records without
    matches skip the check).
    """

    kind: ClassVar[str] = ""
    placeholders: ClassVar[Mapping[str, Any]] = {}
    uses_matches: ClassVar[bool] = False
    gate: ClassVar[str] = ""
    """``"host"`` or ``"license"`` when one value of a record alone decides whether the check can report
    it (its canonical host, its declared licence as read), so that a scan asks :meth:`passes` once per
    distinct value and runs the check only on the records whose value passed; "" (the default) runs the
    check on every record."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule

    @classmethod
    @abstractmethod
    def compile(cls, rule: Rule, params: Cursor, ctx: CompileContext) -> Check | None:
        """Validate ``params`` (reporting problems through the cursor) and build the check, or None."""

    @abstractmethod
    def evaluate(self, subject: Subject) -> list[Finding]:
        """The findings of this rule on one record."""

    def passes(self, value: Any) -> bool:
        """For a kind with a :attr:`gate`: False only when no record whose gate value is ``value`` can
        get a finding from :meth:`evaluate` (the answer must not change during a scan)."""
        return True

    @classmethod
    def passes_any(cls, checks: Sequence[Check]) -> Callable[[Any], bool] | None:
        """For a kind with a :attr:`gate`: one test, False only when none of these checks of the kind
        :meth:`passes` a value (so a value most checks refuse is asked once), or None for no such test."""
        return None

    def finding(
        self,
        subject: Subject,
        *,
        severity: Severity,
        detail: str,
        values: Mapping[str, Any],
        work: WorkRef | None = None,
        score: Score | None = None,
        spans: tuple[Span, ...] = (),
        evidence: tuple[Evidence, ...] = (),
        editions: tuple[EditionMatch, ...] = (),
    ) -> Finding:
        """A finding of this rule with its message rendered."""
        record = subject.record
        fill = {
            "rule_id": self.rule.id,
            "rule_name": self.rule.name,
            "severity": severity.label,
            "record_id": record.id,
            "input": record.input,
            "row": record.row,
            "url": record.url or "",
            "detail": detail,
            **values,
        }
        return Finding(
            rule_id=self.rule.id,
            severity=severity,
            kind=self.kind,
            record=record.ref,
            message=render_message(self.rule.message, fill),
            work=work,
            score=score,
            spans=spans,
            evidence=evidence,
            detail=detail,
            editions=editions,
        )


KINDS: dict[str, type[Check]] = {}
"""Check kinds by the name packs use in ``kind:``."""


def register_kind(cls: type[Check]) -> type[Check]:
    """Class decorator adding a check kind to :data:`KINDS`."""
    if not cls.kind or cls.kind in KINDS:
        raise ValueError(f"check kind {cls.kind!r} is empty or registered twice")
    KINDS[cls.kind] = cls
    return cls


def render_message(template: str, values: Mapping[str, Any]) -> str:
    """Fill a message template; a value that does not fit its format leaves the template as written."""
    try:
        return template.format_map(values)
    except (KeyError, ValueError, IndexError, TypeError, AttributeError):
        return template


def validate_message(template: str, placeholders: Mapping[str, Any], where: Cursor) -> None:
    """Report unknown placeholders and formats a message template cannot be filled with."""
    sample = {**COMMON_PLACEHOLDERS, **placeholders}
    available = ", ".join(f"{{{name}}}" for name in sorted(sample))
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        where.problem(f"bad message template: {exc}", "write a literal brace as {{ or }}")
        return
    unknown = sorted({name for _, name, _, _ in fields if name is not None and name not in sample})
    if unknown:
        where.problem(
            "unknown placeholder " + ", ".join(f"{{{name}}}" for name in unknown) + " in message",
            f"this kind offers {available}",
        )
        return
    try:
        template.format_map(sample)
    except (KeyError, ValueError, IndexError, TypeError, AttributeError) as exc:
        where.problem(
            f"message cannot be formatted: {exc}", "check the format spec after ':' in each placeholder"
        )
