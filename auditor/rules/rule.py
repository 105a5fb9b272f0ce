"""A rule as declared in a pack: its stable id, what it reports and how bad that is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auditor.models import Severity


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of a pack.

    Attributes:
        id: stable code such as ``AUD-ND-001``; never reused.
        name: short kebab-case name.
        severity: the worst severity the rule can report (graded kinds report less for weaker evidence).
        kind: the check kind that evaluates it.
        message: finding message template with ``{placeholders}``.
        description: one or two sentences for reports.
        rationale: why the rule exists (optional).
        references: URLs or citations (optional).
        aliases: former ids of the rule, still accepted by ``disable``/``enable`` and waivers.
        pack: the name of the pack that declared it.
        enabled: False when the pack ships it switched off or a later pack disabled it.
    """

    id: str
    name: str
    severity: Severity
    kind: str
    message: str
    description: str
    rationale: str = ""
    references: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    pack: str = ""
    enabled: bool = True

    def describe(self) -> dict[str, Any]:
        """The rule as reports list it."""
        return {
            "id": self.id,
            "name": self.name,
            "severity": self.severity.label,
            "kind": self.kind,
            "description": self.description,
        }
