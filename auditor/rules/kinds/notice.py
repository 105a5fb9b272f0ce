"""The ``notice`` kind: copyright-page text (rights notices, CIP blocks, imprint lines) inside a record."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from auditor.models import Evidence, Finding, Span
from auditor.rules.check import Check, CompileContext, Subject, register_kind
from auditor.rules.ladder import Ladder, Metric
from auditor.rules.params import Cursor
from auditor.rules.rule import Rule

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_WINDOWS = 64
"""Keyword occurrences beyond which one search of the whole text is cheaper than many windows."""


@dataclass(frozen=True, slots=True)
class Signal:
    """One kind of copyright-page text; ``strong`` when ordinary web pages rarely carry it.

    ``keywords`` (lower case) anchor the search: the pattern only runs within ``window`` characters of
    an occurrence of one of them in the lower-cased text, so records without them cost one substring
    scan per keyword.
    """

    name: str
    pattern: re.Pattern[str]
    strong: bool
    keywords: tuple[str, ...] = ()

    def spans(self, text: str, lowered: str, window: int, limit: int) -> list[tuple[int, int]]:
        """Offsets of up to ``limit`` non-empty matches in ``text``, in order."""
        if not self.keywords or len(lowered) != len(text):
            return self._search(text, [(0, len(text))], limit)
        windows: list[tuple[int, int]] = []
        for keyword in self.keywords:
            at = lowered.find(keyword)
            while at != -1:
                windows.append((max(0, at - window), min(len(text), at + len(keyword) + window)))
                if len(windows) > MAX_WINDOWS:
                    return self._search(text, [(0, len(text))], limit)
                at = lowered.find(keyword, at + 1)
        if not windows:
            return []
        windows.sort()
        merged = [windows[0]]
        for start, end in windows[1:]:
            if start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return self._search(text, merged, limit)

    def _search(self, text: str, ranges: list[tuple[int, int]], limit: int) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        for start, end in ranges:
            for m in self.pattern.finditer(text, start, end):
                if m.end() > m.start() and (not out or m.start() >= out[-1][1]):
                    out.append(m.span())
                    if len(out) >= limit:
                        return out
        return out


def evidence_for(text: str, start: int, end: int, context: int) -> Evidence:
    """The text of a span with ``context`` characters either side, whitespace runs collapsed."""
    left = max(0, start - context)
    right = min(len(text), end + context)
    snippet = " ".join(text[left:right].split())
    return Evidence(record_text=("…" if left else "") + snippet + ("…" if right < len(text) else ""))


@register_kind
class NoticeCheck(Check):
    """One finding per record whose distinct notice signals meet a ladder rung, with every span."""

    kind = "notice"
    placeholders: ClassVar[dict[str, Any]] = {
        "signals": "all_rights_reserved, no_reproduction",
        "signal_count": 2,
        "strong_count": 1,
    }
    METRICS = (Metric("signals", integer=True), Metric("strong_signals", integer=True))

    def __init__(
        self,
        rule: Rule,
        signals: tuple[Signal, ...],
        ladder: Ladder,
        *,
        context: int = 60,
        max_spans: int = 20,
        window: int = 200,
    ) -> None:
        super().__init__(rule)
        # Strong signals first: when a ladder needs a strong signal and none is there, the weak
        # patterns are never run (most records are ordinary prose).
        self.signals = tuple(sorted(signals, key=lambda s: not s.strong))
        self.ladder = ladder
        self.context = context
        self.max_spans = max_spans
        self.window = window
        self.need_strong = min(dict(r.minimums).get("strong_signals", 0) for r in ladder.rungs)
        self.need_any = max(1, min(dict(r.minimums).get("signals", 0) for r in ladder.rungs))
        self.keyed = any(s.keywords for s in signals)
        self.keywords = frozenset(k for s in signals for k in s.keywords)
        strong = [s for s in self.signals if s.strong]
        self.triggers: frozenset[str] | None = None
        """Keywords a text must hold (one of) for a finding, None when any text may give one: a ladder
        that needs a strong signal needs a strong signal's keyword, when every strong signal has some."""
        if self.need_strong and all(s.keywords for s in strong):
            self.triggers = frozenset(k for s in strong for k in s.keywords)
        elif all(s.keywords for s in self.signals):
            self.triggers = self.keywords

    @classmethod
    def compile(cls, rule: Rule, params: Cursor, ctx: CompileContext) -> Check | None:
        params.check_keys(
            ("signals", "ladder", "context", "max_spans", "window"), what=f"params of {cls.kind}"
        )
        signals = []
        entries = params.entries("signals")
        if entries is None and not params.at("signals").exists:
            params.problem(f"a {cls.kind} rule needs `signals:`", "map signal names to {pattern: '...'}")
        elif entries == []:
            params.at("signals").problem(
                "`signals:` is empty", "map at least one signal name to {pattern: '...'}"
            )
        for name, cursor in entries or []:
            if not _NAME.match(name):
                cursor.problem(
                    f"signal name {name!r} is not snake_case", "use lower-case letters, digits and _"
                )
            if not cursor.expect_mapping(f"signal {name!r}"):
                continue
            cursor.check_keys(
                ("pattern", "strong", "keywords"), required=("pattern",), what=f"signal {name!r}"
            )
            pattern = cursor.regex("pattern")
            strong = cursor.flag("strong", False)
            keywords = cursor.texts("keywords") or []
            for index, keyword in enumerate(keywords):
                if keyword != keyword.lower():
                    cursor.at("keywords").at(index).problem(
                        f"keyword {keyword!r} has upper-case letters but is compared with lower-cased text",
                        f"write {keyword.lower()!r}",
                    )
            if pattern is not None:
                if pattern.search("") is not None:
                    cursor.at("pattern").problem(
                        f"signal {name!r} matches empty text",
                        "make the pattern require at least one character",
                    )
                    continue
                signals.append(Signal(name, pattern, strong, tuple(keywords)))
        ladder = Ladder.parse(params, "ladder", cls.METRICS, rule.severity)
        context = params.number("context", minimum=0, maximum=1000, integer=True)
        max_spans = params.number("max_spans", minimum=1, maximum=1000, integer=True)
        window = params.number("window", minimum=1, maximum=100_000, integer=True)
        if not signals or ladder is None:
            return None
        return cls(
            rule,
            tuple(signals),
            ladder,
            context=int(context) if context is not None else 60,
            max_spans=int(max_spans) if max_spans is not None else 20,
            window=int(window) if window is not None else 200,
        )

    def evaluate(self, subject: Subject) -> list[Finding]:
        text = subject.record.text
        if not text:
            return []
        if self.triggers is not None and not subject.may_contain(self.triggers):
            return []
        found: dict[str, list[tuple[int, int]]] = {}
        strong = 0
        lowered = subject.lowered if self.keyed else text
        for signal in self.signals:
            if not signal.strong and strong < self.need_strong:
                return []
            if signal.keywords and not subject.may_contain(signal.keywords):
                continue
            spans = signal.spans(text, lowered, self.window, self.max_spans)
            if spans:
                found[signal.name] = spans
                strong += signal.strong
        if len(found) < self.need_any:
            return []
        severity = self.ladder.grade({"signals": len(found), "strong_signals": strong})
        if severity is None:
            return []
        all_spans = sorted({span for spans in found.values() for span in spans})[: self.max_spans]
        names = sorted(found)
        return [
            self.finding(
                subject,
                severity=severity,
                detail=",".join(names),
                values={"signals": ", ".join(names), "signal_count": len(names), "strong_count": strong},
                spans=tuple(Span(start, end) for start, end in all_spans),
                evidence=tuple(evidence_for(text, start, end, self.context) for start, end in all_spans),
            )
        ]
