"""The ``license`` kind: the record's declared licence, classified for the intended use."""

from __future__ import annotations

from typing import Any, ClassVar

from auditor.models import Finding, Severity
from auditor.rules.check import Check, CompileContext, Subject, register_kind
from auditor.rules.licenses import CATEGORIES, MISSING, LicenseClassifier, Verdict
from auditor.rules.params import Cursor
from auditor.rules.rule import Rule


@register_kind
class LicenseCheck(Check):
    """One finding when the declared licence's category has a severity in ``params.severities``.

    ``missing`` is a category of its own (no or blank licence field), so one rule can grade licence
    terms and another report records that declare none.
    """

    kind = "license"
    gate = "license"
    placeholders: ClassVar[dict[str, Any]] = {
        "license": "CC-BY-NC-4.0",
        "declared": "cc-by-nc-4.0",
        "category": "forbidden",
        "use": "commercial",
    }

    def __init__(self, rule: Rule, severities: dict[str, Severity], classifier: LicenseClassifier) -> None:
        super().__init__(rule)
        self.severities = severities
        self.classifier = classifier
        self.only_missing = set(severities) == {MISSING}
        self._decisions: dict[str | None, tuple[Severity, Verdict] | None] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_decisions": {}}

    @classmethod
    def compile(cls, rule: Rule, params: Cursor, ctx: CompileContext) -> Check | None:
        params.check_keys(("severities",), required=("severities",), what=f"params of {cls.kind}")
        allowed = (*CATEGORIES, MISSING)
        severities: dict[str, Severity] = {}
        for category, cursor in params.entries("severities") or []:
            if category not in allowed:
                cursor.problem(f"unknown licence category {category!r}", "use one of " + ", ".join(allowed))
                continue
            severity = params.at("severities").severity(category)
            if severity is None:
                continue
            if severity > rule.severity:
                cursor.problem(
                    f"severity {severity.label} for {category} is above the rule's severity "
                    f"{rule.severity.label}",
                    f"raise the rule's `severity:` to {severity.label}",
                )
                continue
            severities[category] = severity
        if not severities:
            entries = params.at("severities")
            if isinstance(entries.value, dict) and not entries.value:
                entries.problem(
                    "`severities:` is empty, so the rule would report nothing",
                    "map at least one category to a severity, e.g. {forbidden: high}",
                )
            return None
        if set(severities) != {MISSING} and not ctx.classifier.table:
            params.problem(
                "no licence table is loaded, so every licence would be unknown",
                "load the default packs or add a `licenses:` section (see rules/licenses.yaml)",
            )
            return None
        return cls(rule, severities, ctx.classifier)

    def _decide(self, declared: str | None) -> tuple[Severity, Verdict] | None:
        """The severity and verdict of a declared licence, None when it is not reported (remembered:
        corpora repeat a few spellings)."""
        decisions = self._decisions
        if declared in decisions:
            return decisions[declared]
        if len(decisions) >= LicenseClassifier.CACHE_SIZE:
            decisions.clear()
        decision = None
        if not self.only_missing or self.classifier.is_missing(declared):
            verdict = self.classifier.classify(declared)
            severity = self.severities.get(verdict.category)
            decision = (severity, verdict) if severity is not None else None
        if declared is None or len(declared) <= 256:  # not a licence text pasted into the field
            decisions[declared] = decision
        return decision

    def passes(self, value: Any) -> bool:
        return self._decide(value) is not None

    def evaluate(self, subject: Subject) -> list[Finding]:
        declared = subject.record.license
        decision = self._decide(declared)
        if decision is None:
            return []
        severity, verdict = decision
        return [
            self.finding(
                subject,
                severity=severity,
                detail=verdict.license,
                values={
                    "license": verdict.license or "none",
                    "declared": declared or "",
                    "category": verdict.category,
                    "use": self.classifier.use,
                },
            )
        ]
