"""The cleaned corpus: a corpus minus the records a report flags, in the input's own format and schema.

``auditor filter`` reads the report.json of a scan of the same corpus paths and writes every input again
under a new folder, leaving out each record with an unsuppressed finding at or above a severity. JSONL
keeps each kept line's bytes exactly as read and its compression (.gz, .zst); CSV/TSV keeps the header
and each kept row's bytes exactly as read (quoting, line ends, multi-line cells) and its compression;
Parquet keeps its Arrow schema (with its metadata) and compression, streamed row group by row group;
Arrow IPC keeps its format (file or stream), schema, metadata and buffer compression, streamed record
batch by record batch; text files are copied whole. A record is named as the readers name it: (input
path as written in report.json, 1-based row), where the row is the line for JSONL (blank lines count)
and the row for CSV (after the header, blank lines not counted), Parquet and Arrow.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
import struct
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from auditor import __version__
from auditor.errors import AuditorError, InputError, UsageError
from auditor.limits import Limits, parse_size
from auditor.models import Severity
from auditor.readers import FILTER_MANIFEST_NAME, InputFile, discover_inputs
from auditor.readers.arrow import arrow_kind
from auditor.readers.delimited import dialect_for, iter_rows
from auditor.readers.stream import CHUNK_BYTES, STREAM_ERRORS, check_decoded_head, open_decoded
from auditor.reporters.summary import option_value

MANIFEST_NAME = FILTER_MANIFEST_NAME
MANIFEST_VERSION = 1
PARQUET_BATCH_ROWS = 4096
"""Rows decoded at a time from a Parquet input; each source row group is written as one row group."""
GZIP_LEVEL = 6
ZSTD_LEVEL = 3


@dataclass(frozen=True, slots=True)
class RemovedRecord:
    """One record left out of the cleaned corpus, and the findings that put it out."""

    input: str
    row: int
    id: str
    rule_ids: tuple[str, ...]
    severity: Severity


@dataclass(frozen=True, slots=True)
class FilteredInput:
    """What filtering did to one input file.

    Attributes:
        input: the input's path as written in report.json.
        output: where the cleaned copy went, relative to the output folder (POSIX style).
        format: the reader format (``jsonl``, ``csv``, ``parquet``, ``arrow``, ``text``).
        read: rows read (JSONL lines, blank ones included; CSV rows after the header, blank lines
            not included; Parquet and Arrow rows; 1 for a text file).
        kept: rows written to the output.
        removed: the rows left out, in row order.
        unaudited: kept rows the scan skipped (unreadable, no text, too long): kept as they are, since
            nothing flags them, but never audited.
    """

    input: str
    output: str
    format: str
    sha256: str
    read: int
    kept: int
    removed: tuple[RemovedRecord, ...]
    unaudited: int = 0


@dataclass(frozen=True, slots=True)
class FilterResult:
    """Every input filtered, and where the manifest was written."""

    inputs: tuple[FilteredInput, ...]
    min_severity: Severity
    manifest: Path
    not_copied: tuple[str, ...] = field(default=())
    """Files under the corpus paths that no reader supports; they are not part of the corpus."""

    @property
    def read(self) -> int:
        return sum(i.read for i in self.inputs)

    @property
    def kept(self) -> int:
        return sum(i.kept for i in self.inputs)

    @property
    def removed(self) -> int:
        return sum(len(i.removed) for i in self.inputs)


def read_findings(path: Path) -> dict[str, Any]:
    """Load a report.json written by ``auditor scan``.

    Raises:
        UsageError: the file cannot be read or is not a schema-1 report.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read --findings {path}: {exc}") from None
    if (
        not isinstance(data, dict)
        or data.get("schema_version") != 1
        or not isinstance(data.get("findings"), list)
        or not isinstance(data.get("inputs"), list)
    ):
        raise UsageError(f"--findings {path} is not an auditor report.json (schema_version 1)")
    return data


def records_to_remove(
    report: Mapping[str, Any], min_severity: Severity
) -> dict[str, dict[int, RemovedRecord]]:
    """The records flagged at or above ``min_severity`` (suppressed findings ignored), by input and row."""
    rules: dict[tuple[str, int], list[str]] = {}
    worst: dict[tuple[str, int], Severity] = {}
    ids: dict[tuple[str, int], str] = {}
    for finding in report.get("findings") or []:
        if finding.get("suppressed"):
            continue
        severity = Severity.parse(finding.get("severity", "info"))
        if severity < min_severity:
            continue
        record = finding.get("record") or {}
        key = (str(record.get("input", "")), int(record.get("row") or 0))
        rules.setdefault(key, [])
        if finding.get("rule_id") not in rules[key]:
            rules[key].append(str(finding.get("rule_id", "")))
        worst[key] = max(worst.get(key, severity), severity)
        ids.setdefault(key, str(record.get("id", "")))
    out: dict[str, dict[int, RemovedRecord]] = {}
    for (name, row), rule_ids in rules.items():
        out.setdefault(name, {})[row] = RemovedRecord(
            input=name,
            row=row,
            id=ids[(name, row)],
            rule_ids=tuple(sorted(rule_ids)),
            severity=worst[(name, row)],
        )
    return out


def scan_min_severity(report: Mapping[str, Any]) -> Severity:
    """The ``--min-severity`` the report's scan ran with (findings below it are not in the report)."""
    value = option_value((report.get("run") or {}).get("command") or [], "--min-severity")
    try:
        return Severity.parse(value) if value is not None else Severity.INFO
    except ValueError:
        return Severity.INFO


def scan_limits(report: Mapping[str, Any]) -> Limits:
    """The record size limit the report's scan ran with (``--max-record-size``), as ``Limits``.

    CSV rows are told apart by following their quoting; a row over the limit is followed by auditor's
    own tracker rather than by the ``csv`` module, so filter uses the scan's limit to number rows as
    the scan did.
    """
    value = option_value((report.get("run") or {}).get("command") or [], "--max-record-size")
    try:
        return Limits(max_record_bytes=parse_size(value)) if value is not None else Limits()
    except ValueError:
        return Limits()


def output_name(input_name: str) -> str:
    """Where an input goes under the output folder: its path as given, made relative and kept inside.

    ``/data/a.jsonl`` → ``data/a.jsonl``; each ``..`` becomes ``__`` so nothing escapes the folder.
    """
    parts = [p for p in PurePosixPath(input_name.replace("\\", "/")).parts if p not in ("/", "", ".")]
    parts = ["__" if p == ".." else p for p in parts]
    if parts and parts[0].endswith(":"):  # a Windows drive
        parts[0] = parts[0].rstrip(":")
    return "/".join(parts)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _check_places(corpus: Sequence[Path], out: Path, findings_path: Path | None) -> None:
    """Refuse an output folder that is, holds or lies inside an input, or that is not empty."""
    target = out.resolve()
    for given in corpus:
        source = given.resolve()
        if _inside(target, source):
            raise UsageError(
                f"output folder {out} is {'the' if target == source else 'inside the'} corpus path {given}; "
                "filter never writes over or inside its input: choose a folder outside the corpus"
            )
        if _inside(source, target):
            raise UsageError(
                f"corpus path {given} is inside the output folder {out}; choose an output folder that "
                "holds no input"
            )
    if findings_path is not None and _inside(findings_path.resolve(), target):
        raise UsageError(f"--findings {findings_path} is inside the output folder {out}; choose another -o")
    if out.exists():
        if not out.is_dir():
            raise UsageError(f"output folder {out} is a file; give a new or empty folder for -o")
        if any(out.iterdir()):
            raise UsageError(
                f"output folder {out} is not empty; give a new or empty folder so no stale file mixes "
                "into the cleaned corpus"
            )


def _match_inputs(report: Mapping[str, Any], inputs: list[InputFile]) -> None:
    scanned = {str(i.get("path", "")): i for i in report.get("inputs") or []}
    given = {i.name for i in inputs}
    missing = sorted(set(scanned) - given)
    if missing:
        raise UsageError(
            f"report.json names input {missing[0]!r}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            + ", which is not among the corpus paths given to filter; give filter the same corpus paths "
            "as scan, written the same way (inputs are named by the path as given)"
        )
    unscanned = sorted(given - set(scanned))
    if unscanned:
        raise UsageError(
            f"input {unscanned[0]!r}"
            + (f" (and {len(unscanned) - 1} more)" if len(unscanned) > 1 else "")
            + " is not in report.json: it was never scanned, so filter cannot vouch for it; "
            "scan it or leave it out"
        )


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """A temporary file next to ``path``, renamed over it on success and removed on failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


class _Sink(Protocol):
    def write(self, data: bytes, /) -> int: ...


@contextlib.contextmanager
def _compressed_writer(path: Path, codec: str) -> Iterator[_Sink]:
    """A binary writer that compresses as the input's content was compressed (gzip, zstd or text)."""
    with path.open("wb") as raw:
        if codec == "gzip":
            # No file name and mtime 0 in the header: the same kept lines give the same bytes.
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL, mtime=0) as gz:
                yield gz
        elif codec == "zstd":
            writer = zstandard.ZstdCompressor(level=ZSTD_LEVEL).stream_writer(raw, closefd=False)
            try:
                yield writer
            finally:
                writer.close()
        else:
            yield raw


def _filter_jsonl(
    item: InputFile, target: Path, removed: Mapping[int, RemovedRecord], limits: Limits
) -> tuple[int, int]:
    # The input is opened as JsonlReader opens it (compression decided by content, the same limits),
    # and its rows are numbered the same way: lines split on b"\n", from 1, blank lines included, a
    # last line without a newline counted. Bytes are streamed through chunk by chunk, never decoded,
    # and no line is ever held whole, however long.
    opened = open_decoded(item.path, Limits(), "JSON Lines")
    if isinstance(opened, str):
        raise InputError(f"cannot read {item.name}: {opened}")
    row = 1
    kept = 0
    open_row = False  # the current row has bytes but no newline yet
    try:
        first = b""
        if opened.codec != "text":
            first, problem = check_decoded_head(opened.stream, opened.codec, "JSON Lines")
            if problem:
                raise InputError(f"cannot read {item.name}: {problem}")
        with _compressed_writer(target, opened.codec) as sink:
            chunk = first or opened.stream.read(CHUNK_BYTES)
            while chunk:
                start = 0
                while start < len(chunk):
                    end = chunk.find(b"\n", start)
                    stop = len(chunk) if end < 0 else end + 1
                    if row not in removed:
                        sink.write(chunk[start:stop])
                    if end < 0:
                        open_row = True
                    else:
                        kept += row not in removed
                        row += 1
                        open_row = False
                    start = stop
                chunk = opened.stream.read(CHUNK_BYTES)
    finally:
        with contextlib.suppress(OSError, EOFError, ValueError):
            opened.close()
    if open_row:
        kept += row not in removed
        return row, kept
    return row - 1, kept


def _parquet_codec(meta: pq.FileMetaData) -> str:
    codecs: Counter[str] = Counter()
    for g in range(min(meta.num_row_groups, 1)):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            codecs[str(group.column(c).compression).lower()] += 1
    codec = codecs.most_common(1)[0][0] if codecs else "snappy"
    return "none" if codec == "uncompressed" else codec


def _filter_parquet(
    item: InputFile, target: Path, removed: Mapping[int, RemovedRecord], limits: Limits
) -> tuple[int, int]:
    source = pq.ParquetFile(item.path)
    meta = source.metadata
    schema = source.schema_arrow
    read = kept = 0
    with pq.ParquetWriter(target, schema, compression=_parquet_codec(meta)) as writer:
        # One source row group at a time (bounded memory), written as one row group of what it keeps.
        # Reading group by group also avoids pyarrow's "nested data conversions not implemented for
        # chunked array outputs" on batches that straddle row groups.
        for group in range(meta.num_row_groups):
            batches: list[pa.RecordBatch] = []
            for batch in source.iter_batches(batch_size=PARQUET_BATCH_ROWS, row_groups=[group]):
                n = batch.num_rows
                if removed:
                    mask = pa.array([(read + i + 1) not in removed for i in range(n)], type=pa.bool_())
                    batch = batch.filter(mask)
                read += n
                if batch.num_rows:
                    batches.append(batch)
            rows = sum(b.num_rows for b in batches)
            if rows:
                table = pa.Table.from_batches(batches).replace_schema_metadata(schema.metadata)
                writer.write_table(table, row_group_size=rows)
                kept += rows
    if read != meta.num_rows:
        raise InputError(f"{item.name}: read {read} rows but the Parquet footer says {meta.num_rows}")
    return read, kept


def _filter_text(
    item: InputFile, target: Path, removed: Mapping[int, RemovedRecord], limits: Limits
) -> tuple[int, int]:
    # One record per file; a removed file is not written at all (the caller never calls this for it).
    shutil.copyfile(item.path, target)
    return 1, 1


def _filter_csv(
    item: InputFile, target: Path, removed: Mapping[int, RemovedRecord], limits: Limits
) -> tuple[int, int]:
    # Rows are split exactly as CsvReader splits them (the same iter_rows, the same record limit), and
    # each kept row is written as the bytes it was read from: the header, blank lines and rows that
    # could not be parsed are kept as they are. A row over the limit is streamed through, never held.
    opened = open_decoded(item.path, Limits(), "CSV")
    if isinstance(opened, str):
        raise InputError(f"cannot read {item.name}: {opened}")
    read = kept = 0
    try:
        first = b""
        if opened.codec != "text":
            first, problem = check_decoded_head(opened.stream, opened.codec, "CSV")
            if problem:
                raise InputError(f"cannot read {item.name}: {problem}")
        with _compressed_writer(target, opened.codec) as sink:

            def spill(row: int, data: bytes) -> None:
                if row not in removed:
                    sink.write(data)

            rows = iter_rows(opened.stream, first, limits.max_record_bytes, dialect_for(item.path), spill)
            for entry in rows:
                if entry.row:
                    read += 1
                    if entry.row in removed:
                        continue
                    kept += 1
                for part in entry.raw:
                    sink.write(part)
    finally:
        with contextlib.suppress(OSError, EOFError, ValueError):
            opened.close()
    return read, kept


_BATCH_MESSAGES = {"record batch", "dictionary batch"}


def _ipc_compression(source: pa.MemoryMappedFile, start: int) -> str | None:
    """The buffer compression (``lz4``, ``zstd``) of the first batch message of an IPC stream, or None."""
    source.seek(start)
    for message in pa.ipc.MessageReader.open_stream(source):
        if message.type in _BATCH_MESSAGES:
            try:
                return _body_compression(message.metadata.to_pybytes())
            except (struct.error, IndexError):
                return None  # unreadable metadata: the reader reports it; write uncompressed
    return None


def _fb_field(buf: bytes, table: int, index: int) -> int | None:
    """Where field ``index`` of the flatbuffer table at ``table`` is, or None when it is absent."""
    vtable = table - struct.unpack_from("<i", buf, table)[0]
    size = struct.unpack_from("<H", buf, vtable)[0]
    if 4 + 2 * index + 2 > size:
        return None
    offset = struct.unpack_from("<H", buf, vtable + 4 + 2 * index)[0]
    return table + offset if offset else None


def _fb_table(buf: bytes, at: int) -> int:
    return at + struct.unpack_from("<I", buf, at)[0]


def _body_compression(meta: bytes) -> str | None:
    # Arrow's Message.fbs: Message{version, header_type (1), header (2), ...}; a DictionaryBatch
    # (header type 2) holds its RecordBatch as field 1; RecordBatch{length, nodes, buffers,
    # compression (3)}; BodyCompression{codec (0): LZ4_FRAME = 0 (the default), ZSTD = 1}.
    root = _fb_table(meta, 0)
    kind_at, header_at = _fb_field(meta, root, 1), _fb_field(meta, root, 2)
    if kind_at is None or header_at is None:
        return None
    table = _fb_table(meta, header_at)
    if meta[kind_at] == 2:
        data_at = _fb_field(meta, table, 1)
        if data_at is None:
            return None
        table = _fb_table(meta, data_at)
    compression_at = _fb_field(meta, table, 3)
    if compression_at is None:
        return None
    codec_at = _fb_field(meta, _fb_table(meta, compression_at), 0)
    return "zstd" if codec_at is not None and meta[codec_at] == 1 else "lz4"


def _filter_arrow(
    item: InputFile, target: Path, removed: Mapping[int, RemovedRecord], limits: Limits
) -> tuple[int, int]:
    # Read as ArrowReader reads it (file format memory-mapped, batch by batch; stream format message
    # by message) and every batch fully validated before its rows are touched; each source batch is
    # written as one batch of what it keeps, with its custom metadata, in the same format.
    source = pa.memory_map(os.fsdecode(item.path))
    head = source.read(8)
    kind = arrow_kind(head) or "stream"  # a stream written before Arrow 0.15 has no marker
    compression = _ipc_compression(source, 8 if kind == "file" else 0)
    source.seek(0)
    batches: Iterator[tuple[pa.RecordBatch, Any]]
    if kind == "file":
        file_reader = pa.ipc.open_file(source)
        schema, footer = file_reader.schema, file_reader.metadata
        count = file_reader.num_record_batches
        batches = (file_reader.get_batch_with_custom_metadata(i) for i in range(count))
    else:
        stream_reader = pa.ipc.open_stream(source)
        schema, footer = stream_reader.schema, None
        batches = stream_reader.iter_batches_with_custom_metadata()
    options = pa.ipc.IpcWriteOptions(compression=compression, emit_dictionary_deltas=True)
    read = kept = 0
    with target.open("wb") as sink:
        writer = (
            pa.ipc.new_file(sink, schema, options=options, metadata=footer)
            if kind == "file"
            else pa.ipc.new_stream(sink, schema, options=options)
        )
        with writer:
            for batch, custom in batches:
                batch.validate(full=True)
                n = batch.num_rows
                if removed:
                    mask = pa.array([(read + i + 1) not in removed for i in range(n)], type=pa.bool_())
                    batch = batch.filter(mask)
                read += n
                if batch.num_rows:
                    writer.write_batch(batch, custom_metadata=custom)
                    kept += batch.num_rows
    return read, kept


_WRITERS = {
    "jsonl": _filter_jsonl,
    "csv": _filter_csv,
    "parquet": _filter_parquet,
    "arrow": _filter_arrow,
    "text": _filter_text,
}


def _check_counts(name: str, read: int, kept: int, removed: Mapping[int, RemovedRecord]) -> None:
    """kept + removed = read, and every flagged row was among the rows read; else an internal error."""
    beyond = sorted(r for r in removed if r > read or r < 1)
    if kept + len(removed) != read or beyond:
        raise AuditorError(
            f"{name}: read {read} rows, kept {kept} and removed {len(removed)}, which do not add up "
            f"(flagged rows outside the input: {beyond[:5]}); the readers and filter disagree on row "
            "numbers — please report this"
        )


def filter_corpus(
    corpus: Sequence[Path],
    report: Mapping[str, Any],
    out: Path,
    *,
    min_severity: Severity = Severity.HIGH,
    findings_path: Path | None = None,
) -> FilterResult:
    """Write the corpus minus the records ``report`` flags at or above ``min_severity``.

    Args:
        corpus: the corpus paths, exactly as given to the scan that wrote ``report``.
        report: that scan's report.json record.
        out: a new or empty folder; each input goes to ``out/<its path as given>``, and
            ``filter-manifest.json`` lists what was read, kept and removed.
        min_severity: records with an unsuppressed finding at or above this are left out.
        findings_path: where ``report`` was read from, for the manifest and the place checks.

    Raises:
        UsageError: the output folder is or touches an input or is not empty; the report and the
            corpus paths do not name the same inputs; an input changed since the scan; the report's
            scan left out findings below a severity above ``min_severity``; a format cannot be written.
        InputError: an input could not be read through.
        AuditorError: kept + removed differ from the rows read (an internal error, exit 4).
    """
    corpus = [Path(p) for p in corpus]
    out = Path(out)
    floor = scan_min_severity(report)
    if floor > min_severity:
        raise UsageError(
            f"report.json was written with --min-severity {floor.label}, so it holds no finding below "
            f"{floor.label} and cannot filter at {min_severity.label}; filter at {floor.label} or above, "
            "or rescan with a lower --min-severity"
        )
    _check_places(corpus, out, findings_path)
    inputs, skipped = discover_inputs(corpus)
    _match_inputs(report, inputs)
    scanned = {str(i.get("path", "")): i for i in report.get("inputs") or []}
    outputs: dict[str, str] = {}
    digests: dict[str, str] = {}
    for item in inputs:
        if item.reader.format not in _WRITERS:
            raise UsageError(
                f"{item.name}: filter cannot write {item.reader.format!r} inputs yet "
                f"(it writes {', '.join(sorted(_WRITERS))}); leave the input out"
            )
        name = output_name(item.name)
        if not name or name in outputs.values():
            raise UsageError(f"inputs {item.name!r} and another map to the same output path {name!r}")
        outputs[item.name] = name
        digest = digests[item.name] = _sha256(item.path)
        if digest != scanned[item.name].get("sha256"):
            raise UsageError(
                f"{item.name} has changed since the scan (sha256 {digest[:12]}…, report.json says "
                f"{str(scanned[item.name].get('sha256'))[:12]}…); rescan it before filtering"
            )
    flagged = records_to_remove(report, min_severity)
    skipped_rows: dict[str, set[int]] = {}
    for skip in report.get("skipped") or []:
        if skip.get("row") is not None:
            skipped_rows.setdefault(str(skip.get("input", "")), set()).add(int(skip["row"]))
    strays = sorted(set(flagged) - set(outputs))
    if strays:
        raise UsageError(f"report.json has findings for {strays[0]!r}, which is not among its inputs")

    limits = scan_limits(report)
    out.mkdir(parents=True, exist_ok=True)
    results: list[FilteredInput] = []
    for item in inputs:
        removed = flagged.get(item.name, {})
        target = out / outputs[item.name]
        try:
            if item.reader.format == "text" and 1 in removed:
                read, kept = 1, 0
                _check_counts(item.name, read, kept, removed)
            else:
                with _atomic(target) as tmp:  # renamed into place only once the counts add up
                    read, kept = _WRITERS[item.reader.format](item, tmp, removed, limits)
                    _check_counts(item.name, read, kept, removed)
        except (*STREAM_ERRORS, pa.ArrowException) as exc:
            raise InputError(
                f"cannot read {item.name} through: {exc}; its output was not written, nor the manifest"
            ) from None
        results.append(
            FilteredInput(
                input=item.name,
                output=outputs[item.name] if kept or item.reader.format != "text" else "",
                format=item.reader.format,
                sha256=digests[item.name],
                read=read,
                kept=kept,
                removed=tuple(removed[r] for r in sorted(removed)),
                unaudited=sum(1 for r in skipped_rows.get(item.name, ()) if r not in removed and r <= read),
            )
        )
    manifest_path = out / MANIFEST_NAME
    result = FilterResult(
        inputs=tuple(results),
        min_severity=min_severity,
        manifest=manifest_path,
        not_copied=tuple(s.input for s in skipped),
    )
    with _atomic(manifest_path) as tmp:
        # One line opening with the manifest_version and tool keys: that is how discovery knows the
        # manifest in a later ``auditor scan`` of the output folder and passes over it (it is not corpus).
        tmp.write_text(
            json.dumps(manifest_record(result, report, findings_path), ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
    return result


def manifest_record(
    result: FilterResult, report: Mapping[str, Any], findings_path: Path | None
) -> dict[str, Any]:
    """The filter-manifest.json record: per input, rows read, kept, removed, and every removed record."""
    return {
        "manifest_version": MANIFEST_VERSION,
        "tool": {"name": "auditor", "version": __version__},
        "findings": findings_path.as_posix() if findings_path is not None else None,
        "min_severity": result.min_severity.label,
        "scan": {
            "config_id": (report.get("run") or {}).get("config_id"),
            "finished": (report.get("run") or {}).get("finished"),
        },
        "totals": {"read": result.read, "kept": result.kept, "removed": result.removed},
        "inputs": [
            {
                "input": i.input,
                "output": i.output or None,
                "format": i.format,
                "sha256": i.sha256,
                "read": i.read,
                "kept": i.kept,
                "removed": len(i.removed),
                "unaudited_kept": i.unaudited,
                "removed_records": [
                    {
                        "input": r.input,
                        "row": r.row,
                        "id": r.id,
                        "rule_ids": list(r.rule_ids),
                        "severity": r.severity.label,
                    }
                    for r in i.removed
                ],
            }
            for i in result.inputs
        ],
        "not_copied": list(result.not_copied),
    }
