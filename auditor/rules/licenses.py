"""Declared-licence classification: free text and SPDX expressions → a category for the intended use.

The category of each licence is data (the ``licenses:`` section of a pack, shipped in
``rules/licenses.yaml``); this module only normalises spellings and combines the parts of an expression.
"""

from __future__ import annotations

import fnmatch
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.rules.params import Cursor

CATEGORIES: tuple[str, ...] = (
    "unencumbered",
    "permissive",
    "notice",
    "reciprocal",
    "unknown",
    "restricted",
    "forbidden",
)
"""Licence categories from the least to the most restrictive (the order AND/OR combine by)."""
MISSING = "missing"
"""Pseudo-category of a record that declares no licence."""
USES: tuple[str, ...] = ("commercial", "research")
_RANK = {name: rank for rank, name in enumerate(CATEGORIES)}

_NOISE = frozenset({"the", "license", "licence", "licensed", "licenses", "under", "version", "international"})
_NON_WORD = re.compile(r"[^a-z0-9.+]+")
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_CC_URL = re.compile(
    r"creativecommons\.org/(?:licenses|licences)/([a-z-]+)/(\d(?:\.\d)?)|"
    r"creativecommons\.org/publicdomain/(zero|mark)/(\d\.\d)",
    re.IGNORECASE,
)
_OPERATOR = re.compile(r"\b(?:and|or|with)\b|[()]", re.IGNORECASE)
_BRACKETED = re.compile(r"([^()]*?)\s*\(([^()]*)\)\s*")
_PART_SEPARATOR = re.compile(r"[,;|\n/]")
_VERSION = re.compile(r"v?(\d+(?:\.\d+)*)")
_ABSENT = frozenset({"", "none", "null", "nil", "n a", "na", "nan", "tbd", "-"})
MAX_DECLARED_CHARS = 300
"""A longer licence field is a licence text, not a name; it is classified as unknown."""


def fuzzy_key(text: str) -> str:
    """The spelling-insensitive key aliases are matched on: lower case, words only, no filler words.

    ``"The MIT License"`` → ``"mit"``; ``"CC BY-NC 4.0"`` → ``"cc by nc 4.0"``.
    """
    text = unicodedata.normalize("NFKC", text).lower()
    words = []
    for word in _NON_WORD.sub(" ", text).split():
        word = word.strip(".")
        if not word or word in _NOISE:
            continue
        version = _VERSION.fullmatch(word)
        words.append(version.group(1) if version else word)
    return " ".join(words)


_CC_PARTS = {
    "by": "BY",
    "attribution": "BY",
    "nc": "NC",
    "noncommercial": "NC",
    "nd": "ND",
    "noderivatives": "ND",
    "noderivs": "ND",
    "sa": "SA",
    "sharealike": "SA",
}
_CC_PAIRS = {
    ("non", "commercial"): "NC",
    ("no", "derivatives"): "ND",
    ("no", "derivs"): "ND",
    ("no", "derivative"): "ND",
    ("share", "alike"): "SA",
}
_CC_FILLER = frozenset(
    {"cc", "creative", "commons", "universal", "deed", "legal", "code", "unported", "generic"}
)


def creative_commons_id(key: str) -> str | None:
    """The SPDX id of a Creative Commons licence named in words (a :func:`fuzzy_key`), else None.

    ``"creative commons attribution noncommercial 4.0"`` → ``CC-BY-NC-4.0``. Without a version the id
    has none (``CC-BY-NC``), which the category table matches with a glob. A name repeated in another
    form (``Attribution 4.0 (CC BY 4.0)``) must agree with itself; two different licences give None.
    """
    tokens = key.split()
    if not tokens or not (tokens[0] in ("cc", "cc0", "attribution") or tokens[:2] == ["creative", "commons"]):
        return None
    segments: list[list[str]] = [[]]
    for index, token in enumerate(tokens):
        starts = token in ("cc", "cc0") or (
            token == "creative" and tokens[index + 1 : index + 2] == ["commons"]
        )
        if starts and segments[-1]:
            segments.append([])
        segments[-1].append(token)
    found = {_creative_commons_segment(segment) for segment in segments}
    return found.pop() if len(found) == 1 else None


def _creative_commons_segment(tokens: list[str]) -> str | None:
    parts: set[str] = set()
    version = None
    zero = False
    i = 0
    while i < len(tokens):
        token = tokens[i]
        pair = _CC_PAIRS.get((token, tokens[i + 1])) if i + 1 < len(tokens) else None
        if pair:
            parts.add(pair)
            i += 2
            continue
        if token in _CC_PARTS:
            parts.add(_CC_PARTS[token])
        elif token in ("cc0", "zero"):
            zero = True
        elif token[0].isdigit() and _VERSION.fullmatch(token):
            if version is not None:
                return None
            version = token if "." in token else token + ".0"
        elif token not in _CC_FILLER:
            return None
        i += 1
    if zero:
        return "CC0-1.0" if not parts else None
    if not parts or ("ND" in parts and "SA" in parts):
        return None
    parts.add("BY")
    name = "-".join(p for p in ("BY", "NC", "ND", "SA") if p in parts)
    return f"CC-{name}-{version}" if version else f"CC-{name}"


def _creative_commons_url(url: str) -> str | None:
    m = _CC_URL.search(url)
    if m is None:
        return None
    if m.group(1):
        parts = m.group(1).upper().strip("-")
        return f"CC-{parts}-{m.group(2)}" if parts else None
    return "CC0-1.0" if m.group(3).lower() == "zero" else f"CC-PDM-{m.group(4)}"


class _Spdx:
    """The SPDX licence index of ``license-expression``, loaded once per process on first use."""

    _lock = threading.Lock()
    _licensing: Any = None
    _ids: dict[str, str] | None = None

    @classmethod
    def _load(cls) -> tuple[Any, dict[str, str]]:
        with cls._lock:
            if cls._licensing is None or cls._ids is None:
                from license_expression import get_spdx_licensing

                licensing = get_spdx_licensing()
                ids: dict[str, str] = {}
                for key, symbol in licensing.known_symbols.items():
                    ids.setdefault(key.lower(), key)
                    for alias in symbol.aliases:
                        ids.setdefault(alias.lower(), key)
                cls._ids = ids
                cls._licensing = licensing
            return cls._licensing, cls._ids

    @classmethod
    def licensing(cls) -> Any:
        return cls._licensing if cls._licensing is not None else cls._load()[0]

    @classmethod
    def canonical(cls, text: str) -> str | None:
        """The SPDX id of a licence key or alias in any case, else None."""
        ids = cls._ids if cls._ids is not None else cls._load()[1]
        return ids.get(text.lower())


def _per_use(category: str) -> dict[str, str]:
    return dict.fromkeys(USES, category)


@dataclass
class LicenseTable:
    """Categories of licence ids (exact or glob, per use) and aliases of free-text spellings."""

    exact: dict[str, dict[str, str]] = field(default_factory=dict)
    globs: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, section: Cursor) -> LicenseTable:
        """Read a pack's ``licenses:`` section; problems go to the cursor's log."""
        table = cls()
        if not section.expect_mapping("`licenses:`"):
            return table
        section.check_keys(("categories", "aliases"), what="`licenses:`")
        for key, cursor in section.entries("categories") or []:
            per_use = _parse_category(cursor)
            if per_use is None:
                continue
            if any(ch in key for ch in "*?["):
                table.globs.append((key.lower(), per_use))
            else:
                table.exact[key.lower()] = per_use
        for key, cursor in section.entries("aliases") or []:
            if not isinstance(cursor.value, str) or not cursor.value.strip():
                cursor.problem(
                    f"alias {key!r} must map to a licence id or expression", "e.g. `mit license: MIT`"
                )
                continue
            fuzzy = fuzzy_key(key)
            if not fuzzy:
                cursor.problem(f"alias {key!r} has no letters or digits", "remove it")
                continue
            table.aliases[fuzzy] = cursor.value.strip()
        return table

    @classmethod
    def combine(cls, tables: Iterable[LicenseTable]) -> LicenseTable:
        """Merge tables in pack order: later packs override exact ids and aliases; their globs go first."""
        out = cls()
        for table in tables:
            out.exact.update(table.exact)
            out.globs[:0] = table.globs
            out.aliases.update(table.aliases)
        return out

    def __bool__(self) -> bool:
        return bool(self.exact or self.globs or self.aliases)

    def category(self, license_id: str, use: str) -> str | None:
        """The category of one licence id for ``use``, or None when the table does not list it."""
        lowered = license_id.lower()
        found = self.exact.get(lowered)
        if found is None:
            for pattern, per_use in self.globs:
                if fnmatch.fnmatchcase(lowered, pattern):
                    found = per_use
                    break
        return found[use] if found is not None else None


def _parse_category(cursor: Cursor) -> dict[str, str] | None:
    value = cursor.value
    fix = "use one of " + ", ".join(CATEGORIES) + " or a mapping {commercial: ..., research: ...}"
    if isinstance(value, str):
        if value in _RANK:
            return _per_use(value)
        cursor.problem(f"unknown licence category {value!r}", fix)
        return None
    if isinstance(value, dict):
        cursor.check_keys(USES, required=USES, what="a per-use licence category")
        out = {}
        for use in USES:
            category = value.get(use)
            if isinstance(category, str) and category in _RANK:
                out[use] = category
            elif use in value:
                cursor.at(use).problem(f"unknown licence category {category!r}", fix)
        return out if len(out) == len(USES) else None
    cursor.problem(f"licence category must be text or a mapping, got {type(value).__name__}", fix)
    return None


@dataclass(frozen=True, slots=True)
class Verdict:
    """How a declared licence reads for one use.

    Attributes:
        category: one of :data:`CATEGORIES`, or :data:`MISSING`.
        license: the licence normalised (SPDX ids where known, e.g. ``MIT OR CC-BY-NC-4.0``).
    """

    category: str
    license: str


def _rank(verdict: Verdict) -> int:
    # A part that says nothing (an alias to "none") weighs as much as one that cannot be read.
    return _RANK.get(verdict.category, _RANK["unknown"])


def _most_restrictive(verdicts: list[Verdict], joiner: str) -> Verdict:
    worst = max(verdicts, key=_rank)
    return Verdict(worst.category, joiner.join(v.license for v in verdicts))


def _least_restrictive(verdicts: list[Verdict], joiner: str) -> Verdict:
    best = min(verdicts, key=_rank)
    return Verdict(best.category, joiner.join(v.license for v in verdicts))


class LicenseClassifier:
    """Classifies declared licences for one use; results are cached per distinct spelling."""

    CACHE_SIZE = 8192

    def __init__(self, table: LicenseTable, use: str) -> None:
        if use not in USES:
            raise ValueError(f"unknown use {use!r}: use one of {', '.join(USES)}")
        self.table = table
        self.use = use
        self._cache: dict[str, Verdict] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"table": self.table, "use": self.use}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.table = state["table"]
        self.use = state["use"]
        self._cache = {}

    @staticmethod
    def is_missing(declared: str | None) -> bool:
        """Whether a licence field says nothing: absent, blank, or a placeholder such as "none" or "n/a"."""
        return declared is None or fuzzy_key(declared) in _ABSENT

    def classify(self, declared: str | None) -> Verdict:
        """The category and normalised form of a declared licence (None or blank → :data:`MISSING`)."""
        if declared is None:
            return Verdict(MISSING, "")
        cached = self._cache.get(declared)
        if cached is None:
            if len(self._cache) >= self.CACHE_SIZE:
                self._cache.clear()
            cached = self._cache[declared] = self._classify(declared, depth=0)
        return cached

    def _classify(self, text: str, depth: int) -> Verdict:
        text = text.strip()
        if fuzzy_key(text) in _ABSENT:
            return Verdict(MISSING, "")
        if len(text) > MAX_DECLARED_CHARS or depth > 3:
            return Verdict("unknown", text[:80])
        term = self._term(text, depth)
        if term is not None:
            return term
        if _URL.search(text):
            urls = _URL.findall(text)
            rest = _URL.sub(" ", text).replace("(", " ").replace(")", " ").replace("<", " ").replace(">", " ")
            if fuzzy_key(rest) not in _ABSENT:
                verdict = self._classify(rest, depth + 1)
                if verdict.category != "unknown":
                    return verdict
            ids = [i for i in (_creative_commons_url(u) for u in urls) if i]
            if ids:
                return _most_restrictive([self._leaf(i) for i in ids], ", ")
            return Verdict("unknown", text)
        bracketed = _BRACKETED.fullmatch(text)
        if bracketed is not None:
            # "The MIT License (MIT)", "Apache 2.0 (see LICENSE)": either half may name the licence.
            for half in (bracketed.group(1), bracketed.group(2)):
                term = self._term(half, depth + 1) if fuzzy_key(half) not in _ABSENT else None
                if term is not None:
                    return term
        if _OPERATOR.search(text):
            tree = self._expression(text, depth)
            if tree is not None:
                return tree
        parts = [p for p in _PART_SEPARATOR.split(text) if fuzzy_key(p) not in _ABSENT]
        if len(parts) > 1:
            return _most_restrictive([self._classify(p, depth + 1) for p in parts], ", ")
        return Verdict("unknown", text)

    def _leaf(self, license_id: str) -> Verdict:
        category = self.table.category(license_id, self.use)
        return Verdict(category or "unknown", license_id)

    def _term(self, text: str, depth: int) -> Verdict | None:
        """One licence named by an alias, an SPDX id (any case, spaces for hyphens) or CC words."""
        key = fuzzy_key(text)
        target = self.table.aliases.get(key)
        if target is not None:
            if self.table.category(target, self.use) is not None:
                return self._leaf(target)
            canonical = _Spdx.canonical(target)
            if canonical is not None:
                return self._leaf(canonical)
            return self._classify(target, depth + 1) if depth < 3 else Verdict("unknown", target)
        for candidate in (text, text.replace(" ", "-"), key.replace(" ", "-")):
            canonical = _Spdx.canonical(candidate)
            if canonical is not None:
                return self._leaf(canonical)
        cc = creative_commons_id(key)
        if cc is not None:
            return self._leaf(_Spdx.canonical(cc) or cc)
        if not any(ch.isspace() for ch in text) and self.table.category(text, self.use) is not None:
            return self._leaf(text)  # a LicenseRef- id of the table that is not an SPDX id
        return None

    def _expression(self, text: str, depth: int) -> Verdict | None:
        from license_expression import LicenseSymbol, LicenseWithExceptionSymbol

        licensing = _Spdx.licensing()
        try:
            parsed = licensing.parse(text)
        except Exception:  # license-expression raises several unrelated types for bad input
            return None
        if parsed is None:
            return None

        def walk(node: Any, top: bool) -> Verdict:
            if isinstance(node, LicenseWithExceptionSymbol):
                inner = walk(node.license_symbol, top)
                return Verdict(inner.category, f"{inner.license} WITH {node.exception_symbol.key}")
            if isinstance(node, LicenseSymbol):
                return self._term(node.key, depth + 1) or Verdict("unknown", node.key)
            children = [walk(child, False) for child in node.args]
            if isinstance(node, licensing.AND):
                verdict = _most_restrictive(children, " AND ")
            else:
                verdict = _least_restrictive(children, " OR ")
            return verdict if top else Verdict(verdict.category, f"({verdict.license})")

        return walk(parsed, True)
