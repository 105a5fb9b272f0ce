"""Speed and memory benchmark: registry build, scan, and reference pipelines measured in ONE run.

Builds (deterministically, cached under benchmarks/work/, never committed):

* a registry of >= 200 MB of book text: the Project Gutenberg books in ../shared/bench-data
  (read at run time; skipped cleanly when absent) plus books made by auditor.synth;
* corpora of 200 MB and 2 GB of JSONL web records (auditor.synth web prose) in which 5% of the
  records carry a planted registry passage of 50-1,000 words.

Then measures, on this machine, in the same run: ``auditor registry build``, ``auditor scan`` with
1 and N workers on the 200 MB corpus and with N workers on the 2 GB corpus (MB/s, records/s, peak
RSS of the process tree), and the reference pipelines on a sample of the same passage windows:
datasketch ``MinHash.update_batch`` + ``MinHashLSH``, and rensa signatures if installed. Ratios are
taken between numbers measured in this run, so they hold on a noisy shared machine.

The two one-file scans of the 200 MB corpus (1 and N workers), whose ratio is a target, run
``--rounds`` times each, alternated, and their median is taken: on a shared machine one run of each can
differ by a third from the next.

    python benchmarks/speed.py [--scale 0.1] [--skip-2gb] [--rounds 3] [--out benchmarks/results/speed.md]

``--scale`` shrinks every size (a smoke run, not a result).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.fingerprint import FingerprintConfig  # noqa: E402
from auditor.normalize import tokenize  # noqa: E402
from auditor.synth import TextGenerator, WebWriter  # noqa: E402

BENCH = ROOT.parent / "shared" / "bench-data" / "gutenberg" / "texts"
WORK = ROOT / "benchmarks" / "work"
MB = 1_000_000


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    system = f"{platform.system()} {platform.release()}; Python {platform.python_version()}"
    return f"{cpu}; {os.cpu_count()} cores; {mem:.0f} GiB; {system}"


def build_registry_sources(target_mb: float, seed: int) -> Path:
    """Gutenberg books plus generated books until the texts reach target_mb."""
    folder = WORK / f"registry-src-{target_mb:g}"
    done = folder / ".complete"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    if BENCH.is_dir():
        for path in sorted(BENCH.glob("*.txt")):
            text = path.read_text(encoding="utf-8")
            (folder / path.name).write_text(text, encoding="utf-8")
            total += len(text.encode())
    i = 0
    while total < target_mb * MB:
        text = TextGenerator(f"{seed}:book:{i}").paragraphs(60_000)
        (folder / f"synth-{i:05d}.txt").write_text(text, encoding="utf-8")
        total += len(text.encode())
        i += 1
    done.write_text(str(total))
    return folder


def build_corpus(name: str, target_mb: float, registry_src: Path, seed: int) -> Path:
    """JSONL web records; 5% carry a planted registry passage (50-1,000 words)."""
    path = WORK / f"{name}.jsonl"
    if path.exists() and (WORK / f"{name}.complete").exists():
        return path
    rng = random.Random(seed)
    writer = WebWriter(f"{seed}:web")
    pool = [
        writer.document(g, 400) for g in ("news", "forum", "blog", "recipe", "review") for _ in range(400)
    ]
    paragraphs = [p for doc in pool for p in doc.split("\n\n") if p.strip()]
    books = sorted(registry_src.glob("*.txt"))
    book_words = [
        books[i].read_text(encoding="utf-8").split() for i in range(0, len(books), max(1, len(books) // 40))
    ]
    written = 0
    n = 0
    with path.open("w", encoding="utf-8") as out:
        while written < target_mb * MB:
            parts = [rng.choice(paragraphs) for _ in range(rng.randint(3, 25))]
            if rng.random() < 0.05:
                words = rng.choice(book_words)
                length = rng.choice((50, 100, 300, 1000))
                start = rng.randrange(0, max(1, len(words) - length))
                parts.insert(rng.randrange(len(parts) + 1), " ".join(words[start : start + length]))
            record = {
                "id": f"r{n:09d}",
                "url": f"https://site{rng.randrange(5000)}.example/{n}",
                "text": "\n\n".join(parts),
                "license": "CC-BY-4.0",
            }
            line = json.dumps(record, ensure_ascii=False) + "\n"
            out.write(line)
            written += len(line.encode())
            n += 1
    (WORK / f"{name}.complete").write_text(str(n))
    return path


def shard_corpus(corpus: Path, folder: Path, shards: int) -> Path:
    """The corpus's records dealt into ``shards`` JSONL files, as corpora are usually published (cached)."""
    done = folder / ".complete"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    outs = [(folder / f"part-{i:03d}.jsonl").open("w", encoding="utf-8") for i in range(shards)]
    with corpus.open(encoding="utf-8") as handle:
        for n, line in enumerate(handle):
            outs[n % shards].write(line)
    for out in outs:
        out.close()
    done.touch()
    return folder


def _tree_pss_kb(pid: int) -> int:
    """Proportional set size of a process and all its descendants (shared pages counted once)."""
    total = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        stack.extend(int(c) for c in children)
    return total


def run(cmd: list[str]) -> dict[str, float]:
    """Run a command; wall time and the peak memory (PSS) of its whole process tree, sampled."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_pss_kb(proc.pid))
        time.sleep(0.5)  # smaps_rollup of large memory maps is costly: sample sparingly
    seconds = time.perf_counter() - t0
    stderr = proc.stderr.read() if proc.stderr else ""
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed with {proc.returncode}:\n{stderr[-2000:]}")
    return {"seconds": seconds, "peak_rss_mb": peak / 1024}


def compile_bytecode() -> None:
    """Compile auditor's modules to bytecode first, as pip does when it installs a package (and as the
    first import does for an editable install, unless PYTHONDONTWRITEBYTECODE is set). Without it,
    where that variable is set every timed command compiled auditor's ~60 modules from source again:
    ~0.5 CPU-s of each scan's start-up that no installed copy pays."""
    if not compileall.compile_dir(ROOT / "auditor", quiet=1):
        raise SystemExit("could not compile auditor's modules to bytecode")


def compile_kernels(auditor: list[str], src: Path) -> None:
    """One untimed build of three small books first: numba compiles the kernels once after each change
    to auditor/kernels.py (or on a new machine) and caches them, ~10-20 s that every later build and
    scan skips; the timed build would otherwise pay it whenever the kernels have just changed."""
    few = WORK / "registry-src-warm-up"
    few.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.glob("*.txt"))[:3]:
        (few / path.name).write_text(path.read_text(encoding="utf-8")[:50_000], encoding="utf-8")
    run([*auditor, "registry", "build", str(few), "-o", str(WORK / "registry-warm-up"), "--quiet"])


def warm_up(auditor: list[str], registry: Path, corpus: Path) -> Path:
    """One untimed scan of a few records before the timed ones, so that every timed scan finds the
    registry as a user's later scans do: its files' checksums verified once and recorded in the
    per-user cache (a file is recorded once it is 3 s old), not re-read (0.8 s on 2 GB). Without it
    the first timed scan, the 1-worker one, alone would pay for that check."""
    newest = max(max(p.stat().st_mtime, p.stat().st_ctime) for p in registry.iterdir())
    time.sleep(max(0.0, newest + 3.5 - time.time()))
    few = WORK / "warm-up.jsonl"
    with corpus.open("rb") as handle:
        few.write_bytes(b"".join(handle.readline() for _ in range(20)))
    out = WORK / "out-warm-up"
    run([*auditor, "scan", str(few), "-r", str(registry), "-o", str(out), "--quiet", "--fail-on", "never"])
    return few


def windows_of(text: str, config: FingerprintConfig) -> list[list[str]]:
    """The text's half-overlapping passage windows as lists of word 4-gram strings (our tokens)."""
    toks = tokenize(text)
    words = [text[s:e].lower() for s, e in zip(toks.starts.tolist(), toks.ends.tolist(), strict=True)]
    k = config.shingle_size
    grams = [" ".join(words[i : i + k]) for i in range(max(0, len(words) - k + 1))]
    return [
        grams[s : s + config.window]
        for s in range(0, max(1, len(grams) - config.stride), config.stride)
        if grams[s : s + config.window]
    ]


def reference_pipelines(
    corpus: Path, registry_src: Path, sample_mb: float, config: FingerprintConfig
) -> dict[str, dict[str, float]]:
    """datasketch and rensa over the same passage windows, on a sample of corpus and registry.

    The windows' shingle strings are prepared before the clock starts, so the references are timed on
    signatures (and, for datasketch, LSH queries) alone; auditor's own numbers include everything
    from reading the corpus to writing the reports. The comparison favours the references.
    """
    from datasketch import MinHash, MinHashLSH

    records: list[str] = []
    size = 0
    with corpus.open(encoding="utf-8") as handle:
        for line in handle:
            text = json.loads(line)["text"]
            records.append(text)
            size += len(text.encode())
            if size >= sample_mb * MB:
                break
    books = sorted(registry_src.glob("*.txt"))[:4]
    book_windows = [w for b in books for w in windows_of(b.read_text(encoding="utf-8"), config)]
    record_windows = [windows_of(text, config) for text in records]
    as_bytes = [[[g.encode() for g in w] for w in ws] for ws in record_windows]
    results: dict[str, dict[str, float]] = {}

    lsh = MinHashLSH(threshold=0.3, num_perm=config.num_perm)
    for i, w in enumerate(book_windows):
        m = MinHash(num_perm=config.num_perm)
        m.update_batch([g.encode() for g in w])
        lsh.insert(i, m)
    t0 = time.perf_counter()
    for encoded in as_bytes:
        for grams in encoded:
            m = MinHash(num_perm=config.num_perm)
            m.update_batch(grams)
            lsh.query(m)
    seconds = time.perf_counter() - t0
    results["datasketch MinHash.update_batch + MinHashLSH.query (1 core)"] = {
        "mb_s": size / MB / seconds,
        "seconds": seconds,
        "mb": size / MB,
    }
    try:
        from rensa import RMinHash
    except ImportError:
        return results
    t0 = time.perf_counter()
    for windows in record_windows:
        for window in windows:
            r = RMinHash(num_perm=config.num_perm, seed=config.seed)
            r.update(window)
            r.digest()
    seconds = time.perf_counter() - t0
    results["rensa RMinHash signatures only (1 core)"] = {
        "mb_s": size / MB / seconds,
        "seconds": seconds,
        "mb": size / MB,
    }
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--skip-2gb", action="store_true")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each one-file 200 MB scan")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "speed.md")
    args = parser.parse_args()
    if not BENCH.is_dir():
        print(f"skipped: bench data not found at {BENCH}")
        return 0
    WORK.mkdir(parents=True, exist_ok=True)
    reg_mb, small_mb, big_mb = 200 * args.scale, 200 * args.scale, 2000 * args.scale
    print(f"preparing data in {WORK} (cached between runs)…", file=sys.stderr)
    src = build_registry_sources(reg_mb, args.seed)
    small = build_corpus(f"corpus-{small_mb:g}mb", small_mb, src, args.seed + 1)
    big = None if args.skip_2gb else build_corpus(f"corpus-{big_mb:g}mb", big_mb, src, args.seed + 2)
    auditor = [sys.executable, "-m", "auditor"]
    reg = WORK / f"registry-{reg_mb:g}"
    src_mb = sum(p.stat().st_size for p in src.glob("*.txt")) / MB
    rows: list[tuple[str, float, float, float, int | None]] = []

    compile_bytecode()
    compile_kernels(auditor, src)
    build = run([*auditor, "registry", "build", str(src), "-o", str(reg), "--quiet"])
    rows.append(("auditor registry build", src_mb, build["seconds"], build["peak_rss_mb"], None))
    few = warm_up(auditor, reg, small)
    # What any scan costs whatever its size (start-up, opening the registry, reports): a scan of the
    # same 20 records, timed, so that the rate of the large scans without it can be given too.
    tiny = [*auditor, "scan", str(few), "-r", str(reg), "-o", str(WORK / "out-warm-up"), "--quiet"]
    fixed = run([*tiny, "--workers", str(args.workers)])
    scans: dict[str, dict[str, float]] = {}
    rounds: dict[str, list[float]] = {}
    sharded = shard_corpus(small, WORK / f"corpus-{small_mb:g}mb-16-shards", 16)
    one_file = [
        ("scan 200 MB, 1 worker", small, 1),
        (f"scan 200 MB, {args.workers} workers", small, args.workers),
    ]
    plan = [
        *(one_file * max(1, args.rounds)),  # alternated: a slow spell of the machine hits both alike
        (f"scan 200 MB in 16 shards, {args.workers} workers", sharded, args.workers),
        *([(f"scan 2 GB, {args.workers} workers", big, args.workers)] if big else []),
    ]
    for label, corpus, workers in plan:
        out = WORK / "out"
        res = run(
            [
                *auditor,
                "scan",
                str(corpus),
                "-r",
                str(reg),
                "-o",
                str(out),
                "--quiet",
                "--workers",
                str(workers),
                "--fail-on",
                "never",
            ]
        )
        print(f"  {label}: {res['seconds']:.1f} s", file=sys.stderr)
        rounds.setdefault(label, []).append(res["seconds"])
        peak = max(res["peak_rss_mb"], scans.get(label, {}).get("peak_rss_mb", 0.0))
        mb = (
            sum(p.stat().st_size for p in corpus.glob("*.jsonl")) / MB
            if corpus.is_dir()
            else corpus.stat().st_size / MB
        )
        scans[label] = {
            "seconds": statistics.median(rounds[label]),
            "peak_rss_mb": peak,
            "mb": mb,
            "records": json.loads((out / "report.json").read_text())["summary"]["records_scanned"],
        }
    for label, scan_ in scans.items():
        rows.append(
            (f"auditor {label}", scan_["mb"], scan_["seconds"], scan_["peak_rss_mb"], int(scan_["records"]))
        )
    refs = reference_pipelines(small, src, max(2.0, 5 * args.scale), FingerprintConfig())

    one = scans["scan 200 MB, 1 worker"]
    many = scans[f"scan 200 MB, {args.workers} workers"]
    many_mb_s = many["mb"] / many["seconds"]
    shards_run = scans[f"scan 200 MB in 16 shards, {args.workers} workers"]
    lines = [
        "# Speed and memory benchmark",
        "",
        f"Command: `python benchmarks/speed.py {' '.join(sys.argv[1:])}`",
        f"Machine: {machine()}",
        f"Data: registry sources {src_mb:.0f} MB (Gutenberg + generated books); corpora "
        + ", ".join(f"{s['mb']:.0f} MB ({s['records']:,} records)" for s in list(scans.values())[2:]),
        "Before the timed build, one untimed build of three small books compiles (or loads) the numba "
        "kernels, as any earlier run on the machine has; before the timed scans, one untimed scan of 20 "
        "records verifies the new registry's checksums and records them in the per-user cache, as every "
        "later scan of a registry finds it. auditor's modules are compiled to bytecode first, as pip does "
        "when it installs them.",
        "",
        "| step | MB | seconds | MB/s | records/s | peak memory, PSS of the process tree (MB) |",
        "|---|---:|---:|---:|---:|---:|",
        *[
            f"| {name} | {mb:,.0f} | {sec:,.1f} | {mb / sec:,.2f} | "
            f"{(f'{recs / sec:,.0f}' if recs else '-')} | {rss:,.0f} |"
            for name, mb, sec, rss, recs in rows
        ],
        "",
        "Reference pipelines on a sample of the same corpus and the same passage windows:",
        "",
        "| pipeline | MB | MB/s | auditor scan (N workers) ÷ this |",
        "|---|---:|---:|---:|",
        *[
            f"| {name} | {r['mb']:.1f} | {r['mb_s']:.2f} | {many_mb_s / r['mb_s']:.1f}x |"
            for name, r in refs.items()
        ],
        "",
        f"Workers: {args.workers} workers ÷ 1 worker = {(one['seconds'] / many['seconds']):.2f}x.",
        "The one-file scans of 200 MB ran "
        + " and ".join(
            f"{len(rounds[label])} times with {label.rsplit(', ', 1)[1]} "
            f"({', '.join(f'{x:.1f}' for x in rounds[label])} s)"
            for label, _, _ in one_file
        )
        + ", alternated; the table gives the median time and the highest peak.",
        f"The same corpus in 16 shards (workers then read and audit whole inputs): {args.workers} workers "
        f"÷ 1 worker = {(one['seconds'] / shards_run['seconds']):.2f}x, "
        f"{shards_run['mb'] / shards_run['seconds']:.2f} MB/s.",
    ]
    less_fixed = (
        f" Less that, the 200 MB scan runs at {many['mb'] / (many['seconds'] - fixed['seconds']):.2f} MB/s "
        f"({args.workers} workers)."
        if many["seconds"] > fixed["seconds"]
        else ""
    )
    lines.append(
        f"A scan of 20 records ({args.workers} workers) takes {fixed['seconds']:.1f} s: start-up, opening "
        f"the registry, reports.{less_fixed}"
    )
    if big:
        b = scans[f"scan 2 GB, {args.workers} workers"]
        lines.append(f"Peak RSS 2 GB ÷ 200 MB corpus: {b['peak_rss_mb'] / many['peak_rss_mb']:.2f}.")
    build_mb_s = src_mb / build["seconds"]
    refs_mb_s = {name: r["mb_s"] for name, r in refs.items()}
    checks = [
        ("scan >= 25 MB/s end to end (N workers, 200 MB)", many_mb_s >= 25, f"{many_mb_s:.2f} MB/s"),
        *[
            (f"scan >= {need}x {name.split(' ')[0]}", many_mb_s / value >= need, f"{many_mb_s / value:.1f}x")
            for name, value in refs_mb_s.items()
            for need in ([15] if name.startswith("datasketch") else [3])
        ],
        ("registry build >= 15 MB/s", build_mb_s >= 15, f"{build_mb_s:.2f} MB/s"),
        (
            f"{args.workers} workers >= 1.8x 1 worker",
            one["seconds"] / many["seconds"] >= 1.8,
            f"{one['seconds'] / many['seconds']:.2f}x",
        ),
    ]
    if big:
        b = scans[f"scan 2 GB, {args.workers} workers"]
        checks += [
            (
                "peak memory <= 1.5 GB on the 2 GB corpus",
                b["peak_rss_mb"] <= 1536,
                f"{b['peak_rss_mb']:,.0f} MB",
            ),
            (
                "2 GB corpus's peak within 10% of the 200 MB corpus's",
                b["peak_rss_mb"] <= 1.1 * many["peak_rss_mb"],
                f"{b['peak_rss_mb'] / many['peak_rss_mb']:.2f}",
            ),
        ]
    lines += ["", "Targets of the speed issue, measured in this run:", ""]
    lines += [f"- [{'x' if ok else ' '}] {what}: {value}" for what, ok, value in checks]
    lines += ["", "Where the time goes and what would move each target: `speed-notes.md` (written by hand)."]
    report = "\n".join(lines)
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
