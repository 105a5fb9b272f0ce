"""End to end: `auditor scan` finds a planted copy in CSV and Arrow corpora; `auditor filter` removes it."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.feather as feather
import pytest

from auditor.filter import MANIFEST_NAME
from tests.test_cli import invoke


def _rows(words, small_works) -> list[dict[str, Any]]:
    passage = " ".join(small_works["work-4"].split(" ")[700:1000])
    rows = [
        {"id": f"c{i}", "text": words.text(200), "url": "https://news.example/b", "license": "MIT"}
        for i in range(4)
    ]
    rows.insert(2, {"id": "copy", "text": words.text(100) + " " + passage, "url": "https://libgen.is/x",
                    "license": "MIT"})  # fmt: skip
    return rows


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["id", "text", "meta.url", "license"])
    for r in rows:
        writer.writerow([r["id"], r["text"], r["url"], r["license"]])
    path.write_bytes(gzip.compress(out.getvalue().encode("utf-8"), mtime=0))


def _write_arrow(path: Path, rows: list[dict[str, Any]]) -> None:
    table = pa.table(
        {
            "id": [r["id"] for r in rows],
            "text": [r["text"] for r in rows],
            "meta": [{"url": r["url"], "license": r["license"]} for r in rows],
        }
    )
    feather.write_feather(table, path, chunksize=2)  # an LZ4-compressed IPC file of three batches


@pytest.mark.parametrize(("name", "write"), [("corpus.csv.gz", _write_csv), ("corpus.feather", _write_arrow)])
def test_scan_finds_the_planted_copy_and_filter_removes_it(
    tmp_path: Path, words, small_works, small_registry, name: str, write
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write(corpus / name, _rows(words, small_works))
    scan = ["-r", small_registry.path, "--workers", "1", "--quiet"]
    invoke(["scan", corpus, *scan, "-o", tmp_path / "audit"], 1)
    report = json.loads((tmp_path / "audit" / "report.json").read_text(encoding="utf-8"))
    assert report["summary"]["records_scanned"] == 5 and report["skipped"] == []
    assert [i["format"] for i in report["inputs"]] == ["csv" if name.endswith(".csv.gz") else "arrow"]
    copies = [f for f in report["findings"] if f["kind"] == "near-duplicate"]
    assert {(f["record"]["id"], f["record"]["row"], f["work"]["id"]) for f in copies} == {
        ("copy", 3, "work-4")
    }
    assert any(f["record"]["url"] == "https://libgen.is/x" for f in report["findings"])  # meta.url found

    clean = tmp_path / "clean"
    invoke(["filter", corpus, "--findings", tmp_path / "audit" / "report.json", "-o", clean], 0)
    invoke(["scan", clean, *scan, "-o", tmp_path / "rescan"], 0)
    rescan = json.loads((tmp_path / "rescan" / "report.json").read_text(encoding="utf-8"))
    assert rescan["summary"]["records_scanned"] == 4
    assert rescan["skipped"] == [] and (clean / MANIFEST_NAME).is_file()  # the manifest is not corpus
