"""Severity ladders: the first rung whose every threshold is met gives the severity."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from auditor.models import Severity
from auditor.rules.params import Cursor


@dataclass(frozen=True, slots=True)
class Metric:
    """A measured value a rung may set a minimum on (``min_<name>``)."""

    name: str
    maximum: float | None = None
    integer: bool = False


@dataclass(frozen=True, slots=True)
class Rung:
    severity: Severity
    minimums: tuple[tuple[str, float], ...]

    def holds(self, values: Mapping[str, float]) -> bool:
        return all(values[name] >= threshold for name, threshold in self.minimums)


@dataclass(frozen=True, slots=True)
class Ladder:
    """Rungs tried in order; no rung holding means no finding."""

    rungs: tuple[Rung, ...]

    def grade(self, values: Mapping[str, float]) -> Severity | None:
        """The severity of the first rung that holds, else None."""
        for rung in self.rungs:
            if rung.holds(values):
                return rung.severity
        return None

    @property
    def worst(self) -> Severity:
        return max(rung.severity for rung in self.rungs)

    @classmethod
    def parse(cls, params: Cursor, key: str, metrics: tuple[Metric, ...], ceiling: Severity) -> Ladder | None:
        """Read ``params[key]`` as a ladder over ``metrics``; rungs may not exceed the rule's severity."""
        rungs_cursor = params.items(key)
        if rungs_cursor is None:
            if not params.at(key).exists:
                params.problem(
                    f"{params.where} has no {key!r}",
                    f"add `{key}: [{{severity: high, min_{metrics[0].name}: ...}}]`",
                )
            return None
        if not rungs_cursor:
            params.at(key).problem(f"{params.at(key).where} is empty", "give at least one rung")
            return None
        by_key = {f"min_{m.name}": m for m in metrics}
        rungs: list[Rung] = []
        ok = True
        for rung in rungs_cursor:
            if not rung.expect_mapping("a ladder rung"):
                ok = False
                continue
            rung.check_keys(("severity", *by_key), required=("severity",), what="a ladder rung")
            severity = rung.severity("severity")
            minimums: list[tuple[str, float]] = []
            for cond, metric in by_key.items():
                value = rung.number(cond, minimum=0, maximum=metric.maximum, integer=metric.integer)
                if value is not None:
                    minimums.append((metric.name, value))
            if severity is None:
                ok = False
                continue
            if severity > ceiling:
                rung.at("severity").problem(
                    f"rung severity {severity.label} is above the rule's severity {ceiling.label}",
                    f"raise the rule's `severity:` to {severity.label} or lower the rung",
                )
                ok = False
            rungs.append(Rung(severity, tuple(minimums)))
        return cls(tuple(rungs)) if ok and rungs else None
