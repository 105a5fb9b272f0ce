"""The ``near-duplicate`` kind: grades verified passage matches with a severity ladder."""

from __future__ import annotations

from typing import Any, ClassVar

from auditor.models import EditionMatch, Finding, Match
from auditor.rules.check import Check, CompileContext, Subject, register_kind
from auditor.rules.ladder import Ladder, Metric
from auditor.rules.params import Cursor
from auditor.rules.rule import Rule

MATCH_PLACEHOLDERS: dict[str, Any] = {
    "work_title": "A Registered Novel",
    "work_id": "work-1",
    "registry": "publisher-registry",
    "similarity": 0.93,
    "record_coverage": 0.42,
    "matched_tokens": 310,
    "work_tokens": 305,
    "spans": 2,
    "editions": "A Registered Novel (print edition) (work-2)",
}


def editions_text(editions: tuple[EditionMatch, ...]) -> str:
    """The other editions of a match's book as "title (id), …" (as reports name them); "" when none."""
    return ", ".join(
        f"{e.work.title} ({e.work.id})" if e.work.title and e.work.title != e.work.id else e.work.id
        for e in editions
    )


def match_values(match: Match) -> dict[str, Any]:
    """Message placeholders of a match."""
    return {
        "work_title": match.work.title,
        "work_id": match.work.id,
        "registry": match.work.registry,
        "similarity": match.similarity,
        "record_coverage": match.record_coverage,
        "matched_tokens": match.matched_tokens,
        "work_tokens": match.work_tokens,
        "spans": len(match.spans),
        "editions": editions_text(match.editions),
    }


@register_kind
class NearDuplicateCheck(Check):
    """One finding per near-duplicate match (per book: editions are merged before, see
    auditor/editions.py), at the severity of the first ladder rung it meets."""

    kind = "near-duplicate"
    uses_matches = True
    placeholders: ClassVar[dict[str, Any]] = MATCH_PLACEHOLDERS
    METRICS = (
        Metric("similarity", maximum=1.0),
        Metric("record_coverage", maximum=1.0),
        Metric("matched_tokens", integer=True),
        Metric("work_tokens", integer=True),
    )

    def __init__(self, rule: Rule, ladder: Ladder) -> None:
        super().__init__(rule)
        self.ladder = ladder

    @classmethod
    def compile(cls, rule: Rule, params: Cursor, ctx: CompileContext) -> Check | None:
        params.check_keys(("ladder",), what=f"params of {cls.kind}")
        ladder = Ladder.parse(params, "ladder", cls.METRICS, rule.severity)
        return cls(rule, ladder) if ladder is not None else None

    def evaluate(self, subject: Subject) -> list[Finding]:
        out = []
        for match in subject.matches:
            if match.kind != self.kind:
                continue
            severity = self.ladder.grade(
                {
                    "similarity": match.similarity,
                    "record_coverage": match.record_coverage,
                    "matched_tokens": match.matched_tokens,
                    "work_tokens": match.work_tokens,
                }
            )
            if severity is None:
                continue
            out.append(
                self.finding(
                    subject,
                    severity=severity,
                    detail="",
                    values=match_values(match),
                    work=match.work,
                    score=match.score,
                    spans=match.spans,
                    evidence=match.evidence,
                    editions=match.editions,
                )
            )
        return out
