"""docs/ci.md: the workflow and the hook use only commands and options that exist, and the examples run."""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from auditor import cli
from auditor.filter import MANIFEST_NAME
from auditor.reporters import REPORTERS

DOC = Path(__file__).resolve().parents[2] / "docs" / "ci.md"


def blocks(language: str) -> list[tuple[str, str]]:
    """(section heading, code) of every fenced block of ``language`` in docs/ci.md."""
    found, heading = [], ""
    for match in re.finditer(
        r"^(#+ [^\n]*)$|^```(\w*)\n(.*?)^```$", DOC.read_text(encoding="utf-8"), re.M | re.S
    ):
        if match.group(1):
            heading = match.group(1).lstrip("#").strip()
        elif match.group(2) == language:
            found.append((heading, match.group(3)))
    return found


def block(language: str, heading: str) -> str:
    (code,) = [code for head, code in blocks(language) if head == heading]
    return code


@cache
def help_text(*command: str) -> str:
    result = CliRunner().invoke(cli.cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    return result.output


def auditor_commands(script: str) -> Iterator[list[str]]:
    """Every ``auditor …`` command line of a shell script, as arguments after ``auditor``."""
    for line in script.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if "auditor" in words:
            yield words[words.index("auditor") + 1 :]


def check_command(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """Assert that the subcommand exists and takes every option used; return it and the options."""
    sub = args[:2] if args[0] == "registry" else args[:1]
    text = help_text(*sub)
    options: dict[str, str] = {}
    rest = args[len(sub) :]
    for i, word in enumerate(rest):
        if word.startswith("-"):
            assert re.search(rf"(^|[\s,]){re.escape(word)}([\s,=]|$)", text, re.M), (
                f"auditor {' '.join(sub)} {word}"
            )
            options[word] = rest[i + 1] if i + 1 < len(rest) and not rest[i + 1].startswith("-") else ""
    if "--format" in options:
        assert set(options["--format"].split(",")) <= set(REPORTERS)
    return sub, options


# ------------------------------------------------------------------------------------- GitHub Actions


def test_workflow_parses_and_uses_real_commands_and_options() -> None:
    workflow = yaml.safe_load(block("yaml", "GitHub Actions"))
    assert workflow["permissions"]["security-events"] == "write"
    (job,) = workflow["jobs"].values()
    steps = job["steps"]
    scans = []
    for step in steps:
        for args in auditor_commands(step.get("run", "")):
            sub, options = check_command(args)
            if sub == ["scan"]:
                scans.append((step, options))
    ((scan_step, scan),) = scans
    out = scan["-o"]
    assert {"sarif", "md"} <= set(scan["--format"].split(",")) and scan["--fail-on"] == "high"
    assert "set +e" in scan_step["run"] and 'echo "exit_code=$?" >> "$GITHUB_OUTPUT"' in scan_step["run"]
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif@"))
    assert upload["with"]["sarif_file"] == f"{out}/report.sarif" and "always()" in upload["if"]
    summary = next(s for s in steps if "GITHUB_STEP_SUMMARY" in s.get("run", ""))
    assert f"cat {out}/summary.md" in summary["run"] and "always()" in summary["if"]
    last = steps[-1]
    assert last["if"] == f"steps.{scan_step['id']}.outputs.exit_code != '0'" and "exit 1" in last["run"]
    # The file names the steps read are the ones the reporters write.
    assert REPORTERS["sarif"].filename == "report.sarif" and REPORTERS["md"].filename == "summary.md"


# ------------------------------------------------------------------------------------------ pre-commit


def _corpus(tmp: Path, small_works: dict[str, str], words: Any) -> tuple[Path, Path]:
    clean = tmp / "data" / "clean.jsonl"
    clean.parent.mkdir(parents=True)
    clean.write_text(
        "".join(
            json.dumps({"id": f"c{i}", "text": words.text(150), "license": "CC-BY-4.0"}) + "\n"
            for i in range(4)
        ),
        encoding="utf-8",
    )
    work = small_works["work-3"]
    copied = tmp / "data" / "copied.jsonl"
    rows = [
        {"id": "copy-1", "text": words.text(60) + " " + work[3000:9000], "license": "CC-BY-4.0"},
        {"id": "fine-1", "text": words.text(150), "license": "CC-BY-4.0"},
    ]
    copied.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return clean, copied


def test_pre_commit_hook_uses_real_options_and_runs(
    tmp_path: Path,
    small_registry: Any,
    small_works: dict[str, str],
    words: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = yaml.safe_load(block("yaml", "pre-commit"))
    (hook,) = config["repos"][0]["hooks"]
    assert hook["language"] == "system" and hook["pass_filenames"] is True
    entry = shlex.split(hook["entry"])
    assert entry[0] == "auditor"
    sub, options = check_command(entry[1:])
    assert sub == ["scan"]
    pattern = re.compile(hook["files"])
    for name in ("a.jsonl", "b.jsonl.gz", "c.json.zst", "d.parquet", "e.ndjson"):
        assert pattern.search(name), name
    for name in ("notes.txt", "report.html", "x.jsonl.bak"):
        assert not pattern.search(name), name

    clean, copied = _corpus(tmp_path, small_works, words)
    (tmp_path / "build").mkdir()
    os.symlink(small_registry.path, tmp_path / options["-r"])
    monkeypatch.chdir(tmp_path)
    for files, code in (([clean], 0), ([clean, copied], 1)):
        with pytest.raises(SystemExit) as exc:
            cli.main([*entry[1:], *(str(f.relative_to(tmp_path)) for f in files)])
        assert exc.value.code == code
    report = json.loads((tmp_path / options["-o"] / "report.json").read_text(encoding="utf-8"))
    assert {f["record"]["id"] for f in report["findings"] if f["severity"] in ("high", "critical")} == {
        "copy-1"
    }


# ------------------------------------------------------------------------------------------- Python API


def test_python_pipeline_step_runs(tmp_path: Path, small_works: dict[str, str], words: Any, capsys) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(block("python", "Python API: a data-pipeline step"), str(DOC), "exec"), namespace)
    audit_batch = namespace["audit_batch"]
    works = tmp_path / "works"
    works.mkdir()
    for work_id, text in small_works.items():
        (works / f"{work_id}.txt").write_text(text, encoding="utf-8")
    clean, copied = _corpus(tmp_path, small_works, words)
    shards = clean.parent

    result = audit_batch(shards, works, tmp_path / "run-1")
    assert result == tmp_path / "run-1" / "clean"
    manifest = json.loads((result / MANIFEST_NAME).read_text(encoding="utf-8"))
    removed = [r["id"] for i in manifest["inputs"] for r in i["removed_records"]]
    assert removed == ["copy-1"] and manifest["totals"] == {"read": 6, "kept": 5, "removed": 1}
    assert "kept 5 of 6 records, removed 1" in capsys.readouterr().out
    for name in ("report.json", "report.html", "findings.parquet"):
        assert (tmp_path / "run-1" / "audit" / name).is_file()

    copied.unlink()
    assert audit_batch(shards, works, tmp_path / "run-2") == shards  # clean: the batch itself


def test_shell_example_uses_real_commands_and_options() -> None:
    (code,) = [c for head, c in blocks("bash") if head == "Python API: a data-pipeline step"]
    commands = [check_command(args)[0] for args in auditor_commands(code)]
    assert commands == [["registry", "build"], ["scan"], ["filter"]]
