"""Provenance sources (URL host, else input file) and their risk score.

A source's risk is the mean, over its records, of the weight of each record's worst finding:
critical 1.0, high 0.7, medium 0.4, low 0.1, info or none 0. A mirror whose every record is a pirated
book scores near 1; a news site with one flagged page in a thousand scores near 0.

Besides the contract's one list (host, else input), records are tallied along three dimensions
(``SOURCE_KINDS``): ``domain`` (the URL host; records without one are not counted), ``dataset`` (the
first of ``DATASET_FIELDS`` a record's metadata has; records with none are not counted) and ``input``
(the input file; every record) and ``license`` (the declared licence as written, whitespace
collapsed, or ``(none declared)``; every record) — the corpus's licence mix, with risk.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from auditor.models import Record, RecordRef, Severity, SourceRisk

SEVERITY_WEIGHT = {
    Severity.CRITICAL: 10,
    Severity.HIGH: 7,
    Severity.MEDIUM: 4,
    Severity.LOW: 1,
    Severity.INFO: 0,
}
"""Weights in tenths: integer sums are exact, so the risk does not depend on record order."""


_PLAIN_NETLOC = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*:)?//([^/?#\t\r\n]*)(?=[/?#]|\Z)")
"""A URL whose network location ``urlsplit`` takes as it stands: an optional scheme, ``//``, then up
to the first / ? # (tabs and line breaks, which urlsplit deletes first, send a URL the slow way)."""


def url_host(url: str | None) -> str | None:
    """The lower-cased host of a URL without ``www.`` and port, or None if it has none."""
    if not url:
        return None
    text = url.strip()
    if "://" not in text:
        text = "//" + text
    plain = _PLAIN_NETLOC.match(text)
    netloc = plain.group(1) if plain is not None else None
    if netloc is not None and netloc.isascii() and not ("[" in netloc or "]" in netloc or "%" in netloc):
        # What urlsplit(text).hostname gives for such a URL, without building the split.
        host: str | None = netloc.rpartition("@")[2].partition(":")[0].lower() or None
    else:
        try:
            host = urlsplit(text).hostname
        except ValueError:
            return None
    if not host:
        return None
    host = host.rstrip(".").lower()
    return host[4:] if host.startswith("www.") else host


def source_key(record: RecordRef | Record) -> str:
    """The source a record came from: its URL's host, else its input file."""
    return url_host(record.url) or record.input


SOURCE_KINDS: tuple[str, ...] = ("domain", "dataset", "input", "license")
"""The dimensions sources are ranked along in report.json's ``sources_by``."""

DATASET_FIELDS: tuple[str, ...] = (
    "dataset",
    "source",
    "pile_set_name",
    "meta.pile_set_name",
    "meta.redpajama_set_name",
    "meta.dataset",
    "meta.source",
    "metadata.dataset",
    "metadata.source",
)
"""Metadata fields (dotted paths) naming the dataset or subset a record belongs to, tried in order:
the first that holds non-empty text or a number names the record's dataset (The Pile writes
``meta.pile_set_name``, RedPajama ``meta.redpajama_set_name``, Dolma ``source``)."""

MAX_DATASET_KEY = 200
_DATASET_PATHS = tuple(tuple(dotted.split(".")) for dotted in DATASET_FIELDS)
_DATASET_ROOTS = frozenset(path[0] for path in _DATASET_PATHS)


NO_LICENSE = "(none declared)"


def license_key(declared: str | None) -> str:
    """A declared licence as the licence mix counts it: as written, whitespace collapsed."""
    key = _LICENSE_KEYS.get(declared)
    if key is None:
        text = " ".join((declared or "").split())
        key = text[:200] if text else NO_LICENSE
        if declared is None or len(declared) <= 256:  # not a licence text pasted into the field
            if len(_LICENSE_KEYS) >= 4096:
                _LICENSE_KEYS.clear()
            _LICENSE_KEYS[declared] = key
    return key


_LICENSE_KEYS: dict[str | None, str] = {}
"""license_key of the spellings seen (corpora repeat a few)."""


def dataset_key(meta: Mapping[str, Any]) -> str | None:
    """The dataset a record's metadata names (see :data:`DATASET_FIELDS`), or None."""
    if type(meta) is dict and _DATASET_ROOTS.isdisjoint(meta):
        return None  # the usual case: no field it could be in
    for path in _DATASET_PATHS:
        if path[0] not in meta:
            continue
        value: Any = meta
        for part in path:
            value = value.get(part) if isinstance(value, Mapping) else None
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float | str):
            text = " ".join(str(value).split())[:MAX_DATASET_KEY]
            if text:
                return text
    return None


@dataclass(slots=True)
class _Tally:
    records: int = 0
    flagged: int = 0
    weight: int = 0
    worst: Severity | None = None


def _count(tallies: dict[str, _Tally], key: str, worst: Severity | None) -> None:
    tally = tallies.get(key)
    if tally is None:
        tally = tallies[key] = _Tally()
    tally.records += 1
    if worst is not None:
        tally.flagged += 1
        tally.weight += SEVERITY_WEIGHT[worst]
        if tally.worst is None or worst > tally.worst:
            tally.worst = worst


def _merge(mine_by_key: dict[str, _Tally], theirs_by_key: dict[str, _Tally]) -> None:
    for key, theirs in theirs_by_key.items():
        mine = mine_by_key.get(key)
        if mine is None:
            # A source only the other tally has: take a copy of its counts as they are.
            mine_by_key[key] = _Tally(theirs.records, theirs.flagged, theirs.weight, theirs.worst)
            continue
        mine.records += theirs.records
        mine.flagged += theirs.flagged
        mine.weight += theirs.weight
        if theirs.worst is not None and (mine.worst is None or theirs.worst > mine.worst):
            mine.worst = theirs.worst


def _ranked(tallies: dict[str, _Tally]) -> tuple[SourceRisk, ...]:
    risks = [
        SourceRisk(key, t.records, t.flagged, t.worst, t.weight / (10 * t.records) if t.records else 0.0)
        for key, t in tallies.items()
    ]
    return tuple(sorted(risks, key=lambda s: (-s.risk, -s.flagged, -s.records, s.key)))


SourceKeys = tuple[str | None, str | None, str, str | None]
"""What a record counts towards: (host, dataset, input, licence key); None where it has none."""


def source_keys(record: RecordRef | Record) -> SourceKeys:
    """The keys :class:`SourceTally` counts a record under (only a full Record has dataset and licence)."""
    if isinstance(record, Record):
        return url_host(record.url), dataset_key(record.meta), record.input, license_key(record.license)
    return url_host(record.url), None, record.input, None


@dataclass(slots=True)
class SourceTally:
    """Counts records and their worst severities per source while a scan streams."""

    _by_key: dict[str, _Tally] = field(default_factory=dict)
    _by_kind: dict[str, dict[str, _Tally]] = field(
        default_factory=lambda: {kind: {} for kind in SOURCE_KINDS}
    )

    def add(self, record: RecordRef | Record, worst: Severity | None) -> None:
        """Count one record and its worst (unsuppressed) severity; a Record also counts its dataset."""
        self.add_keys(source_keys(record), worst)

    def add_keys(self, keys: SourceKeys, worst: Severity | None) -> None:
        """:meth:`add` with the record's :func:`source_keys` worked out already (by a scan worker)."""
        host, dataset, input_name, license_ = keys
        _count(self._by_key, host or input_name, worst)
        if host is not None:
            _count(self._by_kind["domain"], host, worst)
        if dataset is not None:
            _count(self._by_kind["dataset"], dataset, worst)
        _count(self._by_kind["input"], input_name, worst)
        if license_ is not None:
            _count(self._by_kind["license"], license_, worst)

    def __reduce__(self) -> tuple[Any, ...]:
        # A worker sends its tallies to the scan's process: as columns of plain lists, which pickle
        # and unpickle ~10x faster than thousands of slotted objects (one per host), each pickled
        # through copyreg's Python-level path.
        return (_unpacked, (_packed(self._by_key), {kind: _packed(t) for kind, t in self._by_kind.items()}))

    def merge(self, other: SourceTally) -> None:
        _merge(self._by_key, other._by_key)
        for kind in SOURCE_KINDS:
            _merge(self._by_kind[kind], other._by_kind[kind])

    def ranked(self) -> tuple[SourceRisk, ...]:
        """Sources from the riskiest down (ties: more flagged records first, then by key)."""
        return _ranked(self._by_key)

    def ranked_by(self) -> dict[str, tuple[SourceRisk, ...]]:
        """For each of :data:`SOURCE_KINDS`, its sources from the riskiest down, ranked as :meth:`ranked`."""
        return {kind: _ranked(self._by_kind[kind]) for kind in SOURCE_KINDS}


_Packed = tuple[list[str], list[int], list[int], list[int], list[int]]


def _packed(tallies: dict[str, _Tally]) -> _Packed:
    """Tallies as columns: keys, records, flagged, weight and worst (-1 for none)."""
    values = tallies.values()
    return (
        list(tallies),
        [t.records for t in values],
        [t.flagged for t in values],
        [t.weight for t in values],
        [-1 if t.worst is None else int(t.worst) for t in values],
    )


_SEVERITY_OF = {-1: None, **{int(s): s for s in Severity}}


def _unpacked(by_key: _Packed, by_kind: dict[str, _Packed]) -> SourceTally:
    def tallies(packed: _Packed) -> dict[str, _Tally]:
        keys, records, flagged, weight, worst = packed
        return {
            key: _Tally(r, f, w, _SEVERITY_OF[s])
            for key, r, f, w, s in zip(keys, records, flagged, weight, worst, strict=True)
        }

    return SourceTally(tallies(by_key), {kind: tallies(packed) for kind, packed in by_kind.items()})


def worst_severity(severities: Iterable[Severity]) -> Severity | None:
    return max(severities, default=None)
