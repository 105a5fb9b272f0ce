"""Registries of works: build one from texts and catalogues, write it to disk, open and verify it.

On disk a registry is a folder (never a pickle):

* ``manifest.json`` — format version, fingerprint config and its id, counts, the sha256 of every
  other file and a digest over them, tool version, snapshot date;
* ``works.parquet`` — one row per work: metadata (catalogue fields, sizes, hashes);
* ``texts.arrow`` — the work texts as read, one row per work (Arrow IPC, memory-mapped at scan
  time so evidence excerpts cost no read of the whole registry); null when fingerprint-only;
* ``tokens.parquet`` — one row per work token: work index, character offsets, and the shingle
  starting at that token (0 where none starts or where the shingle is boilerplate);
* ``passages.parquet`` — one row per passage window: work index, first shingle, MinHash signature;
* ``bands.parquet`` — the LSH band index: band key → passage, sorted by key;
* ``boilerplate.parquet`` — shingles shared by many works (evidence of nothing, never matched);
* ``isbns.parquet`` and ``hashes.parquet`` — exact keys: ISBN-13s, file md5/sha256, text hashes.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from auditor import __version__
from auditor.errors import RegistryError, UsageError
from auditor.fingerprint import MASKED, FingerprintConfig, Fingerprinter, mask_template_fills, shingles
from auditor.models import RegistryInfo, WorkRef
from auditor.normalize import tokenize

FORMAT = "auditor-registry"
FORMAT_VERSION = 1
TEXT_SUFFIXES = (".txt", ".md", ".text", ".markdown")
CATALOGUE_SUFFIXES = (".csv",)
_DATA_FILES = (
    "works.parquet",
    "texts.arrow",
    "tokens.parquet",
    "passages.parquet",
    "bands.parquet",
    "boilerplate.parquet",
    "isbns.parquet",
    "hashes.parquet",
)


@dataclass(slots=True)
class WorkSource:
    """One work as gathered for a build: its catalogue metadata and, if available, its text."""

    work_id: str
    title: str = ""
    authors: list[str] = field(default_factory=list)
    isbns: list[str] = field(default_factory=list)
    rights_holder: str = ""
    license: str = ""
    source: str = ""
    md5: str = ""
    sha256: str = ""
    path: str = ""
    text: str | None = None
    encoding: str = ""


def text_hash(token_hashes: np.ndarray) -> str:
    """Hash of a text's normalised token sequence: equal for texts that differ only in layout or case."""
    return xxhash.xxh3_128_hexdigest(token_hashes.astype("<u8").tobytes())


def read_text_file(path: Path) -> tuple[str, str]:
    """Read a work's text; returns (text, encoding). UTF-8 (BOM stripped), else Windows-1252."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252"


def _split_list(value: str) -> list[str]:
    return [part.strip() for part in value.replace("|", ";").split(";") if part.strip()]


def _normalise_isbn(value: str) -> str:
    return "".join(ch for ch in value.upper() if ch.isdigit() or ch == "X")


def read_catalogue(path: Path) -> list[WorkSource]:
    """Read a catalogue CSV (columns: work_id, title, authors, isbn, rights_holder, license, source,
    md5, sha256, path); texts named in ``path`` are read relative to the catalogue's folder."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"cannot read catalogue {path}: {exc}") from exc
    works: list[WorkSource] = []
    for line, row in enumerate(rows, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        work_id = row.get("work_id") or row.get("id") or ""
        if not work_id:
            raise UsageError(f"{path}:{line}: catalogue row has no work_id; every row needs one")
        work = WorkSource(
            work_id=work_id,
            title=row.get("title", ""),
            authors=_split_list(row.get("authors", row.get("author", ""))),
            isbns=[_normalise_isbn(i) for i in _split_list(row.get("isbn", row.get("isbns", "")))],
            rights_holder=row.get("rights_holder", ""),
            license=row.get("license", ""),
            source=row.get("source", ""),
            md5=row.get("md5", "").lower(),
            sha256=row.get("sha256", "").lower(),
            path=row.get("path", ""),
        )
        if work.path:
            text_path = (path.parent / work.path).resolve()
            if not text_path.is_file():
                raise UsageError(f"{path}:{line}: text file {work.path!r} of work {work_id!r} not found")
            work.text, work.encoding = read_text_file(text_path)
            data = text_path.read_bytes()
            work.md5 = work.md5 or hashlib.md5(data).hexdigest()
            work.sha256 = work.sha256 or hashlib.sha256(data).hexdigest()
        works.append(work)
    return works


def gather_sources(sources: Sequence[Path], catalogues: Sequence[Path] = ()) -> list[WorkSource]:
    """Collect works from catalogues and folders or files of texts, sorted by work id.

    A text file that no catalogue row names becomes a work whose id is its path relative to the
    folder given, without suffix.
    """
    works: dict[str, WorkSource] = {}
    claimed: set[Path] = set()
    text_files: list[tuple[Path, Path]] = []
    catalogue_files = list(catalogues)
    for source in sources:
        if not source.exists():
            raise UsageError(f"registry source {source} does not exist")
        if source.is_file():
            if source.suffix.lower() in CATALOGUE_SUFFIXES:
                catalogue_files.append(source)
            elif source.suffix.lower() in TEXT_SUFFIXES:
                text_files.append((source.parent, source))
            else:
                raise UsageError(f"registry source {source}: unsupported file type {source.suffix!r}")
            continue
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            suffix = path.suffix.lower()
            if suffix in CATALOGUE_SUFFIXES:
                catalogue_files.append(path)
            elif suffix in TEXT_SUFFIXES and path.name.lower() != "readme.md":
                text_files.append((source, path))
    for catalogue in catalogue_files:
        for work in read_catalogue(catalogue):
            if work.work_id in works:
                raise UsageError(f"work id {work.work_id!r} appears twice (catalogue {catalogue})")
            works[work.work_id] = work
            if work.path:
                claimed.add((catalogue.parent / work.path).resolve())
    for root, path in text_files:
        if path.resolve() in claimed:
            continue
        work_id = path.relative_to(root).with_suffix("").as_posix()
        if work_id in works:
            raise UsageError(f"work id {work_id!r} appears twice ({path})")
        text, encoding = read_text_file(path)
        data = path.read_bytes()
        works[work_id] = WorkSource(
            work_id=work_id,
            title=path.stem,
            path=path.as_posix(),
            text=text,
            encoding=encoding,
            md5=hashlib.md5(data).hexdigest(),
            sha256=hashlib.sha256(data).hexdigest(),
        )
    return [works[k] for k in sorted(works)]


def _sha256_file(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _boilerplate_threshold(config: FingerprintConfig, works_with_text: int) -> int:
    return max(config.boilerplate_min_works, int(np.ceil(config.boilerplate_min_share * works_with_text)))


def build_registry(
    sources: Sequence[Path],
    out: Path,
    *,
    name: str | None = None,
    catalogues: Sequence[Path] = (),
    config: FingerprintConfig | None = None,
    fingerprints_only: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Build a registry folder from work texts and catalogues; returns its manifest.

    Args:
        sources: folders or files of texts and catalogue CSVs.
        out: the registry folder to write; replaced atomically if it exists and is a registry.
        name: the registry's name (default: the folder's name).
        catalogues: catalogue files given explicitly.
        config: fingerprint settings (default settings if None).
        fingerprints_only: keep signatures, offsets, hashes and metadata but no work text.
        progress: called with (works done, works in all).
    """
    config = config or FingerprintConfig()
    works = gather_sources(sources, catalogues)
    if not works:
        raise UsageError(
            "no works found in the registry sources: give folders of .txt/.md files or a catalogue"
        )
    fingerprinter = Fingerprinter(config)
    per_work: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    text_hashes: list[str] = []
    for done, work in enumerate(works, start=1):
        if work.text:
            toks = tokenize(work.text)
            shing = shingles(toks.hashes, config.shingle_size)
            text_hashes.append(text_hash(toks.hashes) if len(shing) else "")
            per_work.append((toks.starts, toks.ends, shing))
        else:
            empty = np.empty(0, dtype=np.int64)
            per_work.append((empty, empty, np.empty(0, dtype=np.uint64)))
            text_hashes.append("")
        if progress:
            progress(done, len(works))

    # Boilerplate: shingles present in many works carry no evidence of copying any one of them.
    with_text = [s for _, _, s in per_work if len(s)]
    distinct = {h: s for h, (_, _, s) in zip(text_hashes, per_work, strict=True) if len(s)}
    threshold = _boilerplate_threshold(config, len(distinct))
    if distinct:
        uniq, counts = np.unique(
            np.concatenate([np.unique(s) for s in distinct.values()]), return_counts=True
        )
        boilerplate = uniq[counts >= threshold]
    else:
        boilerplate = np.empty(0, dtype=np.uint64)

    token_cols: dict[str, list[np.ndarray]] = {"work": [], "start": [], "end": [], "shingle": []}
    passage_work: list[np.ndarray] = []
    passage_start: list[np.ndarray] = []
    passage_sigs: list[np.ndarray] = []
    band_keys: list[np.ndarray] = []
    n_passages = 0
    for idx, (starts, ends, shing) in enumerate(per_work):
        n_tok = len(starts)
        masked = shing.copy()
        if len(boilerplate) and len(masked):
            masked[np.isin(masked, boilerplate)] = MASKED
            masked = mask_template_fills(masked, config.boilerplate_fill)
        full = np.zeros(n_tok, dtype=np.uint64)
        full[: len(masked)] = masked
        token_cols["work"].append(np.full(n_tok, idx, dtype=np.uint32))
        token_cols["start"].append(starts.astype(np.uint32))
        token_cols["end"].append(ends.astype(np.uint32))
        token_cols["shingle"].append(full)
        sigs, wstarts = fingerprinter.window_signatures(masked)
        if len(sigs):
            passage_work.append(np.full(len(sigs), idx, dtype=np.uint32))
            passage_start.append(wstarts.astype(np.int32))
            passage_sigs.append(sigs)
            band_keys.append(fingerprinter.band_keys(sigs))
            n_passages += len(sigs)

    def cat(arrays: list[np.ndarray], dtype: Any) -> np.ndarray:
        return np.concatenate(arrays) if arrays else np.empty(0, dtype=dtype)

    sig_matrix = (
        np.concatenate(passage_sigs) if passage_sigs else np.empty((0, config.num_perm), dtype=np.uint64)
    )
    keys = cat([k.reshape(-1) for k in band_keys], np.uint64)
    passage_of_key = np.repeat(np.arange(n_passages, dtype=np.uint32), config.bands)
    order = np.argsort(keys, kind="stable")

    out = Path(out)
    if out.exists() and not (out / "manifest.json").is_file():
        raise UsageError(f"{out} exists and is not a registry; choose a new folder for -o")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        _write_tables(
            tmp,
            works=works,
            text_hashes=text_hashes,
            per_work_tokens=[len(s) for s, _, _ in per_work],
            fingerprints_only=fingerprints_only,
            token_cols={k: cat(v, np.uint64 if k == "shingle" else np.uint32) for k, v in token_cols.items()},
            passages=(cat(passage_work, np.uint32), cat(passage_start, np.int32), sig_matrix),
            bands=(keys[order], passage_of_key[order]),
            boilerplate=boilerplate,
        )
        files = {name_: _sha256_file(tmp / name_) for name_ in _DATA_FILES}
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": name or out.name,
            "snapshot": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tool_version": __version__,
            "fingerprints_only": fingerprints_only,
            "config": config.to_dict(),
            "config_id": config.config_id,
            "counts": {
                "works": len(works),
                "works_with_text": len(with_text),
                "tokens": int(sum(len(s) for s, _, _ in per_work)),
                "passages": n_passages,
                "boilerplate_shingles": len(boilerplate),
                "boilerplate_threshold": threshold,
                "isbns": sum(len(w.isbns) for w in works),
            },
            "files": files,
            "digest": _digest(files),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _digest(files: dict[str, str]) -> str:
    canonical = json.dumps(files, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def _write_tables(
    folder: Path,
    *,
    works: list[WorkSource],
    text_hashes: list[str],
    per_work_tokens: list[int],
    fingerprints_only: bool,
    token_cols: dict[str, np.ndarray],
    passages: tuple[np.ndarray, np.ndarray, np.ndarray],
    bands: tuple[np.ndarray, np.ndarray],
    boilerplate: np.ndarray,
) -> None:
    works_table = pa.table(
        {
            "work_id": [w.work_id for w in works],
            "title": [w.title for w in works],
            "authors": [w.authors for w in works],
            "isbns": [w.isbns for w in works],
            "rights_holder": [w.rights_holder for w in works],
            "license": [w.license for w in works],
            "source": [w.source for w in works],
            "md5": [w.md5 for w in works],
            "sha256": [w.sha256 for w in works],
            "path": [w.path for w in works],
            "encoding": [w.encoding for w in works],
            "tokens": pa.array(per_work_tokens, type=pa.int64()),
            "chars": pa.array([len(w.text) if w.text else 0 for w in works], type=pa.int64()),
            "has_text": [bool(w.text) for w in works],
            "text_hash": text_hashes,
        }
    )
    pq.write_table(works_table, folder / "works.parquet")
    texts = pa.table(
        {"text": pa.array([None if fingerprints_only else w.text for w in works], type=pa.large_string())}
    )
    with pa.OSFile(str(folder / "texts.arrow"), "wb") as sink, pa.ipc.new_file(sink, texts.schema) as writer:
        writer.write_table(texts)
    pq.write_table(pa.table(token_cols), folder / "tokens.parquet", row_group_size=1 << 20)
    pw, ps, sigs = passages
    sig_col = pa.FixedSizeListArray.from_arrays(pa.array(sigs.reshape(-1), type=pa.uint64()), sigs.shape[1])
    pq.write_table(pa.table({"work": pw, "start": ps, "signature": sig_col}), folder / "passages.parquet")
    pq.write_table(pa.table({"key": bands[0], "passage": bands[1]}), folder / "bands.parquet")
    pq.write_table(pa.table({"shingle": boilerplate}), folder / "boilerplate.parquet")
    isbn_rows = [(isbn, i) for i, w in enumerate(works) for isbn in w.isbns]
    pq.write_table(
        pa.table(
            {
                "isbn": pa.array([r[0] for r in isbn_rows], type=pa.string()),
                "work": pa.array([r[1] for r in isbn_rows], type=pa.uint32()),
            }
        ),
        folder / "isbns.parquet",
    )
    hash_rows = [
        (kind, digest, i)
        for i, w in enumerate(works)
        for kind, digest in (("md5", w.md5), ("sha256", w.sha256), ("text", text_hashes[i]))
        if digest
    ]
    pq.write_table(
        pa.table(
            {
                "kind": pa.array([r[0] for r in hash_rows], type=pa.string()),
                "digest": pa.array([r[1] for r in hash_rows], type=pa.string()),
                "work": pa.array([r[2] for r in hash_rows], type=pa.uint32()),
            }
        ),
        folder / "hashes.parquet",
    )


def read_manifest(path: Path) -> dict[str, Any]:
    """Read and check a registry's manifest; raises RegistryError saying what is wrong."""
    path = Path(path)
    manifest_path = path / "manifest.json"
    if path.is_file() and path.suffix in (".pkl", ".pickle"):
        raise RegistryError(f"{path} is a pickle; registries are folders built by `auditor registry build`")
    if not manifest_path.is_file():
        raise RegistryError(
            f"{path} is not a registry (no manifest.json); build one with `auditor registry build`"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RegistryError(f"{manifest_path} is unreadable: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise RegistryError(f"{manifest_path} is not an auditor registry manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise RegistryError(
            f"{path}: registry format {manifest.get('format_version')!r} is not supported by this "
            f"scanner (format {FORMAT_VERSION}); rebuild it with this version of auditor"
        )
    return manifest


def verify_files(path: Path, manifest: dict[str, Any]) -> None:
    """Check every data file against the digests in the manifest (tampering, truncation)."""
    files = manifest.get("files", {})
    if _digest(files) != manifest.get("digest"):
        raise RegistryError(f"{path}: manifest digest does not match its file list; the registry was altered")
    for name_, expected in sorted(files.items()):
        file_path = Path(path) / name_
        if not file_path.is_file():
            raise RegistryError(f"{path}: {name_} is missing; the registry is incomplete")
        actual = _sha256_file(file_path)
        if actual != expected:
            raise RegistryError(
                f"{path}: {name_} has sha256 {actual[:12]}…, the manifest says {expected[:12]}…; "
                "the registry is corrupt or was altered — rebuild it"
            )


class WorkRegistry:
    """An opened registry, ready for matching: arrays in memory, work texts read on demand."""

    def __init__(self, path: Path, *, verify: bool = True) -> None:
        self.path = Path(path)
        self.manifest = read_manifest(self.path)
        if verify:
            verify_files(self.path, self.manifest)
        try:
            self.config = FingerprintConfig.from_dict(self.manifest["config"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RegistryError(f"{self.path}: fingerprint config in manifest is invalid: {exc}") from exc
        self.name: str = self.manifest.get("name") or self.path.name
        try:
            self._load()
        except (OSError, pa.ArrowException, KeyError) as exc:
            raise RegistryError(f"{self.path}: cannot read registry tables: {exc}") from exc

    def _load(self) -> None:
        works = pq.read_table(
            self.path / "works.parquet",
            columns=[
                "work_id",
                "title",
                "isbns",
                "tokens",
                "chars",
                "has_text",
                "text_hash",
                "md5",
                "sha256",
                "authors",
                "rights_holder",
                "license",
                "source",
            ],
        ).to_pylist()
        self.works_meta: list[dict[str, Any]] = works
        self.refs = [
            WorkRef(
                id=w["work_id"], title=w["title"] or w["work_id"], registry=self.name, isbns=tuple(w["isbns"])
            )
            for w in works
        ]
        self._index = {ref.id: i for i, ref in enumerate(self.refs)}
        tokens = pq.read_table(self.path / "tokens.parquet")
        self.tok_work = tokens["work"].to_numpy()
        self.tok_start = tokens["start"].to_numpy().astype(np.int64)
        self.tok_end = tokens["end"].to_numpy().astype(np.int64)
        self.tok_shingle = tokens["shingle"].to_numpy()
        counts = (
            np.bincount(self.tok_work, minlength=len(works))
            if len(self.tok_work)
            else np.zeros(len(works), dtype=np.int64)
        )
        self.work_offset = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        passages = pq.read_table(self.path / "passages.parquet", columns=["work", "start"])
        self.passage_work = passages["work"].to_numpy()
        self.passage_start = passages["start"].to_numpy().astype(np.int64)
        bands = pq.read_table(self.path / "bands.parquet")
        self.band_key = bands["key"].to_numpy()
        self.band_passage = bands["passage"].to_numpy()
        self.boilerplate = pq.read_table(self.path / "boilerplate.parquet")["shingle"].to_numpy()
        isbns = pq.read_table(self.path / "isbns.parquet").to_pylist()
        self.isbn_work = {row["isbn"]: int(row["work"]) for row in isbns}
        hashes = pq.read_table(self.path / "hashes.parquet").to_pylist()
        self.hash_work = {(row["kind"], row["digest"]): int(row["work"]) for row in hashes}
        self._texts: pa.ChunkedArray | None = None

    @property
    def info(self) -> RegistryInfo:
        return RegistryInfo(
            name=self.name,
            digest=self.manifest["digest"],
            works=len(self.refs),
            config_id=self.manifest["config_id"],
        )

    @property
    def fingerprints_only(self) -> bool:
        return bool(self.manifest.get("fingerprints_only"))

    def index_of(self, work_id: str) -> int:
        return self._index[work_id]

    def work_chars(self, work: int) -> int:
        return int(self.works_meta[work]["chars"])

    def work_tokens(self, work: int) -> int:
        return int(self.work_offset[work + 1] - self.work_offset[work])

    def work_text(self, work: int) -> str | None:
        """The work's text as read at build time, or None for fingerprint-only registries."""
        if self.fingerprints_only:
            return None
        if self._texts is None:
            # Memory-mapped: only the pages of the texts actually used are read.
            source = pa.memory_map(str(self.path / "texts.arrow"), "r")
            self._texts = pa.ipc.open_file(source).read_all()["text"]
        value = self._texts[work].as_py()
        return value if isinstance(value, str) else None

    def work_for_isbn(self, isbn13: str) -> WorkRef | None:
        idx = self.isbn_work.get(isbn13)
        return self.refs[idx] if idx is not None else None

    def work_for_hash(self, kind: str, digest: str) -> int | None:
        return self.hash_work.get((kind, digest))


def open_registries(paths: Iterable[Path], *, verify: bool = True) -> list[WorkRegistry]:
    """Open registries and check they share one fingerprint config (a scan hashes records once)."""
    registries = [WorkRegistry(Path(p), verify=verify) for p in paths]
    names = [r.name for r in registries]
    if len(set(names)) != len(names):
        raise RegistryError(
            f"two registries share a name ({', '.join(sorted(names))}); rebuild one with --name"
        )
    if registries:
        first = registries[0]
        for other in registries[1:]:
            diff = first.config.differences(other.config)
            if diff:
                raise RegistryError(
                    f"registries {first.name} and {other.name} were built with different fingerprint "
                    f"settings ({'; '.join(diff)}); rebuild one with the other's settings"
                )
    return registries
