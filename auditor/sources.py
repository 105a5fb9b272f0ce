"""Provenance sources (URL host, else input file) and their risk score.

A source's risk is the mean, over its records, of the weight of each record's worst finding:
critical 1.0, high 0.7, medium 0.4, low 0.1, info or none 0. A mirror whose every record is a pirated
book scores near 1; a news site with one flagged page in a thousand scores near 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from auditor.models import RecordRef, Severity, SourceRisk

SEVERITY_WEIGHT = {
    Severity.CRITICAL: 10,
    Severity.HIGH: 7,
    Severity.MEDIUM: 4,
    Severity.LOW: 1,
    Severity.INFO: 0,
}
"""Weights in tenths: integer sums are exact, so the risk does not depend on record order."""


def url_host(url: str | None) -> str | None:
    """The lower-cased host of a URL without ``www.`` and port, or None if it has none."""
    if not url:
        return None
    text = url.strip()
    if "://" not in text:
        text = "//" + text
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.rstrip(".").lower()
    return host[4:] if host.startswith("www.") else host


def source_key(record: RecordRef) -> str:
    """The source a record came from: its URL's host, else its input file."""
    return url_host(record.url) or record.input


@dataclass(slots=True)
class _Tally:
    records: int = 0
    flagged: int = 0
    weight: int = 0
    worst: Severity | None = None


@dataclass(slots=True)
class SourceTally:
    """Counts records and their worst severities per source while a scan streams."""

    _by_key: dict[str, _Tally] = field(default_factory=dict)

    def add(self, record: RecordRef, worst: Severity | None) -> None:
        tally = self._by_key.setdefault(source_key(record), _Tally())
        tally.records += 1
        if worst is not None:
            tally.flagged += 1
            tally.weight += SEVERITY_WEIGHT[worst]
            if tally.worst is None or worst > tally.worst:
                tally.worst = worst

    def merge(self, other: SourceTally) -> None:
        for key, theirs in other._by_key.items():
            mine = self._by_key.setdefault(key, _Tally())
            mine.records += theirs.records
            mine.flagged += theirs.flagged
            mine.weight += theirs.weight
            if theirs.worst is not None and (mine.worst is None or theirs.worst > mine.worst):
                mine.worst = theirs.worst

    def ranked(self) -> tuple[SourceRisk, ...]:
        """Sources from the riskiest down (ties: more flagged records first, then by key)."""
        risks = [
            SourceRisk(key, t.records, t.flagged, t.worst, t.weight / (10 * t.records) if t.records else 0.0)
            for key, t in self._by_key.items()
        ]
        return tuple(sorted(risks, key=lambda s: (-s.risk, -s.flagged, -s.records, s.key)))


def worst_severity(severities: Iterable[Severity]) -> Severity | None:
    return max(severities, default=None)
