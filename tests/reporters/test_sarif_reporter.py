"""report.sarif: valid SARIF 2.1.0, one severity→level mapping, capped results, skips as notifications."""

from __future__ import annotations

import gzip
import json
import random
import string
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema.validators import validator_for

from auditor.reporters import get_reporter
from auditor.reporters import sarif as sarif_reporter
from auditor.reporters.sarif import artifact_uri, level_from_severity

SCHEMA_PATH = Path(__file__).with_name("sarif-schema-2.1.0.json")


@cache
def _validator() -> Any:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = validator_for(schema)  # the schema declares its own draft (draft-04 for the OASIS file)
    cls.check_schema(schema)
    return cls(schema)


def render(report: dict[str, Any]) -> dict[str, Any]:
    log = json.loads(get_reporter("sarif").render(report))
    errors = sorted(_validator().iter_errors(log), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    return log


@pytest.mark.parametrize("fixture", ["report", "empty", "hostile"])
def test_sarif_validates_against_the_schema(fixture: str, request: pytest.FixtureRequest) -> None:
    log = render(request.getfixturevalue(fixture))
    assert log["version"] == "2.1.0"
    assert len(log["runs"]) == 1


def test_level_mapping() -> None:
    assert [level_from_severity(s) for s in ("critical", "high", "medium", "low", "info")] == [
        "error",
        "error",
        "warning",
        "note",
        "note",
    ]
    assert level_from_severity(None) == "note"


def test_sarif_driver_rules(report: dict[str, Any]) -> None:
    driver = render(report)["runs"][0]["tool"]["driver"]
    assert driver["name"] == "auditor" and driver["version"] == "0.1.0"
    rules = {r["id"]: r for r in driver["rules"]}
    assert set(rules) == {r["id"] for r in report["rules"]}
    rule = rules["AUD201"]
    assert rule["name"] == "pirate-source"
    assert rule["shortDescription"]["text"] == "pirate-source"
    assert rule["fullDescription"]["text"] == "Record comes from a known pirate library."
    assert rule["help"]["text"]
    assert rule["defaultConfiguration"]["level"] == "error"
    assert rules["AUD301"]["defaultConfiguration"]["level"] == "warning"


def test_sarif_results(report: dict[str, Any]) -> None:
    run = render(report)["runs"][0]
    results = run["results"]
    assert len(results) == len(report["findings"])
    first = results[0]
    assert first["ruleId"] == "AUD101"
    assert run["tool"]["driver"]["rules"][first["ruleIndex"]]["id"] == "AUD101"
    assert first["level"] == "error"
    assert first["message"]["text"] == "copies 42% of a registered work"
    location = first["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "shards/a.jsonl"
    assert location["region"]["startLine"] == 3
    assert location["region"]["properties"] == {"recordCharOffset": 120, "recordCharLength": 860}
    assert first["partialFingerprints"] == {"auditorFingerprint/v1": report["findings"][0]["fingerprint"]}
    assert [r["level"] for r in results] == ["error", "error", "error", "warning", "note", "note"]
    assert results[-1]["suppressions"][0]["kind"] == "external"


def test_sarif_start_line_is_at_least_one(report: dict[str, Any]) -> None:
    report["findings"][0]["record"]["row"] = 0
    assert (
        render(report)["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"]
        == 1
    )


def test_sarif_reports_skipped_inputs_as_notifications(report: dict[str, Any]) -> None:
    invocation = render(report)["runs"][0]["invocations"][0]
    notes = invocation["toolExecutionNotifications"]
    skipped = [n for n in notes if n["descriptor"]["id"] == "input-skipped"]
    assert len(skipped) == 1
    assert "truncated gzip stream" in skipped[0]["message"]["text"]
    assert (
        skipped[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "shards/broken.jsonl.gz"
    )
    assert any(n["descriptor"]["id"] == "records-skipped" for n in notes)
    assert invocation["executionSuccessful"] is True
    assert invocation["exitCode"] == 1


def test_sarif_caps_results_keeping_the_worst(
    report: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sarif_reporter, "RESULTS_LIMIT", 3)
    report["findings"].reverse()  # worst last: the reporter must still keep the worst
    run = render(report)["runs"][0]
    assert [r["properties"]["severity"] for r in run["results"]] == ["critical", "critical", "high"]
    notes = run["invocations"][0]["toolExecutionNotifications"]
    capped = [n for n in notes if n["descriptor"]["id"] == "results-capped"]
    assert len(capped) == 1 and capped[0]["message"]["text"].startswith("3 results omitted")


def test_sarif_percent_encodes_paths() -> None:
    assert artifact_uri("shards/a b.jsonl") == "shards/a%20b.jsonl"
    assert artifact_uri("c:x.jsonl") == "c%3Ax.jsonl"  # never read as a scheme
    assert artifact_uri("evil\u202e.jsonl") == "evil%E2%80%AE.jsonl"
    assert artifact_uri("latin1-\udce9.jsonl") == "latin1-%E9.jsonl"  # os.fsdecode of a non-UTF-8 name
    assert artifact_uri("lone\ud800") == "lone%ED%A0%80"


def test_sarif_hostile_paths_are_encoded(hostile: dict[str, Any]) -> None:
    run = render(hostile)["runs"][0]
    for result in run["results"]:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert "<" not in uri and "\u202e" not in uri and ":" not in uri


def test_sarif_empty_run_is_valid_and_unsuccessful_for_exit_3(empty: dict[str, Any]) -> None:
    run = render(empty)["runs"][0]
    assert run["results"] == []
    assert run["invocations"][0]["executionSuccessful"] is False


def _githubs_limits_hold(log: dict[str, Any], text: str) -> None:
    """GitHub code scanning's upload limits (docs.github.com, "SARIF results exceed limit")."""
    assert len(log["runs"]) <= 20
    for run in log["runs"]:
        assert len(run["results"]) <= 25_000
        assert len(run["tool"]["driver"]["rules"]) <= 25_000
        assert all(len(r["properties"]["tags"]) <= 10 for r in run["tool"]["driver"]["rules"])
        assert all(len(r["locations"]) <= 100 for r in run["results"])
    assert len(gzip.compress(text.encode("utf-8"))) <= 10 * 1000 * 1000


def test_sarif_at_scale_keeps_githubs_limits_and_the_worst_results(
    report_factory: Any, finding_factory: Any
) -> None:
    severities = ["info", "low", "medium", "high", "critical"]
    findings = [
        finding_factory(
            severity=severities[i % 5],
            row=i + 1,
            record_id=f"doc-{i}",
            url=f"https://site{i % 300}.example/page/{i}",
            work={"id": f"w{i % 50}", "title": f"Title {i % 50}", "registry": "r", "isbns": []},
            score={"similarity": 0.9, "record_coverage": 0.42, "matched_tokens": i},
            spans=[{"record_start": i, "record_end": i + 900, "work_start": 2 * i, "work_end": 2 * i + 900}],
            message=f"Record copies {i} tokens of a registered work",
            fingerprint=f"{i:032x}",
        )
        for i in range(30_000)
    ]
    report = report_factory(findings)
    text = get_reporter("sarif").render(report)
    log = json.loads(text)
    _githubs_limits_hold(log, text)
    run = log["runs"][0]
    assert len(run["results"]) == sarif_reporter.RESULTS_LIMIT
    kept = [r["properties"]["severity"] for r in run["results"]]
    assert kept.count("critical") == kept.count("high") == kept.count("medium") == kept.count("low") == 6000
    assert kept.count("info") == 1000 and kept == sorted(kept, key=severities.index, reverse=True)
    notes = {
        n["descriptor"]["id"]: n["message"]["text"]
        for n in run["invocations"][0]["toolExecutionNotifications"]
    }
    assert notes["results-capped"].startswith("5000 results omitted (5000 info)")
    assert "GitHub code scanning shows only 5000 results" in notes["results-shown"]
    # The full log takes half a minute to validate; the same log cut to a few results checks its shape.
    run["results"] = run["results"][:50]
    assert not list(_validator().iter_errors(log))


def test_sarif_cuts_results_to_fit_githubs_upload_size(
    report_factory: Any, finding_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sarif_reporter, "UPLOAD_LIMIT", 60_000)
    rng = random.Random(6)
    findings = [
        finding_factory(
            severity="critical" if i < 10 else "low",
            row=i + 1,
            record_id=f"doc-{i}",
            # Incompressible text, so the compressed file grows with every result.
            message="".join(rng.choice(string.ascii_letters) for _ in range(1500)),
            fingerprint=f"{i:032x}",
        )
        for i in range(200)
    ]
    text = get_reporter("sarif").render(report_factory(findings))
    log = render(report_factory(findings))
    assert len(gzip.compress(text.encode("utf-8"))) <= 60_000
    results = log["runs"][0]["results"]
    assert 10 <= len(results) < 200
    assert [r["properties"]["severity"] for r in results[:10]] == ["critical"] * 10
    capped = [
        n for n in log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        if n["descriptor"]["id"] == "results-capped"
    ]  # fmt: skip
    assert "GitHub's upload limit of 60,000 bytes" in capped[0]["message"]["text"]


def test_sarif_caps_rules_keeping_those_results_use(
    report: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sarif_reporter, "RULES_LIMIT", 3)
    report["findings"] = [f for f in report["findings"] if f["rule_id"] in ("AUD401", "AUD501")]
    run = render(report)["runs"][0]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert len(ids) == 3 and {"AUD401", "AUD501"} <= set(ids)
    for result in run["results"]:
        assert ids[result["ruleIndex"]] == result["ruleId"]
