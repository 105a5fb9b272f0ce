"""Registries: built from work files and catalogues, opened, verified, grouped, added to and compared."""

import hashlib
import json
import os
import random
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auditor import registry as registry_module
from auditor.errors import RegistryError, UsageError
from auditor.fingerprint import FingerprintConfig
from auditor.match import Matcher
from auditor.models import Record
from auditor.normalize import tokenize
from auditor.registry import (
    WorkRegistry,
    WorkSource,
    add_to_registry,
    build_registry,
    diff_registries,
    edition_groups,
    format_diff,
    gather_sources,
    open_registries,
)
from tests.bookfiles import write_epub, write_pdf
from tests.conftest import Words
from tests.test_cli import invoke


def test_manifest_and_tables(small_registry):
    m = small_registry.manifest
    assert m["format"] == "auditor-registry" and m["format_version"] == 3
    assert m["counts"]["works"] == 8 and m["counts"]["boilerplate_shingles"] > 0
    assert m["config_id"] == FingerprintConfig().config_id
    assert m["digest"].startswith("sha256:")
    assert [r.id for r in small_registry.refs] == [f"work-{i}" for i in range(8)]
    assert not any(p.suffix in (".pkl", ".pickle") for p in small_registry.path.iterdir())


def test_catalogue_metadata_and_isbns(tmp_path, words):
    (tmp_path / "works").mkdir()
    (tmp_path / "works" / "a.txt").write_text(words.text(500), encoding="utf-8")
    (tmp_path / "catalogue.csv").write_text(
        "work_id,title,authors,isbn,rights_holder,license,source,md5,sha256,path\n"
        "book-a,A Book,Ann Author;Bo Writer,9780306406157;978-0-306-40615-7,Pub,All rights reserved,"
        "libgen,,,works/a.txt\n"
        "book-b,Metadata Only,Cy,9781861972712,Pub,All rights reserved,publisher,,,\n",
        encoding="utf-8",
    )
    build_registry([tmp_path / "catalogue.csv"], tmp_path / "reg")
    reg = WorkRegistry(tmp_path / "reg")
    assert [r.id for r in reg.refs] == ["book-a", "book-b"]
    assert reg.work_for_isbn("9781861972712").id == "book-b"
    assert reg.refs[0].title == "A Book"
    assert reg.works_meta[0]["authors"] == ["Ann Author", "Bo Writer"]
    assert reg.work_tokens(1) == 0


def test_fingerprints_only_keeps_no_text(tmp_path, small_works):
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "x.txt").write_text(small_works["work-0"], encoding="utf-8")
    build_registry([tmp_path / "w"], tmp_path / "reg", fingerprints_only=True)
    texts = pa.ipc.open_file(pa.memory_map(str(tmp_path / "reg" / "texts.arrow"))).read_all()
    assert texts["text"].to_pylist() == [None]
    assert "text" not in pq.read_table(tmp_path / "reg" / "works.parquet").column_names
    assert WorkRegistry(tmp_path / "reg").work_text(0) is None


def test_excerpts_of_a_work_s_text_are_slices_of_the_whole_text(tmp_path, words, monkeypatch):
    """Evidence reads a few hundred characters of a work by character offsets, decoding only those:
    the same characters as slicing the decoded text, for 1- to 4-byte characters at block edges."""
    monkeypatch.setattr(registry_module, "_TEXT_BLOCK", 64)  # many blocks, many edges
    (tmp_path / "w").mkdir()
    mixed = " ".join(f"{w}{'é€𝔘'[n % 3] if n % 4 else ''}" for n, w in enumerate(words.text(600).split()))
    (tmp_path / "w" / "a-mixed.txt").write_text(mixed, encoding="utf-8")
    (tmp_path / "w" / "b-ascii.txt").write_text(words.text(600), encoding="utf-8")
    build_registry([tmp_path / "w"], tmp_path / "reg")
    reg = WorkRegistry(tmp_path / "reg")
    for work in (0, 1):
        text = reg.work_text(work)
        assert text is not None and len(text) > 2000
        assert text.isascii() == (work == 1)
        edges = [0, 1, 63, 64, 65, 500, len(text) - 1, len(text), len(text) + 10]
        for start in edges:
            for end in [*edges, start + 600]:
                assert reg.work_excerpt(work, start, end) == text[start:end], (work, start, end)
        rng = random.Random(work)
        for _ in range(400):
            start = rng.randrange(len(text) + 5)
            end = start + rng.choice([0, 1, 2, 3, 63, 64, 65, 127, 450, 900, 5000])
            assert reg.work_excerpt(work, start, end) == text[start:end], (work, start, end)


def test_a_fingerprints_only_registry_has_no_excerpts(tmp_path, small_works):
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "x.txt").write_text(small_works["work-0"], encoding="utf-8")
    build_registry([tmp_path / "w"], tmp_path / "reg", fingerprints_only=True)
    assert WorkRegistry(tmp_path / "reg").work_excerpt(0, 0, 100) is None


def test_tampered_registry_is_refused(tmp_path, small_registry):
    copy = tmp_path / "copy"
    shutil.copytree(small_registry.path, copy)
    with (copy / "bands.arrow").open("r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01\x02")
    with pytest.raises(RegistryError, match=r"bands\.arrow has xxh3_128"):
        WorkRegistry(copy)
    # A forger who also rewrites the fast checksum is caught by the sha256 check of `registry info`.
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["checksums"]["bands.arrow"] = registry_module._checksum_file(copy / "bands.arrow")
    (copy / "manifest.json").write_text(json.dumps(manifest))
    WorkRegistry(copy)
    with pytest.raises(RegistryError, match=r"bands\.arrow has sha256"):
        WorkRegistry(copy, full_check=True)
    invoke(["registry", "info", str(copy)], 2)


def test_index_arrays_are_memory_mapped_not_copied(small_registry):
    for array in (small_registry.band_key, small_registry.tok_shingle_raw, small_registry.tok_start):
        assert not array.flags.writeable and not array.flags.owndata


def test_other_format_version_and_missing_manifest_are_refused(tmp_path, small_registry):
    copy = tmp_path / "copy"
    shutil.copytree(small_registry.path, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["format_version"] = 99
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RegistryError, match="format 99 is not supported"):
        WorkRegistry(copy)
    with pytest.raises(RegistryError, match="not a registry"):
        WorkRegistry(tmp_path)


def test_registries_with_different_configs_cannot_be_combined(tmp_path, small_works, small_registry):
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "x.txt").write_text(small_works["work-0"], encoding="utf-8")
    build_registry([tmp_path / "w"], tmp_path / "other", config=FingerprintConfig(seed=9))
    with pytest.raises(RegistryError, match="seed: 1 != 9"):
        open_registries([small_registry.path, tmp_path / "other"])


def test_build_refuses_to_overwrite_a_non_registry_folder(tmp_path, small_works):
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "x.txt").write_text(small_works["work-0"], encoding="utf-8")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "precious.txt").write_text("keep me")
    with pytest.raises(UsageError, match="not a registry"):
        build_registry([tmp_path / "w"], tmp_path / "data")
    assert (tmp_path / "data" / "precious.txt").read_text() == "keep me"


def test_missing_source_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        build_registry([tmp_path / "nope"], tmp_path / "reg")


# ------------------------------------------------------------------------------------- works from files


CATALOGUE = "work_id,title,authors,isbn,rights_holder,license,source,md5,sha256,path\n"
META_MD5 = "0123456789abcdef0123456789abcdef"


def chapters(seed: int, n: int = 4, paragraphs: int = 5, words: int = 70) -> list[list[str]]:
    gen = Words(seed)
    return [[gen.text(words) for _ in range(paragraphs)] for _ in range(n)]


def pdf_pages(chaps: list[list[str]], lines_per_page: int = 40) -> list[list[str] | None]:
    words = " ".join(p for c in chaps for p in c).split(" ")
    lines = [" ".join(words[i : i + 12]) for i in range(0, len(words), 12)]
    return [lines[i : i + lines_per_page] for i in range(0, len(lines), lines_per_page)]


@pytest.fixture(scope="module")
def shelf(tmp_path_factory):
    """books/: the EPUB and the print PDF of one novel, a PDF of essays with a scanned page, two corrupt
    files, and a catalogue naming them plus a metadata-only work and a work whose file is missing."""
    root = tmp_path_factory.mktemp("shelf")
    books = root / "books"
    books.mkdir()
    novel = chapters(101)
    essays = chapters(102, n=2)
    write_epub(books / "novel.epub", novel, title="The Novel", author="Ann Author", isbn="0-306-40615-2")
    write_pdf(books / "novel-print.pdf", pdf_pages(novel), title="The Novel", author="Author, Ann")
    pages = pdf_pages(essays)
    write_pdf(books / "essays.pdf", [*pages[:2], None, *pages[2:]], title="Essays")
    (books / "broken.epub").write_bytes(b"PK\x03\x04 truncated")
    (books / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj <<")
    (books / "catalogue.csv").write_text(
        CATALOGUE
        + "novel,The Novel,Ann Author,0306406152,Pub House,All rights reserved,publisher,,,novel.epub\n"
        "novel-pdf,The Novel (print edition),Ann Author,9780306406157,Pub House,All rights reserved,libgen,,,"
        "novel-print.pdf\n"
        "meta-only,A Metadata Only Work,Cy Writer,9781861972712,Pub,All rights reserved,publisher,"
        f"{META_MD5},,\n"
        "missing,A Missing File,Di,,Pub,,publisher,,,gone.epub\n",
        encoding="utf-8",
    )
    build_registry([books], root / "registry", name="shelf")
    return {
        "root": root,
        "books": books,
        "novel": novel,
        "essays": essays,
        "reg": WorkRegistry(root / "registry"),
    }


def _meta(reg, work_id):
    return reg.works_meta[reg.index_of(work_id)]


def test_a_folder_of_epubs_and_pdfs_with_a_catalogue_becomes_a_registry(shelf):
    reg = shelf["reg"]
    assert [r.id for r in reg.refs] == ["essays", "meta-only", "missing", "novel", "novel-pdf"]
    novel = _meta(reg, "novel")
    assert (novel["format"], novel["encoding"], novel["title"]) == ("epub", "utf-8", "The Novel")
    assert novel["isbns"] == ["9780306406157"] and novel["authors"] == ["Ann Author"]
    essays = _meta(reg, "essays")
    assert (essays["format"], essays["title"], essays["pages"], essays["pages_without_text"]) == (
        "pdf",
        "Essays",
        3,
        [3],
    )
    report = reg.manifest["report"]
    skipped = {s["path"].rsplit("/", 1)[-1]: s["reason"] for s in report["skipped"]}
    assert set(skipped) == {"broken.epub", "broken.pdf", "gone.epub"}
    assert "not a valid EPUB" in skipped["broken.epub"] and "not a readable PDF" in skipped["broken.pdf"]
    assert "not found; registered without text" in skipped["gone.epub"]
    assert report["pages_without_text"] == [{"work_id": "essays", "pages": "3", "of": 3}]
    assert reg.manifest["counts"]["pages_without_text"] == 1
    (source,) = reg.manifest["sources"]
    assert source["kind"] == "folder" and source["files"] == 6 and len(source["sha256"]) == 64


def test_evidence_offsets_point_into_the_extracted_text(shelf, words):
    reg = shelf["reg"]
    chapter = "\n\n".join(shelf["novel"][2])
    text = words.text(120) + "\n\n" + chapter + "\n\n" + words.text(80)
    matches = {m.work.id: m for m in Matcher(reg).match(text, tokenize(text))}
    assert set(matches) == {"novel", "novel-pdf"}
    work_text = reg.work_text(reg.index_of("novel"))
    (span,) = matches["novel"].spans
    found = work_text[span.work_start : span.work_end]
    assert shelf["novel"][2][1] in found and found in work_text
    assert text[span.record_start : span.record_end] in chapter
    excerpt = matches["novel"].evidence[0].work_text  # long spans are cut in the middle
    assert excerpt.startswith(found[:500]) and excerpt.endswith(found[-500:])


def test_editions_share_a_group_and_do_not_mask_each_other(shelf):
    reg = shelf["reg"]
    groups = {r.id: r.group for r in reg.refs}
    assert groups["novel"] == groups["novel-pdf"] == "novel"
    assert groups["essays"] == "essays" and groups["meta-only"] == "meta-only"
    # The two editions share nearly every shingle; counted as one book, none of it is boilerplate.
    assert reg.manifest["counts"]["boilerplate_shingles"] == 0
    assert reg.manifest["counts"]["groups"] == 4


def test_ungrouped_editions_mask_each_other_and_the_build_says_so(tmp_path):
    novel = chapters(103)
    write_epub(tmp_path / "one.epub", novel, title="First Title", author="A")
    write_epub(tmp_path / "two.epub", novel, title="Other Title", author="B")
    manifest = build_registry([tmp_path / "one.epub", tmp_path / "two.epub"], tmp_path / "reg")
    # Same normalised text: still one group, so nothing is masked.
    assert manifest["counts"]["groups"] == 1 and manifest["counts"]["boilerplate_shingles"] == 0
    write_epub(
        tmp_path / "two.epub",
        [*novel, ["An extra chapter of new words entirely."]],
        title="Other",
        author="B",
    )
    manifest = build_registry([tmp_path / "one.epub", tmp_path / "two.epub"], tmp_path / "reg")
    assert manifest["counts"]["groups"] == 2 and manifest["counts"]["boilerplate_shingles"] > 0
    assert any("masked as boilerplate" in w and "'one'" in w for w in manifest["report"]["warnings"])


def test_edition_groups_by_isbn_title_and_author_text_and_file_name():
    works = [
        WorkSource("a", title="Dune", authors=["Frank Herbert"]),
        WorkSource("b", title="DUNE (Deluxe Edition)", authors=["Herbert, Frank"]),
        WorkSource("c", isbns=["9780306406157"]),
        WorkSource("d", isbns=["9781861972712", "9780306406157"]),
        WorkSource("e", text_hash="abc"),
        WorkSource("f", text_hash="abc"),
        WorkSource("g", path="books/x.epub"),
        WorkSource("h", path="books/x.pdf"),
        WorkSource("i", path="other/x.pdf", origin="cat.csv:2"),
        WorkSource("j", title="Dune", authors=[]),
    ]
    assert edition_groups(works) == ["a", "a", "c", "c", "e", "e", "g", "g", "i", "j"]


def test_a_catalogue_row_without_text_still_registers_isbns_and_file_hashes(shelf):
    reg = shelf["reg"]
    assert reg.work_for_isbn("9781861972712").id == "meta-only"
    assert reg.work_for_hash("md5", META_MD5) == reg.index_of("meta-only")
    assert reg.work_tokens(reg.index_of("meta-only")) == 0 and not _meta(reg, "meta-only")["has_text"]
    assert _meta(reg, "missing")["title"] == "A Missing File"


def test_file_keys_in_record_meta_find_the_registered_file_without_minhash(shelf):
    """A reader of whole files gives Record.meta["_file_md5"/"_file_sha256"]; the match needs no text."""
    reg = shelf["reg"]
    data = (shelf["books"] / "novel.epub").read_bytes()
    record = Record(
        id="x.epub",
        text="binary-ish",
        input="x.epub",
        row=1,
        meta={"_file_sha256": hashlib.sha256(data).hexdigest(), "_file_md5": hashlib.md5(data).hexdigest()},
    )
    (match,) = Matcher(reg).match(record.text, tokenize(record.text), record.meta)
    assert (match.kind, match.work.id, match.work.group) == ("exact-duplicate", "novel", "novel")
    assert match.spans[0].work_start == 0 and match.spans[0].work_end > 1000
    meta_only = Record(id="y", text="", input="y", row=1, meta={"_file_md5": META_MD5.upper()})
    (match,) = Matcher(reg).match(meta_only.text, tokenize(meta_only.text), meta_only.meta)
    assert match.work.id == "meta-only" and match.spans[0].work_start is None
    assert match.evidence[0].work_text is None
    assert Matcher(reg).match("binary-ish", tokenize("binary-ish"), {"_file_md5": "0" * 32}) == []


def test_text_files_in_any_encoding_report_it(tmp_path, words):
    (tmp_path / "w").mkdir()
    text = words.text(300) + " naïve café"
    (tmp_path / "w" / "a.txt").write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    (tmp_path / "w" / "b.txt").write_bytes(text.replace("a", "o").encode("cp1252"))
    (tmp_path / "w" / "c.html").write_bytes(f"<p>{text.replace('e', 'i')}</p>".encode())
    build_registry([tmp_path / "w"], tmp_path / "reg")
    reg = WorkRegistry(tmp_path / "reg")
    assert {m["work_id"]: m["encoding"] for m in reg.works_meta} == {
        "a": "utf-16-le",
        "b": "cp1252",
        "c": "utf-8",
    }
    assert reg.work_text(0) == text and reg.works_meta[2]["format"] == "html"


def test_a_build_where_every_work_file_fails_is_a_usage_error(tmp_path):
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "a.epub").write_bytes(b"not a zip")
    (tmp_path / "w" / "b.pdf").write_bytes(b"%PDF-1.7 nothing")
    with pytest.raises(
        UsageError, match=r"no work text could be read: all 2 work file\(s\) failed .*a\.epub"
    ):
        build_registry([tmp_path / "w"], tmp_path / "reg")
    assert not (tmp_path / "reg").exists()


def test_fingerprint_only_registry_finds_the_same_spans_without_text(shelf, words, tmp_path):
    fp = tmp_path / "fp"
    build_registry([shelf["books"]], fp, name="shelf", fingerprints_only=True)
    full, only = shelf["reg"], WorkRegistry(fp)
    assert only.fingerprints_only and only.manifest["counts"] == full.manifest["counts"]
    texts = [
        words.text(100) + " " + " ".join(shelf["novel"][1][1:4]) + " " + words.text(50),
        " ".join(shelf["essays"][0]),
        words.text(400),
    ]
    for text in texts:
        a = Matcher(full).match(text, tokenize(text))
        b = Matcher(only).match(text, tokenize(text))
        assert [(m.work.id, m.kind, m.spans) for m in a] == [(m.work.id, m.kind, m.spans) for m in b]
        assert all(e.work_text is None for m in b for e in m.evidence)
        assert all(e.work_text is not None for m in a for e in m.evidence)


# ------------------------------------------------------------------------------------- snapshots


def _two_folders(tmp_path, words):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for i in range(3):
        (a / f"a{i}.txt").write_text(BOILER + words.text(900), encoding="utf-8")
    write_epub(b / "b0.epub", chapters(104), title="Added", author="Eve", isbn="9781861972712")
    (b / "b1.txt").write_text(BOILER + words.text(900), encoding="utf-8")
    return a, b


BOILER = (
    "This ebook is licensed for your personal enjoyment only. It may not be re-sold or given away to "
    "other people. Thank you for respecting the hard work of this author.\n\n"
)


@pytest.mark.parametrize("fingerprints_only", [False, True])
def test_add_equals_a_fresh_build_of_all_sources(tmp_path, words, fingerprints_only):
    a, b = _two_folders(tmp_path, words)
    build_registry([a], tmp_path / "snap", fingerprints_only=fingerprints_only)
    first = json.loads((tmp_path / "snap" / "manifest.json").read_text())
    manifest = add_to_registry(tmp_path / "snap", [b])
    fresh = build_registry([a, b], tmp_path / "fresh", fingerprints_only=fingerprints_only)
    assert manifest["digest"] == fresh["digest"] and manifest["files"] == fresh["files"]
    assert manifest["fingerprints_only"] is fingerprints_only
    assert [h["action"] for h in manifest["history"]] == ["build", "add"]
    assert manifest["history"][0]["digest"] == first["digest"]
    assert [h["works_added"] for h in manifest["history"]] == [3, 2] and manifest["report"][
        "works_added"
    ] == 2
    assert [s["path"] for s in manifest["sources"]] == [a.as_posix(), b.as_posix()]
    # The boilerplate shared by the old and the new works is recomputed over all of them.
    assert manifest["counts"]["boilerplate_shingles"] > 0
    reg = WorkRegistry(tmp_path / "snap")
    assert reg.work_for_isbn("9781861972712").id == "b0"


def test_add_refuses_work_ids_already_registered_and_unreadable_sources(tmp_path, words):
    a, b = _two_folders(tmp_path, words)
    build_registry([a], tmp_path / "snap")
    before = (tmp_path / "snap" / "manifest.json").read_text()
    with pytest.raises(UsageError, match=r"work id\(s\) 'a0', 'a1', 'a2' already in registry"):
        add_to_registry(tmp_path / "snap", [a])
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.epub").write_bytes(b"junk")
    with pytest.raises(UsageError, match="nothing was added"):
        add_to_registry(tmp_path / "snap", [tmp_path / "bad"])
    with pytest.raises(RegistryError, match="not a registry"):
        add_to_registry(tmp_path / "nope", [b])
    assert (tmp_path / "snap" / "manifest.json").read_text() == before


def test_diff_lists_works_added_removed_and_changed(tmp_path, words):
    (tmp_path / "one").mkdir()
    for name in ("keep", "edit", "gone"):
        (tmp_path / "one" / f"{name}.txt").write_text(words.text(400), encoding="utf-8")
    (tmp_path / "cat1.csv").write_text(CATALOGUE + "meta,Old Title,X,,,,,,,\n", encoding="utf-8")
    build_registry([tmp_path / "one", tmp_path / "cat1.csv"], tmp_path / "A")
    (tmp_path / "one" / "gone.txt").unlink()
    (tmp_path / "one" / "edit.txt").write_text(words.text(400), encoding="utf-8")
    (tmp_path / "one" / "new.txt").write_text(words.text(400), encoding="utf-8")
    (tmp_path / "cat1.csv").write_text(CATALOGUE + "meta,New Title,X,9781861972712,,,,,,\n", encoding="utf-8")
    build_registry([tmp_path / "one", tmp_path / "cat1.csv"], tmp_path / "B")
    diff = diff_registries(tmp_path / "A", tmp_path / "B")
    assert [w["work_id"] for w in diff["added"]] == ["new"]
    assert [w["work_id"] for w in diff["removed"]] == ["gone"]
    changed = {c["work_id"]: c["changes"] for c in diff["changed"]}
    assert set(changed) == {"edit", "meta"}
    assert {"md5", "sha256", "text_hash"} <= set(changed["edit"])
    assert changed["meta"] == {"title": ["Old Title", "New Title"], "isbns": [[], ["9781861972712"]]}
    assert diff["unchanged"] == 1 and not diff["same_content"] and diff["config_differences"] == []
    text = "\n".join(format_diff(diff))
    assert "+ new" in text and "- gone" in text and "~ meta: title 'Old Title' → 'New Title'" in text
    assert diff_registries(tmp_path / "A", tmp_path / "A")["same_content"]


# ------------------------------------------------------------------------------------- the command line


def test_epubs_pdfs_and_a_catalogue_become_a_registry_and_a_copied_chapter_is_found_with_and_without_text(
    tmp_path, capsys
):
    """The issue's "done when", as a new user runs it: one build command, one scan, and the same scan
    against the fingerprint-only registry finds the same records."""
    books = tmp_path / "books"
    books.mkdir()
    winter, harbour, ledger = chapters(201), chapters(202), chapters(203)
    write_epub(books / "winter.epub", winter, title="Winter Roads", author="Ann Author")
    write_epub(books / "harbour.epub", harbour, title="The Harbour", author="Bo Writer")
    pages = pdf_pages(ledger)
    write_pdf(books / "ledger.pdf", [pages[0], None, *pages[1:]], title="Ledger")
    (books / "damaged.epub").write_bytes(b"PK\x03\x04\x14\x00 cut short")
    catalogue = tmp_path / "catalogue.csv"
    catalogue.write_text(
        CATALOGUE + "winter,Winter Roads,Ann Author,978-0-306-40615-7,Pub,All rights reserved,publisher,,,"
        "books/winter.epub\n"
        "harbour,The Harbour,Bo Writer,1-86197-271-7,Pub,All rights reserved,publisher,,,books/harbour.epub\n"
        "ledger,The Ledger,Cy,,Pub,All rights reserved,publisher,,,books/ledger.pdf\n",
        encoding="utf-8",
    )
    err = invoke(["registry", "build", books, "--catalogue", catalogue, "-o", tmp_path / "reg"], 0, capsys)
    assert "3 works" in err and "skipped" in err and "damaged.epub" in err and "page(s) 2 of" in err
    invoke(
        ["registry", "build", books, "--catalogue", catalogue, "-o", tmp_path / "fp", "--fingerprints-only"],
        0,
    )

    copy = " ".join(harbour[2])
    corpus = tmp_path / "corpus.jsonl"
    rows = [
        {
            "id": "blog",
            "text": Words(9).text(150) + "\n\n" + copy + "\n\n" + Words(10).text(100),
            "license": "MIT",
        },
        {"id": "clean", "text": Words(11).text(400), "license": "MIT"},
    ]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    found = {}
    for registry in ("reg", "fp"):
        out = tmp_path / f"out-{registry}"
        invoke(["scan", corpus, "-r", tmp_path / registry, "-o", out, "--workers", "1", "--quiet"], 1)
        report = json.loads((out / "report.json").read_text())
        copies = [f for f in report["findings"] if f["kind"] in ("near-duplicate", "exact-duplicate")]
        assert [(f["record"]["id"], f["work"]["id"]) for f in copies] == [("blog", "harbour")]
        (finding,) = copies
        assert finding["work"]["title"] == "The Harbour" and finding["work"]["isbns"] == ["9781861972712"]
        assert finding["severity"] in ("high", "critical")
        found[registry] = [(f["record"]["id"], f["spans"]) for f in copies]
        work_texts = [e["work_text"] for e in finding["evidence"]]
        assert all(w is None for w in work_texts) if registry == "fp" else all(w for w in work_texts)
    assert found["reg"] == found["fp"]
    html = (tmp_path / "out-fp" / "report.html").read_text(encoding="utf-8")
    assert "work text not available" in html

    capsys.readouterr()
    invoke(["registry", "info", tmp_path / "fp"], 0)
    info = capsys.readouterr().out
    assert "fingerprints only" in info and "harbour" in info and "epub" in info and "utf-8" in info
    invoke(["registry", "info", tmp_path / "reg", "--json"], 0)
    listing = json.loads(capsys.readouterr().out)
    assert [w["work_id"] for w in listing["works"]] == ["harbour", "ledger", "winter"]


def test_registry_add_and_diff_commands(tmp_path, words, capsys):
    a, b = _two_folders(tmp_path, words)
    invoke(["registry", "build", a, "-o", tmp_path / "v1", "--quiet"], 0)
    shutil.copytree(tmp_path / "v1", tmp_path / "v2")
    err = invoke(["registry", "add", tmp_path / "v2", b], 0, capsys)
    assert "updated" in err and "2 new" in err
    invoke(["registry", "diff", tmp_path / "v1", tmp_path / "v2"], 0)
    out = capsys.readouterr().out
    assert "added (2)" in out and "+ b0  Added" in out and "removed (0)" in out
    invoke(["registry", "diff", tmp_path / "v1", tmp_path / "v2", "--json"], 0)
    assert [w["work_id"] for w in json.loads(capsys.readouterr().out)["added"]] == ["b0", "b1"]
    invoke(["registry", "add", tmp_path / "v2", b], 2)
    invoke(["registry", "add", tmp_path / "v2"], 2)
    invoke(["registry", "diff", tmp_path / "v1", tmp_path / "nope"], 2)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.pdf").write_bytes(b"%PDF-1.4 broken")
    err = invoke(["registry", "build", tmp_path / "bad", "-o", tmp_path / "v3"], 2, capsys)
    assert "no work text could be read" in err and "x.pdf" in err


def test_a_registry_inside_its_source_folder_is_not_read_back_as_works(tmp_path, words):
    (tmp_path / "books").mkdir()
    (tmp_path / "books" / "a.txt").write_text(words.text(300), encoding="utf-8")
    first = build_registry([tmp_path / "books"], tmp_path / "books" / "registry")
    again = build_registry([tmp_path / "books"], tmp_path / "books" / "registry")
    assert first["digest"] == again["digest"] and again["counts"]["works"] == 1


def test_boilerplate_count_equals_the_plain_count():
    # Works in edition groups (a group counts once), some without shingles, shingles drawn from a
    # small pool so that many are shared by several works and groups.
    rng = np.random.default_rng(2)
    pool = rng.integers(1, 2**64 - 1, 400, dtype=np.uint64)
    works, tokens = [], []
    for i in range(40):
        shingles = pool[rng.integers(0, len(pool), int(rng.integers(0, 300)))] if i % 7 else pool[:0]
        empty = np.empty(0, dtype=np.uint32)
        works.append(WorkSource(work_id=f"w{i:02d}", group=f"g{int(rng.integers(0, 12)):02d}"))
        tokens.append(registry_module._WorkTokens(empty, empty, shingles))
    with registry_module._Threads(2) as threads:
        for threshold in (0, 1, 2, 3, 5, 8, 13):
            plain = registry_module._shared_shingles_numpy(works, tokens, threshold)
            assert np.array_equal(registry_module._shared_shingles(works, tokens, threshold), plain)
            assert np.array_equal(registry_module._shared_shingles(works, tokens, threshold, threads), plain)


def test_texts_file_from_one_buffer_equals_pyarrows_array_of_the_texts(tmp_path):
    texts = ["plain", "", "caf\u00e9 \u201cquoted\u201d \u6771\u4eac \U0001f600", "x" * 70_000]
    works = [WorkSource(work_id=str(i), text=t) for i, t in enumerate(texts)]
    registry_module._write_texts(tmp_path / "fast.arrow", works=works, fingerprints_only=False)
    table = pa.table({"text": pa.array(texts, type=pa.large_string())})
    plain = pa.BufferOutputStream()
    with pa.ipc.new_file(plain, table.schema) as writer:
        writer.write_table(table)
    assert (tmp_path / "fast.arrow").read_bytes() == plain.getvalue().to_pybytes()


@pytest.mark.parametrize("masked_share", [0.0, 0.5, 0.97, 1.0])
def test_a_works_windows_signed_into_its_rows_equal_the_window_kernels(masked_share):
    """kernels.window_count and window_minhashes_into (the build's direct writes) keep exactly the
    windows window_minhashes keeps, with the same signatures and starts."""
    from auditor import kernels

    rng = np.random.default_rng(7)
    fp = registry_module._fingerprinter(FingerprintConfig())
    stride = fp.config.stride
    a, b = fp._a_flat, fp._b_flat
    for n in (0, 1, stride - 1, stride, stride + 1, 5 * stride, 40 * stride + 7):
        values = rng.integers(1, 2**64 - 1, n, dtype=np.uint64)
        runs = rng.random(max(1, n // stride + 1)) < masked_share  # whole blocks masked, as boilerplate is
        values[np.repeat(runs, stride)[:n]] = 0
        sigs, starts = fp.window_signatures(values)
        count = kernels.window_count(values, stride, a[0], b[0]) if n else 0
        assert count == len(sigs)
        into = np.full((count + 1, fp.config.num_perm), 3, dtype=np.uint64)
        into_starts = np.full(count + 1, -5, dtype=np.int32)
        assert kernels.window_minhashes_into(values, stride, a, b, into[:count], into_starts[:count]) == count
        assert np.array_equal(into[:count], sigs) and np.array_equal(into_starts[:count], starts)
        assert (into[count] == 3).all() and into_starts[count] == -5  # the next work's row is untouched
        if count:
            assert kernels.window_minhashes_into(values, stride, a, b, into[: count - 1], into_starts) == -1


def test_window_count_keeps_the_rule_of_the_first_value_not_of_unmasked_shingles():
    """A window is dropped when its first MinHash value is 2^64 - 1, even with unmasked shingles in it
    (a permutation that maps every value there): the count follows that rule, not a count of shingles."""
    from auditor import kernels

    values = np.arange(1, 100, dtype=np.uint64)
    top = np.uint64(2**64 - 1)
    a = np.array([0, 1], dtype=np.uint64)
    b = np.array([top, 0], dtype=np.uint64)
    sigs = np.empty((10, 2), dtype=np.uint64)
    kept = kernels.window_minhashes(
        values, np.array([0, len(values)]), 24, a, b, sigs, np.empty(10, np.int64), np.empty(10, np.int64)
    )
    assert kept == 0
    assert kernels.window_count(values, 24, a[0], b[0]) == 0
    assert kernels.window_minhashes_into(values, 24, a, b, sigs, np.empty(10, np.int32)) == 0


def test_texts_stored_from_the_files_bytes_are_the_texts_of_every_encoding(tmp_path):
    """A UTF-8 text file's bytes go into texts.arrow as they are; other files (a BOM, cp1252, HTML)
    have their decoded text encoded: every stored text is the text the build read."""
    folder = tmp_path / "works"
    folder.mkdir()
    body = "caf\u00e9 \u201cquoted\u201d \u6771\u4eac \U0001f600 words and more words here " * 30
    (folder / "plain.txt").write_bytes(body.encode("utf-8"))
    (folder / "notes.md").write_bytes(("# Title\n\n" + body).encode("utf-8"))
    (folder / "bom.txt").write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))
    (folder / "latin.txt").write_bytes(("na\u00efve r\u00e9sum\u00e9 \u2014 " * 40).encode("cp1252"))
    (folder / "page.html").write_bytes(f"<html><body><p>{body}</p></body></html>".encode())
    gathered = gather_sources([folder], prepare=len)
    assert set(gathered.utf8) == {"plain", "notes"}
    build_registry([folder], tmp_path / "reg")
    registry = WorkRegistry(tmp_path / "reg")
    for work in gathered.works:
        assert registry.work_text(registry.index_of(work.work_id)) == work.text, work.work_id
    assert registry.work_text(registry.index_of("bom")) == body


def test_a_build_gives_the_same_files_in_threads_in_one_thread_and_through_a_mapper(
    tmp_path, small_works, monkeypatch
):
    (tmp_path / "works").mkdir()
    for work_id, text in small_works.items():
        (tmp_path / "works" / f"{work_id}.txt").write_text(text + " caf\u00e9 \u2014 end", encoding="utf-8")
    monkeypatch.setattr(registry_module, "_threads", lambda: 2)
    threaded = build_registry([tmp_path / "works"], tmp_path / "threaded")
    monkeypatch.setattr(registry_module, "_threads", lambda: 1)
    single = build_registry([tmp_path / "works"], tmp_path / "single")

    def mapper(function, calls, shared):  # what the Ray engine's mapper does, here
        return [function(*call, *shared) for call in calls]

    mapped = build_registry([tmp_path / "works"], tmp_path / "mapped", mapper=mapper)
    assert threaded["files"] == single["files"] == mapped["files"]
    assert threaded["checksums"] == single["checksums"] == mapped["checksums"]
    assert threaded["counts"]["boilerplate_shingles"] > 0


# --- Verified files are not read again while their status is unchanged (registry._Verified) ---------


@pytest.fixture
def verified_copy(tmp_path, small_registry, monkeypatch):
    """A copy of the small registry, opened once so that its files are recorded as verified (the racy
    window is 0: the copies are younger than the real 3 s), and a counter of the files hashed since."""
    copy = tmp_path / "copy"
    shutil.copytree(small_registry.path, copy)
    monkeypatch.setattr(registry_module, "_RACY_NS", 0)
    WorkRegistry(copy)
    hashed = []
    real = registry_module._checksum_file

    def counting(path):
        hashed.append(path.name)
        return real(path)

    monkeypatch.setattr(registry_module, "_checksum_file", counting)
    return copy, hashed


def test_verified_files_are_not_read_again_while_unchanged(verified_copy):
    copy, hashed = verified_copy
    WorkRegistry(copy)
    assert hashed == []
    (copy / "isbns.parquet").touch()  # a new mtime and ctime: that file alone is read again
    WorkRegistry(copy)
    assert hashed == ["isbns.parquet"]


def test_a_byte_changed_with_size_and_times_restored_is_caught(verified_copy):
    copy, _ = verified_copy
    target = copy / "bands.arrow"
    before = target.stat()
    with target.open("r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 0xFF]))
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = target.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    )
    with pytest.raises(RegistryError, match=r"bands\.arrow has xxh3_128"):
        WorkRegistry(copy)  # the change time moved, and no user can set it back


def test_truncated_and_replaced_files_are_caught(verified_copy):
    copy, _ = verified_copy
    target = copy / "tokens.arrow"
    data = target.read_bytes()
    target.write_bytes(data[:-8])
    with pytest.raises(RegistryError, match=r"tokens\.arrow has xxh3_128"):
        WorkRegistry(copy)
    replacement = copy / "replacement"
    replacement.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    stat = (copy / "passages.parquet").stat()
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    target.write_bytes(data)
    os.replace(replacement, target)
    with pytest.raises(RegistryError, match=r"tokens\.arrow has xxh3_128"):
        WorkRegistry(copy)


def test_files_changed_just_before_verification_are_not_trusted(tmp_path, small_registry, monkeypatch):
    copy = tmp_path / "copy"
    shutil.copytree(small_registry.path, copy)  # new files: changed less than _RACY_NS ago
    WorkRegistry(copy)
    hashed = []
    real = registry_module._checksum_file
    monkeypatch.setattr(registry_module, "_checksum_file", lambda p: hashed.append(p.name) or real(p))
    WorkRegistry(copy)
    assert len(hashed) == len(json.loads((copy / "manifest.json").read_text())["checksums"])


@pytest.mark.parametrize("cache", ["off", "unwritable"])
def test_without_a_usable_cache_every_open_reads_every_file(verified_copy, monkeypatch, tmp_path, cache):
    copy, hashed = verified_copy
    if cache == "off":
        monkeypatch.setenv("AUDITOR_CACHE_DIR", "off")
    else:
        (tmp_path / "a-file").write_text("")
        monkeypatch.setenv("AUDITOR_CACHE_DIR", str(tmp_path / "a-file" / "cache"))
    WorkRegistry(copy)
    WorkRegistry(copy)
    assert len(hashed) == 2 * len(json.loads((copy / "manifest.json").read_text())["checksums"])


def test_the_full_check_trusts_no_earlier_verification(verified_copy, monkeypatch):
    copy, _ = verified_copy
    digested = []
    real = registry_module._sha256_file
    monkeypatch.setattr(registry_module, "_sha256_file", lambda p: digested.append(p.name) or real(p))
    WorkRegistry(copy, full_check=True)
    assert sorted(digested) == sorted(json.loads((copy / "manifest.json").read_text())["files"])


def test_a_corrupt_verification_record_is_ignored(verified_copy):
    copy, hashed = verified_copy
    records = list((Path(os.environ["AUDITOR_CACHE_DIR"]) / "verified").glob("*.json"))
    assert records
    for record in records:
        record.write_text("{not json")
    WorkRegistry(copy)
    assert len(hashed) == len(json.loads((copy / "manifest.json").read_text())["checksums"])
