"""Scaling benchmark: registry build, index size and scan speed on 1%, 2%, 5% and 10% samples of a book pool.

The measurements behind docs/scaling.md (issue #9). The pool is 2 GB of book text; its samples are
registries of 20, 40, 100 and 200 MB, each a prefix of the next, cut from the 200 MB of registry
sources speed.py builds (Project Gutenberg books from ../shared/bench-data, read at run time and
skipped cleanly when absent, plus books made by auditor.synth; cached under benchmarks/work/).

Books are taken in one fixed order: first the books speed.py's corpus generator plants passages from
(so every sample holds every planted work and all samples find the same copies), then the others,
Gutenberg and generated books interleaved so each prefix has the same mix. For each sample, in ONE
run, it measures:

* ``auditor registry build`` (a subprocess; all cores in its tokenising step): seconds, CPU seconds
  of the process tree, MB/s, peak PSS of the process tree;
* the registry's size on disk, file by file, per MB of book text and per work; works, passages,
  band rows;
* ``auditor scan --workers 1`` of one fixed corpus (JSONL web records with planted copies, made by
  speed.py's ``build_corpus`` against the 200 MB sources) and of a 10-record slice of it (the fixed
  start-up cost: imports, opening and checksumming the registry, reports): MB/s, records/s, CPU
  seconds, peak PSS, findings;
* the join's fan-out, in this process on a slice of the corpus: band-index hits and candidate
  (record, work) pairs per MB of corpus, the rows a distributed join of corpus band keys against
  the index would produce;

then, for every quantity, its ratio to the 1% sample and the exponent of a least-squares fit of
log(quantity) on log(registry MB) (1.0 = linear), extrapolated to 2 TB of book text (4 million
books); times and memory also as fixed + per-MB-of-registry lines. Writes a Markdown report
(``--out``), the raw numbers beside it (``.json``) and a log-log chart of the growth (``--svg``).

    python benchmarks/scaling.py [--scale 0.05] [--corpus-mb 50] [--out benchmarks/results/scaling.md]
    python benchmarks/scaling.py --from-json benchmarks/results/scaling.json   # re-render, no measuring

``--scale`` shrinks the pool and the corpus (a smoke run, not a result). About 6 minutes at full size
on 2 cores; the registries (~4 GB) stay under benchmarks/work/scaling-<scale>/.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed import (
    BENCH,
    MB,
    ROOT,
    WORK,
    build_corpus,
    build_registry_sources,
    machine,
    run,
)

from auditor.keyindex import KeyIndex, bucket_bits
from auditor.match import Matcher
from auditor.normalize import tokenize
from auditor.registry import WorkRegistry

POOL_MB = 2000
PERCENTS = (1, 2, 5, 10)
TARGET_MB = 2_000_000
"""2 TB of book text: issue #9's registry of 4 million books."""
TARGET_BOOKS = 4_000_000
STARTUP_RECORDS = 10
INDEX_FILES = (
    "bands.arrow",
    "buckets.arrow",
    "passages.parquet",
    "tokens.arrow",
    "texts.arrow",
    "works.parquet",
)
PASSAGE_ID_LIMIT = 2**32
"""Passage ids are uint32 in bands.arrow and passages.parquet: the most passages one registry holds."""


# -- the samples ------------------------------------------------------------------------------------


def planted_sources(books: list[Path]) -> list[Path]:
    """The books speed.py's ``build_corpus`` plants passages from: every (n // 40)-th of the sorted sources.

    Mirrors the selection in ``build_corpus``; the report checks that every work the scans find is
    one of these, so a change there shows up as a failed check rather than a silent skew.
    """
    return books[:: max(1, len(books) // 40)]


def sample_order(src: Path) -> list[Path]:
    """Every book of the source folder in sample order: planted sources first, then the rest with
    Gutenberg and generated books interleaved in proportion (each prefix has the pool's mix)."""
    books = sorted(src.glob("*.txt"))
    planted = planted_sources(books)
    chosen = set(planted)
    rest = [b for b in books if b not in chosen]
    gutenberg = [b for b in rest if not b.name.startswith("synth-")]
    synth = [b for b in rest if b.name.startswith("synth-")]

    def place(group: list[Path]) -> list[tuple[float, str, Path]]:
        return [((i + 0.5) / len(group), b.name, b) for i, b in enumerate(group)]

    return planted + [b for _, _, b in sorted(place(gutenberg) + place(synth))]


def take_prefix(order: list[Path], target_mb: float) -> list[Path]:
    """The shortest prefix of the order holding at least target_mb of text (whole books)."""
    total = 0
    for n, book in enumerate(order, start=1):
        total += book.stat().st_size
        if total >= target_mb * MB:
            return order[:n]
    return order


def materialise(books: list[Path], folder: Path) -> Path:
    """A folder holding exactly these books, as hard links to the cached sources (copies if it must)."""
    if folder.is_dir() and sorted(p.name for p in folder.iterdir()) == sorted(b.name for b in books):
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for book in books:
        try:
            os.link(book, folder / book.name)
        except OSError:
            shutil.copyfile(book, folder / book.name)
    return folder


def corpus_head(corpus: Path, out: Path, records: int) -> Path:
    """The first records of a JSONL corpus, for measuring a scan's fixed start-up cost."""
    with corpus.open(encoding="utf-8") as src, out.open("w", encoding="utf-8") as dst:
        for _, line in zip(range(records), src, strict=False):
            dst.write(line)
    return out


# -- measuring ----------------------------------------------------------------------------------------


def measure(cmd: list[str]) -> dict[str, Any]:
    """speed.py's ``run`` (wall seconds, peak PSS of the process tree) plus the tree's CPU seconds.

    The CPU time is that of the waited-for child and its waited-for descendants (the build's and the
    scan's worker pools are forked and reaped by the child), taken from ``RUSAGE_CHILDREN``.
    """
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = run(cmd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "seconds": result["seconds"],
        "cpu_seconds": cpu,
        "peak_pss_mb": result["peak_rss_mb"],
        "load_before": load,
    }


def arrow_rows(path: Path) -> int:
    with pa.memory_map(str(path)) as source:
        reader = pa.ipc.open_file(source)
        return sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))


def index_sizes(registry: Path) -> dict[str, int]:
    """Bytes on disk of each registry file named in INDEX_FILES, and of all the others as ``rest``."""
    sizes = {name: (registry / name).stat().st_size for name in INDEX_FILES}
    sizes["rest"] = sum(p.stat().st_size for p in registry.iterdir() if p.is_file() and p.name not in sizes)
    return sizes


def scan_outcome(report: Path) -> dict[str, Any]:
    data = json.loads(report.read_text(encoding="utf-8"))
    findings = data["findings"]
    return {
        "records": int(data["summary"]["records_scanned"]),
        "findings": len(findings),
        "works_found": len({f["work"]["id"] for f in findings if f.get("work")}),
        "found_ids": sorted({f["work"]["id"] for f in findings if f.get("work")}),
        "flagged_ids": {f["record"]["id"] for f in findings},
    }


def fan_out(
    registry: Path, records: list[tuple[str, str]], corpus_mb: float, flagged: set[str]
) -> dict[str, float]:
    """Band-index hits and candidate (record, work) pairs of a corpus slice against one registry.

    Hits are the rows a join of the records' band keys with the index yields; each candidate pair is
    one verification a scan performs. Both are split between the records the scan has findings on
    (mostly hits of the copied work: they depend on what the corpus copies) and the rest (every hit
    there is chance: shared phrasing the registry does not mask, which grows with the registry).
    Measured in this process with the scan's own sketching and look-up code.

    Args:
        records: (record id, text) of the slice.
        flagged: ids of the records the scan of this registry has findings on.
    """
    t0 = time.perf_counter()
    reg = WorkRegistry(registry)
    matcher = Matcher(reg)
    index = KeyIndex(reg.band_key, reg.band_buckets)
    n_works = len(reg.refs)
    counts = dict.fromkeys(("windows", "hits_flagged", "hits_clean", "pairs_flagged", "pairs_clean"), 0)
    with_candidates = 0
    batch = 256
    for i in range(0, len(records), batch):
        chunk = records[i : i + batch]
        is_flagged = np.array([rid in flagged for rid, _ in chunk], dtype=bool)
        sketch = matcher.sketch([tokenize(text) for _, text in chunk])
        keys = sketch.keys
        counts["windows"] += len(keys)
        query, lo, count = index.ranges(keys.reshape(-1))
        if not len(query):
            continue
        hit_record = np.repeat(sketch.window_record[query // keys.shape[1]].astype(np.int64), count)
        rows = np.repeat(lo, count) + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
        hit_work = reg.passage_work[reg.band_passage[rows]].astype(np.int64)
        per_record = np.bincount(hit_record, minlength=len(chunk))
        counts["hits_flagged"] += int(per_record[is_flagged].sum())
        counts["hits_clean"] += int(per_record[~is_flagged].sum())
        pair_record = np.unique(hit_record * n_works + hit_work) // n_works
        pairs = np.bincount(pair_record, minlength=len(chunk))
        counts["pairs_flagged"] += int(pairs[is_flagged].sum())
        counts["pairs_clean"] += int(pairs[~is_flagged].sum())
        with_candidates += int((pairs > 0).sum())
    n_flagged = sum(1 for rid, _ in records if rid in flagged)
    return {
        "corpus_mb": corpus_mb,
        "records": len(records),
        "records_flagged": n_flagged,
        **counts,
        "band_keys": counts["windows"] * reg.config.bands,
        "band_hits": counts["hits_flagged"] + counts["hits_clean"],
        "candidate_pairs": counts["pairs_flagged"] + counts["pairs_clean"],
        "records_with_candidates": with_candidates,
        "seconds": time.perf_counter() - t0,
    }


def corpus_records(corpus: Path, mb: float) -> tuple[list[tuple[str, str]], float]:
    """(id, text) of the corpus's first records, up to mb of JSONL, and the MB read."""
    records: list[tuple[str, str]] = []
    size = 0
    with corpus.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            records.append((record["id"], record["text"]))
            size += len(line.encode())
            if size >= mb * MB:
                break
    return records, size / MB


# -- the growth curve ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Quantity:
    """One measured quantity of a sample, fitted against registry size.

    Attributes:
        key: its name in scaling.json's ``fits``.
        label: its name in the tables.
        unit: how its values are shown (``bytes``, ``MB``, ``s``, ``MB/s``, ``count``).
        get: its value in one sample's record.
        extensive: whether it should grow with the registry (the linear null hypothesis, exponent 1)
            rather than stay constant (exponent 0).
        affine: also fit it as fixed + per-MB-of-registry (times and memory: a fixed start-up or
            resident set plus what the index adds).
        capped: its growth is bounded by the format, so a fit does not extrapolate.
    """

    key: str
    label: str
    unit: str
    get: Callable[[dict[str, Any]], float]
    extensive: bool
    affine: bool = False
    capped: bool = False


def _per_core(s: dict[str, Any], step: str) -> float:
    """MB per CPU-second of a step: registry MB for the build, corpus MB for a scan."""
    mb = s["text_mb"] if step == "build" else s["corpus_mb"]
    return float(mb / s[step]["cpu_seconds"])


def _marginal_scan_rate(s: dict[str, Any]) -> float:
    """Corpus MB per second of a scan less the start-up scan's seconds (nan when not positive: noise)."""
    seconds = s["scan"]["seconds"] - s["startup"]["seconds"]
    return float(s["corpus_mb"] / seconds) if seconds > 0 else math.nan


def _file_bytes(name: str) -> Callable[[dict[str, Any]], float]:
    return lambda s: float(s["index_bytes"][name])


def _fanout(field: str) -> Callable[[dict[str, Any]], float]:
    return lambda s: float(s["fanout"][field] / s["fanout"]["corpus_mb"])


QUANTITIES: tuple[Quantity, ...] = (
    Quantity("works", "works", "count", lambda s: s["works"], True),
    Quantity("passages", "passages", "count", lambda s: s["passages"], True),
    Quantity("band_rows", "band rows", "count", lambda s: s["band_rows"], True),
    Quantity(
        "index_bytes", "index on disk, all files", "bytes", lambda s: sum(s["index_bytes"].values()), True
    ),
    *(
        Quantity(
            f"bytes_{name}", f"… {name}", "bytes", _file_bytes(name), True, capped=name == "buckets.arrow"
        )
        for name in (*INDEX_FILES, "rest")
    ),
    Quantity(
        "index_bytes_per_mb",
        "index bytes per MB of book text",
        "bytes",
        lambda s: sum(s["index_bytes"].values()) / s["text_mb"],
        False,
    ),
    Quantity("build_seconds", "build: seconds", "s", lambda s: s["build"]["seconds"], True, affine=True),
    Quantity("build_cpu", "build: CPU seconds", "s", lambda s: s["build"]["cpu_seconds"], True, affine=True),
    Quantity("build_mb_s", "build: MB/s", "MB/s", lambda s: s["text_mb"] / s["build"]["seconds"], False),
    Quantity("build_mb_cpu_s", "build: MB per CPU-second", "MB/s", lambda s: _per_core(s, "build"), False),
    Quantity("build_pss", "build: peak PSS", "MB", lambda s: s["build"]["peak_pss_mb"], True, affine=True),
    Quantity("scan_seconds", "scan: seconds", "s", lambda s: s["scan"]["seconds"], False, affine=True),
    Quantity("scan_cpu", "scan: CPU seconds", "s", lambda s: s["scan"]["cpu_seconds"], False, affine=True),
    Quantity(
        "scan_mb_s", "scan: MB/s (1 worker)", "MB/s", lambda s: s["corpus_mb"] / s["scan"]["seconds"], False
    ),
    Quantity(
        "scan_mb_s_marginal",
        "scan: MB/s less start-up",
        "MB/s",
        _marginal_scan_rate,
        False,
    ),
    Quantity("scan_mb_cpu_s", "scan: MB per CPU-second", "MB/s", lambda s: _per_core(s, "scan"), False),
    Quantity(
        "scan_records_s",
        "scan: records/s",
        "count",
        lambda s: s["scan"]["records"] / s["scan"]["seconds"],
        False,
    ),
    Quantity("scan_pss", "scan: peak PSS", "MB", lambda s: s["scan"]["peak_pss_mb"], False, affine=True),
    Quantity(
        "startup_seconds", "start-up: seconds", "s", lambda s: s["startup"]["seconds"], False, affine=True
    ),
    Quantity(
        "startup_pss", "start-up: peak PSS", "MB", lambda s: s["startup"]["peak_pss_mb"], False, affine=True
    ),
    Quantity("findings", "scan: findings", "count", lambda s: s["scan"]["findings"], False),
    Quantity(
        "hits_clean",
        "join: band hits / corpus MB, records without findings",
        "count",
        _fanout("hits_clean"),
        True,
    ),
    Quantity(
        "hits_flagged",
        "join: band hits / corpus MB, records with findings",
        "count",
        _fanout("hits_flagged"),
        False,
    ),
    Quantity("pairs", "join: candidate pairs / corpus MB", "count", _fanout("candidate_pairs"), True),
    Quantity("pairs_clean", "… on records without findings", "count", _fanout("pairs_clean"), True),
    Quantity("pairs_flagged", "… on records with findings", "count", _fanout("pairs_flagged"), True),
)


def fit(xs: list[float], ys: list[float]) -> dict[str, float]:
    """Least-squares line of log(y) on log(x): exponent, its standard error and the intercept."""
    lx, ly = np.log(np.asarray(xs, dtype=float)), np.log(np.asarray(ys, dtype=float))
    slope, intercept = np.polyfit(lx, ly, 1)
    residuals = ly - (slope * lx + intercept)
    spread = float(((lx - lx.mean()) ** 2).sum())
    se = math.sqrt(float((residuals**2).sum()) / (len(xs) - 2) / spread) if len(xs) > 2 and spread else 0.0
    return {"exponent": float(slope), "se": se, "intercept": float(intercept), "log_x_mean": float(lx.mean())}


def affine_fit(xs: list[float], ys: list[float]) -> dict[str, float]:
    """Least-squares line y = fixed + per_mb·x, and its value at TARGET_MB."""
    per_mb, fixed = np.polyfit(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float), 1)
    return {"fixed": float(fixed), "per_mb": float(per_mb), "at_target": float(fixed + per_mb * TARGET_MB)}


def growth(samples: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """For every quantity: values, ratios to the first sample, the fits and the values at TARGET_MB."""
    xs = [s["text_mb"] for s in samples]
    out: dict[str, dict[str, Any]] = {}
    for q in QUANTITIES:
        ys = [float(q.get(s)) for s in samples]
        entry: dict[str, Any] = {"label": q.label, "unit": q.unit, "extensive": q.extensive, "values": ys}
        entry["ratios"] = [y / ys[0] if ys[0] else math.nan for y in ys]
        entry["capped"] = q.capped
        if all(y > 0 for y in ys):  # False for nan too
            f = fit(xs, ys)
            at = math.exp(f["intercept"]) * TARGET_MB ** f["exponent"]
            # ±1 standard error of the exponent, carried from the centre of the samples to TARGET_MB
            spread = math.exp(f["se"] * (math.log(TARGET_MB) - f["log_x_mean"]))
            null = 1.0 if q.extensive else 0.0
            entry |= {
                **f,
                "at_target": at,
                "at_target_low": at / spread,
                "at_target_high": at * spread,
                "at_target_null": ys[-1] * (TARGET_MB / xs[-1]) ** null,
                # the slope between the two largest samples: where the curve is heading
                "exponent_last": math.log(ys[-1] / ys[-2]) / math.log(xs[-1] / xs[-2]),
            }
        if q.affine:
            entry["affine"] = affine_fit(xs, ys)
        out[q.key] = entry
    return out


# -- rendering ------------------------------------------------------------------------------------------


def human(value: float, unit: str) -> str:
    """A value for a table: bytes and MB in B/kB/MB/GB/TB/PB, seconds up to days, big counts in words."""
    if math.isnan(value):
        return "-"
    if unit == "MB":
        return human(value * 1e6, "bytes")
    if unit == "bytes":
        for size, name in ((1e15, "PB"), (1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
            if abs(value) >= size:
                return f"{value / size:,.{1 if abs(value) / size < 100 else 0}f} {name}"
        return f"{value:,.0f} B"
    if unit == "s":
        if abs(value) >= 2 * 86400:
            return f"{value / 86400:,.0f} days"
        if abs(value) >= 7200:
            return f"{value / 3600:,.0f} h"
        return f"{value:,.1f} s"
    if unit == "MB/s":
        return f"{value:,.3g} MB/s" if abs(value) < 1000 else f"{value:,.0f} MB/s"
    for size, name in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if abs(value) >= size:
            return f"{value / size:,.3g} {name}"
    return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"


def render(samples: list[dict[str, Any]], curve: dict[str, dict[str, Any]], meta: dict[str, Any]) -> str:
    cores = meta["cores"]
    heads = " | ".join(f"{s['percent']:g}%" for s in samples)
    cols = "|".join("---:" for _ in samples)
    orders = math.log10(TARGET_MB / samples[-1]["text_mb"])

    def row(label: str, cells: list[str]) -> str:
        return f"| {label} | " + " | ".join(cells) + " |"

    lines = [
        "# Scaling benchmark: registry build, index size and scan on growing samples",
        "",
        f"Command: `{meta['command'].strip()}`"
        + (
            f" (tables rendered again from {meta['rendered_from']} by `--from-json`)"
            if "rendered_from" in meta
            else ""
        ),
        f"Machine: {meta['machine']}",
        f"Code: {meta['code']}",
        f"Run: {meta['started']}, {meta['minutes']:.1f} minutes in all; 1-minute load average before each "
        f"measured step {min(meta['loads']):.2f}-{max(meta['loads']):.2f} (the 2 cores are shared).",
        "",
        f"Data: samples of {meta['pool_mb']:,.0f} MB book pool: "
        + ", ".join(
            f"{s['percent']:g}% = {s['text_mb']:,.1f} MB ({s['books']} books, {s['gutenberg_books']} of "
            "them Gutenberg)"
            for s in samples
        )
        + f". Each is a prefix of the next. All {meta['planted_sources']} books the corpus plants passages "
        f"from come first, so every sample holding them all finds the same copies "
        f"({'yes' if meta['all_planted_in_every_sample'] else 'NO'} here). "
        f"Corpus: {meta['corpus_mb']:,.1f} MB of JSONL web records ({meta['corpus_records']:,} records, "
        f"5% with a planted book passage of 50-1,000 words), made by speed.py's build_corpus against the "
        f"{meta['sources_mb']:,.0f} MB sources; start-up scans read its first {STARTUP_RECORDS} records; "
        f"the join fan-out is measured on its first {samples[0]['fanout']['corpus_mb']:.1f} MB "
        f"({samples[0]['fanout']['records']:,} records).",
        "",
        "## Registry build (`auditor registry build`, a subprocess)",
        "",
        f"The build tokenises works in {cores} processes (one per core) and hashes files on threads; the "
        "rest is one process. MB/s per core is the wall-clock rate ÷ cores; MB per CPU-second counts every "
        "process and thread of the build.",
        "",
        f"| | {heads} |",
        f"|---|{cols}|",
        row("book text (MB)", [f"{s['text_mb']:,.1f}" for s in samples]),
        row("works", [f"{s['works']:,}" for s in samples]),
        row("passages", [f"{s['passages']:,}" for s in samples]),
        row("band rows", [f"{s['band_rows']:,}" for s in samples]),
        row(
            "boilerplate shingles masked",
            [
                f"{s['boilerplate_shingles']:,}"
                + (f" (in ≥ {s['boilerplate_threshold']} works)" if "boilerplate_threshold" in s else "")
                for s in samples
            ],
        ),
        row("seconds", [f"{s['build']['seconds']:,.1f}" for s in samples]),
        row("CPU seconds", [f"{s['build']['cpu_seconds']:,.1f}" for s in samples]),
        row("MB/s", [f"{s['text_mb'] / s['build']['seconds']:,.2f}" for s in samples]),
        row(
            f"MB/s per core (÷ {cores})",
            [f"{s['text_mb'] / s['build']['seconds'] / cores:,.2f}" for s in samples],
        ),
        row("MB per CPU-second", [f"{_per_core(s, 'build'):,.2f}" for s in samples]),
        row("peak PSS of the process tree (MB)", [f"{s['build']['peak_pss_mb']:,.0f}" for s in samples]),
        "",
        "## Index size on disk",
        "",
        f"| file | {heads} | bytes per MB of book text (10%) | bytes per work (10%) |",
        f"|---|{cols}|---:|---:|",
    ]
    last = samples[-1]
    for name in (*INDEX_FILES, "rest"):
        lines.append(
            row(
                name,
                [human(s["index_bytes"][name], "bytes") for s in samples]
                + [
                    f"{last['index_bytes'][name] / last['text_mb']:,.0f}",
                    f"{last['index_bytes'][name] / last['works']:,.0f}",
                ],
            )
        )
    total = [sum(s["index_bytes"].values()) for s in samples]
    lines += [
        row(
            "**all files**",
            [f"**{human(t, 'bytes')}**" for t in total]
            + [f"**{total[-1] / last['text_mb']:,.0f}**", f"**{total[-1] / last['works']:,.0f}**"],
        ),
        row(
            "all files ÷ book text",
            [f"{t / (s['text_mb'] * MB):.2f}x" for t, s in zip(total, samples, strict=True)] + ["", ""],
        ),
        "",
        "`rest` is boilerplate.parquet, hashes.parquet, isbns.parquet and manifest.json.",
        "",
        f"## Scan of {meta['corpus_mb']:,.1f} MB "
        "(`auditor scan --workers 1 --format json --fail-on never --quiet`)",
        "",
        f"| | {heads} |",
        f"|---|{cols}|",
        row("seconds", [f"{s['scan']['seconds']:,.1f}" for s in samples]),
        row("CPU seconds", [f"{s['scan']['cpu_seconds']:,.1f}" for s in samples]),
        row("MB/s (1 worker = 1 core)", [f"{s['corpus_mb'] / s['scan']['seconds']:,.2f}" for s in samples]),
        row("MB per CPU-second", [f"{_per_core(s, 'scan'):,.2f}" for s in samples]),
        row("records/s", [f"{s['scan']['records'] / s['scan']['seconds']:,.0f}" for s in samples]),
        row("start-up: seconds (10-record scan)", [f"{s['startup']['seconds']:,.1f}" for s in samples]),
        row(
            "MB/s less start-up",
            [f"{_marginal_scan_rate(s):,.2f}" for s in samples],
        ),
        row("peak PSS of the process tree (MB)", [f"{s['scan']['peak_pss_mb']:,.0f}" for s in samples]),
        row("start-up: peak PSS (MB)", [f"{s['startup']['peak_pss_mb']:,.0f}" for s in samples]),
        row("findings", [f"{s['scan']['findings']:,}" for s in samples]),
        row("works found", [f"{s['scan']['works_found']:,}" for s in samples]),
        "",
        f"## Join fan-out (in this process, first {last['fanout']['corpus_mb']:.1f} MB of the corpus)",
        "",
        "Band keys of the slice's passage windows looked up in each registry's band index (the join a "
        "distributed scan performs): hits are the rows it yields, candidate pairs the distinct (record, "
        "work) pairs a scan then verifies. Split between the records the scan of that registry has "
        "findings on (their hits are mostly the copied work's) and the rest (every hit there is chance: "
        "shared phrasing the registry does not mask as boilerplate). Findings ÷ corpus MB is the number "
        "of candidate pairs per MB that verify.",
        "",
        f"| | {heads} |",
        f"|---|{cols}|",
        row(
            "band keys per MB of corpus",
            [f"{s['fanout']['band_keys'] / s['fanout']['corpus_mb']:,.0f}" for s in samples],
        ),
        row(
            "records (flagged)",
            [f"{s['fanout']['records']:,} ({s['fanout']['records_flagged']:,})" for s in samples],
        ),
        row(
            "band hits per MB: records with findings", [f"{_fanout('hits_flagged')(s):,.0f}" for s in samples]
        ),
        row("band hits per MB: records without", [f"{_fanout('hits_clean')(s):,.0f}" for s in samples]),
        row("candidate pairs per MB", [f"{_fanout('candidate_pairs')(s):,.1f}" for s in samples]),
        row("… on records with findings", [f"{_fanout('pairs_flagged')(s):,.1f}" for s in samples]),
        row("… on records without", [f"{_fanout('pairs_clean')(s):,.1f}" for s in samples]),
        row(
            "findings per MB (pairs that verify)",
            [f"{s['scan']['findings'] / s['corpus_mb']:,.1f}" for s in samples],
        ),
        row(
            "records with a candidate",
            [f"{s['fanout']['records_with_candidates'] / s['fanout']['records']:.1%}" for s in samples],
        ),
        "",
        "## Growth curve",
        "",
        "Ratio of each quantity to the 1% sample; the exponent b of a least-squares fit "
        "log(quantity) = a + b·log(registry MB) over the four samples (± its standard error; 1.0 = linear, "
        f"0 = flat); and the fit carried to {TARGET_MB / 1e6:g} TB of book text (~{TARGET_BOOKS / 1e6:g} "
        f"million books). **The last three columns are extrapolations over {orders:.1f} orders of magnitude "
        f"(×{TARGET_MB / last['text_mb']:,.0f}) beyond the largest sample**: the range is the fit "
        'with the exponent ±1 standard error; the "null" column is the 10% sample carried with exponent 1 '
        "(sizes) or 0 (rates). b 5→10% is the slope between the two largest samples alone (where the "
        "curve is heading; noisier). Chart: docs/scaling-growth.svg.",
        "",
        f"| quantity | {heads} | exponent b | b 5→10% | at 2 TB (fit) | ±1 SE range | at 2 TB (null) |",
        f"|---|{cols}|---:|---:|---:|---:|---:|",
    ]
    for q in QUANTITIES:
        e = curve[q.key]
        ratios = ["-" if math.isnan(r) else f"{r:.2f}" for r in e["ratios"]]
        if "exponent" not in e:
            lines.append(row(q.label, [*ratios, "-", "-", "-", "-", "-"]))
        elif q.capped:
            lines.append(
                row(
                    q.label,
                    [
                        *ratios,
                        f"{e['exponent']:.2f} ± {e['se']:.2f}",
                        f"{e['exponent_last']:.2f}",
                        "capped †",
                        "",
                        "",
                    ],
                )
            )
        else:
            lines.append(
                row(
                    q.label,
                    [
                        *ratios,
                        f"{e['exponent']:.2f} ± {e['se']:.2f}",
                        f"{e['exponent_last']:.2f}",
                        human(e["at_target"], q.unit),
                        f"{human(e['at_target_low'], q.unit)} – {human(e['at_target_high'], q.unit)}",
                        human(e["at_target_null"], q.unit),
                    ],
                )
            )
    lines += [
        "",
        "† buckets.arrow holds at most 2^24 + 1 offsets by design (see below).",
        "",
        "Times and memory as a fixed part plus a part per MB of registry (least squares, y = fixed + "
        "per MB · registry MB); the fixed part is what a process pays whatever the registry (imports, "
        "interpreter, the corpus side of a scan), the slope what each MB of registry adds.",
        "",
        "| quantity | fixed | per GB of book text in the registry | at 2 TB (extrapolated) |",
        "|---|---:|---:|---:|",
    ]
    for q in QUANTITIES:
        if not q.affine:
            continue
        a = curve[q.key]["affine"]
        lines.append(
            row(
                q.label,
                [
                    human(a["fixed"], q.unit),
                    human(a["per_mb"] * 1000, q.unit),
                    human(a["at_target"], q.unit),
                ],
            )
        )
    lines += ["", "## What the measured rates imply at 2 TB (arithmetic, not a fit)", ""]
    lines += [f"- {item}" for item in implications(samples, curve, meta)]
    return "\n".join(lines)


def implications(
    samples: list[dict[str, Any]], curve: dict[str, dict[str, Any]], meta: dict[str, Any]
) -> list[str]:
    """Figures at TARGET_MB that follow from the largest sample's per-MB rates and the format's types."""
    last = samples[-1]
    scale = TARGET_MB / last["text_mb"]
    passages = last["passages"] * scale
    per_mb_passages = last["passages"] / last["text_mb"]
    band_rows = last["band_rows"] * scale
    bits = bucket_bits(int(band_rows))
    buckets = ((1 << bits) + 1) * (8 if band_rows >= 2**31 else 4)
    keys = band_rows * 8
    passage_cols = passages * 12  # passage work (uint32) + start (int64 in memory), read whole at open
    total = sum(last["index_bytes"].values())
    per_work = total / last["works"]
    linear_total = buckets + sum(
        size / last["text_mb"] * TARGET_MB
        for name, size in last["index_bytes"].items()
        if name != "buckets.arrow"
    )
    book_mb = last["text_mb"] / last["works"]
    build_cpu = curve["build_cpu"]["affine"]["per_mb"]
    build_pss = curve["build_pss"]["affine"]
    scan_pss = curve["scan_pss"]["affine"]
    startup = curve["startup_seconds"]["affine"]
    corpus_tb_mb = 10_000_000
    scan_fit = curve["scan_mb_cpu_s"]
    pairs = curve["pairs"]
    verified = last["scan"]["findings"] / last["corpus_mb"]
    # Scan CPU seconds against the corpus's candidate pairs (the slice's rate × corpus MB): the slope
    # is the CPU cost of one verification, the intercept the scan's cost without any.
    per_pair, no_pairs = np.polyfit(
        [_fanout("candidate_pairs")(s) * s["corpus_mb"] for s in samples],
        [s["scan"]["cpu_seconds"] for s in samples],
        1,
    )
    base_s_per_mb = no_pairs / last["corpus_mb"]

    def rate_with(pairs_per_mb: float) -> float:
        return float(1 / (base_s_per_mb + per_pair * pairs_per_mb))

    lines = [
        f"**Passages** ≈ {human(passages, 'count')} ({per_mb_passages:,.0f} per MB of book text): "
        f"{passages / PASSAGE_ID_LIMIT:,.1f}x the 2^32 passage ids one registry can number (uint32 in "
        f"bands.arrow and passages.parquet), so the 4M-book registry must be at least "
        f"{math.ceil(passages / PASSAGE_ID_LIMIT)} registries of at most "
        f"{human(PASSAGE_ID_LIMIT / per_mb_passages * MB, 'bytes')} of book text each.",
        f"**Band index**: {human(band_rows, 'count')} band rows. A scan touches the whole key column "
        f"({human(keys, 'bytes')}) and reads the passage work and start columns whole when it opens the "
        f"registry ({human(passage_cols, 'bytes')}): about {human(keys + passage_cols + buckets, 'bytes')} "
        f"of RAM must hold the hot part of the index across the cluster "
        f"({(keys + passage_cols) / (TARGET_MB * MB):.2f} bytes per byte of book text); "
        f"bands.arrow itself (keys and passage ids) is {human(band_rows * 12, 'bytes')}.",
        f"**buckets.arrow** is capped at 2^{bits} buckets by design: {human(buckets, 'bytes')} for any index "
        f"beyond ~2^25 band rows. At {human(band_rows, 'count')} rows a bucket would hold "
        f"~{band_rows / (1 << bits):,.0f} keys (2-4 at the intended load), so look-ups in one unpartitioned "
        "index would slow down; partitions of the index by key range each get their own table.",
        f"**Index on disk** ≈ {human(linear_total, 'bytes')}: every file at the 10% sample's bytes per MB "
        f"of book text, buckets.arrow by the format's rule ({total / (last['text_mb'] * MB):.1f} bytes "
        "per byte of book text in all); of it the scan needs bands.arrow, tokens.arrow and the passage "
        "work/start columns (texts.arrow only for evidence excerpts, none in a fingerprints-only registry; "
        "the signatures in passages.parquet only for `registry add`); by work count "
        f"({human(per_work, 'bytes')} per work of {book_mb:.2f} MB, scaled to 4 million books of 0.5 MB) "
        f"{human(per_work * TARGET_BOOKS * 0.5 / book_mb, 'bytes')}. The power-law fit gives "
        f"{human(curve['index_bytes']['at_target'], 'bytes')}.",
        f"**Registry build**: {build_cpu * 1000:,.0f} CPU-ms per MB of book text (slope of CPU seconds), "
        f"i.e. {build_cpu * TARGET_MB / 3600:,.0f} CPU-hours for 2 TB if the rate held; peak memory "
        f"{human(build_pss['per_mb'] * 1000, 'MB')} per GB of book text on top of "
        f"{human(build_pss['fixed'], 'MB')}, so one build process holding a whole registry fits "
        f"~{(20 * 1024 - build_pss['fixed']) / build_pss['per_mb'] / 1000:,.1f} GB of book text in 20 GiB.",
        f"**Scan memory**: {human(scan_pss['fixed'], 'MB')} fixed plus "
        f"{human(scan_pss['per_mb'] * 1000, 'MB')} "
        "per GB of book text searched (1 worker; the mapped band keys and the passage columns are the "
        "part that grows; on one machine, workers share the mapped keys through the page cache).",
        f"**Scan start-up**: {startup['per_mb'] * 1000:,.1f} s per GB of book text in the registry on top of "
        f"{startup['fixed']:,.1f} s (opening a registry checksums every file with xxh3): "
        f"{human(startup['per_mb'] * TARGET_MB, 's')} to open 2 TB of book text's index in one process.",
        f"**Scan throughput per core**: {scan_fit['values'][0]:,.2f} → {scan_fit['values'][-1]:,.2f} MB of "
        "corpus per CPU-second from the 1% to the 10% sample "
        f"(exponent {scan_fit.get('exponent', math.nan):.2f}); "
        f"carried to 2 TB {human(scan_fit.get('at_target', math.nan), 'MB/s')} per core, i.e. "
        f"{corpus_tb_mb / scan_fit.get('at_target', math.nan) / 3600:,.0f} CPU-hours for a 10 TB corpus "
        f"({corpus_tb_mb / scan_fit['values'][-1] / 3600:,.0f} CPU-hours at the 10% sample's rate).",
        f"**Join fan-out**: candidate pairs grow with exponent {pairs.get('exponent', math.nan):.2f} "
        f"({pairs['values'][0]:,.1f} → {pairs['values'][-1]:,.1f} per corpus MB from 1% to 10%; "
        f"{human(pairs.get('at_target', math.nan), 'count')} carried to 2 TB, "
        f"{human(pairs.get('at_target_null', math.nan), 'count')} if linear), while the pairs that verify "
        f"stay at {verified:,.1f} per corpus MB (findings; they depend on the corpus, not the registry). "
        "Every other pair is a verification that reads a work's tokens and rejects it.",
        f"**Cost of a candidate**: the least-squares slope of scan CPU seconds on the corpus's candidate "
        f"pairs is {per_pair * 1000:,.2f} ms per pair (4 points on a noisy machine: an estimate), on top of "
        f"{base_s_per_mb:,.2f} CPU-s per corpus MB without any. With the pairs carried to 2 TB, a core "
        f"would scan {human(rate_with(pairs.get('at_target', math.nan)), 'MB/s')} (fit) or "
        f"{human(rate_with(pairs.get('at_target_null', math.nan)), 'MB/s')} (linear): "
        f"{corpus_tb_mb / rate_with(pairs.get('at_target', math.nan)) / 3600:,.0f} – "
        f"{corpus_tb_mb / rate_with(pairs.get('at_target_null', math.nan)) / 3600:,.0f} CPU-hours for a "
        "10 TB corpus, unless candidates are filtered harder before verification.",
    ]
    if not meta["all_planted_in_every_sample"]:
        lines.append(
            "The smallest sample does not hold every planted work (a smoke run): findings and the pairs "
            "on records with findings vary between samples."
        )
    return lines


def svg_chart(samples: list[dict[str, Any]], curve: dict[str, dict[str, Any]]) -> str:
    """A log-log chart of the ratios to the 1% sample against registry size, with the linear line."""
    series = (
        ("index_bytes", "index on disk", "#1f77b4"),
        ("band_rows", "band rows", "#17becf"),
        ("build_cpu", "build CPU seconds", "#ff7f0e"),
        ("build_pss", "build peak PSS", "#d62728"),
        ("scan_cpu", "scan CPU seconds", "#2ca02c"),
        ("scan_pss", "scan peak PSS", "#9467bd"),
        ("startup_seconds", "start-up seconds", "#8c564b"),
        ("pairs", "candidate pairs / corpus MB", "#e377c2"),
    )
    xs = [s["text_mb"] / samples[0]["text_mb"] for s in samples]
    ratios = [r for key, _, _ in series for r in curve[key]["ratios"] if r > 0 and not math.isnan(r)]
    y_lo = min(0.5, min(ratios) / 1.2)
    y_hi = max(xs[-1] * 1.2, max(ratios) * 1.2)
    x_lo, x_hi = 0.8, xs[-1] * 1.25
    width, height, left, right, top, bottom = 780, 440, 60, 290, 40, 50
    pw, ph = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + pw * (math.log(x) - math.log(x_lo)) / (math.log(x_hi) - math.log(x_lo))

    def py(y: float) -> float:
        return top + ph * (1 - (math.log(y) - math.log(y_lo)) / (math.log(y_hi) - math.log(y_lo)))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="22" font-size="14" font-weight="bold">Growth with registry size '
        "(ratio to the 1% sample, log-log)</text>",
    ]
    for tick in (0.5, 1, 2, 5, 10, 20, 50, 100):
        if y_lo <= tick <= y_hi:
            y = py(tick)
            out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#ddd"/>')
            out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:g}×</text>')
    for s, x in zip(samples, xs, strict=True):
        gx = px(x)
        out.append(f'<line x1="{gx:.1f}" y1="{top}" x2="{gx:.1f}" y2="{top + ph}" stroke="#ddd"/>')
        out.append(
            f'<text x="{gx:.1f}" y="{top + ph + 16}" text-anchor="middle">{s["percent"]:g}% '
            f"({s['text_mb']:,.0f} MB)</text>"
        )
    out.append(
        f'<text x="{left + pw / 2}" y="{height - 10}" text-anchor="middle">registry size (book text)</text>'
    )
    out.append(
        f'<line x1="{px(x_lo):.1f}" y1="{py(x_lo):.1f}" x2="{px(min(x_hi, y_hi)):.1f}" '
        f'y2="{py(min(x_hi, y_hi)):.1f}" stroke="#999" stroke-dasharray="6 4"/>'
    )
    out.append(
        f'<line x1="{left}" y1="{py(1):.1f}" x2="{left + pw}" y2="{py(1):.1f}" '
        'stroke="#999" stroke-dasharray="2 4"/>'
    )
    for i, (key, label, colour) in enumerate(series):
        entry = curve[key]
        points = [(px(x), py(r)) for x, r in zip(xs, entry["ratios"], strict=True) if r > 0]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        out += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in points]
        ly = top + 14 + i * 20
        lx = left + pw + 16
        exponent = f" (b = {entry['exponent']:.2f})" if "exponent" in entry else ""
        out.append(
            f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 18}" y2="{ly - 4}" stroke="{colour}" stroke-width="2"/>'
        )
        out.append(f'<text x="{lx + 24}" y="{ly}">{label}{exponent}</text>')
    ly = top + 14 + len(series) * 20
    lx = left + pw + 16
    out.append(
        f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 18}" y2="{ly - 4}" stroke="#999" stroke-dasharray="6 4"/>'
    )
    out.append(f'<text x="{lx + 24}" y="{ly}">linear (b = 1)</text>')
    out.append(
        f'<line x1="{lx}" y1="{ly + 16}" x2="{lx + 18}" y2="{ly + 16}" stroke="#999" stroke-dasharray="2 4"/>'
    )
    out.append(f'<text x="{lx + 24}" y="{ly + 20}">flat (b = 0)</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


# -- the run ------------------------------------------------------------------------------------------------


def _no_nan(value: Any) -> Any:
    """The value with every float nan as None (JSON has no NaN)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_no_nan(v) for v in value]
    return value


def code_state() -> str:
    """The commit measured, and whether the package had uncommitted changes (others work in this tree)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "auditor"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    changed = [line[3:] for line in dirty if line.strip()]
    return f"commit {head}" + (f" with uncommitted changes to {', '.join(changed)}" if changed else "")


def measure_samples(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Build the data, then build, size, scan and join every sample: the raw numbers and the run's facts."""
    started = time.strftime("%Y-%m-%d %H:%M")
    t_start = time.perf_counter()
    work = WORK / f"scaling-{args.scale:g}"
    work.mkdir(parents=True, exist_ok=True)
    pool_mb = POOL_MB * args.scale
    corpus_mb = args.corpus_mb * args.scale
    print(f"preparing data in {WORK} (cached between runs)…", file=sys.stderr)
    # speed.py's registry sources at this scale: the 10% sample is all of them.
    src = build_registry_sources(200 * args.scale, args.seed)
    corpus = build_corpus(f"{work.name}/corpus-{corpus_mb:g}mb", corpus_mb, src, args.seed + 1)
    startup_corpus = corpus_head(corpus, work / "corpus-startup.jsonl", STARTUP_RECORDS)
    slice_records, fanout_mb = corpus_records(corpus, min(args.fanout_mb * args.scale, corpus_mb))
    order = sample_order(src)
    planted = set(planted_sources(sorted(src.glob("*.txt"))))
    auditor = [sys.executable, "-m", "auditor"]
    scan_flags = ["--workers", "1", "--format", "json", "--fail-on", "never", "--quiet"]
    samples: list[dict[str, Any]] = []
    found: set[str] = set()
    for percent in PERCENTS:
        books = take_prefix(order, pool_mb * percent / 100)
        folder = materialise(books, work / f"src-{percent}pct")
        registry = work / f"registry-{percent}pct"
        if registry.exists():
            shutil.rmtree(registry)
        text_mb = sum(b.stat().st_size for b in books) / MB
        print(f"{percent}%: {len(books)} books, {text_mb:,.1f} MB: build…", file=sys.stderr)
        build = measure([*auditor, "registry", "build", str(folder), "-o", str(registry), "--quiet"])
        counts = json.loads((registry / "manifest.json").read_text(encoding="utf-8"))["counts"]
        print(f"{percent}%: scan…", file=sys.stderr)
        scan_out = work / f"scan-{percent}pct"
        scan = measure([*auditor, "scan", str(corpus), "-r", str(registry), "-o", str(scan_out), *scan_flags])
        outcome = scan_outcome(scan_out / "report.json")
        found |= set(outcome.pop("found_ids"))
        flagged = outcome.pop("flagged_ids")
        scan |= outcome
        startup_out = work / f"startup-{percent}pct"
        startup = measure(
            [*auditor, "scan", str(startup_corpus), "-r", str(registry), "-o", str(startup_out), *scan_flags]
        )
        print(f"{percent}%: join fan-out…", file=sys.stderr)
        samples.append(
            {
                "percent": percent,
                "target_mb": pool_mb * percent / 100,
                "text_mb": text_mb,
                "books": len(books),
                "gutenberg_books": sum(1 for b in books if not b.name.startswith("synth-")),
                "planted_sources_in_sample": sum(1 for b in books if b in planted),
                "works": int(counts["works"]),
                "passages": int(counts["passages"]),
                "tokens": int(counts["tokens"]),
                "boilerplate_shingles": int(counts["boilerplate_shingles"]),
                "boilerplate_threshold": int(counts["boilerplate_threshold"]),
                "band_rows": arrow_rows(registry / "bands.arrow"),
                "index_bytes": index_sizes(registry),
                "corpus_mb": corpus.stat().st_size / MB,
                "build": build,
                "scan": scan,
                "startup": startup,
                "fanout": fan_out(registry, slice_records, fanout_mb, flagged),
            }
        )
    meta = {
        "command": "python benchmarks/scaling.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "cores": os.cpu_count() or 1,
        "code": code_state(),
        "started": started,
        "minutes": (time.perf_counter() - t_start) / 60,
        "loads": [s[step]["load_before"] for s in samples for step in ("build", "scan", "startup")],
        "pool_mb": pool_mb,
        "sources_mb": sum(b.stat().st_size for b in order) / MB,
        "planted_sources": len(planted),
        "all_planted_in_every_sample": all(s["planted_sources_in_sample"] == len(planted) for s in samples),
        "found_outside_planted": sorted(found - {b.stem for b in planted}),
        "corpus_mb": corpus.stat().st_size / MB,
        "corpus_records": samples[0]["scan"]["records"],
        "target_mb": TARGET_MB,
        "target_books": TARGET_BOOKS,
    }
    return samples, meta


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="shrink the pool and the corpus (smoke run)")
    parser.add_argument("--corpus-mb", type=float, default=50.0, help="corpus size before --scale")
    parser.add_argument("--fanout-mb", type=float, default=5.0, help="corpus MB of the join fan-out")
    parser.add_argument("--seed", type=int, default=20261122, help="speed.py's seed (reuses its caches)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "scaling.md")
    parser.add_argument("--svg", type=Path, default=ROOT / "docs" / "scaling-growth.svg")
    parser.add_argument(
        "--from-json",
        type=Path,
        help="measure nothing: render --out and --svg again from the raw numbers of an earlier run",
    )
    args = parser.parse_args()
    if args.from_json:
        raw = json.loads(args.from_json.read_text(encoding="utf-8"))
        samples, meta = raw["samples"], raw["meta"]
        meta["rendered_from"] = args.from_json.name
    elif not BENCH.is_dir():
        print(f"skipped: bench data not found at {BENCH} (the Gutenberg books the registry samples hold)")
        return 0
    else:
        samples, meta = measure_samples(args)
    curve = growth(samples)
    report = render(samples, curve, meta)
    if meta["found_outside_planted"]:
        report += (
            f"\n\nCheck failed: the scans found {len(meta['found_outside_planted'])} works that are not "
            "among the planted sources (speed.py's build_corpus may have changed how it picks them)."
        )
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report + "\n", encoding="utf-8")
    raw = {"meta": meta, "samples": samples, "fits": curve}
    args.out.with_suffix(".json").write_text(json.dumps(_no_nan(raw), indent=1) + "\n", encoding="utf-8")
    args.svg.parent.mkdir(parents=True, exist_ok=True)
    args.svg.write_text(svg_chart(samples, curve), encoding="utf-8")
    print(f"\nwrote {args.out}, {args.out.with_suffix('.json')} and {args.svg}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
