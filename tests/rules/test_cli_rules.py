"""`auditor rules check|list|schema` through the CLI: every error with file, line and fix, and exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from auditor import cli
from auditor.rules.yamlsource import MAX_ALIASES

GOOD = """\
pack: acme
version: 1
rules:
  - id: ACME-SRC-001
    name: acme-source
    severity: high
    kind: source
    message: "from {host}"
    description: Records from the ACME mirror.
    params:
      domains: [mirror.acme.example]
"""


def invoke(args: list[Any], code: int, capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """Run the CLI in-process, assert its exit code, and return (stdout, stderr)."""
    with pytest.raises(SystemExit) as exc:
        cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    assert exc.value.code == code, captured.err
    return captured.out, captured.err


def problems(err: str, path: Path) -> list[str]:
    """The problem lines of a rule-pack error, each checked to read ``file:line: message (fix)``."""
    lines = [line.strip() for line in err.splitlines()[1:] if line.strip()]
    assert re.match(r"auditor: error: \d+ problems? in rule packs:$", err.splitlines()[0]), err
    for line in lines:
        assert re.match(rf"{re.escape(str(path))}:\d+: .+ \(.+\)$", line), line
    return lines


def has(lines: list[str], path: Path, line: int, text: str) -> None:
    assert any(p.startswith(f"{path}:{line}: ") and text in p for p in lines), "\n".join(lines)


@pytest.fixture
def pack(tmp_path: Path):
    def write(text: str, name: str = "pack.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def test_a_good_pack_checks_ok(pack, capsys) -> None:
    _, err = invoke(["rules", "check", pack(GOOD)], 0, capsys)
    assert re.match(r"ok: 1 pack\(s\) checked; \d+ rules active, 2 disabled", err)


def test_every_error_is_reported_with_file_line_and_fix(pack, capsys) -> None:
    path = pack(
        """\
pack: acme
version: 1
colour: blue
rules:
  - id: ACME-SRC-001
    name: acme-source
    severity: high
    kind: sorce
    message: "from {host}"
    description: Records from the ACME mirror.
    params:
      domains: [mirror.acme.example]
  - id: ACME-NOT-001
    name: notice
    severity: severe
    kind: notice
    message: "{signals}"
    description: [not, text]
    enabled: "yes"
    params:
      context: "sixty"
      ladder: [{severity: medium, min_signals: 1}]
      signals:
        broken: {pattern: '(unclosed'}
"""
    )
    _, err = invoke(["rules", "check", path], 2, capsys)
    lines = problems(err, path)
    has(lines, path, 3, "unknown key 'colour' in the pack")  # unknown key
    has(lines, path, 8, "unknown check kind 'sorce' (did you mean 'source'?)")  # unknown kind
    has(lines, path, 15, "is not a severity: 'severe'")  # wrong value
    has(lines, path, 18, "must be non-empty text, got a list")  # wrong type
    has(lines, path, 19, "must be true or false, got text ('yes')")
    has(lines, path, 21, "must be a whole number, got text ('sixty')")
    has(lines, path, 24, "bad regular expression '(unclosed'")  # bad regex
    assert len(lines) == 7


def test_problems_of_several_packs_come_together(pack, capsys) -> None:
    first = pack(GOOD.replace("severity: high", "severity: High"), "first.yaml")
    second = pack(
        GOOD.replace("pack: acme", "pack: other").replace("ACME-SRC-001", "ACME-SRC-002") + "oops: 1\n",
        "b.yaml",
    )
    _, err = invoke(["rules", "check", first, second], 2, capsys)
    assert f"{first}:6: rules[0].severity is not a severity: 'High' (write it in lower case: high)" in err
    assert f"{second}:12: unknown key 'oops' in the pack" in err


def test_a_missing_pack_is_a_problem_too(pack, tmp_path, capsys) -> None:
    _, err = invoke(["rules", "check", pack(GOOD), tmp_path / "nope.yaml"], 2, capsys)
    assert f"{tmp_path / 'nope.yaml'}: rule pack not found" in err


def test_yaml_alias_bomb(pack, capsys) -> None:
    lines = ["pack: bomb", "version: 1", "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 13)]
    path = pack("\n".join([*lines, "rules: []"]) + "\n")
    _, err = invoke(["rules", "check", path], 2, capsys)
    (line,) = problems(err, path)
    assert f"more than {MAX_ALIASES} YAML aliases" in line


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system ['touch /tmp/pwned']",
        "!!python/object:collections.OrderedDict {}",
        "!!python/name:os.system",
    ],
)
def test_python_tags_are_refused(pack, capsys, tag: str, tmp_path: Path) -> None:
    path = pack(f"pack: p\nversion: 1\nrules: {tag}\n")
    _, err = invoke(["rules", "check", path], 2, capsys)
    has(problems(err, path), path, 3, "unsupported YAML value")


@pytest.mark.parametrize(
    "pattern",
    ["(a+)+$", "(\\w+\\s?)*$", "(a|aa)*b", "(.*,)*x", "(\\d+)*x"],
)
def test_catastrophic_regexes_are_refused_at_load(pack, capsys, pattern: str) -> None:
    path = pack(GOOD.replace("domains: [mirror.acme.example]", f"patterns: [{{regex: '{pattern}'}}]"))
    _, err = invoke(["rules", "check", path], 2, capsys)
    (line,) = problems(err, path)
    assert line.startswith(f"{path}:11: ") and "can take exponential time" in line
    assert "possessive" in line and "atomic" in line


def test_safe_repetition_is_accepted(pack, capsys) -> None:
    path = pack(
        GOOD.replace(
            "domains: [mirror.acme.example]", "patterns: [{regex: '[a-z]+(?:-[a-z0-9]+)*\\.example'}]"
        )
    )
    invoke(["rules", "check", path], 0, capsys)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("../isbns.txt", "without '..'"),
        ("lists/../../isbns.txt", "without '..'"),
        ("/etc/passwd", "must be a path relative to the pack's folder"),
        ("C:\\\\isbns.txt", "must be a path relative to the pack's folder"),
    ],
)
def test_isbn_list_paths_must_stay_beside_the_pack(pack, capsys, value: str, message: str) -> None:
    path = pack(
        "pack: p\nversion: 1\nrules:\n  - id: P-ISBN-001\n    name: isbn\n    severity: high\n"
        f"    kind: isbn\n    message: '{{isbn}}'\n    description: d\n    params:\n"
        f'      isbn_list: "{value}"\n'
    )
    _, err = invoke(["rules", "check", path], 2, capsys)
    has(problems(err, path), path, 11, message)


def test_an_empty_file(pack, capsys) -> None:
    path = pack("# nothing here\n")
    _, err = invoke(["rules", "check", path], 2, capsys)
    has(problems(err, path), path, 1, "the rule pack is empty")


def test_every_rule_disabled_means_no_rules_would_run(pack, capsys, tmp_path, write_jsonl) -> None:
    path = pack("pack: all-off\nversion: 1\ndisable: ['*']\nrules: []\n")
    _, err = invoke(["rules", "check", path], 2, capsys)
    (line,) = problems(err, path)
    assert line.startswith(f"{path}:3: no rules would run")
    corpus = write_jsonl([{"id": "a", "text": "hello"}])
    _, err = invoke(["scan", corpus, "--rules", path, "-o", tmp_path / "out"], 2, capsys)
    assert "no rules would run" in err and not (tmp_path / "out").exists()


def test_a_date_that_is_not_a_date_does_not_crash_the_loader(pack, capsys) -> None:
    invoke(
        ["rules", "check", pack(GOOD.replace("description: Records", "description: 2026-13-01 Records"))],
        0,
        capsys,
    )
    path = pack(GOOD + "    rationale: 2026-13-01\n")
    invoke(["rules", "check", path], 0, capsys)


def test_rules_list_shows_packs_active_and_disabled_rules(pack, capsys) -> None:
    path = pack(GOOD.replace("rules:\n", "disable: [AUD-SRC-005]\nenable: [AUD-META-001]\nrules:\n"))
    out, _ = invoke(["rules", "list", path], 0, capsys)
    packs, rest = out.split("active rules (", 1)
    active, disabled = rest.split("disabled rules (", 1)
    assert "books3" in packs and "shadow-libraries" in packs and "acme " in packs and str(path) in packs
    assert "ACME-SRC-001" in active and "AUD-ND-001" in active
    assert re.search(rf"AUD-META-001 .* \(`enable: AUD-META-001` at {re.escape(str(path))}:4\)", active)
    assert re.search(rf"AUD-SRC-005 .* \(`disable: AUD-SRC-005` at {re.escape(str(path))}:3\)", disabled)
    assert re.search(r"AUD-META-002 .* \(`enabled: false` in pack default\)", disabled)
    assert "AUD-SRC-005" not in active


def test_rules_list_json(capsys) -> None:
    out, _ = invoke(["rules", "list", "--json", "--use", "research"], 0, capsys)
    data = json.loads(out)
    assert data["use"] == "research"
    assert {p["name"] for p in data["packs"]} == {"books3", "default", "licenses", "shadow-libraries"}
    assert {r["id"] for r in data["disabled"]} == {"AUD-META-001", "AUD-META-002"}
    assert all({"id", "name", "severity", "kind", "pack", "aliases", "why"} <= set(r) for r in data["active"])


def test_rules_list_with_a_bad_pack_exits_2(pack, capsys) -> None:
    path = pack(GOOD.replace("kind: source", "kind: sauce"))
    _, err = invoke(["rules", "list", path], 2, capsys)
    has(problems(err, path), path, 7, "unknown check kind 'sauce'")


def test_rules_schema(capsys) -> None:
    out, _ = invoke(["rules", "schema"], 0, capsys)
    assert json.loads(out)["title"].startswith("auditor rule pack")
    out, _ = invoke(["rules", "schema", "--waivers"], 0, capsys)
    assert json.loads(out)["title"].startswith("auditor waivers file")


def test_rules_check_needs_a_pack(capsys) -> None:
    invoke(["rules", "check"], 2, capsys)
