"""The ``{editions}`` message placeholder of copy rules: the other editions of the book a record copies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from auditor.rules import RuleSet, load_rule_set
from auditor.rules.check import KINDS
from tests.rules.conftest import FakeFacts, make_match, make_record
from tests.rules.test_cli_rules import invoke
from tests.test_cli import invoke as invoke_cli
from tests.test_editions import chapter, shelf  # noqa: F401  (shelf is a fixture)

PACK = """\
pack: editions
version: 1
rules:
  - id: ACME-ND-001
    name: copy-with-editions
    severity: critical
    kind: near-duplicate
    message: 'Copies "{work_title}" ({work_id}); also matched editions: [{editions}]'
    description: A copy naming every edition matched.
    params:
      ladder:
        - {severity: critical, min_matched_tokens: 20}
  - id: ACME-EX-001
    name: exact-with-editions
    severity: critical
    kind: exact-duplicate
    message: 'Is "{work_title}"; other editions: [{editions:.20}]'
    description: An exact copy naming every edition matched.
"""


@pytest.fixture(scope="module")
def pack_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("packs") / "editions.yaml"
    path.write_text(PACK, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def rules(pack_path: Path) -> RuleSet:
    return load_rule_set([pack_path], include_defaults=False)


def edition(work_id: str, title: str, tokens: int, kind: str = "near-duplicate") -> Any:
    return make_match(
        work={"id": work_id, "title": title, "group": "novel"}, kind=kind, matched_tokens=tokens
    )


def messages(rules: RuleSet, matches: list[Any]) -> dict[str, str]:
    findings = rules.evaluate(make_record(text="x " * 50), matches, FakeFacts())
    return {f.rule_id: f.message for f in findings}


def test_rules_check_accepts_the_placeholder(pack_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, err = invoke(["rules", "check", pack_path], 0, capsys)
    assert "ok: " in out + err


def test_a_near_duplicate_message_names_the_other_editions_by_title_and_id(rules: RuleSet) -> None:
    matches = [
        edition("novel", "The Novel", 300),
        edition("novel-pdf", "The Novel (print edition)", 280),
        edition("novel-txt", "novel-txt", 120),  # a work without a title of its own: its id alone
    ]
    assert messages(rules, matches) == {
        "ACME-ND-001": 'Copies "The Novel" (novel); also matched editions: '
        "[The Novel (print edition) (novel-pdf), novel-txt]"
    }


def test_the_placeholder_is_empty_for_a_book_matched_in_one_edition(rules: RuleSet) -> None:
    assert messages(rules, [edition("novel-pdf", "The Novel (print edition)", 280)]) == {
        "ACME-ND-001": 'Copies "The Novel (print edition)" (novel-pdf); also matched editions: []'
    }


def test_an_exact_duplicate_names_the_near_duplicate_editions_with_its_format_spec(rules: RuleSet) -> None:
    matches = [
        edition("novel", "The Novel", 300, kind="exact-duplicate"),
        edition("novel-pdf", "The Novel (print edition)", 300),
    ]
    # One finding for the book (an exact duplicate wins a tie); the format spec cuts at 20 characters.
    assert messages(rules, matches) == {
        "ACME-EX-001": 'Is "The Novel"; other editions: [The Novel (print edi]'
    }


def test_a_scan_of_an_epub_and_pdf_pair_fills_the_placeholder(shelf, tmp_path: Path, pack_path: Path):  # noqa: F811
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"id": "r0", "text": chapter(shelf["novel"], 1)}) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    invoke_cli(["scan", corpus, "-r", shelf["registry"], "-o", out, "--rules", pack_path,
                "--fail-on", "never", "--quiet", "--workers", "1"], 0)  # fmt: skip
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    (finding,) = [f for f in report["findings"] if f["rule_id"] == "ACME-ND-001"]
    (other,) = finding["editions"]
    titles = {"novel": "The Novel", "novel-pdf": "The Novel (print edition)"}
    work, other_id = finding["work"]["id"], other["work"]["id"]
    assert finding["message"] == (
        f'Copies "{titles[work]}" ({work}); also matched editions: [{titles[other_id]} ({other_id})]'
    )
    # The bundled rule's message is as before: the placeholder is there for packs that want it.
    (bundled,) = [f for f in report["findings"] if f["rule_id"] == "AUD-ND-001"]
    assert "edition" not in bundled["message"]


def test_docs_list_every_placeholder_of_every_kind_in_its_section() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "rules.md").read_text(encoding="utf-8")
    kinds_part = doc.split("## Check kinds", 1)[1].split("\n## ", 1)[0]
    sections = {
        part.split("`", 1)[0]: part for part in kinds_part.split("\n### `")[1:]
    }  # "### `near-duplicate`" → "near-duplicate"
    assert set(sections) == set(KINDS)
    for kind, check in KINDS.items():
        section = sections[kind]
        if "Placeholders and detail as `near-duplicate`" in section:
            section = sections["near-duplicate"]
        missing = [name for name in check.placeholders if f"`{{{name}}}`" not in section]
        assert not missing, f"docs/rules.md, kind {kind}: placeholders {missing} not documented"
