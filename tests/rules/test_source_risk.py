"""Risk per source along three dimensions (domain, dataset, input file), in the tally and in report.json."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from auditor import engine
from auditor.models import Record, Severity
from auditor.report import build_report
from auditor.rules import load_rule_set
from auditor.sources import SOURCE_KINDS, SourceTally, dataset_key
from auditor.suppress import Suppressor, Waiver


@pytest.mark.parametrize(
    ("meta", "key"),
    [
        ({"dataset": "fineweb"}, "fineweb"),
        ({"source": "c4", "dataset": "mix"}, "mix"),  # `dataset` is tried first
        ({"meta": {"pile_set_name": "Books3"}}, "Books3"),
        ({"meta": {"redpajama_set_name": "RedPajamaBook"}}, "RedPajamaBook"),
        ({"metadata": {"source": "wiki"}}, "wiki"),
        ({"dataset": "", "source": "  c4\n"}, "c4"),  # blank values are skipped, whitespace collapsed
        ({"dataset": True, "source": 7}, "7"),  # booleans are not names
        ({"dataset": ["a"], "meta": "x"}, None),
        ({}, None),
    ],
)
def test_dataset_key(meta: dict[str, Any], key: str | None) -> None:
    assert dataset_key(meta) == key


def _record(i: int, url: str | None, dataset: str | None, input: str = "a.jsonl") -> Record:
    return Record(
        id=str(i),
        text="",
        input=input,
        row=i,
        url=url,
        meta={"meta": {"pile_set_name": dataset}} if dataset else {},
    )


def test_tally_ranks_each_dimension() -> None:
    tally = SourceTally()
    tally.add(_record(1, "https://libgen.rs/a", "Books3"), Severity.CRITICAL)
    tally.add(_record(2, "https://libgen.rs/b", "Books3"), Severity.HIGH)
    tally.add(_record(3, "https://news.example/a", "Pile-CC", "b.jsonl"), None)
    tally.add(_record(4, None, "Pile-CC", "b.jsonl"), Severity.LOW)
    tally.add(_record(5, None, None, "c.jsonl"), None)
    by = tally.ranked_by()
    assert list(by) == list(SOURCE_KINDS) == ["domain", "dataset", "input", "license"]
    # no record here declares a licence: all five count under one key, with their worst severities
    assert [(s.key, s.records, s.flagged) for s in by["license"]] == [("(none declared)", 5, 3)]
    assert [(s.key, s.records, s.flagged) for s in by["domain"]] == [
        ("libgen.rs", 2, 2),
        ("news.example", 1, 0),
    ]
    assert by["domain"][0].risk == pytest.approx(0.85) and by["domain"][0].max_severity == Severity.CRITICAL
    assert [(s.key, s.records, s.max_severity) for s in by["dataset"]] == [
        ("Books3", 2, Severity.CRITICAL),
        ("Pile-CC", 2, Severity.LOW),
    ]
    assert by["dataset"][1].risk == pytest.approx(0.05)
    assert [(s.key, s.records) for s in by["input"]] == [("a.jsonl", 2), ("b.jsonl", 2), ("c.jsonl", 1)]
    # the contract list is unchanged: host, else input file
    assert [s.key for s in tally.ranked()] == ["libgen.rs", "b.jsonl", "c.jsonl", "news.example"]


def test_merged_tallies_rank_every_dimension_alike() -> None:
    records = [_record(i, f"https://h{i % 3}.example", f"set{i % 2}", f"s{i % 4}") for i in range(40)]
    whole, a, b = SourceTally(), SourceTally(), SourceTally()
    for i, record in enumerate(records):
        worst = Severity(i % 5) if i % 3 else None
        whole.add(record, worst)
        (a if i % 2 else b).add(record, worst)
    a.merge(b)
    assert a.ranked_by() == whole.ranked_by() and a.ranked() == whole.ranked()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    rows = [
        {
            "id": "b1",
            "text": "x",
            "url": "https://libgen.rs/1",
            "license": "MIT",
            "meta": {"pile_set_name": "Books3"},
        },
        {
            "id": "b2",
            "text": "x",
            "url": "https://libgen.rs/2",
            "license": "MIT",
            "meta": {"pile_set_name": "Books3"},
        },
        {
            "id": "w1",
            "text": "x",
            "url": "https://news.example/1",
            "license": "MIT",
            "meta": {"pile_set_name": "CC"},
        },
        {"id": "w2", "text": "x", "license": "MIT", "meta": {"pile_set_name": "CC"}},
    ]
    path = tmp_path / "pile.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_report_ranks_sources_by_domain_dataset_and_input(corpus: Path) -> None:
    rules = load_rule_set()
    result = engine.scan([corpus], [], rules, engine.ScanOptions(workers=1))
    report = build_report(result, command=["auditor"], exit_code=1)
    by = report["sources_by"]
    assert list(by) == ["domain", "dataset", "input", "license"]
    assert by["domain"][0] == {
        "key": "libgen.rs",
        "records": 2,
        "flagged": 2,
        "max_severity": "critical",
        "risk": 1.0,
    }
    assert [(s["key"], s["records"], s["flagged"]) for s in by["dataset"]] == [("Books3", 2, 2), ("CC", 2, 0)]
    assert [(s["key"], s["records"], s["flagged"]) for s in by["input"]] == [(corpus.as_posix(), 4, 2)]
    assert report["sources"][0]["key"] == "libgen.rs"  # the contract list, unchanged


def test_suppressed_findings_do_not_count_towards_source_risk(corpus: Path) -> None:
    rules = load_rule_set()
    waiver = Waiver(
        where="w.yaml:3", reason="licensed", approver="Legal", expires=dt.date(2999, 1, 1), source="libgen.rs"
    )
    suppressor = Suppressor(waivers=[waiver], today=dt.date(2026, 1, 1))
    result = engine.scan([corpus], [], rules, engine.ScanOptions(workers=1), suppressor=suppressor)
    report = build_report(result, command=["auditor"], exit_code=0)
    assert all(s["flagged"] == 0 and s["risk"] == 0 for kind in report["sources_by"].values() for s in kind)
    assert report["summary"]["records_flagged"] == 0
    assert report["summary"]["suppressed"]["waiver"] == len(report["findings"]) > 0
    assert report["suppressions"]["waivers"][0]["matched"] == len(report["findings"])
