"""The JSON Schemas of rule packs and waivers files agree with the loaders that validate them.

The loaders are what `auditor rules check` and `auditor scan` run (with file:line messages); the schemas
are what editors and other tools read. Both must accept the bundled packs and the documented examples,
and both must refuse every structural error; the loaders alone refuse what a schema cannot express.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from auditor.errors import UsageError
from auditor.rules import KINDS, RulePackProblems, default_pack_paths, load_rule_set
from auditor.rules.schema import load_schema, schema_text
from auditor.suppress import read_waivers

DOCS = Path(__file__).resolve().parents[2] / "docs"

PACK = load_schema("pack")
WAIVERS = load_schema("waivers")

BASE: dict[str, Any] = {
    "pack": "acme",
    "version": 1,
    "description": "A pack with one rule of every kind.",
    "licenses": {
        "categories": {
            "LicenseRef-House": "permissive",
            "CC-BY-NC-*": {"commercial": "forbidden", "research": "notice"},
        },
        "aliases": {"house licence": "LicenseRef-House"},
    },
    "rules": [
        {
            "id": "ACME-ND-001",
            "name": "copy",
            "severity": "critical",
            "kind": "near-duplicate",
            "message": "copies {work_title}",
            "description": "d",
            "params": {"ladder": [{"severity": "high", "min_matched_tokens": 50, "min_similarity": 0.5}]},
        },
        {
            "id": "ACME-EX-001",
            "name": "exact",
            "severity": "critical",
            "kind": "exact-duplicate",
            "message": "is {work_title}",
            "description": "d",
        },
        {
            "id": "ACME-SRC-001",
            "name": "mirror",
            "severity": "high",
            "kind": "source",
            "message": "from {host}",
            "description": "d",
            "aliases": ["ACME-OLD-001"],
            "params": {
                "domains": ["mirror.acme.example"],
                "patterns": ["acme-*.example", {"regex": "c[0-9]+\\.acme\\.net"}],
            },
        },
        {
            "id": "ACME-LIC-001",
            "name": "licence",
            "severity": "high",
            "kind": "license",
            "message": "{license} is {category}",
            "description": "d",
            "params": {"severities": {"forbidden": "high", "missing": "low"}},
        },
        {
            "id": "ACME-NOT-001",
            "name": "notice",
            "severity": "medium",
            "kind": "notice",
            "message": "{signals}",
            "description": "d",
            "params": {
                "context": 40,
                "window": 300,
                "ladder": [{"severity": "medium", "min_signals": 1}],
                "signals": {
                    "rights": {
                        "pattern": "(?i)all rights reserved",
                        "keywords": ["all rights"],
                        "strong": True,
                    }
                },
            },
        },
        {
            "id": "ACME-ISBN-001",
            "name": "isbn",
            "severity": "high",
            "kind": "isbn",
            "message": "{isbn}",
            "description": "d",
        },
        {
            "id": "ACME-META-001",
            "name": "meta",
            "severity": "low",
            "kind": "metadata",
            "message": "{field}={value}",
            "description": "d",
            "enabled": False,
            "params": {"field": "meta.set", "equals": ["Books3", 3, True]},
        },
    ],
}


def _rule(data: dict[str, Any], rule_id: str) -> dict[str, Any]:
    return next(r for r in data["rules"] if r["id"] == rule_id)


def _step(node: Any, part: str) -> Any:
    return next(r for r in node if r["id"] == part) if part.startswith("ACME-") else node[part]


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation setting ``value`` at a dotted path, where a rule is named by its id (``ACME-SRC-001``)."""

    def mutate(data: dict[str, Any]) -> None:
        parts = path.split(".")
        node: Any = data
        for part in parts[:-1]:
            node = _step(node, part)
        node[parts[-1]] = value

    return mutate


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        parts = path.split(".")
        node: Any = data
        for part in parts[:-1]:
            node = _step(node, part)
        del node[parts[-1]]

    return mutate


# (name, mutation, schema accepts, loader accepts)
PACK_CASES: list[tuple[str, Callable[[dict[str, Any]], None], bool, bool]] = [
    ("the base pack", lambda d: None, True, True),
    ("unknown top-level key", _set("colour", "blue"), False, False),
    ("no pack name", _drop("pack"), False, False),
    ("pack name with spaces", _set("pack", "my pack"), False, False),
    ("version 2", _set("version", 2), False, False),
    ("version as text", _set("version", "1"), False, False),
    ("rules not a list", _set("rules", {"a": 1}), False, False),
    ("disable not a list", _set("disable", "AUD-SRC-001"), False, False),
    ("rule without id", _drop("rules.ACME-EX-001.id"), False, False),
    ("lower-case rule id", _set("rules.ACME-EX-001.id", "acme-ex-001"), False, False),
    ("name not kebab-case", _set("rules.ACME-EX-001.name", "Exact_Copy"), False, False),
    ("unknown severity", _set("rules.ACME-EX-001.severity", "severe"), False, False),
    ("upper-case severity", _set("rules.ACME-EX-001.severity", "High"), False, False),
    ("unknown kind", _set("rules.ACME-EX-001.kind", "sauce"), False, False),
    ("message is a list", _set("rules.ACME-EX-001.message", ["a"]), False, False),
    ("empty description", _set("rules.ACME-EX-001.description", "  "), False, False),
    ("enabled is text", _set("rules.ACME-EX-001.enabled", "yes"), False, False),
    ("alias is not an id", _set("rules.ACME-SRC-001.aliases", ["old one"]), False, False),
    ("unknown rule key", _set("rules.ACME-EX-001.colour", "red"), False, False),
    ("params is a list", _set("rules.ACME-SRC-001.params", ["x"]), False, False),
    ("exact-duplicate takes no params", _set("rules.ACME-EX-001.params", {"x": 1}), False, False),
    ("source without params", _drop("rules.ACME-SRC-001.params"), False, False),
    ("source: unknown param", _set("rules.ACME-SRC-001.params.hosts", ["a.example"]), False, False),
    (
        "source: URL as domain",
        _set("rules.ACME-SRC-001.params.domains", ["https://a.example/x"]),
        False,
        False,
    ),
    (
        "source: nothing listed",
        lambda d: _rule(d, "ACME-SRC-001").update(params={"domains": [], "patterns": []}),
        False,
        False,
    ),
    ("source: bad glob", _set("rules.ACME-SRC-001.params.patterns", ["lib gen/*"]), False, False),
    (
        "source: regex with extra key",
        _set("rules.ACME-SRC-001.params.patterns", [{"regex": "a", "x": 1}]),
        False,
        False,
    ),
    ("near-duplicate without ladder", _set("rules.ACME-ND-001.params", {}), False, False),
    ("empty ladder", _set("rules.ACME-ND-001.params.ladder", []), False, False),
    (
        "share above 1",
        _set("rules.ACME-ND-001.params.ladder", [{"severity": "high", "min_similarity": 1.5}]),
        False,
        False,
    ),
    (
        "unknown rung key",
        _set("rules.ACME-ND-001.params.ladder", [{"severity": "high", "min_tokens": 3}]),
        False,
        False,
    ),
    (
        "rung without severity",
        _set("rules.ACME-ND-001.params.ladder", [{"min_matched_tokens": 3}]),
        False,
        False,
    ),
    (
        "tokens as a fraction",
        _set("rules.ACME-ND-001.params.ladder", [{"severity": "high", "min_matched_tokens": 2.5}]),
        False,
        False,
    ),
    ("licence: empty severities", _set("rules.ACME-LIC-001.params.severities", {}), False, False),
    (
        "licence: unknown category",
        _set("rules.ACME-LIC-001.params.severities", {"evil": "high"}),
        False,
        False,
    ),
    ("notice: empty signals", _set("rules.ACME-NOT-001.params.signals", {}), False, False),
    (
        "notice: CamelCase signal",
        _set("rules.ACME-NOT-001.params.signals", {"Rights": {"pattern": "x"}}),
        False,
        False,
    ),
    (
        "notice: signal without pattern",
        _set("rules.ACME-NOT-001.params.signals", {"rights": {"strong": True}}),
        False,
        False,
    ),
    (
        "notice: upper-case keyword",
        _set("rules.ACME-NOT-001.params.signals.rights.keywords", ["All"]),
        False,
        False,
    ),
    ("notice: window 0", _set("rules.ACME-NOT-001.params.window", 0), False, False),
    ("notice: context as text", _set("rules.ACME-NOT-001.params.context", "40"), False, False),
    ("metadata: two tests", _set("rules.ACME-META-001.params.missing", True), False, False),
    ("metadata: no field", _drop("rules.ACME-META-001.params.field"), False, False),
    ("metadata: empty field part", _set("rules.ACME-META-001.params.field", "meta..set"), False, False),
    ("metadata: equals a mapping", _set("rules.ACME-META-001.params.equals", {"a": 1}), False, False),
    (
        "metadata: missing false",
        lambda d: _rule(d, "ACME-META-001").update(params={"field": "x", "missing": False}),
        False,
        False,
    ),
    (
        "isbn: list outside the folder",
        _set("rules.ACME-ISBN-001.params", {"isbn_list": "../isbns.txt"}),
        False,
        False,
    ),
    ("isbn: absolute list", _set("rules.ACME-ISBN-001.params", {"isbn_list": "/etc/passwd"}), False, False),
    ("isbn: unknown param", _set("rules.ACME-ISBN-001.params", {"list": "x.txt"}), False, False),
    ("licences: unknown category", _set("licenses.categories.LicenseRef-House", "free"), False, False),
    (
        "licences: per-use without research",
        _set("licenses.categories.LicenseRef-House", {"commercial": "notice"}),
        False,
        False,
    ),
    ("licences: unknown section", _set("licenses.colours", {}), False, False),
    ("licences: alias to nothing", _set("licenses.aliases.house licence", ""), False, False),
    # What a schema cannot express: the loaders alone refuse it.
    ("bad regex", _set("rules.ACME-SRC-001.params.patterns", [{"regex": "(unclosed"}]), True, False),
    (
        "catastrophic regex",
        _set("rules.ACME-NOT-001.params.signals.rights.pattern", "(\\w+\\s?)*$"),
        True,
        False,
    ),
    ("unknown placeholder", _set("rules.ACME-EX-001.message", "{hots}"), True, False),
    ("duplicate rule id", _set("rules.ACME-EX-001.id", "ACME-ND-001"), True, False),
    (
        "rung above the rule's severity",
        _set("rules.ACME-NOT-001.params.ladder", [{"severity": "high"}]),
        True,
        False,
    ),
    ("disable of an unknown id", _set("disable", ["ACME-NOPE-001"]), True, False),
    (
        "isbn list that does not exist",
        _set("rules.ACME-ISBN-001.params", {"isbn_list": "nope.txt"}),
        True,
        False,
    ),
    (
        "signal matching empty text",
        _set("rules.ACME-NOT-001.params.signals.rights.pattern", "x*"),
        True,
        False,
    ),
    ("every rule disabled", _set("disable", ["ACME-*"]), True, False),
]


def _schema_accepts(schema: dict[str, Any], data: Any) -> bool:
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    return not list(validator.iter_errors(data))


def _loader_accepts(path: Path) -> bool:
    try:
        load_rule_set([path], include_defaults=False)
    except RulePackProblems as exc:
        assert all(p.file == str(path) and p.line and p.fix for p in exc.problems), exc
        return False
    return True


def test_schemas_are_valid_json_schemas() -> None:
    jsonschema.Draft202012Validator.check_schema(PACK)
    jsonschema.Draft202012Validator.check_schema(WAIVERS)
    assert schema_text("pack").endswith("\n")


def test_schema_kinds_are_the_registered_kinds() -> None:
    kinds = set(PACK["$defs"]["rule"]["properties"]["kind"]["enum"])
    assert kinds == set(KINDS)
    assert {f"params-{kind}" for kind in KINDS} <= set(PACK["$defs"])
    branches = {b["if"]["properties"]["kind"]["const"] for b in PACK["$defs"]["rule"]["allOf"]}
    assert branches == set(KINDS)


@pytest.mark.parametrize("path", default_pack_paths(), ids=lambda p: p.name)
def test_bundled_packs_are_schema_valid(path: Path) -> None:
    assert _schema_accepts(PACK, yaml.safe_load(path.read_text(encoding="utf-8")))


def _documented_packs() -> list[Any]:
    text = (DOCS / "rules.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    packs = [b for b in blocks if isinstance(yaml.safe_load(b), dict) and "pack" in yaml.safe_load(b)]
    return [pytest.param(b, id=f"block{i}") for i, b in enumerate(packs)]


@pytest.mark.parametrize("block", _documented_packs())
def test_documented_packs_pass_both(block: str, tmp_path: Path) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text(block, encoding="utf-8")
    assert _schema_accepts(PACK, yaml.safe_load(block))
    load_rule_set([path])


def test_docs_have_a_full_example_pack() -> None:
    assert len(_documented_packs()) >= 2


@pytest.mark.parametrize(
    ("name", "mutate", "schema_ok", "loader_ok"), PACK_CASES, ids=[c[0] for c in PACK_CASES]
)
def test_schema_and_loader_agree(
    name: str, mutate: Callable[[dict[str, Any]], None], schema_ok: bool, loader_ok: bool, tmp_path: Path
) -> None:
    data = copy.deepcopy(BASE)
    mutate(data)
    path = tmp_path / "pack.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    assert (_schema_accepts(PACK, data), _loader_accepts(path)) == (schema_ok, loader_ok)


# ------------------------------------------------------------------------------------------ waivers

WAIVER: dict[str, Any] = {
    "rule": "AUD-SRC-*",
    "source": "libgen.is",
    "reason": "Licensed from the publisher (contract 2025-17).",
    "approver": "Legal, J. Doe",
    "expires": "2030-12-31",
}

# (name, waiver changes (None deletes a key), schema accepts, loader accepts)
WAIVER_CASES: list[tuple[str, dict[str, Any], bool, bool]] = [
    ("the base waiver", {}, True, True),
    ("by fingerprint only", {"rule": None, "source": None, "fingerprint": "0" * 32}, True, True),
    (
        "by work and record globs",
        {"rule": None, "source": None, "work": "w-*", "record": "doc-[0-9]*"},
        True,
        True,
    ),
    ("by input", {"rule": None, "source": None, "input": "shards/*.jsonl"}, True, True),
    ("matches nothing given", {"rule": None, "source": None}, False, False),
    ("no reason", {"reason": None}, False, False),
    ("blank approver", {"approver": " "}, False, False),
    ("no expiry", {"expires": None}, False, False),
    ("expiry not a date", {"expires": "next year"}, False, False),
    ("expiry with a time", {"expires": "2030-12-31T10:00:00"}, False, False),
    ("lower-case rule id", {"rule": "aud-src-001"}, False, False),
    ("source with a scheme", {"source": "https://libgen.is/"}, False, False),
    ("short fingerprint", {"fingerprint": "abc"}, False, False),
    ("unknown key", {"ticket": "LEGAL-1"}, False, False),
    ("reason is a number", {"reason": 7}, False, False),
]


def _waiver_file(changes: dict[str, Any]) -> dict[str, Any]:
    waiver = {**WAIVER, **changes}
    return {"version": 1, "waivers": [{k: v for k, v in waiver.items() if v is not None}]}


def _waivers_loader_accepts(path: Path) -> bool:
    try:
        read_waivers(path)
    except UsageError:
        return False
    return True


@pytest.mark.parametrize(
    ("name", "changes", "schema_ok", "loader_ok"), WAIVER_CASES, ids=[c[0] for c in WAIVER_CASES]
)
def test_waiver_schema_and_loader_agree(
    name: str, changes: dict[str, Any], schema_ok: bool, loader_ok: bool, tmp_path: Path
) -> None:
    data = _waiver_file(changes)
    path = tmp_path / "waivers.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert (_schema_accepts(WAIVERS, data), _waivers_loader_accepts(path)) == (schema_ok, loader_ok)


@pytest.mark.parametrize(
    ("name", "data", "schema_ok"),
    [
        ("no version", {"waivers": []}, False),
        ("version 2", {"version": 2, "waivers": []}, False),
        ("waivers not a list", {"version": 1, "waivers": {"a": 1}}, False),
        ("empty list", {"version": 1, "waivers": []}, True),
    ],
)
def test_waivers_file_level(name: str, data: dict[str, Any], schema_ok: bool, tmp_path: Path) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert (_schema_accepts(WAIVERS, data), _waivers_loader_accepts(path)) == (schema_ok, schema_ok)


def test_documented_waivers_pass_both(tmp_path: Path) -> None:
    text = (DOCS / "suppressions.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S) if b.startswith("version:")]
    assert blocks
    for block in blocks:
        data = yaml.safe_load(block)
        as_json = {  # YAML reads an unquoted date as a date; JSON has only strings
            **data,
            "waivers": [
                {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in w.items()}
                for w in data["waivers"]
            ],
        }
        assert _schema_accepts(WAIVERS, as_json)
        path = tmp_path / "waivers.yaml"
        path.write_text(block, encoding="utf-8")
        assert read_waivers(path)
