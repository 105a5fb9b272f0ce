"""Every exit path of the command line, through one helper that asserts the code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor import cli, engine


def invoke(args: list[str], code: int, capsys: pytest.CaptureFixture[str] | None = None) -> str:
    """Run the CLI in-process and assert its exit code; returns stderr (when capsys is given)."""
    with pytest.raises(SystemExit) as exc:
        cli.main([str(a) for a in args])
    err = capsys.readouterr().err if capsys else ""
    assert exc.value.code == code, err
    return err


@pytest.fixture
def clean_corpus(write_jsonl, words) -> Path:
    return write_jsonl([{"id": f"c{i}", "text": words.text(200), "license": "CC-BY-4.0"} for i in range(5)])


@pytest.fixture
def copied_corpus(write_jsonl, words, small_works) -> Path:
    passage = " ".join(small_works["work-4"].split(" ")[700:1000])
    rows = [
        {
            "id": "copy",
            "text": words.text(100) + " " + passage,
            "license": "CC-BY-4.0",
            "url": "https://news.example/a",
        }
    ]
    rows += [
        {"id": f"c{i}", "text": words.text(200), "license": "MIT", "url": "https://news.example/b"}
        for i in range(3)
    ]
    return write_jsonl(rows, name="copied.jsonl.gz")


def test_clean_scan_exits_0_and_writes_reports(tmp_path, clean_corpus, small_registry, capsys):
    err = invoke(
        ["scan", clean_corpus, "-r", small_registry.path, "-o", tmp_path / "out", "--workers", "1"], 0, capsys
    )
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["summary"]["records_scanned"] == 5 and report["findings"] == []
    assert report["summary"]["exit_code"] == 0
    assert (tmp_path / "out" / "report.html").is_file()
    assert "exit 0" in err


def test_findings_at_or_above_fail_on_exit_1(tmp_path, copied_corpus, small_registry, capsys):
    invoke(
        ["scan", copied_corpus, "-r", small_registry.path, "-o", tmp_path / "o", "--workers", "1"], 1, capsys
    )
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    (finding,) = [f for f in report["findings"] if f["kind"] == "near-duplicate"]
    assert finding["work"]["id"] == "work-4" and finding["severity"] == "critical"
    assert finding["record"] == {
        "id": "copy",
        "input": copied_corpus.as_posix(),
        "row": 1,
        "url": "https://news.example/a",
    }


def test_fail_on_never_and_above_the_worst_exit_0(tmp_path, copied_corpus, small_registry):
    base = [
        "scan",
        copied_corpus,
        "-r",
        small_registry.path,
        "-o",
        tmp_path / "o",
        "--workers",
        "1",
        "--quiet",
    ]
    invoke([*base, "--fail-on", "never"], 0)
    invoke([*base, "--min-severity", "critical", "--fail-on", "critical"], 1)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--fail-on", "severe"], "unknown severity 'severe'"),
        (["--format", "json,pdf"], "unknown --format pdf"),
        (["-r", "/nonexistent/registry"], "not a registry"),
        (["--workers", "0"], "0 is not in the range"),
    ],
)
def test_usage_errors_exit_2(tmp_path, clean_corpus, extra, message, capsys):
    err = invoke(["scan", clean_corpus, "-o", tmp_path / "o", *extra], 2, capsys)
    assert message in err


def test_missing_corpus_path_exits_2(tmp_path, capsys):
    err = invoke(["scan", tmp_path / "nope.jsonl", "-o", tmp_path / "o"], 2, capsys)
    assert "does not exist" in err


def test_bad_rule_pack_exits_2_with_file_and_line(tmp_path, clean_corpus, capsys):
    pack = tmp_path / "mine.yaml"
    pack.write_text(
        "pack: mine\nversion: 1\nrules:\n  - id: X-1\n    name: n\n    severity: loud\n    kind: source\n"
    )
    err = invoke(["scan", clean_corpus, "--rules", pack, "-o", tmp_path / "o"], 2, capsys)
    assert "mine.yaml:" in err
    invoke(["rules", "check", pack], 2)


def test_nothing_scanned_exits_3(tmp_path, write_jsonl, capsys):
    corpus = write_jsonl([], raw_lines=[b"{broken\n", b"[1]\n"])
    err = invoke(["scan", corpus, "-o", tmp_path / "o", "--workers", "1"], 3, capsys)
    assert "exit 3" in err
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["summary"]["records_scanned"] == 0 and len(report["skipped"]) == 2


def test_strict_with_a_skipped_row_exits_3_and_without_strict_exits_0(tmp_path, write_jsonl, words):
    corpus = write_jsonl([{"id": "a", "text": words.text(50), "license": "MIT"}], raw_lines=[b"{oops\n"])
    invoke(["scan", corpus, "-o", tmp_path / "o", "--workers", "1", "--quiet"], 0)
    invoke(["scan", corpus, "-o", tmp_path / "o", "--workers", "1", "--quiet", "--strict"], 3)


def test_internal_error_exits_4_never_0_or_1(tmp_path, clean_corpus, monkeypatch, capsys):
    def boom(*args, **kwargs):
        raise RuntimeError("injected bug")

    monkeypatch.setattr(engine, "scan", boom)
    err = invoke(["scan", clean_corpus, "-o", tmp_path / "o"], 4, capsys)
    assert "internal error: RuntimeError: injected bug" in err


def test_interrupt_exits_130(tmp_path, clean_corpus, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "scan", interrupted)
    invoke(["scan", clean_corpus, "-o", tmp_path / "o"], 130)


def test_report_rerenders_every_format_from_report_json(tmp_path, copied_corpus, small_registry):
    invoke(
        ["scan", copied_corpus, "-r", small_registry.path, "-o", tmp_path / "o", "--quiet", "--workers", "1"],
        1,
    )
    for fmt, name in [("html", "r.html"), ("sarif", "r.sarif"), ("md", "r.md"), ("junit", "r.xml")]:
        invoke(["report", tmp_path / "o" / "report.json", "--format", fmt, "-o", tmp_path / name], 0)
        assert (tmp_path / name).stat().st_size > 0
    invoke(
        ["report", tmp_path / "o" / "report.json", "--format", "html", "-o", tmp_path / "o" / "report.json"],
        2,
    )
    (tmp_path / "bad.json").write_text("{}")
    invoke(["report", tmp_path / "bad.json", "--format", "html", "-o", tmp_path / "x.html"], 2)


def test_registry_build_and_info(tmp_path, small_works, capsys):
    (tmp_path / "w").mkdir()
    for work_id, text in list(small_works.items())[:3]:
        (tmp_path / "w" / f"{work_id}.txt").write_text(text)
    invoke(["registry", "build", tmp_path / "w", "-o", tmp_path / "reg", "--name", "mini", "--quiet"], 0)
    capsys.readouterr()
    invoke(["registry", "info", tmp_path / "reg"], 0)
    out = capsys.readouterr().out
    assert "mini" in out and "work-2" in out and "sha256:" in out
    invoke(
        ["registry", "build", tmp_path / "w", "-o", tmp_path / "r2", "--num-perm", "64", "--bands", "5"], 2
    )
    invoke(["registry", "info", tmp_path / "w"], 2)


def test_rules_list_shows_bundled_rules(capsys):
    invoke(["rules", "list"], 0)
    out = capsys.readouterr().out
    assert "AUD-ND-001" in out and "AUD-SRC-001" in out


def test_version_and_help_exit_0(capsys):
    invoke(["--version"], 0)
    invoke(["scan", "--help"], 0)
    assert "--fail-on" in capsys.readouterr().out


def test_ctrl_c_while_the_command_line_is_still_importing_exits_130_without_a_traceback() -> None:
    """The ``auditor`` entry point (pyproject's [project.scripts]) during the import of auditor.cli."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import sys

        class Interrupt:  # Ctrl-C arriving while auditor.cli is being imported
            def find_spec(self, name, path=None, target=None):
                if name == "auditor.cli":
                    raise KeyboardInterrupt

        sys.meta_path.insert(0, Interrupt())
        sys.argv = ["auditor", "--help"]
        from auditor.__main__ import main
        main()
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 130
    assert "interrupted while starting" in done.stderr and "Traceback" not in done.stderr
    scripts = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert 'auditor = "auditor.__main__:main"' in scripts
