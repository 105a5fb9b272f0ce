"""The rule set of a scan: default and user packs loaded together, and the evaluation of one record."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from auditor.editions import COPY_KINDS, group_editions
from auditor.errors import UsageError
from auditor.models import Finding, Match, PackInfo, Record
from auditor.rules import kinds as _kinds  # noqa: F401  (registers the built-in check kinds)
from auditor.rules.check import (
    KINDS,
    Check,
    CompileContext,
    NoFacts,
    RegistryFacts,
    Subject,
    validate_message,
)
from auditor.rules.keywords import ISBN_KEYWORDS, KeywordSearch
from auditor.rules.licenses import USES, LicenseClassifier, LicenseTable
from auditor.rules.pack import PackSource, read_pack
from auditor.rules.params import Cursor
from auditor.rules.problems import ProblemLog
from auditor.rules.rule import Rule

__all__ = ["RegistryFacts", "RuleSet", "default_pack_dir", "default_pack_paths", "load_rule_set"]

_NO_FACTS = NoFacts()


def default_pack_dir() -> Path:
    """The folder of the bundled packs: ``auditor/packs`` when installed, else the repository's ``rules/``."""
    package = Path(__file__).resolve().parent.parent
    packaged = package / "packs"
    return packaged if packaged.is_dir() else package.parent / "rules"


def default_pack_paths() -> list[Path]:
    """The bundled packs, by file name."""
    folder = default_pack_dir()
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def _finding_order(finding: Finding) -> tuple[Any, ...]:
    spans = tuple((s.record_start, s.record_end, s.work_start or -1, s.work_end or -1) for s in finding.spans)
    score = (finding.score.matched_tokens, finding.score.similarity) if finding.score else (-1, -1.0)
    work = (finding.work.registry, finding.work.id) if finding.work else ("", "")
    return (-finding.severity, finding.rule_id, work, finding.detail, spans, score, finding.message)


class RuleSet:
    """The active rules of a scan and the packs they came from.

    Attributes:
        packs: every pack loaded, in loading order (defaults first).
        rules: the enabled rules, by id.
        disabled: rules switched off by their pack or by a later pack's ``disable:``, by id.
        reasons: for each rule whose state a pack decided (shipped off, or named by ``enable:`` or
            ``disable:``), why it is on or off, e.g. "`disable: AUD-SRC-*` at my.yaml:4".
        use: the intended use licences are judged for (``commercial`` or ``research``).
    """

    def __init__(
        self,
        packs: tuple[PackInfo, ...],
        checks: Sequence[Check],
        disabled: tuple[Rule, ...],
        use: str,
        reasons: Mapping[str, str] | None = None,
    ) -> None:
        ordered = sorted(checks, key=lambda c: c.rule.id)
        self.packs = packs
        self.reasons: Mapping[str, str] = dict(reasons or {})
        self.rules: tuple[Rule, ...] = tuple(c.rule for c in ordered)
        self.disabled = disabled
        self.use = use
        self._record_checks = tuple(c for c in ordered if not c.uses_matches)
        self._match_checks = tuple(c for c in ordered if c.uses_matches)
        self._copy_kinds = tuple(k for k in COPY_KINDS if any(c.kind == k for c in self._match_checks))
        self._keywords = ISBN_KEYWORDS | frozenset(
            k for c in ordered for k in getattr(c, "keywords", ()) if isinstance(k, str)
        )
        self._search = KeywordSearch(self._keywords)
        self._by_code = {code: c.rule for c in ordered for code in (c.rule.id, *c.rule.aliases)}
        # Record checks gated on the host or the licence run only where their gate passed (asked once per
        # distinct value); the others run on every record.
        self._ungated = tuple(c for c in self._record_checks if c.gate not in _GATES)
        self._by_host = tuple(c for c in self._record_checks if c.gate == "host")
        self._by_license = tuple(c for c in self._record_checks if c.gate == "license")
        self._rank = {id(c): i for i, c in enumerate(self._record_checks)}
        self._reset_caches()

    def _reset_caches(self) -> None:
        self._host_any = _passes_any(self._by_host)
        self._license_any = _passes_any(self._by_license)
        self._host_passed: dict[str | None, tuple[Check, ...]] = {}
        self._license_passed: dict[str | None, tuple[Check, ...]] = {}
        self._to_run: dict[tuple[tuple[Check, ...], tuple[Check, ...]], tuple[Check, ...]] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for name in ("_host_passed", "_license_passed", "_to_run", "_rank", "_host_any", "_license_any"):
            del state[name]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._rank = {id(c): i for i, c in enumerate(self._record_checks)}
        self._reset_caches()

    def warm_up(self) -> None:
        """Build the keyword search and load its compiled scan now, so that worker processes forked
        afterwards inherit them instead of each loading them (as :func:`auditor.kernels.warm_up`)."""
        self._search.warm_up()

    def __repr__(self) -> str:
        return f"RuleSet(packs={[p.name for p in self.packs]}, rules={len(self.rules)}, use={self.use!r})"

    def rule(self, code: str) -> Rule | None:
        """The enabled rule with this id or alias."""
        return self._by_code.get(code)

    def describe(self) -> list[dict[str, Any]]:
        """The enabled rules as reports list them, by id."""
        return [rule.describe() for rule in self.rules]

    def listing(self) -> dict[str, Any]:
        """What a scan would use, for ``auditor rules list --json``: packs, active and disabled rules."""

        def entry(rule: Rule) -> dict[str, Any]:
            return {
                **rule.describe(),
                "pack": rule.pack,
                "aliases": list(rule.aliases),
                "why": self.reasons.get(rule.id),
            }

        return {
            "use": self.use,
            "packs": [{"name": p.name, "digest": p.digest, "path": p.path} for p in self.packs],
            "active": [entry(rule) for rule in self.rules],
            "disabled": [entry(rule) for rule in self.disabled],
        }

    def listing_lines(self) -> list[str]:
        """:meth:`listing` as text: one line per pack, then per active rule, then per disabled rule."""
        data = self.listing()
        lines = [f"packs (loading order; licences judged for {self.use} use):"]
        lines += [f"  {p['name']:<18} {p['digest'][:12]}  {p['path']}" for p in data["packs"]]

        def row(rule: dict[str, Any]) -> str:
            text = f"  {rule['id']:<14} {rule['severity']:<9} {rule['kind']:<15} {rule['pack']:<18} "
            return text + rule["name"] + (f"  ({rule['why']})" if rule["why"] else "")

        lines.append(f"active rules ({len(data['active'])}):")
        lines += [row(rule) for rule in data["active"]]
        lines.append(f"disabled rules ({len(data['disabled'])}):")
        lines += [row(rule) for rule in data["disabled"]] or ["  (none)"]
        return lines

    def evaluate(
        self, record: Record, matches: Sequence[Match], facts: RegistryFacts | None = None
    ) -> list[Finding]:
        """Every finding of every enabled rule on one record.

        Args:
            record: the record, as read.
            matches: its verified matches against the registries (empty when none); matches against
                several editions of one book are merged here into one (see
                :func:`auditor.editions.group_editions`), so a book copied once gives one finding.
            facts: registry look-ups (ISBNs); None when no registry is open.

        Returns:
            Findings from the worst down, then by rule id, work, detail and first offset.
        """
        return self._evaluate(record, matches, facts, None)

    def evaluate_many(
        self,
        records: Sequence[Record],
        matches: Sequence[Sequence[Match]],
        facts: RegistryFacts | None = None,
    ) -> list[list[Finding]]:
        """:meth:`evaluate` of each record of a batch; the rules' keywords are searched batch-wide
        once, so records holding none of a rule's keywords skip it."""
        present = self._search.per_text([r.text for r in records])
        return [
            self._evaluate(record, found, facts, present[i])
            for i, (record, found) in enumerate(zip(records, matches, strict=True))
        ]

    def _evaluate(
        self,
        record: Record,
        matches: Sequence[Match],
        facts: RegistryFacts | None,
        keywords: frozenset[str] | None,
    ) -> list[Finding]:
        if len(matches) > 1:
            matches = group_editions(matches, self._copy_kinds)
        subject = Subject(record, matches, facts if facts is not None else _NO_FACTS, keywords)
        findings: list[Finding] = []
        for check in self._checks_for(subject):
            findings.extend(check.evaluate(subject))
        if matches:
            for check in self._match_checks:
                findings.extend(check.evaluate(subject))
        if len(findings) > 1:
            findings.sort(key=_finding_order)
        return findings

    def _checks_for(self, subject: Subject) -> tuple[Check, ...]:
        """The record checks to run on a record, in rule-id order: the ungated ones and the gated ones
        whose gate passed for its host and licence."""
        by_host = (
            _passing(self._by_host, self._host_any, self._host_passed, subject.host) if self._by_host else ()
        )
        by_license = (
            _passing(self._by_license, self._license_any, self._license_passed, subject.record.license)
            if self._by_license
            else ()
        )
        if not by_host and not by_license:
            return self._ungated
        key = (by_host, by_license)
        checks = self._to_run.get(key)
        if checks is None:
            checks = tuple(sorted((*self._ungated, *by_host, *by_license), key=self._rank_of))
            _remember(self._to_run, key, checks)
        return checks

    def _rank_of(self, check: Check) -> int:
        return self._rank[id(check)]


_GATES = ("host", "license")
_MAX_REMEMBERED = 65536
_MAX_KEY_CHARS = 256
"""Gate values longer than this (a licence text pasted into the field) are not remembered."""


def _passes_any(checks: tuple[Check, ...]) -> Callable[[Any], bool] | None:
    """One test for gated checks of one kind (see :meth:`Check.passes_any`); None when there is none."""
    kinds = {type(c) for c in checks}
    return kinds.pop().passes_any(checks) if len(kinds) == 1 and len(checks) > 1 else None


def _passing(
    checks: tuple[Check, ...],
    any_passes: Callable[[Any], bool] | None,
    passed: dict[Any, tuple[Check, ...]],
    value: str | None,
) -> tuple[Check, ...]:
    """Those of ``checks`` (gated on one value) that pass ``value``, remembered per value."""
    found = passed.get(value)
    if found is None:
        found = tuple(c for c in checks if c.passes(value)) if any_passes is None or any_passes(value) else ()
        if value is None or len(value) <= _MAX_KEY_CHARS:
            _remember(passed, value, found)
    return found


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    """Store ``value`` under ``key`` in a bounded cache (emptied when full)."""
    if len(cache) >= _MAX_REMEMBERED:
        cache.clear()
    cache[key] = value


def _expand(paths: Iterable[Path], log: ProblemLog) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            found = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
            if not found:
                log.add(
                    str(path), None, "folder holds no .yaml rule packs", "give pack files or a folder of them"
                )
            out.extend(found)
        elif path.is_file():
            out.append(path)
        else:
            log.add(str(path), None, "rule pack not found", "check the path given to --rules")
    return out


def load_rule_set(
    packs: Sequence[Path] = (), *, use: str = "commercial", include_defaults: bool = True
) -> RuleSet:
    """Load the bundled packs (all ``rules/*.yaml``) and the user's packs into one rule set.

    Args:
        packs: user pack files, or folders of them, applied after the defaults (so their ``disable:``
            and ``enable:`` win).
        use: ``commercial`` or ``research``; decides how licences are judged.
        include_defaults: False to load only ``packs``.

    Raises:
        RulePackError: listing every problem of every pack, one ``file:line: message (fix)`` a line.
        UsageError: ``use`` is not a known use.
    """
    if use not in USES:
        raise UsageError(f"unknown use {use!r}: use one of {', '.join(USES)}")
    log = ProblemLog()
    defaults = default_pack_paths()
    bundled = {path.resolve() for path in defaults}
    files = (defaults if include_defaults else []) + _expand(packs, log)
    seen_files: set[Path] = set()
    sources: list[PackSource] = []
    for path in files:
        resolved = path.resolve()
        if resolved in seen_files:
            continue  # a default pack named again with --rules is loaded once
        seen_files.add(resolved)
        source = read_pack(path, log, bundled=resolved in bundled)
        if source is not None:
            sources.append(source)
    if not sources and not len(log):
        log.add("<rules>", None, "no rule packs to load", "give --rules PACK or keep the default packs")

    pack_names: dict[str, str] = {}
    for source in sources:
        first = pack_names.setdefault(source.info.name, source.info.path)
        if first != source.info.path:
            log.add(
                source.info.path,
                1,
                f"pack name {source.info.name!r} is also used by {first}",
                "rename one pack",
            )

    classifier = LicenseClassifier(LicenseTable.combine(s.licenses for s in sources if s.licenses), use)
    declared: dict[str, Cursor] = {}
    for source in sources:
        for code, at in source.ids:
            first_at = declared.setdefault(code, at)
            if first_at is not at:
                at.problem(
                    f"duplicate rule id {code!r} (first declared at {first_at.file}:{first_at.line})",
                    "rule ids are never reused: give this rule a new id",
                )
    checks: list[Check] = []
    for source in sources:
        ctx = CompileContext(use=use, pack_dir=source.path.parent, classifier=classifier)
        for item in source.rules:
            rule = item.rule
            kind = KINDS[rule.kind]
            validate_message(rule.message, kind.placeholders, item.where.at("message"))
            check = kind.compile(rule, item.params, ctx)
            if check is not None and not item.provisional:
                checks.append(check)

    enabled, reasons = _switch(sources, {c.rule.id: c.rule for c in checks}, log)
    if not len(log) and not any(enabled.values()):
        _no_rules_would_run(sources, log)
    log.raise_if_any()
    active: list[Check] = []
    off: list[Rule] = []
    for check in checks:
        on = enabled[check.rule.id]
        if check.rule.enabled != on:
            check.rule = replace(check.rule, enabled=on)
        if on:
            active.append(check)
        else:
            off.append(check.rule)
    return RuleSet(
        tuple(s.info for s in sources), active, tuple(sorted(off, key=lambda r: r.id)), use, reasons
    )


def _no_rules_would_run(sources: Sequence[PackSource], log: ProblemLog) -> None:
    """Report a rule set with nothing enabled at the last ``disable:`` entry, else at the last pack."""
    for source in reversed(sources):
        if source.disable:
            source.disable[-1][1].problem(
                "no rules would run: every loaded rule is disabled",
                "enable at least one rule (`enable: [ID]`) or narrow this `disable:` entry",
            )
            return
    where = sources[-1].info.path if sources else "<rules>"
    log.add(
        where,
        1 if sources else None,
        "no rules would run: the loaded packs declare no enabled rule",
        "add a rule, enable one with `enable: [ID]`, or keep the bundled packs",
    )


def _switch(
    sources: Sequence[PackSource], rules: dict[str, Rule], log: ProblemLog
) -> tuple[dict[str, bool], dict[str, str]]:
    """Apply every pack's ``enable:`` then ``disable:`` in pack order; later packs win.

    Returns:
        Whether each rule is on, and for each rule a pack switched (or shipped off) why it is in that state.
    """
    state = {rule_id: rule.enabled for rule_id, rule in rules.items()}
    reasons = {
        rule_id: f"`enabled: false` in pack {rule.pack}"
        for rule_id, rule in rules.items()
        if not rule.enabled
    }
    codes: dict[str, str] = {}
    for rule in rules.values():
        for code in (rule.id, *rule.aliases):
            codes[code] = rule.id
    for source in sources:
        both = {p for p, _ in source.enable} & {p for p, _ in source.disable}
        for pattern, at in source.enable + source.disable:
            if pattern in both:
                at.problem(f"{pattern!r} is both enabled and disabled in this pack", "keep it in one list")
        for value, statements in ((True, source.enable), (False, source.disable)):
            for pattern, at in statements:
                why = f"`{'enable' if value else 'disable'}: {pattern}` at {at.file}:{at.line}"
                if any(ch in pattern for ch in "*?["):
                    for code, rule_id in codes.items():
                        if fnmatch.fnmatchcase(code, pattern):
                            state[rule_id] = value
                            reasons[rule_id] = why
                elif pattern in codes:
                    state[codes[pattern]] = value
                    reasons[codes[pattern]] = why
                else:
                    close = [c for c in codes if c.split("-")[:2] == pattern.split("-")[:2]]
                    at.problem(
                        f"no rule has id {pattern!r}",
                        "check the id with `auditor rules list`"
                        + (f"; ids nearby: {', '.join(sorted(close)[:5])}" if close else ""),
                    )
    return state, reasons
