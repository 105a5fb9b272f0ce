import gzip
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from auditor.errors import UsageError
from auditor.models import Record, Skipped
from auditor.readers import FieldSpec, discover_inputs, reader_for
from auditor.readers.jsonl import JsonlReader
from auditor.readers.parquet import ParquetReader
from auditor.readers.text import TextReader

ROWS = [
    {"id": "a", "text": "first text", "url": "https://x.org/1", "license": "MIT", "lang": "en"},
    {"text": "no id here", "meta": {"url": "https://y.org/2", "license": "CC-BY-4.0"}},
]


def read(reader, path, fields=None):
    return list(reader(fields).read(path, path.name))


def test_jsonl_fields_ids_and_dotted_meta(write_jsonl):
    out = read(JsonlReader, write_jsonl(ROWS))
    assert [type(r) for r in out] == [Record, Record]
    a, b = out
    assert (a.id, a.url, a.license, a.row, a.meta["lang"]) == ("a", "https://x.org/1", "MIT", 1, "en")
    assert (b.id, b.url, b.license, b.row) == ("corpus.jsonl:2", "https://y.org/2", "CC-BY-4.0", 2)


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst", ".jsonl"])
def test_compressed_shards_read_the_same(tmp_path, suffix):
    data = b'{"id": "1", "text": "hello world"}\n{"id": "2", "text": "again"}\n'
    path = tmp_path / f"c{suffix}"
    if suffix.endswith(".gz"):
        data = gzip.compress(data[:30]) + gzip.compress(data[30:])  # multi-member gzip
    elif suffix.endswith(".zst"):
        cctx = zstandard.ZstdCompressor()
        data = cctx.compress(data[:30]) + cctx.compress(data[30:])  # multi-frame zstd
    path.write_bytes(data)
    assert reader_for(path) is JsonlReader
    assert [r.id for r in read(JsonlReader, path)] == ["1", "2"]


def test_bad_lines_are_skipped_with_reasons_and_the_rest_read(write_jsonl):
    path = write_jsonl(
        [
            {"id": "ok", "text": "fine"},
            [1, 2],
            {"id": "n", "text": None},
            {"id": "num", "text": 5},
            {"id": "e", "text": "   "},
        ],
        raw_lines=[b"{not json\n", b'{"id": "bad", "text": "\xff\xfe"}\n', b'{"id": "last", "text": "end"}'],
    )
    out = read(JsonlReader, path)
    assert [r.id for r in out if isinstance(r, Record)] == ["ok", "last"]
    reasons = {r.row: r.reason for r in out if isinstance(r, Skipped)}
    assert reasons[2].startswith("record is not an object")
    assert reasons[3].startswith("no text field")
    assert "is int, not a string" in reasons[4]
    assert reasons[5] == "empty text"
    assert reasons[6].startswith("malformed JSON")
    assert reasons[7].startswith("invalid UTF-8")


def test_truncated_gzip_keeps_records_before_the_cut(tmp_path):
    data = b"".join(b'{"id": "%d", "text": "record number %d"}\n' % (i, i) for i in range(2000))
    path = tmp_path / "t.jsonl.gz"
    path.write_bytes(gzip.compress(data)[:-200])
    out = read(JsonlReader, path)
    records = [r for r in out if isinstance(r, Record)]
    assert 0 < len(records) < 2000
    assert (
        isinstance(out[-1], Skipped)
        and out[-1].row is None
        and out[-1].reason.startswith("partial: truncated gzip")
    )


def test_parquet_rows_and_custom_fields(tmp_path):
    path = tmp_path / "c.parquet"
    pq.write_table(
        pa.table({"body": ["alpha", "beta"], "key": ["k1", "k2"], "src": ["https://a.b", None]}), path
    )
    out = read(ParquetReader, path, FieldSpec(text="body", id="key", url="src"))
    assert [(r.id, r.text, r.url, r.row) for r in out] == [
        ("k1", "alpha", "https://a.b", 1),
        ("k2", "beta", None, 2),
    ]


def test_corrupt_parquet_is_a_skipped_input(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"PAR1" + b"\x00" * 100)
    (out,) = read(ParquetReader, path)
    assert isinstance(out, Skipped) and out.row is None


def test_text_files_are_one_record_each(tmp_path):
    (tmp_path / "a.txt").write_text("some words", encoding="utf-8")
    (out,) = read(TextReader, tmp_path / "a.txt")
    assert (out.id, out.text, out.row) == ("a.txt", "some words", 1)


def test_discovery_is_sorted_and_skips_unsupported_files(tmp_path):
    (tmp_path / "b.jsonl").write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.parquet").write_bytes(b"")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    inputs, skipped = discover_inputs([tmp_path])
    assert [i.path.name for i in inputs] == ["b.jsonl", "a.parquet"]
    assert [s.input.endswith("image.png") for s in skipped] == [True]
    with pytest.raises(UsageError, match="does not exist"):
        discover_inputs([tmp_path / "missing"])


def test_parquet_dictionary_columns_are_read(tmp_path):
    # A pandas category column is stored as an Arrow dictionary; the sandbox sends its dictionaries too.
    path = tmp_path / "d.parquet"
    pq.write_table(
        pa.table({"text": pa.array(["alpha", "beta"]).dictionary_encode(), "id": ["1", "2"]}), path
    )
    assert [(r.id, r.text) for r in read(ParquetReader, path)] == [("1", "alpha"), ("2", "beta")]


def test_discovery_knows_every_corpus_format(tmp_path):
    names = {
        "a.jsonl.zst": "jsonl",
        "b.csv": "csv",
        "c.tsv.gz": "csv",
        "d.csv.zst": "csv",
        "e.arrow": "arrow",
        "f.arrows": "arrow",
        "g.feather": "arrow",
        "h.ipc": "arrow",
        "i.parquet": "parquet",
        "j.md": "text",
    }
    for name in names:
        (tmp_path / name).write_bytes(b"")
    inputs, skipped = discover_inputs([tmp_path])
    assert {i.path.name: i.reader.format for i in inputs} == names
    assert skipped == []


MANIFEST_LINE = b'{"manifest_version": 1, "tool": {"name": "auditor", "version": "0.1.0"}, "inputs": []}\n'


def test_a_filter_manifest_is_not_corpus(tmp_path):
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "a.jsonl").write_text('{"text": "kept"}\n')
    (clean / "filter-manifest.json").write_bytes(MANIFEST_LINE)
    inputs, skipped = discover_inputs([clean])
    assert [i.path.name for i in inputs] == ["a.jsonl"] and skipped == []  # passed over without a word
    inputs, skipped = discover_inputs([clean / "filter-manifest.json"])
    assert inputs == []
    assert [s.reason for s in skipped] == [
        "the manifest auditor filter wrote with a cleaned corpus, not corpus; not read"
    ]


def test_a_corpus_file_that_is_only_named_like_the_manifest_is_read(tmp_path):
    (tmp_path / "filter-manifest.json").write_text('{"text": "a record, not a manifest"}\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "manifest.json").write_bytes(MANIFEST_LINE)  # the content alone is not enough
    inputs, _ = discover_inputs([tmp_path])
    assert [i.path.name for i in inputs] == ["filter-manifest.json", "manifest.json"]


def test_a_registry_inside_a_corpus_folder_is_skipped_with_the_reason_not_read_as_corpus(
    tmp_path, small_registry
):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.jsonl").write_text('{"text": "a record"}\n')
    shutil.copytree(small_registry.path, corpus / "registry")  # its .parquet and .arrow tables
    inputs, skipped = discover_inputs([corpus])
    assert [i.path.name for i in inputs] == ["a.jsonl"]
    assert [(s.input, s.reason) for s in skipped] == [
        (
            (corpus / "registry").as_posix(),
            "an auditor registry (its manifest.json says so), not corpus; not read",
        )
    ]
    (corpus / "other").mkdir()
    (corpus / "other" / "manifest.json").write_text('{"format": "something else"}\n')
    inputs, _ = discover_inputs([corpus])
    assert [i.path.name for i in inputs] == ["a.jsonl", "manifest.json"]
