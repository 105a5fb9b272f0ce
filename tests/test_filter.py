"""auditor filter: the corpus minus flagged records, in each input's own format, never over its input."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from auditor.filter import MANIFEST_NAME, _ipc_compression, filter_corpus, output_name, records_to_remove
from auditor.limits import Limits
from auditor.models import Severity
from auditor.readers import FieldSpec
from auditor.readers.arrow import ArrowReader
from auditor.readers.delimited import CsvReader
from auditor.readers.jsonl import JsonlReader
from auditor.readers.parquet import ParquetReader
from tests.conftest import SAMPLES
from tests.test_cli import invoke

SEVERITIES = ["info", "low", "medium", "high", "critical"]


# ------------------------------------------------------------------------------------------- helpers


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def finding(
    input: str, row: int, severity: str = "high", rule: str = "AUD-T-1", suppressed: Any = None
) -> dict[str, Any]:
    return {
        "fingerprint": f"{rule}-{input}-{row}",
        "rule_id": rule,
        "severity": severity,
        "kind": "source",
        "record": {"id": f"rec-{row}", "input": input, "row": row, "url": None},
        "work": None,
        "score": None,
        "spans": [],
        "evidence": [],
        "message": "test finding",
        "detail": "",
        "suppressed": suppressed,
    }


def make_report(
    inputs: list[Path], findings: list[dict[str, Any]], command: list[str] | None = None
) -> dict[str, Any]:
    """A report.json record naming ``inputs`` by their path as given (as a scan of them would)."""
    return {
        "schema_version": 1,
        "tool": {"name": "auditor", "version": "test"},
        "run": {"started": "", "finished": "", "command": command or ["auditor", "scan"], "config_id": "x"},
        "inputs": [
            {"path": p.as_posix(), "sha256": sha256(p), "format": "?", "records": 0, "skipped": 0}
            for p in inputs
        ],
        "findings": findings,
    }


def write_report(path: Path, report: dict[str, Any]) -> Path:
    path.write_text(json.dumps(report), encoding="utf-8")
    return path


def manifest(out: Path) -> dict[str, Any]:
    return json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))


def decompressed(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


def raw_lines(path: Path) -> list[bytes]:
    """The lines of a (compressed) shard as bytes, each with its newline (the last one may lack it)."""
    parts = decompressed(path).split(b"\n")
    return [part + b"\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


# A JSONL shard that exercises row numbering: blank lines count, CRLF, a malformed line, bytes that are
# not UTF-8, and a last line without a newline.
JSONL_LINES = [
    b'{"id": "a", "text": "first record"}\n',
    b"\n",
    b'{"id": "b", "text": "caf\xc3\xa9 \\u00e9 and   spaces"}\r\n',
    b"{not json\n",
    b'{"id": "c", "text": "bad \xff byte"}\n',
    b"   \n",
    b'{"id": "d", "text": "fourth", "meta": {"url": "https://libgen.is/x"}}\n',
    b'{"id": "e", "text": "last, no newline"}',
]


def write_jsonl_shard(path: Path, lines: list[bytes] = JSONL_LINES) -> Path:
    data = b"".join(lines)
    if path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    elif path.name.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------------------------ the sample corpus


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sample registry, a scan of the sample crawl, and the crawl filtered at high."""
    root = tmp_path_factory.mktemp("filter-sample")
    reg, out, clean = root / "registry", root / "scan", root / "clean"
    corpus = SAMPLES / "webcrawl"
    invoke(["registry", "build", SAMPLES / "registry", "-o", reg, "--quiet"], 0)
    invoke(["scan", corpus, "-r", reg, "-o", out, "--quiet", "--workers", "2"], 1)
    invoke(["filter", corpus, "--findings", out / "report.json", "--min-severity", "high", "-o", clean], 0)
    return {"registry": reg, "scan": out, "clean": clean, "corpus": corpus, "root": root}


def test_sample_filter_removes_exactly_the_records_flagged_high_or_worse(sample: dict[str, Path]) -> None:
    report = json.loads((sample["scan"] / "report.json").read_text(encoding="utf-8"))
    flagged = {
        (f["record"]["input"], f["record"]["row"])
        for f in report["findings"]
        if not f["suppressed"] and Severity.parse(f["severity"]) >= Severity.HIGH
    }
    assert flagged  # the sample has copies, pirate sources and forbidden licences
    data = manifest(sample["clean"])
    removed = {(r["input"], r["row"]) for i in data["inputs"] for r in i["removed_records"]}
    assert removed == flagged
    for entry in data["inputs"]:
        assert entry["kept"] + entry["removed"] == entry["read"] == 1500
        assert entry["removed"] == len(entry["removed_records"])
    assert data["totals"] == {"read": 3000, "kept": 3000 - len(flagged), "removed": len(flagged)}
    worst = {}
    for f in report["findings"]:
        key = (f["record"]["input"], f["record"]["row"])
        if key in flagged:
            worst[key] = max(worst.get(key, 0), Severity.parse(f["severity"]))
    for entry in data["inputs"]:
        for r in entry["removed_records"]:
            assert Severity.parse(r["severity"]) == worst[(r["input"], r["row"])]
            assert r["rule_ids"] and r["id"]


def test_sample_filter_keeps_lines_and_rows_exactly(sample: dict[str, Path]) -> None:
    data = {i["input"]: i for i in manifest(sample["clean"])["inputs"]}
    shard = sample["corpus"] / "crawl-00000.jsonl.gz"
    entry = data[shard.as_posix()]
    gone = {r["row"] for r in entry["removed_records"]}
    kept_lines = [line for row, line in enumerate(raw_lines(shard), start=1) if row not in gone]
    out_shard = sample["clean"] / entry["output"]
    assert out_shard.name == "crawl-00000.jsonl.gz"
    assert gzip.decompress(out_shard.read_bytes()) == b"".join(kept_lines)

    table = sample["corpus"] / "crawl-00001.parquet"
    entry = data[table.as_posix()]
    gone = {r["row"] for r in entry["removed_records"]}
    source = pq.read_table(table)
    cleaned = pq.read_table(sample["clean"] / entry["output"])
    assert cleaned.schema.equals(source.schema, check_metadata=True)
    keep = pa.array([row not in gone for row in range(1, source.num_rows + 1)])
    assert cleaned.equals(source.filter(keep))


def test_sample_filtered_corpus_rescans_clean_at_the_threshold(sample: dict[str, Path]) -> None:
    rescan = sample["root"] / "rescan"
    invoke(
        ["scan", sample["clean"], "-r", sample["registry"], "-o", rescan, "--fail-on", "high", "--quiet"], 0
    )
    report = json.loads((rescan / "report.json").read_text(encoding="utf-8"))
    assert report["summary"]["by_severity"]["critical"] == report["summary"]["by_severity"]["high"] == 0
    assert report["summary"]["records_scanned"] == manifest(sample["clean"])["totals"]["kept"]
    # The manifest in the cleaned folder is not corpus: discovery passes over it, so nothing is skipped.
    assert report["summary"]["records_skipped"] == 0 and report["skipped"] == []
    assert MANIFEST_NAME not in json.dumps(report["inputs"])


# ------------------------------------------------------------------------------------ JSONL round trips


@pytest.mark.parametrize("name", ["shard.jsonl", "shard.jsonl.gz", "shard.jsonl.zst"])
def test_jsonl_round_trip_keeps_bytes_compression_and_reader_rows(tmp_path: Path, name: str) -> None:
    src = tmp_path / "corpus"
    src.mkdir()
    shard = write_jsonl_shard(src / name)
    # Rows as the reader numbers them: flag "b" and "d" by the row the reader gives them.
    rows = {r.id: r.row for r in JsonlReader(FieldSpec()).read(shard, shard.as_posix()) if hasattr(r, "id")}
    assert rows == {"a": 1, "b": 3, "d": 7, "e": 8}  # "c" is not UTF-8: skipped, never flagged
    report = make_report(
        [shard], [finding(shard.as_posix(), rows["b"]), finding(shard.as_posix(), rows["d"])]
    )
    out = tmp_path / "clean"
    result = filter_corpus([src], report, out)
    assert (result.read, result.kept, result.removed) == (8, 6, 2)
    cleaned = out / output_name(shard.as_posix())
    expected = b"".join(line for row, line in enumerate(JSONL_LINES, start=1) if row not in (3, 7))
    assert b"".join(raw_lines(cleaned)) == expected
    magic = cleaned.read_bytes()[:4]
    if name.endswith(".gz"):
        assert magic[:2] == b"\x1f\x8b"
    elif name.endswith(".zst"):
        assert magic == b"\x28\xb5\x2f\xfd"
    else:
        assert cleaned.read_bytes() == expected
    kept_ids = [r.id for r in JsonlReader(FieldSpec()).read(cleaned, "x") if hasattr(r, "id")]
    assert kept_ids == ["a", "e"]


def test_jsonl_removing_every_row_leaves_an_empty_shard(tmp_path: Path) -> None:
    shard = write_jsonl_shard(tmp_path / "s.jsonl.gz", JSONL_LINES[:2])
    report = make_report([shard], [finding(shard.as_posix(), 1)])
    report["findings"].append(finding(shard.as_posix(), 2))  # a finding on a blank line still removes it
    result = filter_corpus([shard], report, tmp_path / "clean")
    assert (result.kept, result.removed) == (0, 2)
    assert gzip.decompress((tmp_path / "clean" / output_name(shard.as_posix())).read_bytes()) == b""


def test_suppressed_and_lower_findings_keep_their_records(tmp_path: Path) -> None:
    shard = write_jsonl_shard(tmp_path / "s.jsonl")
    name = shard.as_posix()
    report = make_report(
        [shard],
        [
            finding(name, 1, "critical", suppressed={"by": "baseline", "reason": "accepted"}),
            finding(name, 3, "medium"),
            finding(name, 7, "high", rule="AUD-B"),
            finding(name, 7, "critical", rule="AUD-A"),
            finding(name, 8, "low"),
        ],
    )
    result = filter_corpus([shard], report, tmp_path / "high")
    assert [(r.row, r.rule_ids, r.severity) for r in result.inputs[0].removed] == [
        (7, ("AUD-A", "AUD-B"), Severity.CRITICAL)
    ]
    result = filter_corpus([shard], report, tmp_path / "low", min_severity=Severity.LOW)
    assert [r.row for r in result.inputs[0].removed] == [3, 7, 8]
    report["skipped"] = [
        {"input": name, "row": 4, "reason": "malformed JSON"},
        {"input": name, "row": 5, "reason": "invalid UTF-8"},
        {"input": name, "row": None, "reason": "a file-level note"},
    ]
    result = filter_corpus([shard], report, tmp_path / "unaudited")
    assert result.inputs[0].unaudited == 2
    assert manifest(tmp_path / "unaudited")["inputs"][0]["unaudited_kept"] == 2
    assert records_to_remove(report, Severity.INFO).keys() == {name}


# ---------------------------------------------------------------------------------- Parquet round trip


def test_parquet_round_trip_keeps_schema_metadata_codec_and_row_groups(tmp_path: Path) -> None:
    schema = pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("text", pa.large_string()),
            pa.field("n", pa.int32()),
            pa.field("score", pa.float64()),
            pa.field("when", pa.timestamp("ms", tz="UTC")),
            pa.field("tags", pa.list_(pa.string())),
            pa.field(
                "meta", pa.struct([("url", pa.string()), ("license", pa.dictionary(pa.int8(), pa.string()))])
            ),
        ],
        metadata={b"origin": b"crawl-7", b"note": "caf\u00e9".encode()},
    )
    n = 2500
    table = pa.table(
        {
            "id": [f"r{i}" for i in range(n)],
            "text": [f"text {i}" if i % 11 else None for i in range(n)],
            "n": pa.array([i if i % 7 else None for i in range(n)], pa.int32()),
            "score": [i / 3 for i in range(n)],
            "when": pa.array([1_700_000_000_000 + i for i in range(n)], pa.timestamp("ms", tz="UTC")),
            "tags": [[f"t{i % 3}"] * (i % 4) for i in range(n)],
            "meta": [
                {"url": f"https://x.example/{i}", "license": ["MIT", "CC-BY-4.0"][i % 2]} for i in range(n)
            ],
        },
        schema=schema,
    )
    shard = tmp_path / "part-0.parquet"
    pq.write_table(table, shard, row_group_size=600, compression="zstd")
    gone = {1, 2, 600, 601, 1234, 2500}
    report = make_report([shard], [finding(shard.as_posix(), r) for r in sorted(gone)])
    out = tmp_path / "clean"
    result = filter_corpus([shard], report, out)
    assert (result.read, result.kept, result.removed) == (n, n - len(gone), len(gone))
    cleaned_path = out / output_name(shard.as_posix())
    cleaned = pq.read_table(cleaned_path)
    source = pq.read_table(shard)  # as the file holds it (Parquet names list items "element")
    assert source.schema.metadata == schema.metadata
    assert cleaned.schema.equals(source.schema, check_metadata=True)
    assert pq.ParquetFile(cleaned_path).schema.equals(pq.ParquetFile(shard).schema)
    keep = pa.array([row not in gone for row in range(1, n + 1)])
    assert cleaned.equals(source.filter(keep))
    meta = pq.ParquetFile(cleaned_path).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    assert all(meta.row_group(g).num_rows <= 600 for g in range(meta.num_row_groups))


def test_parquet_rows_are_numbered_as_the_reader_numbers_them(tmp_path: Path) -> None:
    n = 2100
    shard = tmp_path / "flat.parquet"
    pq.write_table(
        pa.table({"id": [f"r{i}" for i in range(n)], "text": ["some text"] * n}), shard, row_group_size=500
    )
    rows = {r.id: r.row for r in ParquetReader(FieldSpec()).read(shard, shard.as_posix()) if hasattr(r, "id")}
    assert len(rows) == n
    gone = {"r0", "r499", "r500", "r1777", "r2099"}
    report = make_report([shard], [finding(shard.as_posix(), rows[i]) for i in sorted(gone)])
    filter_corpus([shard], report, tmp_path / "clean")
    cleaned = pq.read_table(tmp_path / "clean" / output_name(shard.as_posix()))
    assert cleaned.column("id").to_pylist() == [f"r{i}" for i in range(n) if f"r{i}" not in gone]


# ------------------------------------------------------------------------------------- text corpora


def test_text_corpus_copies_the_kept_files(tmp_path: Path) -> None:
    src = tmp_path / "books"
    (src / "sub").mkdir(parents=True)
    keep = src / "a.txt"
    keep.write_bytes(b"kept text\r\nwith CRLF\n")
    drop = src / "sub" / "b.md"
    drop.write_text("# flagged\n", encoding="utf-8")
    (src / "notes.pdf").write_bytes(b"%PDF-1.7")  # no reader: not part of the corpus
    report = make_report([keep, drop], [finding(drop.as_posix(), 1, "critical")])
    out = tmp_path / "clean"
    result = filter_corpus([src], report, out)
    assert (result.read, result.kept, result.removed) == (2, 1, 1)
    assert (out / output_name(keep.as_posix())).read_bytes() == keep.read_bytes()
    assert not (out / output_name(drop.as_posix())).exists()
    data = manifest(out)
    assert [i["output"] for i in data["inputs"]] == [output_name(keep.as_posix()), None]
    assert data["not_copied"] == [(src / "notes.pdf").as_posix()]


def test_output_names_stay_inside_the_output_folder() -> None:
    assert output_name("corpus/a.jsonl") == "corpus/a.jsonl"
    assert output_name("/data/x/a.jsonl") == "data/x/a.jsonl"
    assert output_name("../up/./a.jsonl") == "__/up/a.jsonl"
    assert output_name("C:/data/a.jsonl") == "C/data/a.jsonl"


# ------------------------------------------------------------------------------------------ the CLI


@pytest.fixture
def shard_and_report(tmp_path: Path) -> tuple[Path, Path]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_jsonl_shard(corpus / "s.jsonl.gz")
    report = write_report(tmp_path / "report.json", make_report([corpus / "s.jsonl.gz"], []))
    return corpus, report


def test_cli_filter_writes_the_manifest_and_exits_0(tmp_path, shard_and_report, capsys) -> None:
    corpus, report = shard_and_report
    data = json.loads(report.read_text())
    data["findings"] = [finding((corpus / "s.jsonl.gz").as_posix(), 3, "critical")]
    write_report(report, data)
    err = invoke(["filter", corpus, "--findings", report, "-o", tmp_path / "clean"], 0, capsys)
    assert "8 rows read, 7 kept, 1 removed" in err
    entry = manifest(tmp_path / "clean")["inputs"][0]
    assert (entry["read"], entry["kept"], entry["removed"]) == (8, 7, 1)
    assert entry["removed_records"] == [
        {"input": (corpus / "s.jsonl.gz").as_posix(), "row": 3, "id": "rec-3", "rule_ids": ["AUD-T-1"],
         "severity": "critical"}
    ]  # fmt: skip
    assert (corpus / "s.jsonl.gz").read_bytes() == gzip.compress(b"".join(JSONL_LINES), mtime=0)


Refusal = Callable[[Path, Path, Path], list[Any]]


@pytest.mark.parametrize(
    "case, message",
    [
        ("output-is-input", "never writes over or inside its input"),
        ("output-inside-input", "never writes over or inside its input"),
        ("output-is-input-file", "never writes over or inside its input"),
        ("input-inside-output", "is inside the output folder"),
        ("output-not-empty", "is not empty"),
        ("output-is-a-file", "is a file"),
        ("report-input-not-given", "not among the corpus paths given to filter"),
        ("input-not-scanned", "was never scanned"),
        ("input-changed", "has changed since the scan"),
        ("scan-min-severity-above", "was written with --min-severity critical"),
        ("not-a-report", "is not an auditor report.json"),
        ("missing-corpus", "does not exist"),
        ("findings-inside-output", "is inside the output folder"),
    ],
)
def test_cli_filter_refusals_exit_2(tmp_path, shard_and_report, capsys, case: str, message: str) -> None:
    corpus, report = shard_and_report
    shard = corpus / "s.jsonl.gz"
    out = tmp_path / "clean"
    args: list[Any] = [corpus]
    if case == "output-is-input":
        out = corpus
    elif case == "output-inside-input":
        out = corpus / "clean"
    elif case == "output-is-input-file":
        args, out = [shard], shard
    elif case == "input-inside-output":
        out = tmp_path
    elif case == "output-not-empty":
        out.mkdir()
        (out / "old.jsonl").write_text("{}\n")
    elif case == "output-is-a-file":
        out.write_text("x")
    elif case == "report-input-not-given":
        other = write_jsonl_shard(tmp_path / "other.jsonl")
        write_report(report, make_report([shard, other], []))
    elif case == "input-not-scanned":
        write_jsonl_shard(corpus / "new.jsonl")
    elif case == "input-changed":
        write_jsonl_shard(shard, JSONL_LINES[:3])
    elif case == "scan-min-severity-above":
        write_report(report, make_report([shard], [], ["auditor", "scan", "x", "--min-severity", "critical"]))
    elif case == "not-a-report":
        report.write_text('{"hello": 1}')
    elif case == "missing-corpus":
        args = [tmp_path / "nope"]
    elif case == "findings-inside-output":
        out.mkdir()
        report = write_report(out / "report.json", json.loads(report.read_text()))
    before = {p: p.read_bytes() for p in corpus.rglob("*") if p.is_file()}
    err = invoke(["filter", *args, "--findings", report, "-o", out], 2, capsys)
    assert message in err
    assert {p: p.read_bytes() for p in corpus.rglob("*") if p.is_file()} == before
    assert not (out / MANIFEST_NAME).exists()


def test_cli_filter_with_the_scan_min_severity_at_or_below_is_accepted(tmp_path, shard_and_report) -> None:
    corpus, report = shard_and_report
    shard = corpus / "s.jsonl.gz"
    write_report(report, make_report([shard], [], ["auditor", "scan", "x", "--min-severity=medium"]))
    invoke(["filter", corpus, "--findings", report, "--min-severity", "high", "-o", tmp_path / "ok"], 0)


def test_cli_filter_counts_that_do_not_add_up_exit_4(tmp_path, shard_and_report, capsys) -> None:
    corpus, report = shard_and_report
    data = json.loads(report.read_text())
    data["findings"] = [finding((corpus / "s.jsonl.gz").as_posix(), 99)]  # past the end of the shard
    write_report(report, data)
    err = invoke(["filter", corpus, "--findings", report, "-o", tmp_path / "clean"], 4, capsys)
    assert "do not add up" in err
    assert not [p for p in (tmp_path / "clean").rglob("*") if p.is_file()]  # no output, no manifest


def test_cli_filter_an_unreadable_input_exits_3_and_writes_nothing_for_it(
    tmp_path, shard_and_report, capsys
) -> None:
    corpus, report = shard_and_report
    shard = corpus / "s.jsonl.gz"
    shard.write_bytes(shard.read_bytes()[:-12])  # truncated gzip stream
    write_report(report, make_report([shard], []))
    err = invoke(["filter", corpus, "--findings", report, "-o", tmp_path / "clean"], 3, capsys)
    assert "cannot read" in err
    assert not [p for p in (tmp_path / "clean").rglob("*") if p.is_file()]


# --------------------------------------------------------------------------------- CSV round trips

# A CSV that exercises row numbering: CRLF, a cell over three lines, a blank line (no row), a row with
# a cell too many and one that is not UTF-8 (skipped by the scan, kept as they are), no final newline.
CSV_ROWS = [
    b"id,text,meta.url\r\n",  # the header: always kept
    b"a,first record,https://a.example/\r\n",  # row 1
    b'b,"a cell ""quoted""\r\nover\r\nthree lines",\r\n',  # 2
    b"\r\n",  # a blank line: no row
    b"c,one,cell,too many\r\n",  # 3
    b"d,caf\xe9,\r\n",  # 4
    b"e,fifth,https://libgen.is/x\r\n",  # 5
    b"f,last row no newline,",  # 6
]


def write_csv(path: Path, rows: list[bytes] = CSV_ROWS) -> Path:
    data = b"".join(rows)
    if path.name.endswith(".tsv") or ".tsv." in path.name:
        data = data.replace(b",", b"\t")
    if path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    elif path.name.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz", "t.csv.zst", "t.tsv"])
def test_csv_round_trip_keeps_bytes_compression_and_reader_rows(tmp_path: Path, name: str) -> None:
    src = tmp_path / "corpus"
    src.mkdir()
    table = write_csv(src / name)
    rows = {r.id: r.row for r in CsvReader(FieldSpec()).read(table, table.as_posix()) if hasattr(r, "id")}
    assert rows == {"a": 1, "b": 2, "e": 5, "f": 6}  # rows 3 and 4 are skipped by the scan
    report = make_report(
        [table], [finding(table.as_posix(), rows["b"]), finding(table.as_posix(), rows["e"])]
    )
    out = tmp_path / "clean"
    result = filter_corpus([src], report, out)
    assert (result.read, result.kept, result.removed) == (6, 4, 2)
    cleaned = out / output_name(table.as_posix())
    expected = b"".join(r for i, r in enumerate(CSV_ROWS) if i not in (2, 6))
    if ".tsv" in name:
        expected = expected.replace(b",", b"\t")
    assert decompressed(cleaned) == expected
    assert cleaned.read_bytes()[:4] == table.read_bytes()[:4]  # the same compression (or none)
    kept = [r.id for r in CsvReader(FieldSpec()).read(cleaned, "x") if hasattr(r, "id")]
    assert kept == ["a", "f"]


def test_csv_rows_over_the_scan_limit_are_streamed_through_and_numbered_alike(tmp_path: Path) -> None:
    huge = b"x" * 5000
    rows = [
        b"id,text\n",
        b"a,short\n",  # row 1
        b'b,"' + huge + b"\n" + huge + b'"\n',  # 2: over the scan's --max-record-size of 1000 bytes
        b"c,flagged\n",  # 3
        b"d,kept\n",  # 4
    ]
    table = write_csv(tmp_path / "long.csv", rows)
    limits = Limits(max_record_bytes=1000)
    read_rows = {r.row: getattr(r, "id", None) for r in CsvReader(FieldSpec(), limits).read(table, "x")}
    assert read_rows == {1: "a", 2: None, 3: "c", 4: "d"}
    command = ["auditor", "scan", "x", "--max-record-size", "1000"]
    report = make_report([table], [finding(table.as_posix(), 3)], command)
    result = filter_corpus([table], report, tmp_path / "clean")
    assert (result.read, result.kept, result.removed) == (4, 3, 1)
    cleaned = tmp_path / "clean" / output_name(table.as_posix())
    assert cleaned.read_bytes() == b"".join(rows[:3] + rows[4:])


# ------------------------------------------------------------------------------- Arrow round trips


def _arrow_table(n: int) -> pa.Table:
    schema = pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("text", pa.large_string()),
            pa.field("n", pa.int32()),
            pa.field("tags", pa.list_(pa.string())),
            pa.field("lang", pa.dictionary(pa.int8(), pa.string())),
            pa.field("meta", pa.struct([("url", pa.string()), ("license", pa.string())])),
        ],
        metadata={b"origin": b"crawl-7"},
    )
    return pa.table(
        {
            "id": [f"r{i}" for i in range(n)],
            "text": [f"text {i}" if i % 11 else None for i in range(n)],
            "n": pa.array([i if i % 7 else None for i in range(n)], pa.int32()),
            "tags": [[f"t{i % 3}"] * (i % 4) for i in range(n)],
            "lang": pa.array([["en", "fr", "de"][i % 3] for i in range(n)])
            .dictionary_encode()
            .cast(pa.dictionary(pa.int8(), pa.string())),
            "meta": [{"url": f"https://x.example/{i}", "license": ["MIT", None][i % 2]} for i in range(n)],
        },
        schema=schema,
    )


@pytest.mark.parametrize(
    ("name", "fmt", "compression"),
    [("a.arrow", "file", "zstd"), ("b.arrows", "stream", "lz4"), ("c.feather", "file", None)],
)
def test_arrow_round_trip_keeps_format_schema_metadata_and_compression(
    tmp_path: Path, name: str, fmt: str, compression: str | None
) -> None:
    n = 2500
    table = _arrow_table(n)
    path = tmp_path / name
    options = pa.ipc.IpcWriteOptions(compression=compression)
    writer = (
        pa.ipc.new_file(path, table.schema, options=options, metadata={b"footer": b"kept"})
        if fmt == "file"
        else pa.ipc.new_stream(path, table.schema, options=options)
    )
    with writer:
        for i, batch in enumerate(table.to_batches(max_chunksize=1500)):  # sliced by the reader at 1024
            writer.write_batch(batch, custom_metadata={b"batch": str(i).encode()})
    rows = {r.id: r.row for r in ArrowReader(FieldSpec()).read(path, path.as_posix()) if hasattr(r, "id")}
    gone = {1, 2, 1024, 1025, 1500, 1501, 2500}
    assert all(rows[f"r{r - 1}"] == r for r in gone if (r - 1) % 11)  # the reader's row numbers
    report = make_report([path], [finding(path.as_posix(), r) for r in sorted(gone)])
    out = tmp_path / "clean"
    result = filter_corpus([path], report, out)
    assert (result.read, result.kept, result.removed) == (n, n - len(gone), len(gone))
    cleaned = out / output_name(path.as_posix())
    assert cleaned.read_bytes()[:6] == path.read_bytes()[:6]  # the same format (file or stream)
    source = pa.memory_map(str(cleaned))
    assert _ipc_compression(source, 8 if fmt == "file" else 0) == compression
    if fmt == "file":
        reader = pa.ipc.open_file(cleaned)
        assert reader.metadata == {b"footer": b"kept"}
        assert [reader.get_batch_with_custom_metadata(i)[1] for i in range(reader.num_record_batches)] == [
            pa.KeyValueMetadata({b"batch": b"0"}),
            pa.KeyValueMetadata({b"batch": b"1"}),
        ]
    else:
        reader = pa.ipc.open_stream(cleaned)
    got = reader.read_all()
    assert got.schema.equals(table.schema, check_metadata=True)
    keep = pa.array([row not in gone for row in range(1, n + 1)])
    assert got.equals(table.filter(keep))
