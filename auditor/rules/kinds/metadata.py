"""The ``metadata`` kind: dataset-specific policy over the record's other fields (dotted paths)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from auditor.models import Finding
from auditor.rules.check import Check, CompileContext, Subject, register_kind
from auditor.rules.params import Cursor, type_name
from auditor.rules.rule import Rule

_ABSENT: Any = object()
_SCALARS = (str, int, float, bool)
MAX_DETAIL = 200


def lookup(meta: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at a dotted path in nested mappings, or a sentinel when any step is missing."""
    value: Any = meta
    for part in path:
        if not isinstance(value, Mapping) or part not in value:
            return _ABSENT
        value = value[part]
    return value


def _same(expected: Any, actual: Any) -> bool:
    # YAML `true` must not equal a record's 1, nor `1` its True.
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and expected is actual
    return bool(expected == actual)


@register_kind
class MetadataCheck(Check):
    """One finding when a metadata field equals a value, matches a regex, or is missing."""

    kind = "metadata"
    placeholders: ClassVar[dict[str, Any]] = {"field": "meta.pile_set_name", "value": "Books3"}

    def __init__(
        self,
        rule: Rule,
        field: str,
        equals: tuple[Any, ...] | None,
        matches: re.Pattern[str] | None,
        missing: bool,
    ) -> None:
        super().__init__(rule)
        self.field = field
        self.path = tuple(field.split("."))
        self.equals = equals
        self.matches = matches
        self.missing = missing

    @classmethod
    def compile(cls, rule: Rule, params: Cursor, ctx: CompileContext) -> Check | None:
        params.check_keys(
            ("field", "equals", "matches", "missing"), required=("field",), what="params of metadata"
        )
        field = params.text("field")
        if field is not None and any(not part for part in field.split(".")):
            params.at("field").problem(
                f"field {field!r} has an empty part", "write a dotted path such as meta.source"
            )
            field = None
        tests = [key for key in ("equals", "matches", "missing") if params.at(key).exists]
        if len(tests) != 1:
            params.problem(
                f"a metadata rule needs exactly one of equals, matches, missing (got {len(tests)})",
                "keep one test per rule",
            )
            return None
        equals: tuple[Any, ...] | None = None
        if "equals" in tests:
            raw = params.at("equals").value
            values = raw if isinstance(raw, list) else [raw]
            if not values or not all(isinstance(v, _SCALARS) for v in values):
                params.at("equals").problem(
                    f"equals must be a scalar or a list of scalars, got {type_name(raw)}",
                    "e.g. `equals: [Books3]`",
                )
                return None
            equals = tuple(values)
        matches = params.regex("matches") if "matches" in tests else None
        missing = params.flag("missing", False) if "missing" in tests else False
        if "missing" in tests and not missing:
            params.at("missing").problem(
                "`missing: false` tests nothing", "use `missing: true` or remove the rule"
            )
            return None
        if field is None or ("matches" in tests and matches is None):
            return None
        return cls(rule, field, equals, matches, missing)

    def _hit(self, value: Any) -> bool:
        if self.missing:
            return value is _ABSENT or value is None or value == "" or value == []
        if value is _ABSENT or value is None:
            return False
        values = value if isinstance(value, list | tuple) else (value,)
        if self.equals is not None:
            return any(_same(e, v) for v in values for e in self.equals)
        if self.matches is not None:
            return any(isinstance(v, _SCALARS) and self.matches.search(str(v)) for v in values)
        return False

    def evaluate(self, subject: Subject) -> list[Finding]:
        value = lookup(subject.record.meta, self.path)
        if not self._hit(value):
            return []
        shown = "missing" if self.missing else str(value)[:MAX_DETAIL]
        return [
            self.finding(
                subject,
                severity=self.rule.severity,
                detail=f"{self.field}={shown}",
                values={"field": self.field, "value": shown},
            )
        ]
