"""Rule cases as data: every tests/rules/cases/<RULE_ID>.yaml case, run against the default packs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.models import Severity, WorkRef
from auditor.rules import RuleSet

from .conftest import CASES, FakeFacts, make_match, make_record


def _load_cases() -> list[Any]:
    params = []
    for path in sorted(CASES.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for index, case in enumerate(data["cases"]):
            params.append(
                pytest.param(path, data, case, id=f"{data['rule']}:{index}:{case['name'].replace(' ', '-')}")
            )
    return params


def _facts(data: dict[str, Any]) -> FakeFacts:
    isbns = {
        isbn: WorkRef(
            id=w["id"], title=w["title"], registry=w.get("registry", "reg"), group=w.get("group", "")
        )
        for isbn, w in (data.get("facts") or {}).get("isbns", {}).items()
    }
    return FakeFacts(isbns)


@pytest.mark.parametrize(("path", "data", "case"), _load_cases())
def test_rule_case(
    path: Path, data: dict[str, Any], case: dict[str, Any], all_rules: Callable[[str], RuleSet]
) -> None:
    rules = all_rules(case.get("use", data.get("use", "commercial")))
    rule_id = data["rule"]
    assert path.stem == rule_id, "a case file is named for its rule"
    assert rules.rule(rule_id) is not None, f"{rule_id} is not a shipped rule"
    record = make_record(**(case.get("record") or {}))
    matches = [make_match(**m) for m in case.get("matches") or []]
    findings = [f for f in rules.evaluate(record, matches, _facts(data)) if f.rule_id == rule_id]
    expect = case["expect"]
    if expect == "none":
        assert findings == [], [f.message for f in findings]
        return
    assert findings, f"{rule_id} did not fire"
    assert findings[0].severity == Severity.parse(expect), [f.message for f in findings]
    if "detail" in case:
        assert findings[0].detail == str(case["detail"])
    if "count" in case:
        assert len(findings) == case["count"]
    for finding in findings:
        assert finding.record == record.ref
        assert "{" not in finding.message, f"unfilled placeholder in {finding.message!r}"
        for span in finding.spans:
            assert 0 <= span.record_start < span.record_end <= len(record.text) or finding.work is not None


def test_every_shipped_rule_has_passing_and_failing_cases(all_rules: Callable[[str], RuleSet]) -> None:
    shipped = {rule.id for rule in all_rules("commercial").rules}
    with_cases = {path.stem for path in CASES.glob("*.yaml")}
    assert shipped == with_cases
    for path in CASES.glob("*.yaml"):
        expects = {c["expect"] for c in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]}
        assert "none" in expects and expects - {"none"}, f"{path.name} needs both pass and fail cases"


def test_every_check_kind_has_rule_cases(all_rules: Callable[[str], RuleSet]) -> None:
    from auditor.rules import KINDS

    rules = all_rules("commercial")
    covered = {rules.rule(path.stem).kind for path in CASES.glob("*.yaml") if rules.rule(path.stem)}
    assert covered == set(KINDS), f"no cases for kinds {sorted(set(KINDS) - covered)}"
