"""Tokenizer micro-benchmark: MB/s of ``auditor.normalize.tokenize`` against the plain algorithm.

Measures, in one run and on the same records, the vectorised ``tokenize`` and the plain algorithm
it replaced (normaliser v2: one regex split, per-token NFKC/case folding, xxh3_64 per distinct word
with its process-wide cache, exactly as shipped before), on:

* the real books in ../shared/bench-data/gutenberg/texts (skipped when absent), cut into 4 KB and
  64 KB records;
* generated English-like text (``auditor.synth.TextGenerator``), plain ASCII and with typographic
  quotes and dashes (the non-ASCII path), in 4 KB and 64 KB records.

The machine is shared and noisy, so both implementations run interleaved batch by batch, each batch
several times, and the fastest time of each batch counts; the ratio of the two is the result.

    python benchmarks/tokenize_speed.py [--repeat 5] [--quick] [--out benchmarks/results/tokenize_speed.md]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import xxhash

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.normalize import _bmp_tables, _reference_words, tokenize, tokenize_many  # noqa: E402
from auditor.synth import TextGenerator  # noqa: E402

BOOKS = ROOT.parent / "shared" / "bench-data" / "gutenberg" / "texts"
RECORD_SIZES = (4096, 65536)
BATCH_BYTES = 1 << 18
GENERATED_WORDS = 600_000

_V2_CACHE: dict[str, int] = {}


def tokenize_v2(text: str) -> np.ndarray:
    """The tokenizer as shipped with normaliser v2 (token hashes: xxh3_64, cached per word)."""
    _, _, words = _reference_words(text)
    vocab: dict[str, int] = {}
    ids = [vocab.setdefault(w, len(vocab)) for w in words]
    if len(_V2_CACHE) > 1 << 20:
        _V2_CACHE.clear()
    distinct = np.empty(len(vocab), dtype=np.uint64)
    for i, word in enumerate(vocab):
        h = _V2_CACHE.get(word)
        if h is None:
            h = _V2_CACHE[word] = xxhash.xxh3_64_intdigest(word.encode("utf-8", "surrogatepass"))
        distinct[i] = h
    return distinct[np.array(ids, dtype=np.int64)]


def records(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def batches(recs: list[str]) -> list[tuple[list[str], int]]:
    out: list[tuple[list[str], int]] = []
    batch: list[str] = []
    nbytes = 0
    for r in recs:
        batch.append(r)
        nbytes += len(r.encode("utf-8", "surrogatepass"))
        if nbytes >= BATCH_BYTES:
            out.append((batch, nbytes))
            batch, nbytes = [], 0
    if batch:
        out.append((batch, nbytes))
    return out


def measure(
    recs: list[str], impls: dict[str, Callable[[list[str]], object]], repeat: int
) -> dict[str, float]:
    """MB/s per implementation (each given a batch of records): per batch the fastest of ``repeat``
    interleaved runs."""
    best_total = dict.fromkeys(impls, 0.0)
    total_bytes = 0
    for batch, nbytes in batches(recs):
        total_bytes += nbytes
        best = dict.fromkeys(impls, float("inf"))
        for _ in range(repeat):
            for name, fn in impls.items():
                t0 = time.perf_counter()
                fn(batch)
                best[name] = min(best[name], time.perf_counter() - t0)
        for name in impls:
            best_total[name] += best[name]
    return {name: total_bytes / seconds / 1e6 for name, seconds in best_total.items()}


def generated(curly: bool) -> str:
    gen = TextGenerator(20261122)
    gen = TextGenerator(20261122, style=dataclasses.replace(gen.style, curly=curly))
    text = gen.paragraphs(GENERATED_WORDS)
    return text if curly else text.encode("ascii", "replace").decode("ascii")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per batch; the fastest counts")
    parser.add_argument("--quick", action="store_true", help="only the first 4 MB of each data set")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "tokenize_speed.md")
    args = parser.parse_args(argv)

    machine = (
        f"{platform.machine()}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} cores"
    )
    print(f"Machine: {machine}")
    t0 = time.perf_counter()
    _bmp_tables()
    table_seconds = time.perf_counter() - t0

    datasets: list[tuple[str, str]] = []
    if BOOKS.is_dir() and any(BOOKS.glob("*.txt")):
        books = sorted(BOOKS.glob("*.txt"))
        text = "".join(p.read_text(encoding="utf-8") for p in books)
        datasets.append((f"Gutenberg books ({len(books)})", text))
        # The same with accented letters in most words: the full Unicode path, as for French or German.
        datasets.append(("Gutenberg books, e→é a→ä", text.translate({ord("e"): "é", ord("a"): "ä"})))
    else:
        print(f"skipping the real books: {BOOKS} not found")
    datasets.append(("generated, ASCII", generated(curly=False)))
    datasets.append(("generated, typographic quotes", generated(curly=True)))

    if args.quick:
        datasets = [(name, text[:4_000_000]) for name, text in datasets]
    impls: dict[str, Callable[[list[str]], object]] = {
        "tokenize": lambda batch: [tokenize(r) for r in batch],
        "tokenize_many": tokenize_many,
        "v2": lambda batch: [tokenize_v2(r) for r in batch],
    }
    rows = []
    for name, text in datasets:
        mb = len(text.encode("utf-8", "surrogatepass")) / 1e6
        for size in RECORD_SIZES:
            recs = records(text, size)
            non_ascii = sum(not r.isascii() for r in recs) / len(recs)
            speeds = measure(recs, impls, args.repeat)
            new, many, old = speeds["tokenize"], speeds["tokenize_many"], speeds["v2"]
            rows.append((name, mb, size, len(recs), non_ascii, new, many, old))
            print(
                f"{name}: {mb:.1f} MB in {len(recs)} records of {size // 1024} KB "
                f"({non_ascii:.0%} non-ASCII): tokenize {new:.1f} MB/s ({new / old:.1f}x), "
                f"tokenize_many {many:.1f} MB/s ({many / old:.1f}x), v2 {old:.2f} MB/s"
            )

    quick = " --quick" if args.quick else ""
    lines = [
        "# Tokenizer speed",
        "",
        f"Command: `python benchmarks/tokenize_speed.py --repeat {args.repeat}{quick}`",
        f"Machine: {machine} (shared and noisy: compare the ratios, measured in the same run)",
        "",
        "`tokenize` is the vectorised tokenizer (normaliser v3), called once per record; `tokenize_many`",
        "the same, given a batch of records at once; `v2` the plain algorithm they replaced (regex split,",
        "per-token NFKC and case folding, xxh3_64 per distinct word with its cache). All three run",
        "interleaved on the same records; per batch of ~256 KB the fastest of the runs counts.",
        f"One core. Building the lookup tables once per process took {table_seconds:.2f} s (not counted).",
        "",
        "| data | MB | record | records | non-ASCII records | v2 MB/s | tokenize MB/s | ratio "
        "| tokenize_many MB/s | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, mb, size, n, non_ascii, new, many, old in rows:
        lines.append(
            f"| {name} | {mb:.1f} | {size // 1024} KB | {n} | {non_ascii:.0%} | {old:.2f} | {new:.1f} "
            f"| **{new / old:.1f}x** | {many:.1f} | **{many / old:.1f}x** |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
