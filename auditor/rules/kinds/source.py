"""The ``source`` kind: the host of the record's URL against domain lists and host patterns."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from auditor.models import Finding
from auditor.rules.check import Check, CompileContext, Subject, register_kind
from auditor.rules.hosts import HostMatcher, canonical_host
from auditor.rules.params import Cursor
from auditor.rules.rule import Rule

_GLOB_CHARS = re.compile(r"^[a-z0-9.*?_-]+$")


@register_kind
class SourceCheck(Check):
    """One finding when the record's host is a listed domain (or a subdomain of one) or fits a pattern."""

    kind = "source"
    gate = "host"
    placeholders: ClassVar[dict[str, Any]] = {"host": "libgen.is", "domain": "libgen.is"}

    def __init__(self, rule: Rule, matcher: HostMatcher) -> None:
        super().__init__(rule)
        self.matcher = matcher

    @classmethod
    def compile(cls, rule: Rule, params: Cursor, ctx: CompileContext) -> Check | None:
        params.check_keys(("domains", "patterns"), what=f"params of {cls.kind}")
        domains: list[str] = []
        for index, domain in enumerate(params.texts("domains") or []):
            host = canonical_host(domain) if "/" not in domain and "*" not in domain else None
            if host is None or "." not in host:
                params.at("domains").at(index).problem(
                    f"{domain!r} is not a domain name",
                    "write the bare domain, e.g. libgen.is (no scheme or path)",
                )
            else:
                domains.append(host)
        globs: list[str] = []
        regexes: list[re.Pattern[str]] = []
        for item in params.items("patterns") or []:
            if isinstance(item.value, str):
                glob = item.value.strip().lower()
                if not glob or not _GLOB_CHARS.match(glob):
                    item.problem(
                        f"{item.value!r} is not a host glob",
                        "use letters, digits, dots, hyphens and * or ?, or {regex: '...'} for a regex",
                    )
                else:
                    globs.append(glob)
            elif isinstance(item.value, dict):
                item.check_keys(("regex",), required=("regex",), what="a host pattern")
                regex = item.regex("regex")
                if regex is not None:
                    regexes.append(regex)
            else:
                item.problem("a host pattern must be a glob (text) or {regex: '...'}", "e.g. `- libgen.*`")
        if not domains and not globs and not regexes:
            if not params.at("domains").exists and not params.at("patterns").exists:
                params.problem(
                    f"a {cls.kind} rule needs `domains:` or `patterns:`", "list at least one domain"
                )
            elif not params.at("domains").value and not params.at("patterns").value:
                params.problem(
                    f"a {cls.kind} rule's `domains:` and `patterns:` are empty", "list at least one domain"
                )
            return None
        return cls(rule, HostMatcher(domains, globs, regexes))

    def passes(self, value: Any) -> bool:
        return value is not None and self.matcher.match(value) is not None

    @classmethod
    def passes_any(cls, checks: Sequence[Check]) -> Callable[[Any], bool] | None:
        matchers = [c.matcher for c in checks if isinstance(c, SourceCheck)]
        if len(matchers) != len(checks):
            return None
        union = HostMatcher.union(matchers)
        return lambda host: host is not None and union.match(host) is not None

    def evaluate(self, subject: Subject) -> list[Finding]:
        host = subject.host
        if host is None:
            return []
        matched = self.matcher.match(host)
        if matched is None:
            return []
        return [
            self.finding(
                subject,
                severity=self.rule.severity,
                detail=host,
                values={"host": host, "domain": matched},
            )
        ]
