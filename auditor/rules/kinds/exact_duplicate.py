"""The ``exact-duplicate`` kind: a record whose text or file hash equals a registered work's."""

from __future__ import annotations

from typing import Any, ClassVar

from auditor.models import Finding
from auditor.rules.check import Check, CompileContext, Subject, register_kind
from auditor.rules.kinds.near_duplicate import MATCH_PLACEHOLDERS, match_values
from auditor.rules.params import Cursor
from auditor.rules.rule import Rule


@register_kind
class ExactDuplicateCheck(Check):
    """One finding, at the rule's severity, per exact-duplicate match."""

    kind = "exact-duplicate"
    uses_matches = True
    placeholders: ClassVar[dict[str, Any]] = MATCH_PLACEHOLDERS

    @classmethod
    def compile(cls, rule: Rule, params: Cursor, ctx: CompileContext) -> Check | None:
        params.check_keys((), what=f"params of {cls.kind} (it takes none)")
        return cls(rule)

    def evaluate(self, subject: Subject) -> list[Finding]:
        return [
            self.finding(
                subject,
                severity=self.rule.severity,
                detail="",
                values=match_values(match),
                work=match.work,
                score=match.score,
                spans=match.spans,
                evidence=match.evidence,
                editions=match.editions,
            )
            for match in subject.matches
            if match.kind == self.kind
        ]
