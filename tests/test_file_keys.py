"""A corpus file that IS a registered file is found by its md5/sha256, even without the work's text."""

from __future__ import annotations

import hashlib
import json

from tests.test_cli import invoke


def test_text_file_found_by_md5_against_a_metadata_only_catalogue_row(tmp_path, words):
    book = words.text(400).encode()
    (tmp_path / "catalogue.csv").write_text(
        "work_id,title,authors,isbn,rights_holder,license,source,md5,sha256,path\n"
        f"lg-1,A Pirated Book,Someone,,Pub,All rights reserved,libgen,{hashlib.md5(book).hexdigest()},,\n",
        encoding="utf-8",
    )
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "dump.txt").write_bytes(book)
    (tmp_path / "corpus" / "other.txt").write_bytes(words.text(300).encode())
    invoke(["registry", "build", tmp_path / "catalogue.csv", "-o", tmp_path / "reg", "--quiet"], 0)
    invoke(["scan", tmp_path / "corpus", "-r", tmp_path / "reg", "-o", tmp_path / "out", "--quiet"], 1)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    (finding,) = [f for f in report["findings"] if f["kind"] == "exact-duplicate"]
    assert finding["work"]["id"] == "lg-1"
    assert finding["record"]["input"].endswith("dump.txt")
