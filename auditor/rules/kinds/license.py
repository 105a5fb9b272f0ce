"""The ``license`` kind: the record's declared licence, classified for the intended use."""

from __future__ import annotations

from typing import Any, ClassVar

from auditor.models import Finding, Severity
from auditor.rules.check import Check, CompileContext, Subject, register_kind
from auditor.rules.licenses import CATEGORIES, MISSING, LicenseClassifier
from auditor.rules.params import Cursor
from auditor.rules.rule import Rule


@register_kind
class LicenseCheck(Check):
    """One finding when the declared licence's category has a severity in ``params.severities``.

    ``missing`` is a category of its own (no or blank licence field), so one rule can grade licence
    terms and another report records that declare none.
    """

    kind = "license"
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

    def evaluate(self, subject: Subject) -> list[Finding]:
        declared = subject.record.license
        if self.only_missing and not self.classifier.is_missing(declared):
            return []
        verdict = self.classifier.classify(declared)
        severity = self.severities.get(verdict.category)
        if severity is None:
            return []
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
