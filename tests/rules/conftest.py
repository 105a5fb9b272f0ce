"""Fixtures for the rules engine tests: rule sets with every rule switched on, records, matches and facts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from auditor.models import Evidence, Match, Record, Span, WorkRef
from auditor.rules import RuleSet, load_rule_set

CASES = Path(__file__).resolve().parent / "cases"

ENABLE_ALL = "pack: enable-all\nversion: 1\nenable: ['*']\nrules: []\n"


class FakeFacts:
    """Registry facts from a mapping of ISBN-13 → work."""

    def __init__(self, isbns: Mapping[str, WorkRef] | None = None) -> None:
        self.isbns = dict(isbns or {})
        self.asked: list[str] = []

    def work_for_isbn(self, isbn13: str) -> WorkRef | None:
        self.asked.append(isbn13)
        return self.isbns.get(isbn13)


def make_record(**fields: Any) -> Record:
    """A record with test defaults for every field not given."""
    fields.setdefault("id", "rec-1")
    fields.setdefault("text", "")
    fields.setdefault("input", "corpus/shard-0.jsonl")
    fields.setdefault("row", 1)
    fields["meta"] = fields.get("meta") or {}
    return Record(**fields)


def make_match(**fields: Any) -> Match:
    """A match with test defaults; ``work`` may be a mapping of WorkRef fields."""
    work = fields.pop("work", None) or {}
    if isinstance(work, Mapping):
        work = WorkRef(
            id=work.get("id", "work-1"),
            title=work.get("title", "A Registered Novel"),
            registry=work.get("registry", "reg"),
            group=work.get("group", ""),
        )
    tokens = fields.get("matched_tokens", 100)
    fields.setdefault("kind", "near-duplicate")
    fields.setdefault("similarity", 0.9)
    fields.setdefault("record_coverage", 0.5)
    fields.setdefault("matched_tokens", tokens)
    fields.setdefault("work_tokens", tokens)
    fields.setdefault("spans", (Span(0, 10, 100, 110),))
    fields.setdefault("evidence", (Evidence("copied text", "copied text"),))
    return Match(work=work, **fields)


@pytest.fixture(scope="session")
def enable_all_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("packs") / "enable-all.yaml"
    path.write_text(ENABLE_ALL, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def all_rules(enable_all_pack: Path) -> Callable[[str], RuleSet]:
    """The default packs with every rule enabled, one rule set per use (built once per session)."""
    cache: dict[str, RuleSet] = {}

    def get(use: str = "commercial") -> RuleSet:
        if use not in cache:
            cache[use] = load_rule_set([enable_all_pack], use=use)
        return cache[use]

    return get


@pytest.fixture(scope="session")
def default_rules() -> RuleSet:
    return load_rule_set()


@pytest.fixture
def write_pack(tmp_path: Path) -> Callable[..., Path]:
    """Write a pack file (text as given) into a temporary folder and return its path."""

    def write(text: str, name: str = "pack.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
