"""The rule set: defaults plus user packs, enable/disable, deterministic evaluation, pickling."""

from __future__ import annotations

import pickle
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from auditor.editions import group_editions
from auditor.errors import UsageError
from auditor.models import Severity, WorkRef
from auditor.rules import RuleSet, default_pack_dir, default_pack_paths, load_rule_set
from auditor.rules.check import Subject
from auditor.rules.ruleset import _finding_order

from .conftest import FakeFacts, make_match, make_record
from .test_notice import COPYRIGHT_PAGE

RICH_RECORD = make_record(
    text=COPYRIGHT_PAGE + "\nISBN 978-0-545-76594-7\n",
    url="https://www.libgen.is/book/1",
    license="cc-by-nc-nd-4.0",
    meta={"meta": {"pile_set_name": "Books3"}},
)
FACTS = FakeFacts({"9780306406157": WorkRef("w-harbour", "The Quiet Harbour", "publishers")})


def _matches() -> list:
    return [
        make_match(
            work={"id": f"w{i}", "title": f"Work {i}"}, matched_tokens=25 + 50 * i, record_coverage=0.1
        )
        for i in range(6)
    ] + [make_match(work={"id": "wx"}, kind="exact-duplicate", matched_tokens=10, record_coverage=1.0)]


def test_default_pack_folder() -> None:
    folder = default_pack_dir()
    assert folder.is_dir()
    assert [p.name for p in default_pack_paths()] == [
        "books3.yaml",
        "default.yaml",
        "licenses.yaml",
        "shadow-libraries.yaml",
    ]


def test_describe(default_rules: RuleSet) -> None:
    described = default_rules.describe()
    assert [d["id"] for d in described] == sorted(d["id"] for d in described)
    assert all(set(d) == {"id", "name", "severity", "kind", "description"} for d in described)
    assert {d["id"] for d in described} >= {
        "AUD-ND-001",
        "AUD-EX-001",
        "AUD-SRC-001",
        "AUD-LIC-001",
        "AUD-NOT-001",
    }
    assert {r.id for r in default_rules.disabled} == {"AUD-META-001", "AUD-META-002"}
    assert all(not r.enabled for r in default_rules.disabled)


def test_evaluate_is_sorted_and_deterministic(default_rules: RuleSet) -> None:
    matches = _matches()
    expected = default_rules.evaluate(RICH_RECORD, matches, FACTS)
    keys = [
        (-f.severity, f.rule_id, f.work.registry if f.work else "", f.work.id if f.work else "", f.detail)
        for f in expected
    ]
    assert keys == sorted(keys)
    assert {f.rule_id for f in expected} >= {
        "AUD-ND-001",
        "AUD-EX-001",
        "AUD-SRC-001",
        "AUD-LIC-001",
        "AUD-NOT-001",
        "AUD-B3-001",
        "AUD-B3-002",
    }
    rng = random.Random(7)
    for _ in range(5):
        shuffled = matches[:]
        rng.shuffle(shuffled)
        assert default_rules.evaluate(RICH_RECORD, shuffled, FACTS) == expected


def test_findings_carry_the_record_ref_and_match_data(default_rules: RuleSet) -> None:
    match = make_match(matched_tokens=400, record_coverage=0.2, similarity=0.88)
    [finding] = [
        f for f in default_rules.evaluate(make_record(text="x"), [match]) if f.rule_id == "AUD-ND-001"
    ]
    assert finding.record == make_record(text="x").ref
    assert finding.work == match.work and finding.score == match.score
    assert finding.spans == match.spans and finding.evidence == match.evidence
    assert finding.kind == "near-duplicate" and finding.severity == Severity.CRITICAL
    assert (
        finding.message
        == 'Record copies 400 tokens of "A Registered Novel" (reg): 20% of the record, similarity 0.88'
    )


def test_facts_are_optional(default_rules: RuleSet) -> None:
    record = make_record(text="ISBN 978-0-306-40615-7", license="mit")
    assert default_rules.evaluate(record, []) == default_rules.evaluate(record, [], FakeFacts())
    assert [f.rule_id for f in default_rules.evaluate(record, [], FACTS)] == ["AUD-ISBN-001"]


def test_rule_set_pickles(default_rules: RuleSet) -> None:
    clone = pickle.loads(pickle.dumps(default_rules))
    assert clone.evaluate(RICH_RECORD, _matches(), FACTS) == default_rules.evaluate(
        RICH_RECORD, _matches(), FACTS
    )


def test_user_pack_disables_and_enables(write_pack: Callable[..., Path]) -> None:
    pack = write_pack(
        """\
pack: acme
version: 1
disable: [AUD-SRC-*, AUD-LIC-002]
enable: [AUD-META-001]
rules:
  - id: ACME-SRC-001
    name: acme-mirror
    aliases: [ACME-OLD-7]
    severity: critical
    kind: source
    message: "{host} is our own mirror of {domain}"
    description: Records from the ACME mirror.
    params:
      domains: [mirror.acme.example]
      patterns: ['acme-*.example', {regex: 'cache[0-9]+\\.acme\\.net'}]
"""
    )
    rules = load_rule_set([pack])
    ids = {r.id for r in rules.rules}
    assert "AUD-SRC-001" not in ids and "AUD-LIC-002" not in ids
    assert {"AUD-META-001", "ACME-SRC-001"} <= ids
    assert rules.rule("ACME-OLD-7") is rules.rule("ACME-SRC-001")
    assert rules.packs[-1].name == "acme"
    record = make_record(url="https://x.mirror.acme.example/a", meta={"tdm_reservation": True})
    found = {f.rule_id: f for f in rules.evaluate(record, [])}
    assert found["ACME-SRC-001"].message == "x.mirror.acme.example is our own mirror of mirror.acme.example"
    assert found["AUD-META-001"].detail == "tdm_reservation=True"
    assert [f.rule_id for f in rules.evaluate(make_record(url="https://cache12.acme.net/"), [])] == [
        "ACME-SRC-001"
    ]
    assert [f.rule_id for f in rules.evaluate(make_record(url="https://acme-eu.example/"), [])] == [
        "ACME-SRC-001"
    ]
    assert rules.evaluate(make_record(url="https://libgen.is/"), []) == []


def test_user_licence_table_overrides_defaults(write_pack: Callable[..., Path]) -> None:
    pack = write_pack(
        """\
pack: strict
version: 1
licenses:
  categories:
    CC-BY-SA-*: forbidden
  aliases:
    house licence: LicenseRef-House
rules: []
"""
    )
    rules = load_rule_set([pack])
    verdicts = {
        lic: [f.severity for f in rules.evaluate(make_record(license=lic), []) if f.rule_id == "AUD-LIC-001"]
        for lic in ("cc-by-sa-4.0", "house licence", "cc-by-4.0")
    }
    assert verdicts == {"cc-by-sa-4.0": [Severity.HIGH], "house licence": [Severity.LOW], "cc-by-4.0": []}


def test_user_pack_alone(write_pack: Callable[..., Path]) -> None:
    pack = write_pack(
        "pack: solo\nversion: 1\nrules:\n  - id: SOLO-1\n    name: solo\n    severity: info\n"
        "    kind: metadata\n    message: 'missing {field}'\n    description: d\n"
        "    params: {field: source.name, missing: true}\n"
    )
    rules = load_rule_set([pack], include_defaults=False)
    assert [r.id for r in rules.rules] == ["SOLO-1"]
    assert [f.message for f in rules.evaluate(make_record(meta={"source": {}}), [])] == [
        "missing source.name"
    ]
    assert rules.evaluate(make_record(meta={"source": {"name": "x"}}), []) == []


def test_a_default_pack_named_again_is_loaded_once() -> None:
    rules = load_rule_set([default_pack_paths()[0]])
    assert len(rules.packs) == len(default_pack_paths())


def test_pack_folders_are_expanded(tmp_path: Path) -> None:
    rule = (
        "  - {id: B-META-001, name: b, severity: low, kind: metadata, message: m, description: d,\n"
        "     params: {field: x, missing: true}}\n"
    )
    (tmp_path / "a.yaml").write_text("pack: a\nversion: 1\nrules: []\n", encoding="utf-8")
    (tmp_path / "b.yml").write_text("pack: b\nversion: 1\nrules:\n" + rule, encoding="utf-8")
    rules = load_rule_set([tmp_path], include_defaults=False)
    assert [p.name for p in rules.packs] == ["a", "b"]


def test_unknown_use() -> None:
    with pytest.raises(UsageError, match="unknown use 'personal'"):
        load_rule_set(use="personal")


def test_research_use_changes_licence_findings() -> None:
    record = make_record(license="cc-by-nc-4.0")
    commercial = [f.rule_id for f in load_rule_set().evaluate(record, [])]
    research = [f.rule_id for f in load_rule_set(use="research").evaluate(record, [])]
    assert commercial == ["AUD-LIC-001"] and research == []


def test_the_documented_custom_pack_loads(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "rules.md").read_text(encoding="utf-8")
    section = doc.split("## A custom pack, start to finish", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "acme-policy.yaml"
    path.write_text(example, encoding="utf-8")
    rules = load_rule_set([path])
    ids = {r.id for r in rules.rules}
    assert {"ACME-SRC-001", "ACME-META-001", "ACME-NOT-001", "AUD-META-002"} <= ids
    assert "AUD-LIC-002" not in ids
    assert "`enable: AUD-META-002` at" in rules.reasons["AUD-META-002"]
    record = make_record(
        url="https://paywall-eu.example.net/a", meta={"source": {"partner_status": "opted-out"}}
    )
    assert [f.rule_id for f in rules.evaluate(record, [])] == ["ACME-META-001", "ACME-SRC-001"]
    (draft,) = rules.evaluate(make_record(text="Q3 plan. ACME Confidential. Do not share."), [])
    assert draft.rule_id == "ACME-NOT-001" and draft.detail == "confidential_marking"
    assert draft.spans[0].record_start == 9


# evaluate_many gates checks (keywords searched batch-wide, source and licence checks asked once per
# host or licence): it must give what running every check on every record gives.

_URLS = [
    "https://libgen.is/book/1",
    "http://cdn.LIBGEN.rs:8080/x",
    "https://user:pw@z-lib.org/b",
    "https://notlibgen.is/",
    "https://sci-hub.se/10.1/x",
    "https://annas-archive.org/md5/1",
    "libgen.rs/book",
    "mailto:a@libgen.is",
    "https://[::1]/x",
    "https://bücher.example/x",
    "https://news.example/a?b#c",
    "HTTPS://WWW.LIBGEN.IS./",
    None,
    "",
    "https://the-eye.eu/public/Books/",
    "https://x.y.libgen.fun/",
    "https://1lib.sk/",
]
_LICENSES = [
    None,
    "",
    "none",
    "MIT",
    "cc-by-nc-4.0",
    "CC BY-NC-ND 4.0",
    "GPL-3.0 OR MIT",
    "proprietary",
    "x" * 400,
    "https://creativecommons.org/licenses/by-nc/4.0/",
    "All rights reserved",
    "CC0",
]
_PIECES = [
    COPYRIGHT_PAGE,
    "All rights reserved. ",
    "ISBN 978-0-306-40615-7 ",
    "9780306406157 ",
    "ISBN 0-8044-2957-X ",
    "Printed in the United States of America\n",
    "This book is a work of fiction. ",
    "© 2023 Example Corp. ",
    "İstanbul ",
    "\u212aelvin ",
    "printed matter ",
    "The quick brown fox. ",
    "979-10-90636-07-1 ",
    "isbn: ",
    "\n",
]
_METAS = [
    {},
    {"meta": {"pile_set_name": "Books3"}},
    {"isbn": "0306406152"},
    {"ids": [{"isbn13": "978-0-804-42957-3"}]},
    {"robots": "noai"},
    {"tdm_reservation": True},
    {"x": {"a": {"b": {"c": {"isbn": "0306406152"}}}}},
]


def _varied_records(seed: int, count: int) -> tuple[list, list]:
    rng = random.Random(seed)
    records, matches = [], []
    for row in range(count):
        text = "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 8)))
        records.append(
            make_record(
                id=f"r{row}",
                row=row + 1,
                text=text,
                url=rng.choice(_URLS),
                license=rng.choice(_LICENSES),
                meta=dict(rng.choice(_METAS)),
            )
        )
        matches.append(_matches()[: rng.choice([0, 0, 1, 3, 7])])
    return records, matches


def _every_check(rules: RuleSet, record, matches, facts) -> list:
    """What evaluation gives without gates or keywords: every check on the record, findings sorted."""
    if len(matches) > 1:
        matches = group_editions(matches, rules._copy_kinds)
    subject = Subject(record, matches, facts)
    findings = [f for check in (*rules._record_checks, *rules._match_checks) for f in check.evaluate(subject)]
    return sorted(findings, key=_finding_order)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batches_give_what_every_check_on_every_record_gives(
    default_rules: RuleSet, all_rules, seed: int
) -> None:
    records, matches = _varied_records(seed, 120)
    facts = FakeFacts({"9780306406157": WorkRef("w-harbour", "The Quiet Harbour", "publishers")})
    for rules in (default_rules, all_rules("commercial"), all_rules("research")):
        expected = [_every_check(rules, r, m, facts) for r, m in zip(records, matches, strict=True)]
        assert rules.evaluate_many(records, matches, facts) == expected
        assert [rules.evaluate(r, m, facts) for r, m in zip(records, matches, strict=True)] == expected
        assert sum(map(len, expected)) > len(records)  # the records do get findings
        # again, with the host and licence answers remembered, and after pickling
        assert rules.evaluate_many(records, matches, facts) == expected
        assert pickle.loads(pickle.dumps(rules)).evaluate_many(records, matches, facts) == expected


def test_warm_up_then_evaluate(default_rules: RuleSet) -> None:
    default_rules.warm_up()
    assert default_rules._search._automaton is not None
    assert default_rules.evaluate_many([RICH_RECORD], [_matches()], FACTS) == [
        default_rules.evaluate(RICH_RECORD, _matches(), FACTS)
    ]
