"""The Ray engine against the local engine on one machine, measured in ONE run.

Scans one sharded corpus (JSONL web records with planted copies, speed.py's generator) against one
registry (speed.py's 200 MB registry of Gutenberg + generated books) with

* ``auditor scan --workers N`` (the local engine, N = cores), and
* ``auditor scan --engine ray`` (a local Ray started by the command, N CPUs; the band index held by
  partition actors, one task per shard),

plus a 10-record scan with each engine for the fixed start-up cost, and checks that both give the same
report.json. Prints MB/s, MB/s less start-up, peak PSS of each process tree and the ratios.

    python benchmarks/ray_engine.py [--corpus-mb 50] [--shards 16] [--registry-mb 200] [--scale 0.1]

Data is cached under benchmarks/work/ (never committed); the Gutenberg books are read at run time from
../shared/bench-data and the benchmark skips cleanly without them. Needs Ray
(``pip install 'provenance-auditor[ray]'``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from scaling import corpus_head  # noqa: E402
from speed import BENCH, MB, WORK, build_corpus, build_registry_sources, machine, run, shard_corpus  # noqa: E402


def scan(corpus: Path, registry: Path, out: Path, *extra: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "auditor", "scan", str(corpus), "-r", str(registry), "-o", str(out)]
    cmd += ["--format", "json", "--fail-on", "never", "--quiet", *extra]
    result: dict[str, Any] = dict(run(cmd))
    result["cmd"] = " ".join(["auditor", *cmd[3:]])
    return result


def report_body(out: Path) -> dict[str, Any]:
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    report.pop("run")
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus-mb", type=float, default=50.0)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--registry-mb", type=float, default=200.0)
    parser.add_argument("--scale", type=float, default=1.0, help="shrink every size (a smoke run)")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ray-engine.md")
    args = parser.parse_args()
    if not BENCH.is_dir():
        print(f"skipped: {BENCH} is absent (the Gutenberg benchmark books)")
        return 0
    try:
        import ray  # noqa: F401
    except ImportError:
        print("skipped: Ray is not installed (pip install 'provenance-auditor[ray]')")
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    reg_mb = round(args.registry_mb * args.scale)
    corpus_mb = round(args.corpus_mb * args.scale, 1)

    src = build_registry_sources(reg_mb, args.seed)
    registry = WORK / f"registry-{reg_mb}"
    if not (registry / "manifest.json").is_file():
        print(f"building the {reg_mb} MB registry …", flush=True)
        subprocess.run(
            [sys.executable, "-m", "auditor", "registry", "build", str(src), "-o", str(registry), "--quiet"],
            check=True,
        )
    corpus = build_corpus(f"corpus-{corpus_mb:g}mb", corpus_mb, src, args.seed + 1)
    shards = shard_corpus(corpus, WORK / f"ray-shards-{corpus_mb:g}mb-{args.shards}", args.shards)
    startup = corpus_head(corpus, WORK / "ray-startup.jsonl", 10)
    size_mb = sum(p.stat().st_size for p in shards.glob("*.jsonl")) / MB
    out = WORK / "out-ray"

    print(f"machine: {machine()}", flush=True)
    steps = [
        ("local, startup", startup, ("--workers", str(cores))),
        ("ray, startup", startup, ("--engine", "ray")),
        ("local", shards, ("--workers", str(cores))),
        ("ray", shards, ("--engine", "ray")),
    ]
    results: dict[str, dict[str, Any]] = {}
    for name, corpus_path, extra in steps:
        results[name] = scan(corpus_path, registry, out / name.replace(", ", "-"), *extra)
        print(
            f"{name}: {results[name]['seconds']:.1f} s, peak PSS {results[name]['peak_rss_mb']:,.0f} MB",
            flush=True,
        )
    same = report_body(out / "local") == report_body(out / "ray")

    local_mb, ray_mb = results["local"]["peak_rss_mb"], results["ray"]["peak_rss_mb"]

    def rate(name: str, less_startup: bool = False) -> float:
        seconds = results[name]["seconds"] - (results[f"{name}, startup"]["seconds"] if less_startup else 0)
        return size_mb / seconds

    lines = [
        "# Ray engine vs local engine, one machine",
        "",
        "Command: `python benchmarks/ray_engine.py"
        + (f" --scale {args.scale}" if args.scale != 1 else "")
        + (f" --shards {args.shards}" if args.shards != 16 else "")
        + "`",
        f"Machine: {machine()}",
        f"Data: registry of {reg_mb} MB of book text (speed.py's); corpus of {size_mb:.1f} MB of JSONL web "
        f"records with planted copies, "
        + (
            f"in {args.shards} shards (one Ray task each). "
            if args.shards > 1
            else "in one file (cut into spans while it is hashed, one Ray task or local worker unit each). "
        )
        + "Both engines use "
        f"{cores} cores: `--workers {cores}` locally, a local Ray with {cores} CPUs started by the command.",
        "",
        "| | local engine | Ray engine | Ray ÷ local |",
        "|---|---:|---:|---:|",
        f"| seconds | {results['local']['seconds']:.1f} | {results['ray']['seconds']:.1f} | "
        f"{results['ray']['seconds'] / results['local']['seconds']:.2f}x |",
        f"| start-up seconds (10-record scan) | {results['local, startup']['seconds']:.1f} | "
        f"{results['ray, startup']['seconds']:.1f} | |",
        f"| MB/s | {rate('local'):.2f} | {rate('ray'):.2f} | {rate('ray') / rate('local'):.2f}x |",
        f"| MB/s less start-up | {rate('local', True):.2f} | {rate('ray', True):.2f} | "
        f"{rate('ray', True) / rate('local', True):.2f}x |",
        f"| peak PSS of the process tree (MB) | {local_mb:,.0f} | {ray_mb:,.0f} | {ray_mb / local_mb:.2f}x |",
        "",
        f"Same report.json (apart from `run`): **{'yes' if same else 'NO'}**.",
        "",
        "Commands: " + "; ".join(f"`{results[n]['cmd']}`" for n in ("local", "ray")) + ".",
        "Ray's tree includes its GCS server, raylet, dashboard-less workers and the partition actors "
        "(the band index: 16 bytes a row in memory).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.scale == 1:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
