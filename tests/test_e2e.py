"""End to end over sample_corpora/: the planted copies are found, clean records are not flagged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SAMPLES
from tests.golden.regenerate import GOLDEN, digest, scan_sample

TRUTH = json.loads((SAMPLES / "truth.json").read_text(encoding="utf-8"))
SHADOW_HOSTS = ("libgen", "z-lib", "annas-archive", "b-ok", "library.lol", "pdfdrive")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sample")


@pytest.fixture(scope="module")
def report(workdir: Path) -> dict[str, Any]:
    return scan_sample(workdir, workers=2)


def _overlaps(a0: int, a1: int, b0: int, b1: int) -> bool:
    return min(a1, b1) > max(a0, b0)


def test_at_least_95_percent_of_planted_copies_found_against_the_right_work_and_place(report):
    by_record: dict[str, list[dict[str, Any]]] = {}
    for f in report["findings"]:
        by_record.setdefault(f["record"]["id"], []).append(f)
    found = 0
    for plant in TRUTH["planted"]:
        findings = [
            f
            for f in by_record.get(plant["record_id"], [])
            if f["kind"] in ("near-duplicate", "exact-duplicate") and f["work"]["id"] == plant["work_id"]
        ]
        found += any(
            _overlaps(s["record_start"], s["record_end"], plant["record_start"], plant["record_end"])
            and _overlaps(s["work_start"], s["work_end"], plant["work_start"], plant["work_end"])
            for f in findings
            for s in f["spans"]
        )
    assert found / len(TRUTH["planted"]) >= 0.95


def test_no_clean_record_is_flagged_and_no_copy_is_claimed_where_none_was_planted(report):
    flagged = {f["record"]["id"] for f in report["findings"]}
    clean = {rid for rid, cat in TRUTH["records"].items() if cat == "clean"}
    assert clean and not (clean & flagged)
    planted = {p["record_id"] for p in TRUTH["planted"]}
    copies = {f["record"]["id"] for f in report["findings"] if f["kind"] == "near-duplicate"}
    assert copies <= planted


def test_a_shadow_library_is_the_riskiest_source(report):
    top = report["sources"][0]
    assert any(h in top["key"] for h in SHADOW_HOSTS), top
    assert top["max_severity"] == "critical"


def test_counts_add_up_per_input(report):
    assert report["summary"]["records_scanned"] == sum(i["records"] for i in report["inputs"]) == 3000
    assert report["summary"]["records_skipped"] == sum(i["skipped"] for i in report["inputs"]) == 0
    assert [i["format"] for i in report["inputs"]] == ["jsonl", "parquet"]


def test_findings_match_the_golden_file(report):
    """Pins every finding; after a deliberate change run tests/golden/regenerate.py and review the diff."""
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert digest(report) == golden


def test_one_worker_and_two_workers_give_the_same_report(report, workdir):
    single = scan_sample(workdir, workers=1)
    for key in ("summary", "findings", "sources", "works", "inputs", "skipped"):
        assert single[key] == report[key], key


def test_licence_mix_covers_every_record(report):
    mix = {s["key"]: s for s in report["sources_by"]["license"]}
    assert sum(s["records"] for s in mix.values()) == report["summary"]["records_scanned"]
    # a non-commercial licence is flagged on every record declaring it (default use: commercial)
    assert mix["CC-BY-NC-4.0"]["flagged"] == mix["CC-BY-NC-4.0"]["records"] > 0
