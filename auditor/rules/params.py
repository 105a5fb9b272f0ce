"""Typed, line-aware access to rule-pack values: every wrong value becomes a Problem, never an exception."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

from auditor.models import SEVERITY_NAMES, Severity
from auditor.rules.backtracking import backtracking_risk
from auditor.rules.problems import ProblemLog
from auditor.rules.yamlsource import YamlDoc, YamlPath

_MISSING: Any = object()


def type_name(value: Any) -> str:
    """How a YAML value reads to a pack author."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"text ({value[:40]!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__} ({value})"


class Cursor:
    """A value inside a pack with its place in the file; getters report problems and return None."""

    __slots__ = ("doc", "log", "path", "value")

    def __init__(self, doc: YamlDoc, log: ProblemLog, path: YamlPath = (), value: Any = _MISSING) -> None:
        self.doc = doc
        self.log = log
        self.path = path
        self.value = doc.data if value is _MISSING and not path else value

    @property
    def file(self) -> str:
        return self.doc.file

    @property
    def line(self) -> int | None:
        return self.doc.line(self.path)

    @property
    def exists(self) -> bool:
        return self.value is not _MISSING

    @property
    def where(self) -> str:
        """The dotted place of this value, e.g. ``rules[2].params.ladder[0]``."""
        out = ""
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out or "the document"

    def at(self, key: str | int) -> Cursor:
        """The child value at ``key`` (a missing child has ``exists == False``)."""
        value: Any = _MISSING
        if isinstance(self.value, dict) and isinstance(key, str):
            value = self.value.get(key, _MISSING)
        elif isinstance(self.value, list) and isinstance(key, int) and 0 <= key < len(self.value):
            value = self.value[key]
        return Cursor(self.doc, self.log, (*self.path, key), value)

    def problem(self, message: str, fix: str = "") -> None:
        self.log.add(self.file, self.line, message, fix)

    def expect_mapping(self, what: str) -> bool:
        if isinstance(self.value, dict):
            return True
        self.problem(f"{what} must be a mapping, got {type_name(self.value)}", "write `key: value` lines")
        return False

    def check_keys(self, allowed: Iterable[str], required: Iterable[str] = (), what: str = "") -> None:
        """Report unknown keys (with a close match) and missing required keys."""
        if not isinstance(self.value, dict):
            return
        allowed = tuple(allowed)
        label = what or self.where
        for key in self.value:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                fix = (
                    f"did you mean {close[0]!r}?" if close else "allowed keys: " + ", ".join(sorted(allowed))
                )
                self.at(key).problem(f"unknown key {key!r} in {label}", fix)
        for key in required:
            if key not in self.value:
                self.problem(f"{label} has no {key!r}", f"add `{key}:`")

    def _wrong(self, key: str, expected: str, fix: str = "") -> None:
        child = self.at(key)
        child.problem(
            f"{child.where} must be {expected}, got {type_name(child.value)}",
            fix or f"write {expected} (without quotes)",
        )

    def text(self, key: str, *, required: bool = False, default: str | None = None) -> str | None:
        """A non-empty string."""
        child = self.at(key)
        if not child.exists:
            return default
        if isinstance(child.value, str) and child.value.strip():
            return child.value
        self._wrong(key, "non-empty text", "write text; quote it if YAML reads it as a number, date or list")
        return None

    def flag(self, key: str, default: bool) -> bool:
        """A boolean."""
        child = self.at(key)
        if not child.exists:
            return default
        if isinstance(child.value, bool):
            return child.value
        self._wrong(key, "true or false")
        return default

    def number(
        self,
        key: str,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        integer: bool = False,
    ) -> float | None:
        """A number within bounds (an integer when ``integer``)."""
        child = self.at(key)
        if not child.exists:
            return None
        value = child.value
        ok = isinstance(value, int) if integer else isinstance(value, int | float)
        if not ok or isinstance(value, bool):
            self._wrong(key, "a whole number" if integer else "a number")
            return None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            child.problem(f"{child.where} is {value}, it must be {bounds}", "change the value")
            return None
        return float(value) if not integer else int(value)

    def severity(self, key: str) -> Severity | None:
        """A severity name."""
        child = self.at(key)
        if not child.exists:
            return None
        if isinstance(child.value, str) and child.value in SEVERITY_NAMES:
            return Severity.parse(child.value)
        fix = "use one of " + "|".join(SEVERITY_NAMES)
        if isinstance(child.value, str) and child.value.strip().lower() in SEVERITY_NAMES:
            fix = f"write it in lower case: {child.value.strip().lower()}"
        child.problem(f"{child.where} is not a severity: {child.value!r}", fix)
        return None

    def regex(self, key: str) -> re.Pattern[str] | None:
        """A Python regular expression, compiled."""
        pattern = self.text(key)
        if pattern is None:
            return None
        return compile_regex(pattern, self.at(key))

    def texts(self, key: str) -> list[str] | None:
        """A list of non-empty strings."""
        child = self.at(key)
        if not child.exists:
            return None
        if not isinstance(child.value, list):
            self._wrong(key, "a list of text", "write `- item` lines or `[a, b]`")
            return None
        out = []
        for index, item in enumerate(child.value):
            if isinstance(item, str) and item.strip():
                out.append(item)
            else:
                grand = child.at(index)
                grand.problem(
                    f"{grand.where} must be non-empty text, got {type_name(item)}", "quote the value"
                )
        return out

    def items(self, key: str) -> list[Cursor] | None:
        """The items of a list, as cursors."""
        child = self.at(key)
        if not child.exists:
            return None
        if not isinstance(child.value, list):
            self._wrong(key, "a list", "write `- item` lines")
            return None
        return [child.at(i) for i in range(len(child.value))]

    def entries(self, key: str) -> list[tuple[str, Cursor]] | None:
        """The entries of a mapping, as (key, cursor) pairs in file order."""
        child = self.at(key)
        if not child.exists:
            return None
        if not isinstance(child.value, dict):
            self._wrong(key, "a mapping", "write `key: value` lines")
            return None
        return [(k, child.at(k)) for k in child.value]


def compile_regex(pattern: str, where: Cursor) -> re.Pattern[str] | None:
    """Compile a pack regex, reporting a bad one (or one that can backtrack exponentially) at its line."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        where.problem(
            f"bad regular expression {pattern!r}: {exc.msg} at position {exc.pos}",
            "fix the pattern (Python `re` syntax; in YAML single quotes keep backslashes)",
        )
        return None
    risk = backtracking_risk(pattern)
    if risk is not None:
        where.problem(
            f"regular expression {pattern!r} can take exponential time on some texts: {risk}",
            "make the inner quantifier possessive (`\\s*+`) or the group atomic (`(?>...)`), or make every "
            "repetition end with a character the inner part cannot match (see docs/rules.md, Validation)",
        )
        return None
    return compiled
