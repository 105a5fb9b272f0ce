"""Suppressions: baselines (an earlier report.json) and waivers files, applied to findings as they stream.

A suppressed finding is kept, marked with a :class:`~auditor.models.Suppression`, and no longer counts
towards the exit code, ``by_severity`` or source risk. Reference: docs/suppressions.md.

* A **baseline** accepts each fingerprint as many times as the earlier report had it, at the severity it
  had: a new finding with a fingerprint the baseline does not have, a repeat beyond the baseline's count,
  or a worse severity is reported (bandit #1467: set membership let one entry hide any number).
* A **waiver** suppresses the findings it matches (rule id or glob, work, source host, record, input,
  fingerprint) until its expiry date; it carries a reason and an approver. An expired waiver suppresses
  nothing and is reported as a notification, as are waivers that matched nothing.
"""

from __future__ import annotations

import bisect
import datetime as dt
import fnmatch
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from auditor.errors import UsageError
from auditor.models import (
    BaselineUse,
    Finding,
    Notification,
    RecordRef,
    Severity,
    Suppression,
    WaiverUse,
    WorkRef,
)
from auditor.rules.hosts import canonical_host, host_of
from auditor.rules.params import Cursor, type_name
from auditor.rules.problems import Problem, ProblemLog
from auditor.rules.ruleset import RuleSet
from auditor.rules.yamlsource import read_yaml

WAIVERS_VERSION = 1
FILE_KEYS = ("version", "waivers")
MATCH_KEYS = ("rule", "work", "source", "record", "input", "fingerprint")
WAIVER_KEYS = (*MATCH_KEYS, "reason", "approver", "expires")
EXPIRING_DAYS = 30
"""A waiver expiring within this many days gets a note, so it can be renewed or the finding fixed."""

_RULE_PATTERN = re.compile(r"^[A-Z0-9*?\[\]!-]+$")
_FINGERPRINT = re.compile(r"^[0-9a-f]{32}$")
_HOST_GLOB = re.compile(r"^[a-z0-9.*?_-]+$")


class WaiverFileError(UsageError):
    """A waivers file could not be read; carries every problem, one ``file:line: message (fix)`` a line."""

    def __init__(self, problems: tuple[Problem, ...]) -> None:
        self.problems = problems
        count = len(problems)
        header = f"{count} problem{'s' if count != 1 else ''} in waivers file:"
        super().__init__("\n".join([header, *(f"  {p}" for p in problems)]))


@dataclass(frozen=True, slots=True)
class Waiver:
    """One entry of a waivers file: what it matches, why, who approved it and until when.

    Every matching field given must match (they combine with AND); ``rule``, ``work``, ``record`` and
    ``input`` are globs (``*``, ``?``, ``[...]``), ``source`` is a host that also matches its subdomains
    (or a host glob), ``fingerprint`` is exact.
    """

    where: str
    reason: str
    approver: str
    expires: dt.date
    rule: str | None = None
    work: str | None = None
    source: str | None = None
    record: str | None = None
    input: str | None = None
    fingerprint: str | None = None

    @property
    def criteria(self) -> tuple[tuple[str, str], ...]:
        return tuple((key, value) for key in MATCH_KEYS if (value := getattr(self, key)) is not None)

    def expired(self, today: dt.date) -> bool:
        """True from the day after ``expires`` on (a waiver is valid through its expiry day)."""
        return today > self.expires

    def matches(self, finding: Finding, rule_codes: Sequence[str]) -> bool:
        """Whether the finding meets every criterion; ``rule_codes`` are its rule's id and aliases."""
        if self.fingerprint is not None and finding.fingerprint != self.fingerprint:
            return False
        if self.rule is not None and not any(fnmatch.fnmatchcase(c, self.rule) for c in rule_codes):
            return False
        if self.work is not None and (
            finding.work is None
            or not any(
                fnmatch.fnmatchcase(work.id, self.work)
                for work in (finding.work, *(e.work for e in finding.editions))
            )
        ):
            return False
        if self.record is not None and not fnmatch.fnmatchcase(finding.record.id, self.record):
            return False
        if self.input is not None and not fnmatch.fnmatchcase(finding.record.input, self.input):
            return False
        return self.source is None or _host_matches(host_of(finding.record.url), self.source)


def _host_matches(host: str | None, wanted: str) -> bool:
    if host is None:
        return False
    if any(ch in wanted for ch in "*?["):
        labels = host.split(".")
        return any(fnmatch.fnmatchcase(".".join(labels[i:]), wanted) for i in range(len(labels)))
    return host == wanted or host.endswith("." + wanted)


def read_waivers(path: Path) -> tuple[Waiver, ...]:
    """Read and validate a waivers file (schema: auditor/rules/waivers.schema.json).

    Raises:
        WaiverFileError: listing every problem with file and line (exit code 2).
    """
    log = ProblemLog()
    start = "start it with `version: 1` and `waivers:` (see docs/suppressions.md)"
    doc = read_yaml(path, log, what="waivers file", start=start)
    waivers: list[Waiver] = []
    if doc is not None:
        root = Cursor(doc, log)
        if root.expect_mapping("a waivers file"):
            root.check_keys(FILE_KEYS, required=FILE_KEYS, what="the waivers file")
            version = root.at("version")
            if version.exists and (version.value != WAIVERS_VERSION or isinstance(version.value, bool)):
                version.problem(
                    f"unsupported waivers file version {version.value!r}",
                    f"this auditor reads `version: {WAIVERS_VERSION}`",
                )
            for item in root.items("waivers") or []:
                waiver = _read_waiver(item)
                if waiver is not None:
                    waivers.append(waiver)
    if len(log):
        raise WaiverFileError(log.problems)
    return tuple(waivers)


def _read_waiver(where: Cursor) -> Waiver | None:
    if not where.expect_mapping("a waiver"):
        return None
    where.check_keys(WAIVER_KEYS, required=("reason", "approver", "expires"), what="a waiver")
    ok = True
    if not any(key in where.value for key in MATCH_KEYS):
        where.problem(
            "a waiver must say what it matches",
            "give at least one of " + ", ".join(MATCH_KEYS) + " (all given must match)",
        )
        ok = False
    values: dict[str, str | None] = {}
    for key in MATCH_KEYS:
        values[key] = where.text(key)
        ok = ok and (values[key] is not None or not where.at(key).exists)
    rule, source, fingerprint = values["rule"], values["source"], values["fingerprint"]
    if rule is not None and not _RULE_PATTERN.match(rule.strip()):
        where.at("rule").problem(
            f"rule {rule!r} is not a rule id or glob",
            "write an upper-case rule id or alias such as AUD-SRC-001, or a glob such as AUD-LIC-*",
        )
        ok = False
    if fingerprint is not None and not _FINGERPRINT.match(fingerprint.strip()):
        where.at("fingerprint").problem(
            f"fingerprint {fingerprint!r} is not 32 lower-case hex digits",
            "copy `fingerprint` from the finding in report.json",
        )
        ok = False
    if source is not None:
        wanted = source.strip().lower()
        host = wanted if any(ch in wanted for ch in "*?") else canonical_host(wanted)
        if host is None or "/" in wanted or not _HOST_GLOB.match(host):
            where.at("source").problem(
                f"source {source!r} is not a host name",
                "write the bare host, e.g. libgen.is (no scheme or path)",
            )
            ok = False
        else:
            values["source"] = host
    reason = where.text("reason")
    approver = where.text("approver")
    expires = _date(where.at("expires"))
    if not ok or reason is None or approver is None or expires is None:
        return None
    return Waiver(
        where=f"{where.file}:{where.line}",
        reason=" ".join(reason.split()),
        approver=" ".join(approver.split()),
        expires=expires,
        **{key: (value.strip() if value is not None else None) for key, value in values.items()},
    )


def _date(cursor: Cursor) -> dt.date | None:
    value = cursor.value
    if not cursor.exists:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    cursor.problem(
        f"expires must be a date, got {type_name(value)}",
        "write the last day the waiver is valid as YYYY-MM-DD, e.g. 2026-06-30",
    )
    return None


@dataclass(frozen=True, slots=True)
class Baseline:
    """The findings an earlier report accepts: for each fingerprint, the severities it had (ascending)."""

    path: str
    sha256: str
    entries: Mapping[str, tuple[Severity, ...]]

    @property
    def total(self) -> int:
        return sum(len(sevs) for sevs in self.entries.values())


def read_baseline(path: Path, canonical: Mapping[str, str] | None = None) -> Baseline:
    """Read an earlier report.json as a baseline.

    Its unsuppressed findings and those a baseline suppressed are accepted; findings a waiver
    suppressed are not, so that an expired waiver is never outlived by a baseline.

    Args:
        path: the report.json of an earlier scan.
        canonical: rule alias → current rule id; a finding of a renamed rule is keyed as if reported under
            its current id (its fingerprint is recomputed from rule, input, record, work and detail).

    Raises:
        UsageError: the file cannot be read or is not a report.json (exit code 2).
    """
    canonical = canonical or {}
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"--baseline {path}: cannot read it: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise UsageError(
            f"--baseline {path} is not JSON ({exc}); give the report.json of an earlier scan"
        ) from None
    if (
        not isinstance(data, dict)
        or data.get("schema_version") != 1
        or not isinstance(data.get("findings"), list)
    ):
        raise UsageError(
            f"--baseline {path} is not an auditor report.json (schema_version 1 with findings); "
            "give OUTDIR/report.json of an earlier scan"
        )
    found: dict[str, list[Severity]] = {}
    for index, item in enumerate(data["findings"]):
        fingerprint, severity = _baseline_entry(item)
        if fingerprint is None or severity is None:
            raise UsageError(
                f"--baseline {path}: findings[{index}] has no valid fingerprint and severity; "
                "the file is damaged or was edited — regenerate it with a scan"
            )
        suppressed = item.get("suppressed")
        if suppressed and not (isinstance(suppressed, dict) and suppressed.get("kind") == "baseline"):
            continue
        fingerprint = _renamed_fingerprint(item, canonical) or fingerprint
        found.setdefault(fingerprint, []).append(severity)
    entries = {fp: tuple(sorted(sevs)) for fp, sevs in sorted(found.items())}
    return Baseline(path=str(path), sha256=hashlib.sha256(raw).hexdigest(), entries=entries)


def _baseline_entry(item: Any) -> tuple[str | None, Severity | None]:
    if not isinstance(item, dict):
        return None, None
    fingerprint = item.get("fingerprint")
    if not isinstance(fingerprint, str) or not _FINGERPRINT.match(fingerprint):
        return None, None
    try:
        severity = Severity.parse(item.get("severity", ""))
    except ValueError:
        return fingerprint, None
    return fingerprint, severity


def _renamed_fingerprint(item: dict[str, Any], canonical: Mapping[str, str]) -> str | None:
    rule_id = item.get("rule_id")
    current = canonical.get(rule_id) if isinstance(rule_id, str) else None
    record, work, detail = item.get("record"), item.get("work"), item.get("detail", "")
    if current is None or current == rule_id or not isinstance(record, dict) or not isinstance(detail, str):
        return None
    record_id, input_path = record.get("id"), record.get("input")
    work_id = work.get("id") if isinstance(work, dict) else None
    if not isinstance(record_id, str) or not isinstance(input_path, str):
        return None
    probe = Finding(
        rule_id=current,
        severity=Severity.INFO,
        kind="",
        record=RecordRef(id=record_id, input=input_path, row=0),
        message="",
        work=WorkRef(id=work_id, title="", registry="") if isinstance(work_id, str) else None,
        detail=detail,
    )
    return probe.fingerprint


@dataclass(frozen=True, slots=True)
class SuppressionOutcome:
    """What the suppressions did over a whole scan: the audit trail report.json carries."""

    baseline: BaselineUse | None
    waivers: tuple[WaiverUse, ...]
    as_of: str | None
    notifications: tuple[Notification, ...]


@dataclass
class Suppressor:
    """Applies a baseline and waivers to findings in scan order; keeps the counts the audit trail needs.

    A finding first takes a baseline entry (its fingerprint, at a severity at least its own; the lowest
    such entry), then, if an active waiver matches, is suppressed by the first such waiver in file order,
    else by the baseline entry it took. Taking the baseline entry even when a waiver applies keeps the
    baseline's counts honest: the entry cannot be spent again on a new finding.

    Attributes:
        baseline: the earlier report's accepted findings, or None.
        waivers: the waivers, in file order.
        today: the day expiry is judged on (UTC).
        aliases: rule id → its aliases, so a waiver naming a former id still applies.
    """

    baseline: Baseline | None = None
    waivers: Sequence[Waiver] = ()
    today: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())
    aliases: Mapping[str, Sequence[str]] = field(default_factory=dict)
    _left: dict[str, list[Severity]] = field(default_factory=dict, init=False)
    _matched: list[int] = field(default_factory=list, init=False)
    _baseline_matched: int = field(default=0, init=False)
    _raised: int = field(default=0, init=False)
    _exceeded: int = field(default=0, init=False)
    _active: list[bool] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if self.baseline is not None:
            self._left = {fp: list(sevs) for fp, sevs in self.baseline.entries.items()}
        self._matched = [0] * len(self.waivers)
        self._active = [not w.expired(self.today) for w in self.waivers]

    def expired_waivers(self) -> list[str]:
        """Where each waiver that has expired as of :attr:`today` is (``file:line``): with the waivers
        file, what decides which findings the waivers suppress (a scan's checkpoints depend on it)."""
        return [w.where for w, active in zip(self.waivers, self._active, strict=True) if not active]

    def apply(self, findings: Iterable[Finding]) -> list[Finding]:
        """The findings, each suppressed or not (order kept)."""
        out = []
        for finding in findings:
            if finding.suppressed is not None:
                out.append(finding)
                continue
            from_baseline = self._take_baseline(finding)
            waiver = self._waiver_for(finding)
            if waiver is not None:
                suppression = Suppression(
                    kind="waiver",
                    reason=waiver.reason,
                    approver=waiver.approver,
                    expires=waiver.expires.isoformat(),
                    where=waiver.where,
                )
                out.append(replace(finding, suppressed=suppression))
            elif from_baseline and self.baseline is not None:
                suppression = Suppression(
                    kind="baseline",
                    reason=f"accepted in baseline {self.baseline.path}",
                    where=self.baseline.path,
                )
                out.append(replace(finding, suppressed=suppression))
            else:
                out.append(finding)
        return out

    def _take_baseline(self, finding: Finding) -> bool:
        left = self._left.get(finding.fingerprint)
        if left is None:
            return False
        at = bisect.bisect_left(left, finding.severity)
        if at == len(left):
            if left:
                self._raised += 1
            else:
                self._exceeded += 1
            return False
        del left[at]
        self._baseline_matched += 1
        return True

    def _waiver_for(self, finding: Finding) -> Waiver | None:
        if not self.waivers:
            return None
        codes = (finding.rule_id, *self.aliases.get(finding.rule_id, ()))
        chosen: Waiver | None = None
        for index, waiver in enumerate(self.waivers):
            if waiver.matches(finding, codes):
                self._matched[index] += 1
                if chosen is None and self._active[index]:
                    chosen = waiver
        return chosen

    def outcome(self) -> SuppressionOutcome:
        """The audit trail: baseline use, every waiver's status and count, and the notifications."""
        notes: list[Notification] = []
        uses: list[WaiverUse] = []
        for index, waiver in enumerate(self.waivers):
            matched, expired = self._matched[index], not self._active[index]
            uses.append(
                WaiverUse(
                    where=waiver.where,
                    criteria=waiver.criteria,
                    reason=waiver.reason,
                    approver=waiver.approver,
                    expires=waiver.expires.isoformat(),
                    expired=expired,
                    matched=matched,
                )
            )
            notes.extend(self._waiver_notes(waiver, matched, expired))
        use = None
        if self.baseline is not None:
            use = BaselineUse(
                path=self.baseline.path,
                sha256=self.baseline.sha256,
                findings=self.baseline.total,
                matched=self._baseline_matched,
            )
            notes.extend(self._baseline_notes(self.baseline))
        return SuppressionOutcome(
            baseline=use,
            waivers=tuple(uses),
            as_of=self.today.isoformat() if self.waivers else None,
            notifications=tuple(notes),
        )

    def _waiver_notes(self, waiver: Waiver, matched: int, expired: bool) -> list[Notification]:
        what = ", ".join(f"{key} {value}" for key, value in waiver.criteria)
        if expired:
            return [
                Notification(
                    level="warning",
                    code="waiver-expired",
                    message=(
                        f"waiver ({what}) expired on {waiver.expires.isoformat()} and suppresses nothing; "
                        f"{matched} matching finding{'s are' if matched != 1 else ' is'} reported "
                        f"(approved by {waiver.approver}: {waiver.reason})"
                    ),
                    where=waiver.where,
                )
            ]
        out = []
        if matched == 0:
            out.append(
                Notification(
                    level="note",
                    code="waiver-unused",
                    message=f"waiver ({what}) matched no finding; remove it or check what it matches",
                    where=waiver.where,
                )
            )
        days = (waiver.expires - self.today).days
        if days <= EXPIRING_DAYS:
            out.append(
                Notification(
                    level="note",
                    code="waiver-expiring",
                    message=(
                        f"waiver ({what}) expires on {waiver.expires.isoformat()}, in {days} day"
                        f"{'s' if days != 1 else ''}; renew it (with a new approval) or fix the findings"
                    ),
                    where=waiver.where,
                )
            )
        return out

    def _baseline_notes(self, baseline: Baseline) -> list[Notification]:
        out = []
        if self._raised:
            out.append(
                Notification(
                    level="warning",
                    code="baseline-severity-raised",
                    message=(
                        f"{self._raised} finding{'s' if self._raised != 1 else ''} of the baseline "
                        "are now more severe than the baseline accepted, and are reported"
                    ),
                    where=baseline.path,
                )
            )
        if self._exceeded:
            out.append(
                Notification(
                    level="warning",
                    code="baseline-count-exceeded",
                    message=(
                        f"{self._exceeded} finding{'s' if self._exceeded != 1 else ''} repeat a baseline "
                        "fingerprint more often than the baseline accepts, and are reported"
                    ),
                    where=baseline.path,
                )
            )
        unmatched = baseline.total - self._baseline_matched
        if unmatched:
            out.append(
                Notification(
                    level="note",
                    code="baseline-unmatched",
                    message=(
                        f"{unmatched} of the {baseline.total} findings the baseline accepts were not found "
                        "(fixed, removed or changed); regenerate the baseline so they cannot hide new ones"
                    ),
                    where=baseline.path,
                )
            )
        return out


def suppress(
    findings: Iterable[Finding],
    *,
    baseline: Baseline | None = None,
    waivers: Sequence[Waiver] = (),
    today: dt.date,
    aliases: Mapping[str, Sequence[str]] | None = None,
) -> tuple[list[Finding], SuppressionOutcome]:
    """Apply a baseline and waivers to findings given in scan order (a pure function over Findings).

    Returns:
        The findings (suppressed ones marked, none dropped, order kept) and the audit trail.
    """
    suppressor = Suppressor(baseline=baseline, waivers=waivers, today=today, aliases=dict(aliases or {}))
    out = suppressor.apply(findings)
    return out, suppressor.outcome()


def load_suppressor(
    baseline: Path | None, waivers: Path | None, rules: RuleSet, today: dt.date | None = None
) -> Suppressor | None:
    """Read ``--baseline`` and ``--waivers`` for a scan with ``rules``; None when neither is given.

    Raises:
        UsageError: the baseline cannot be read, or the waivers file has problems (exit code 2).
    """
    if baseline is None and waivers is None:
        return None
    every = (*rules.rules, *rules.disabled)
    canonical = {code: rule.id for rule in every for code in (rule.id, *rule.aliases)}
    return Suppressor(
        baseline=read_baseline(baseline, canonical) if baseline is not None else None,
        waivers=read_waivers(waivers) if waivers is not None else (),
        today=today or dt.datetime.now(dt.UTC).date(),
        aliases={rule.id: rule.aliases for rule in every},
    )
