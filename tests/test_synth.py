"""The synthetic-data generator and the committed sample corpora it made."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import importlib.util
import itertools
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auditor import synth

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_corpora"
FIELDS = ["id", "url", "text", "license", "crawl_date", "lang"]
SHADOW = {"libgen.is", "libgen.rs", "libgen.li", "z-lib.org", "annas-archive.org", "b-ok.cc", "library.lol",
          "www.pdfdrive.com"}  # fmt: skip
PERMISSIVE = {"CC-BY-4.0", "CC0-1.0", "MIT", "CC-BY-SA-4.0", "Apache-2.0", "public domain"}
ISBN_LIKE = re.compile(r"97[89][-\s]?(?:\d[-\s]?){9}\d")


def isbn13_ok(value: str) -> bool:
    digits = re.sub(r"[-\s]", "", value)
    if not re.fullmatch(r"97[89]\d{10}", digits):
        return False
    return sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10 == 0


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def grams(text: str, n: int) -> set[tuple[str, ...]]:
    t = tokens(text)
    return {tuple(t[i : i + n]) for i in range(len(t) - n + 1)}


def body(work_text: str) -> str:
    """Chapter text: everything after the table of contents (front matter is joined by blank lines)."""
    contents = work_text.index("Contents\n\n")
    return work_text[work_text.index("\n\n\n", contents) + 3 :]


# -- committed files -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalogue() -> list[dict[str, str]]:
    with open(SAMPLE / "registry" / "catalogue.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def works(catalogue: list[dict[str, str]]) -> dict[str, str]:
    return {
        row["work_id"]: (SAMPLE / "registry" / row["path"]).read_bytes().decode("utf-8") for row in catalogue
    }


@pytest.fixture(scope="module")
def jsonl_rows() -> list[dict[str, Any]]:
    with gzip.open(SAMPLE / "webcrawl" / "crawl-00000.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def parquet_table() -> pa.Table:
    return pq.read_table(SAMPLE / "webcrawl" / "crawl-00001.parquet")


@pytest.fixture(scope="module")
def records(jsonl_rows: list[dict[str, Any]], parquet_table: pa.Table) -> dict[str, dict[str, Any]]:
    rows = [{k: r.get(k) for k in FIELDS} for r in jsonl_rows] + parquet_table.to_pylist()
    out = {r["id"]: r for r in rows}
    assert len(out) == len(rows), "record ids are not unique"
    return out


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    return json.loads((SAMPLE / "truth.json").read_text(encoding="utf-8"))


# -- determinism -----------------------------------------------------------------------------------


def test_generating_twice_gives_identical_bytes(tmp_path: Path) -> None:
    a = synth.build_sample_corpora(tmp_path / "a", 7, n_works=3, n_records=80)
    b = synth.build_sample_corpora(tmp_path / "b", 7, n_works=3, n_records=80)
    assert a == b
    assert synth.compare_sample_corpora(tmp_path / "a", tmp_path / "b") == []
    assert len(a["files"]) == 3 + 4  # works, catalogue, two shards, truth


def test_committed_sample_corpora_match_the_generator(capsys: pytest.CaptureFixture[str]) -> None:
    # `python sample_corpora/generate.py --check`, run in this process to spare a second interpreter.
    spec = importlib.util.spec_from_file_location("generate_sample_corpora", SAMPLE / "generate.py")
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    code = script.main(["--check"])
    assert code == 0, capsys.readouterr().err


def test_generate_script_runs_standalone(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SAMPLE / "generate.py"), "--help"], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0 and "--check" in done.stdout, done.stderr


def test_check_reports_hand_edits_missing_and_stale_files(tmp_path: Path) -> None:
    fresh, committed = tmp_path / "fresh", tmp_path / "committed"
    synth.build_sample_corpora(fresh, 3, n_works=2, n_records=40)
    shutil.copytree(fresh, committed)
    (committed / "README.md").write_text("not generated; ignored\n")
    assert synth.compare_sample_corpora(fresh, committed) == []
    work = next((committed / "registry" / "works").iterdir())
    work.write_bytes(work.read_bytes().replace(b"e", b"E", 1))
    (committed / "truth.json").unlink()
    (committed / "webcrawl" / "crawl-00009.parquet").write_bytes(b"old")
    problems = synth.compare_sample_corpora(fresh, committed)
    assert problems == [
        f"differs: registry/works/{work.name}",
        "missing: truth.json",
        "stale: webcrawl/crawl-00009.parquet",
    ]
    # Regenerating in place repairs the folder and removes the stale shard, but not other files.
    synth.build_sample_corpora(committed, 3, n_works=2, n_records=40)
    assert synth.compare_sample_corpora(fresh, committed) == []
    assert not (committed / "webcrawl" / "crawl-00009.parquet").exists()
    assert (committed / "README.md").exists()


def test_gzip_header_has_no_timestamp_or_name() -> None:
    head = (SAMPLE / "webcrawl" / "crawl-00000.jsonl.gz").read_bytes()[:10]
    assert head[:3] == b"\x1f\x8b\x08"
    assert head[3] == 0  # no FNAME/FCOMMENT/FEXTRA flags
    assert head[4:8] == b"\0\0\0\0"  # mtime


# -- the registry ----------------------------------------------------------------------------------


def test_catalogue_columns_isbns_and_digests(catalogue: list[dict[str, str]]) -> None:
    with open(SAMPLE / "registry" / "catalogue.csv", encoding="utf-8") as f:
        assert (
            f.readline().strip() == "work_id,title,authors,isbn,rights_holder,license,source,md5,sha256,path"
        )
    assert len(catalogue) == 20
    seen: set[str] = set()
    for row in catalogue:
        isbns = row["isbn"].split(";")
        assert isbns and all(isbn13_ok(i) and len(i) == 13 for i in isbns), row["isbn"]
        assert not seen & set(isbns)
        seen |= set(isbns)
        assert all(a.strip() for a in row["authors"].split(";"))
        assert row["license"] in {"All rights reserved", "CC-BY-NC-ND-4.0"}
        assert row["source"] in {"publisher", "libgen", "zlibrary"}
        assert row["path"] == f"works/{row['work_id']}.txt"
        data = (SAMPLE / "registry" / row["path"]).read_bytes()
        assert hashlib.md5(data).hexdigest() == row["md5"]
        assert hashlib.sha256(data).hexdigest() == row["sha256"]
    assert any(";" in row["isbn"] for row in catalogue)
    assert sum(row["license"] == "CC-BY-NC-ND-4.0" for row in catalogue) == 2


def test_works_length_front_matter_and_typography(
    catalogue: list[dict[str, str]], works: dict[str, str]
) -> None:
    for row in catalogue:
        text = works[row["work_id"]]
        assert 3000 <= len(text.split()) <= 9000
        front = text[: len(text) - len(body(text))]
        assert "Library of Congress Cataloging-in-Publication Data" in front or "ISBN" in front
        printed = {re.sub(r"[-\s]", "", m) for m in ISBN_LIKE.findall(front)}
        assert printed and printed <= set(row["isbn"].split(";")), (row["work_id"], printed)
        assert not ISBN_LIKE.search(body(text))
        assert "©" in front and row["title"].upper() in front
        assert all(ch in text for ch in "’“”—")
    assert len({len(t.split()) // 1000 for t in works.values()}) >= 5  # lengths vary


def test_books_share_few_five_grams_outside_the_template(works: dict[str, str]) -> None:
    sets = [grams(body(t), 5) for t in works.values()]
    worst = max(len(a & b) / min(len(a), len(b)) for a, b in itertools.combinations(sets, 2))
    assert worst < 0.01


# -- the crawl -------------------------------------------------------------------------------------


def test_shards_have_the_documented_fields(jsonl_rows: list[dict[str, Any]], parquet_table: pa.Table) -> None:
    assert 1000 <= len(jsonl_rows) <= 2000 and 1000 <= parquet_table.num_rows <= 2000
    for row in jsonl_rows:
        assert set(row) <= set(FIELDS) and set(FIELDS) - set(row) <= {"license"}
        assert isinstance(row.get("license", ""), (str, type(None)))
    assert any("license" not in r for r in jsonl_rows) and any(
        "license" in r and r["license"] is None for r in jsonl_rows
    )
    assert parquet_table.schema.names == FIELDS
    assert all(f.type == pa.string() for f in parquet_table.schema)
    assert [f.name for f in parquet_table.schema if f.nullable] == ["license"]
    assert parquet_table.column("license").null_count > 0
    meta = pq.read_metadata(SAMPLE / "webcrawl" / "crawl-00001.parquet")
    assert meta.metadata is None  # no schema/pandas/timestamp key-value metadata
    assert {meta.row_group(i).num_rows for i in range(meta.num_row_groups - 1)} == {500}


def test_records_are_well_formed(records: dict[str, dict[str, Any]]) -> None:
    assert len(records) == 3000
    for rid, r in records.items():
        assert re.fullmatch(r"cc-\d{6}", rid)
        assert r["lang"] == "en"
        dt.date.fromisoformat(r["crawl_date"])
        assert urlsplit(r["url"]).scheme == "https" and urlsplit(r["url"]).hostname
        assert isinstance(r["text"], str) and "\r" not in r["text"]
        assert 80 <= len(r["text"].split()) <= 1500, rid


def test_truth_categories_cover_every_record(
    truth: dict[str, Any], records: dict[str, dict[str, Any]]
) -> None:
    assert truth["generator"] == {"seed": synth.DEFAULT_SEED, "version": synth.GENERATOR_VERSION}
    assert set(truth["records"]) == set(records)
    counts = Counter(truth["records"].values())
    assert set(counts) == {"clean", "planted", "notice", "license", "shadow"}
    shares = {k: v / len(records) for k, v in counts.items()}
    assert shares == pytest.approx(
        {"clean": 0.55, "planted": 0.25, "notice": 0.05, "license": 0.10, "shadow": 0.05}
    )
    planted_ids = [p["record_id"] for p in truth["planted"]]
    assert len(planted_ids) == len(set(planted_ids))
    assert set(planted_ids) == {rid for rid, c in truth["records"].items() if c == "planted"}


def _normal(text: str) -> list[str]:
    text = text.replace("’", "'").replace("“", '"').replace("”", '"')
    text = re.sub(r"-\n", "", text)
    return re.findall(r"[a-z0-9']+", text.lower())


def test_planted_offsets(
    truth: dict[str, Any], records: dict[str, dict[str, Any]], works: dict[str, str]
) -> None:
    keys = {"record_id", "work_id", "edit", "words", "record_start", "record_end", "work_start", "work_end"}
    for p in truth["planted"]:
        assert set(p) == keys
        text, work = records[p["record_id"]]["text"], works[p["work_id"]]
        assert 0 <= p["record_start"] < p["record_end"] <= len(text)
        assert len(work) - len(body(work)) <= p["work_start"] < p["work_end"] <= len(work)
        copy, original = text[p["record_start"] : p["record_end"]], work[p["work_start"] : p["work_end"]]
        assert p["words"] == len(original.split())
        assert copy == copy.strip() and original == original.strip()
        if p["edit"] == "verbatim":
            assert copy == original
        elif p["edit"] == "reformatted":
            assert _normal(copy) == _normal(original)
        else:
            assert copy != original
            a, b = Counter(_normal(copy)), Counter(_normal(original))
            changed = 1 - sum((a & b).values()) / max(sum(a.values()), sum(b.values()))
            assert 0 < changed < (0.15 if p["edit"] == "light" else 0.35), (p, changed)


def test_planted_mix(truth: dict[str, Any], records: dict[str, dict[str, Any]]) -> None:
    planted = truth["planted"]
    assert Counter(p["edit"] for p in planted).keys() == {"verbatim", "reformatted", "light", "heavier"}
    nominal = Counter(min(synth.PASSAGE_WORDS, key=lambda n: abs(n - p["words"])) for p in planted)
    assert set(nominal) == set(synth.PASSAGE_WORDS)
    assert len({p["work_id"] for p in planted}) == 20
    on_shadow = sum(urlsplit(records[p["record_id"]]["url"]).hostname in SHADOW for p in planted)
    assert 0.25 < on_shadow / len(planted) < 0.42
    spans = [(p["record_start"], p["record_end"], len(records[p["record_id"]]["text"])) for p in planted]
    assert any(start == 0 and end == size for start, end, size in spans)  # passage only
    assert any(start == 0 and end < size for start, end, size in spans)  # text after only
    assert any(start > 0 and end == size for start, end, size in spans)  # text before only
    assert any(start > 0 and end < size for start, end, size in spans)  # both


def test_category_properties(
    truth: dict[str, Any], records: dict[str, dict[str, Any]], catalogue: list[dict[str, str]]
) -> None:
    registry_isbns = {i for row in catalogue for i in row["isbn"].split(";")}
    notice_hits = 0
    for rid, category in truth["records"].items():
        r = records[rid]
        host = urlsplit(r["url"]).hostname
        text = r["text"]
        if category in {"clean", "license"}:
            assert host not in SHADOW
            assert (
                "©" not in text and "copyright" not in text.lower() and "rights reserved" not in text.lower()
            )
            assert not ISBN_LIKE.search(text)
            if category == "clean":
                assert r["license"] in PERMISSIVE
            else:
                assert r["license"] not in PERMISSIVE
        elif category == "shadow":
            assert host in SHADOW
        elif category == "notice":
            assert host not in SHADOW and "©" in text
            found = {re.sub(r"[-\s]", "", m) for m in ISBN_LIKE.findall(text)}
            assert found and all(isbn13_ok(i) for i in found)
            notice_hits += bool(found & registry_isbns)
    notices = Counter(truth["records"].values())["notice"]
    assert 0.35 < notice_hits / notices < 0.65


def test_unplanted_records_share_no_long_run_with_any_work(
    truth: dict[str, Any], records: dict[str, dict[str, Any]], works: dict[str, str]
) -> None:
    # A shared run of 12 tokens contains a whole 6-gram starting at a multiple of 6 in the record:
    # look those up first, then check the 12-grams around each hit.
    book_tokens = [tokens(body(t)) for t in works.values()]
    book6 = {tuple(t[i : i + 6]) for t in book_tokens for i in range(len(t) - 5)}
    book12 = {tuple(t[i : i + 12]) for t in book_tokens for i in range(len(t) - 11)}
    for rid, category in truth["records"].items():
        if category == "planted":
            continue
        t = tokens(records[rid]["text"])
        for p in range(0, len(t) - 5, 6):
            if tuple(t[p : p + 6]) in book6:
                for s in range(max(0, p - 6), min(p, len(t) - 12) + 1):
                    assert tuple(t[s : s + 12]) not in book12, (rid, " ".join(t[s : s + 12]))


# -- the library API -------------------------------------------------------------------------------


def test_text_generator_is_seeded() -> None:
    a = synth.TextGenerator(5).paragraphs(300)
    assert a == synth.TextGenerator(5).paragraphs(300)
    assert a != synth.TextGenerator(6).paragraphs(300)
    assert 300 <= len(a.split()) < 500 and "\n\n" in a
    g = synth.TextGenerator("seed-as-text", topic="sea")
    assert g.style.topic == "sea"
    assert all(g.sentence()[-1] in ".?!" for _ in range(50))


def test_web_writer_genres() -> None:
    for genre in synth.WebWriter.GENRES:
        doc = synth.WebWriter(11).document(genre, 200)
        assert doc == synth.WebWriter(11).document(genre, 200)
        assert 150 <= len(doc.split()) < 600, genre
    with pytest.raises(ValueError, match="unknown genre"):
        synth.WebWriter(1).document("poem", 100)


def test_isbn_helpers() -> None:
    import random

    rng = random.Random(1)
    for _ in range(200):
        isbn = synth.random_isbn13(rng)
        assert isbn13_ok(isbn) and synth.is_valid_isbn13(isbn)
        assert synth.is_valid_isbn13(synth.hyphenate_isbn13(isbn, rng))
    assert not synth.is_valid_isbn13("9780000000001")


def test_edits() -> None:
    import random

    text = synth.TextGenerator(3).paragraphs(400)
    rng = random.Random(2)
    flowed = synth.reformat_passage(text, rng)
    assert _normal(flowed) == _normal(text) and re.search(r"\w-\n\w", flowed)
    edited = synth.edit_passage(text, 0.15, rng)
    assert edited != text and edited.split()[0] == text.split()[0] and edited.split()[-1] == text.split()[-1]
    with pytest.raises(ValueError):
        synth.apply_edit(text, "rewritten", rng)
