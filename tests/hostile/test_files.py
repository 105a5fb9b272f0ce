"""File-level hostile input: discovery, links, special files, permissions, sniffing and empty corpora."""

from __future__ import annotations

import errno
import gzip
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auditor.readers import discover_inputs, stream
from auditor.readers.parquet import ParquetReader
from tests.hostile.conftest import jsonl, numbered, one_skip, read_input, records

ROW = {"id": "a", "text": "some words of text"}


def _names(skipped):
    return {s.input.rsplit("/", 1)[-1]: s.reason for s in skipped}


def test_symlink_loops_are_not_followed_and_end(tmp_path):
    corpus = tmp_path / "c"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "sub" / "a.jsonl").write_bytes(jsonl([ROW]))
    os.symlink("..", corpus / "sub" / "up")
    os.symlink("loop2", corpus / "loop1")
    os.symlink("loop1", corpus / "loop2")
    inputs, skipped = discover_inputs([corpus])
    assert [i.path.name for i in inputs] == ["a.jsonl"]
    reasons = _names(skipped)
    assert reasons["up"] == "symbolic link to a folder; not followed"
    assert reasons["loop1"] == reasons["loop2"] == "broken symbolic link or link loop; not followed"


def test_links_outside_the_root_are_not_followed_and_inside_ones_are_read_once(tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("outside the corpus")
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.jsonl").write_bytes(jsonl([ROW]))
    os.symlink(outside, corpus / "passwd.txt")
    os.symlink("a.jsonl", corpus / "b.jsonl")
    os.link(corpus / "a.jsonl", corpus / "hard.jsonl")
    os.symlink(tmp_path / "gone", corpus / "dangling.jsonl")
    inputs, skipped = discover_inputs([corpus, corpus / "a.jsonl"])
    assert [i.path.name for i in inputs] == ["a.jsonl"]
    reasons = _names(skipped)
    assert reasons["passwd.txt"] == "symbolic link to a file outside the corpus folder; not followed"
    assert reasons["b.jsonl"].startswith("same file as") and reasons["hard.jsonl"].startswith("same file as")
    assert reasons["dangling.jsonl"] == "broken symbolic link or link loop; not followed"


def test_fifos_and_devices_are_skipped_without_blocking(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    os.mkfifo(corpus / "pipe.jsonl")
    (corpus / "a.jsonl").write_bytes(jsonl([ROW]))
    inputs, skipped = discover_inputs([corpus, corpus / "pipe.jsonl", Path("/dev/null")])
    assert [i.path.name for i in inputs] == ["a.jsonl"]
    reasons = _names(skipped)
    assert reasons["pipe.jsonl"] == "not a regular file (FIFO); not read"
    assert reasons["null"] == "not a regular file (character device); not read"
    with pytest.raises(OSError, match="not a regular file"):
        stream.open_regular(corpus / "pipe.jsonl")  # readers used directly never block either


def test_deep_folders_are_walked_without_recursion(tmp_path):
    deep = tmp_path / "c"
    path = deep
    for _ in range(300):
        path = path / "d"
    path.mkdir(parents=True)
    (path / "a.jsonl").write_bytes(jsonl([ROW]))
    inputs, _ = discover_inputs([deep])
    assert len(inputs) == 1


def test_hidden_files_and_folders_are_not_scanned(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.jsonl").write_bytes(jsonl([ROW]))
    (tmp_path / ".hidden.jsonl").write_bytes(jsonl([ROW]))
    (tmp_path / "a.jsonl").write_bytes(jsonl([ROW]))
    inputs, skipped = discover_inputs([tmp_path])
    assert [i.path.name for i in inputs] == ["a.jsonl"] and skipped == []


def test_unreadable_file_is_a_counted_skip(monkeypatch, tmp_path, run_scan):
    # Tests run as root, who can read anything: the permission error is injected where files are opened.
    (tmp_path / "c").mkdir()
    locked = tmp_path / "c" / "locked.jsonl"
    locked.write_bytes(jsonl([ROW]))
    (tmp_path / "c" / "ok.jsonl").write_bytes(jsonl([ROW]))
    real = stream.open_regular

    def denied(path):
        if os.fspath(path).endswith("locked.jsonl"):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(stream, "open_regular", denied)
    monkeypatch.setattr("auditor.engine.open_regular", denied)
    run = run_scan(tmp_path / "c")
    assert run.code == 0
    (skip,) = run.report["skipped"]
    assert skip["input"].endswith("locked.jsonl") and skip["reason"] == "cannot read: Permission denied"


def test_unlistable_folder_is_a_counted_skip(monkeypatch, tmp_path):
    (tmp_path / "locked").mkdir()
    (tmp_path / "a.jsonl").write_bytes(jsonl([ROW]))
    real = os.scandir

    def denied(path):
        if os.fspath(path).endswith("locked"):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", denied)
    inputs, skipped = discover_inputs([tmp_path])
    assert len(inputs) == 1
    assert _names(skipped) == {"locked": "cannot list folder: Permission denied"}


def test_a_file_deleted_after_discovery_is_a_skip_not_a_crash(monkeypatch, tmp_path, run_scan):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "a.jsonl").write_bytes(jsonl([ROW]))
    (tmp_path / "c" / "b.jsonl").write_bytes(jsonl([ROW]))
    from auditor import engine

    real = engine.discover_inputs

    def then_delete(paths):
        found = real(paths)
        (tmp_path / "c" / "b.jsonl").unlink()
        return found

    monkeypatch.setattr(engine, "discover_inputs", then_delete)
    run = run_scan(tmp_path / "c")
    assert run.code == 0
    (skip,) = run.report["skipped"]
    assert skip["input"].endswith("b.jsonl") and skip["reason"].startswith("cannot read: No such file")


def test_parquet_named_jsonl_is_read_as_parquet(tmp_path):
    path = tmp_path / "actually.jsonl"
    pq.write_table(pa.table({"text": ["from parquet"]}), path)
    (item,), _ = discover_inputs([path])
    assert item.reader is ParquetReader
    assert [r.text for r in read_input(path)] == ["from parquet"]


def test_gzip_named_txt_is_decompressed_and_plain_named_gz_is_read_plain(tmp_path):
    gz = tmp_path / "book.txt"
    gz.write_bytes(gzip.compress(b"text inside a gzip stream"))
    assert [r.text for r in read_input(gz)] == ["text inside a gzip stream"]
    plain = tmp_path / "c.jsonl.gz"
    plain.write_bytes(jsonl(numbered(3)))
    assert len(records(read_input(plain))) == 3


@pytest.mark.parametrize(
    ("name", "content", "looks_like"),
    [
        ("doc.txt", b"%PDF-1.7\n" + bytes(range(256)) * 4, "pdf"),
        ("img.md", b"\x89PNG\r\n\x1a\n" + bytes(1000), "png"),
        ("wide.jsonl", '{"text": "utf-16"}\n'.encode("utf-16"), "utf-16"),
        ("arch.jsonl", b"PK\x03\x04" + bytes(200), "zip"),
        ("shard.jsonl", bytes(range(256)) * 40, None),
    ],
)
def test_binary_content_is_never_hashed_as_text(tmp_path, name, content, looks_like):
    path = tmp_path / name
    path.write_bytes(content)
    skip = one_skip(read_input(path))
    assert skip.row is None and skip.reason.startswith("content/extension mismatch: binary data")
    if looks_like:
        assert f"looks like {looks_like}" in skip.reason


def test_text_files_that_are_not_utf8_or_hold_nul_bytes_are_skipped(tmp_path):
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café au lait".encode("latin-1"))
    assert one_skip(read_input(latin)).reason == "invalid UTF-8 at byte 3"
    nul = tmp_path / "nul.txt"
    nul.write_bytes(b"mostly text " * 100 + b"\x00")
    assert one_skip(read_input(nul)).reason.startswith("NUL bytes in a text file")


def test_empty_files_are_noted(tmp_path):
    for name in ("e.jsonl", "e.txt"):
        (tmp_path / name).write_bytes(b"")
    assert one_skip(read_input(tmp_path / "e.jsonl")).reason == "no records: the file is empty"
    assert one_skip(read_input(tmp_path / "e.txt")).reason == "empty text"


def test_empty_corpus_folder_exits_3_nothing_scanned(run_scan, tmp_path):
    (tmp_path / "empty").mkdir()
    run = run_scan(tmp_path / "empty")
    assert run.code == 3 and "nothing scanned" in run.err
    assert run.report["summary"]["records_scanned"] == 0


def test_corpus_of_only_empty_or_unsupported_files_exits_3(run_scan, tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "e.jsonl").write_bytes(b"")
    (tmp_path / "c" / "notes.docx").write_bytes(b"PK\x03\x04")
    run = run_scan(tmp_path / "c")
    assert run.code == 3
    assert {s["reason"] for s in run.report["skipped"]} == {
        "no records: the file is empty",
        "unsupported file type '.docx'",
    }


def test_missing_path_and_link_loop_given_exit_2(run_scan, tmp_path):
    run = run_scan(tmp_path / "nope.jsonl")
    assert run.code == 2 and "does not exist" in run.err and run.report is None
    os.symlink("l2", tmp_path / "l1")
    os.symlink("l1", tmp_path / "l2")
    run = run_scan(tmp_path / "l1")
    assert run.code == 2 and "link loop" in run.err
