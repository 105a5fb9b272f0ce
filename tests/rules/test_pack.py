"""Rule-pack validation: every problem of every pack reported at once, with file:line and a fix."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from auditor.errors import RulePackError
from auditor.rules import RulePackProblems, load_rule_set
from auditor.rules.yamlsource import MAX_ALIASES, MAX_PACK_BYTES

GOOD_RULE = """\
  - id: ACME-SRC-001
    name: acme-source
    severity: high
    kind: source
    message: "from {host}"
    description: Records from acme.
    params:
      domains: [acme.example]
"""


def _problems(packs: list[Path], *, include_defaults: bool = False) -> list[str]:
    with pytest.raises(RulePackProblems) as info:
        load_rule_set(packs, include_defaults=include_defaults)
    assert isinstance(info.value, RulePackError)
    assert info.value.exit_code == 2
    lines = str(info.value).splitlines()
    assert (
        lines[0]
        == f"{len(info.value.problems)} problem{'s' if len(info.value.problems) > 1 else ''} in rule packs:"
    )
    return [str(p) for p in info.value.problems]


def _at(problems: list[str], path: Path, line: int, text: str) -> None:
    wanted = f"{path}:{line}: "
    assert any(p.startswith(wanted) and text in p for p in problems), f"no {wanted}…{text} in:\n" + "\n".join(
        problems
    )


def test_every_problem_is_reported_with_its_line(write_pack: Callable[..., Path]) -> None:
    path = write_pack(
        """\
pack: broken
version: 1
colour: blue
rules:
  - id: ACME-SRC-001
    name: acme-source
    severity: high
    kind: source
    message: "from {host}"
    description: Records from acme.
    params:
      domains: [acme.example]
  - id: ACME-SRC-001
    name: acme-again
    severity: high
    kind: sauce
    message: "again"
    description: Duplicate id and unknown kind.
  - id: ACME-NOT-001
    name: bad-regex
    severity: medium
    kind: notice
    message: "{signals}"
    description: Bad regex.
    params:
      ladder: [{severity: medium, min_signals: 1}]
      signals:
        broken: {pattern: '(unclosed'}
  - id: ACME-LIC-001
    name: wrong-type
    severity: severe
    kind: license
    message: "{licence}"
    description: [not, text]
    params:
      severities: {forbidden: high}
    extra: 1
"""
    )
    problems = _problems([path])
    _at(problems, path, 3, "unknown key 'colour' in the pack")
    _at(problems, path, 13, "duplicate rule id 'ACME-SRC-001' (first declared at")
    _at(problems, path, 16, "unknown check kind 'sauce'")
    _at(problems, path, 28, "bad regular expression '(unclosed'")
    _at(problems, path, 31, "is not a severity: 'severe'")
    _at(problems, path, 34, "must be non-empty text, got a list")
    _at(problems, path, 37, "unknown key 'extra' in rule ACME-LIC-001")
    assert all(re.match(rf"{re.escape(str(path))}:\d+: .+ \(.+\)$", p) for p in problems), problems


def test_problems_across_packs_come_together(write_pack: Callable[..., Path]) -> None:
    first = write_pack("pack: one\nversion: 1\nrules:\n" + GOOD_RULE, "one.yaml")
    second = write_pack("pack: two\nversion: 2\nrules:\n" + GOOD_RULE, "two.yaml")
    problems = _problems([first, second])
    _at(problems, second, 2, "unsupported pack version 2")
    _at(problems, second, 4, "duplicate rule id 'ACME-SRC-001'")


def test_unknown_key_suggests_the_close_one(write_pack: Callable[..., Path]) -> None:
    path = write_pack("pack: p\nversion: 1\nrules:\n" + GOOD_RULE.replace("severity: high", "severty: high"))
    problems = _problems([path])
    assert any("unknown key 'severty'" in p and "did you mean 'severity'?" in p for p in problems)
    assert any("has no 'severity'" in p for p in problems)


def test_alias_bomb_is_refused(write_pack: Callable[..., Path]) -> None:
    lines = ["pack: bomb", "version: 1", "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 13):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    lines.append("rules: []")
    path = write_pack("\n".join(lines) + "\n")
    problems = _problems([path])
    assert len(problems) == 1
    assert f"more than {MAX_ALIASES} YAML aliases" in problems[0]
    assert problems[0].startswith(f"{path}:")


def test_alias_expansion_is_bounded_below_the_alias_limit(write_pack: Callable[..., Path]) -> None:
    lines = ["pack: bomb", "version: 1", "a0: &a0 [" + ", ".join(["x"] * 60) + "]"]
    for level in range(1, 9):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]")
    lines.append("rules: []")
    problems = _problems([write_pack("\n".join(lines) + "\n")])
    assert any("expands to more than" in p for p in problems)


def test_recursive_alias_is_refused(write_pack: Callable[..., Path]) -> None:
    problems = _problems([write_pack("pack: p\nversion: 1\nloop: &x [*x]\nrules: []\n")])
    assert any("recursive YAML alias" in p for p in problems)


def test_oversized_pack_is_refused(write_pack: Callable[..., Path]) -> None:
    path = write_pack("pack: big\nversion: 1\nrules: []\n# " + "x" * MAX_PACK_BYTES + "\n")
    problems = _problems([path])
    assert problems == [
        f"{path}: file is {path.stat().st_size} bytes, more than the {MAX_PACK_BYTES} allowed for a "
        "rule pack (split the file, or keep large lists in a data file referenced from params)"
    ]


def test_unsafe_yaml_tags_are_refused(write_pack: Callable[..., Path]) -> None:
    path = write_pack("pack: p\nversion: 1\nrules: !!python/object/apply:os.system ['true']\n")
    problems = _problems([path])
    _at(problems, path, 3, "unsupported YAML value")


def test_yaml_syntax_error_has_a_line(write_pack: Callable[..., Path]) -> None:
    path = write_pack("pack: p\nversion: 1\nrules:\n  - id: [unclosed\n")
    problems = _problems([path])
    assert len(problems) == 1 and "YAML error" in problems[0]
    assert re.match(rf"{re.escape(str(path))}:\d+: ", problems[0])


def test_duplicate_yaml_keys(write_pack: Callable[..., Path]) -> None:
    path = write_pack("pack: p\nversion: 1\npack: q\nrules: []\n")
    _at(_problems([path]), path, 3, "duplicate key 'pack'")


@pytest.mark.parametrize(
    ("params", "line", "message"),
    [
        ("      isbn_list: ../secrets.txt\n", 11, "without '..'"),
        ("      isbn_list: /etc/passwd\n", 11, "must be a path relative"),
        ("      isbn_list: missing.txt\n", 11, "does not exist"),
        ("      isbn_list: 7\n", 11, "must be non-empty text, got a number"),
    ],
)
def test_isbn_list_paths(write_pack: Callable[..., Path], params: str, line: int, message: str) -> None:
    path = write_pack(
        "pack: p\nversion: 1\nrules:\n  - id: ACME-ISBN-001\n    name: isbn\n    severity: high\n"
        "    kind: isbn\n    message: '{isbn}'\n    description: d\n    params:\n" + params
    )
    _at(_problems([path]), path, line, message)


def test_message_placeholders_are_checked(write_pack: Callable[..., Path]) -> None:
    path = write_pack(
        "pack: p\nversion: 1\nrules:\n" + GOOD_RULE.replace("from {host}", "from {hots} {host:%}")
    )
    problems = _problems([path])
    _at(problems, path, 8, "unknown placeholder {hots}")
    assert any("{domain}" in p and "{host}" in p for p in problems)


def test_ladder_rung_above_rule_severity(write_pack: Callable[..., Path]) -> None:
    path = write_pack(
        "pack: p\nversion: 1\nrules:\n  - id: ACME-ND-001\n    name: nd\n    severity: medium\n"
        "    kind: near-duplicate\n    message: '{work_title}'\n    description: d\n    params:\n"
        "      ladder:\n        - {severity: critical, min_matched_tokens: 10}\n"
        "        - {severity: low, min_similarity: 1.5, min_tokens: 3}\n"
    )
    problems = _problems([path])
    _at(problems, path, 12, "rung severity critical is above the rule's severity medium")
    _at(problems, path, 13, "is 1.5, it must be between 0 and 1.0")
    _at(problems, path, 13, "unknown key 'min_tokens'")


def test_metadata_needs_exactly_one_test(write_pack: Callable[..., Path]) -> None:
    path = write_pack(
        "pack: p\nversion: 1\nrules:\n  - id: ACME-META-001\n    name: m\n    severity: low\n"
        "    kind: metadata\n    message: '{field}'\n    description: d\n    params:\n"
        "      field: a.b\n      equals: x\n      missing: true\n"
    )
    _at(_problems([path]), path, 10, "exactly one of equals, matches, missing (got 2)")


def test_source_domains_are_checked(write_pack: Callable[..., Path]) -> None:
    path = write_pack(
        "pack: p\nversion: 1\nrules:\n" + GOOD_RULE.replace("[acme.example]", "[https://acme.example/x]")
    )
    _at(_problems([path]), path, 11, "is not a domain name")


def test_disable_of_an_unknown_id(write_pack: Callable[..., Path]) -> None:
    path = write_pack("pack: p\nversion: 1\ndisable: [AUD-SRC-999]\nrules: []\n")
    problems = _problems([path], include_defaults=True)
    _at(problems, path, 3, "no rule has id 'AUD-SRC-999'")
    assert any("AUD-SRC-001" in p for p in problems)  # nearby ids are suggested


def test_missing_pack_file(tmp_path: Path) -> None:
    problems = _problems([tmp_path / "nope.yaml"])
    assert problems == [f"{tmp_path / 'nope.yaml'}: rule pack not found (check the path given to --rules)"]


def test_empty_pack(write_pack: Callable[..., Path]) -> None:
    path = write_pack("# nothing\n")
    assert "the rule pack is empty" in _problems([path])[0]


def test_shipped_packs_are_valid() -> None:
    rules = load_rule_set()
    assert {p.name for p in rules.packs} == {"default", "shadow-libraries", "licenses", "books3"}
    assert all(len(p.digest) == 64 for p in rules.packs)
