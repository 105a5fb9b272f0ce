"""Facts derived from a report record that several formats show: verdict, threshold, tops, source keys."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from auditor.models import SEVERITY_NAMES, Severity
from auditor.report import FindingRecords

EXIT_CODE_MEANINGS: dict[int, str] = {
    0: "the scan completed and nothing is at or above the fail threshold",
    1: "the scan completed with findings at or above the fail threshold",
    2: "usage, rule-pack or registry error: nothing was scanned",
    3: "an input could not be read completely (--strict), or no record was scanned at all",
    4: "internal error",
    130: "interrupted",
}
"""What each exit code of ``auditor scan`` means (DESIGN.md, "Exit codes")."""

DEFAULT_FAIL_ON = "high"
CONTENT_KINDS = frozenset({"near-duplicate", "exact-duplicate", "notice"})
"""Finding kinds whose evidence is text taken from the record (and, for copies, from the work)."""

_RANK = {name: int(Severity.parse(name)) for name in SEVERITY_NAMES}


def severity_rank(name: str | None) -> int:
    """A severity name's rank (critical 4 … info 0); -1 for none or an unknown name."""
    return _RANK.get(str(name).lower(), -1) if name is not None else -1


def worst_first(findings: Iterable[dict[str, Any]]) -> Sequence[dict[str, Any]]:
    """Findings ordered worst first; the order among equals is kept (report.json's place order).

    A scan's own :class:`~auditor.report.FindingRecords` are in report order, worst first already:
    they are given back as they are, so their records are still made only as they are read.
    """
    if isinstance(findings, FindingRecords):
        return findings
    return sorted(findings, key=lambda f: -severity_rank(f.get("severity")))


def option_value(command: Sequence[str], option: str) -> str | None:
    """The value of ``option`` (``--name value`` or ``--name=value``) in a recorded command line."""
    args = [str(a) for a in command]
    for i, arg in enumerate(args):
        if arg == option and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(option + "="):
            return arg.partition("=")[2]
    return None


def fail_threshold(command: Sequence[str]) -> str | None:
    """The ``--fail-on`` value of a recorded command line.

    Returns the value as given (a severity or ``never``), the default for a ``scan`` without the
    option, or None when the command does not say (not a scan, or not recorded).
    """
    value = option_value(command, "--fail-on")
    if value is not None:
        return value.lower()
    return DEFAULT_FAIL_ON if "scan" in [str(a) for a in command] else None


def failing_rank(command: Sequence[str]) -> int | None:
    """The lowest severity rank that fails the run, or None when nothing fails it (``never``)."""
    threshold = fail_threshold(command) or DEFAULT_FAIL_ON
    if threshold == "never":
        return None
    rank = severity_rank(threshold)
    return rank if rank >= 0 else severity_rank(DEFAULT_FAIL_ON)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The run's outcome in words: a one-word status and the exit code's meaning."""

    status: str
    exit_code: int | None
    meaning: str
    fail_on: str | None


def verdict(report: dict[str, Any]) -> Verdict:
    """What the run's exit code says, and the fail threshold when the command line shows it."""
    summary = report.get("summary") or {}
    code = summary.get("exit_code")
    fail_on = fail_threshold((report.get("run") or {}).get("command") or [])
    status = {0: "PASS", 1: "FAIL", 130: "INTERRUPTED"}.get(code, "ERROR") if code is not None else "UNKNOWN"
    if code is None:
        meaning = "the report does not record an exit code"
    else:
        meaning = EXIT_CODE_MEANINGS.get(code, f"exit code {code} has no documented meaning")
    return Verdict(status=status, exit_code=code, meaning=meaning, fail_on=fail_on)


def top_sources(report: dict[str, Any], n: int = 10) -> list[dict[str, Any]]:
    """The ``n`` riskiest sources: by risk, then flagged records, then key."""
    sources = [s for s in report.get("sources") or [] if s.get("flagged") or s.get("risk")]
    return sorted(sources, key=lambda s: (-(s.get("risk") or 0), -(s.get("flagged") or 0), s["key"]))[:n]


def top_works(report: dict[str, Any], n: int = 10) -> list[dict[str, Any]]:
    """The ``n`` works most present: by coverage, then records, then id."""
    works = report.get("works") or []
    return sorted(works, key=lambda w: (-(w.get("coverage") or 0), -(w.get("records") or 0), w["id"]))[:n]


def licence_mix(report: dict[str, Any]) -> list[tuple[str, int]]:
    """Declared licences with how many records declare each (``sources_by.license``: every record).

    Reports from before that dimension existed fall back to the licences named by licence findings.
    """
    by_license = (report.get("sources_by") or {}).get("license")
    if by_license:
        pairs = [(str(s["key"]), int(s.get("records") or 0)) for s in by_license]
        return sorted(pairs, key=lambda kv: (-kv[1], kv[0]))
    counts = Counter(
        (f.get("detail") or f.get("message") or "?")
        for f in report.get("findings") or []
        if f.get("kind") == "license"
    )
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def suppression_text(value: Any) -> str:
    """A finding's ``suppressed`` value in words ("" when not suppressed): ``key: value; …`` for a mapping."""
    if not value:
        return ""
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


# An http(s) URL whose host is plain letters, digits, dots and hyphens, ended by a path, query,
# fragment or the end: urlsplit's host is that text, lower-cased (no user, port, brackets, controls).
_PLAIN_HTTP = re.compile(r"[Hh][Tt][Tt][Pp][Ss]?://([A-Za-z0-9.-]+)(?:[/?#]|\Z)")


def url_host(url: str | None) -> str | None:
    """The lower-cased host of an http(s) URL, or None."""
    if not url:
        return None
    url = url.strip()
    plain = _PLAIN_HTTP.match(url)
    if plain:
        return plain.group(1).lower()
    try:
        parts = urlsplit(url)
        host = parts.hostname if parts.scheme.lower() in ("http", "https") else None
    except ValueError:
        return None
    return host or None


class SourceIndex:
    """Finds which entry of the report's ``sources`` a finding's record belongs to.

    The engine keys a source by URL host, else by input file; whether it keeps subdomains is its
    business, so a host is tried whole and then with leading labels dropped, and the input last.
    """

    def __init__(self, report: dict[str, Any]) -> None:
        self._keys = {s["key"] for s in report.get("sources") or []}
        self._found: dict[tuple[str | None, str], str] = {}

    def key_for(self, record: dict[str, Any]) -> str:
        """The source key of a finding's ``record``: a known key when one fits, else host or input."""
        host = url_host(record.get("url"))
        place = (host, str(record.get("input", "")))
        found = self._found.get(place)
        if found is None:
            found = self._found[place] = self._key(host, place[1])
        return found

    def _key(self, host: str | None, input: str) -> str:
        candidates: list[str] = []
        if host:
            labels = host.split(".")
            candidates += [".".join(labels[i:]) for i in range(max(len(labels) - 1, 1))]
        candidates.append(input)
        for candidate in candidates:
            if candidate in self._keys:
                return candidate
        return host or input


def editions_text(value: Any) -> str:
    """Other editions of a book as "title (id), …": a finding's ``editions`` (each with a ``work``)
    or a ``works[]`` entry's (each a work); "" when none (reports from before editions were merged)."""
    names = []
    for entry in value if isinstance(value, list) else []:
        work = entry.get("work", entry) if isinstance(entry, dict) else None
        if not isinstance(work, dict):
            continue
        work_id, title = str(work.get("id") or ""), str(work.get("title") or "")
        names.append(f"{title} ({work_id})" if title and title != work_id else work_id or title)
    return ", ".join(n for n in names if n)
