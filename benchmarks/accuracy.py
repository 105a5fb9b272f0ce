"""Accuracy benchmark on real books: planted partial and edited copies, boilerplate-only negatives.

Builds a labelled benchmark from ../shared/bench-data/gutenberg/texts (read at run time, never
committed): a registry from half of the books; records made from the *other* books with registry
passages planted at several lengths and edit levels; negative records from the other books, some
carrying only the Project Gutenberg licence boilerplate that every registry book also carries.
Reports recall by length x edit level, character-level span precision/recall on detected cases
(PAN style), false positives per 10,000 negatives and time, and in the same run the same figures
for datasketch out of the box (MinHashLSH and MinHashLSHEnsemble over whole documents).

    python benchmarks/accuracy.py [--quick] [--out benchmarks/results/accuracy.md]

Skips cleanly (exit 0 with a message) when the bench data is absent.
"""

from __future__ import annotations

import argparse
import difflib
import os
import platform
import random
import re
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.fingerprint import FingerprintConfig, shingles  # noqa: E402
from auditor.match import Matcher  # noqa: E402
from auditor.models import Match  # noqa: E402
from auditor.normalize import tokenize  # noqa: E402
from auditor.registry import WorkRegistry, build_registry  # noqa: E402

BENCH = ROOT.parent / "shared" / "bench-data" / "gutenberg"
LENGTHS = (30, 50, 100, 200, 400, 1000)
EDITS = ("verbatim", "reformatted", "edit5", "edit10", "edit20", "edit30", "ocr", "reorder")
CONFIRM_RATIO = 0.6
CONFIRM_MIN_CHARS = 40
"""A match reported on a negative record is a real quotation, not a false positive, when an
independent character-level alignment (difflib) of its record and work text agrees: ratio >= 0.6
over >= 40 characters. Every match on a negative is listed with its text in
results/accuracy-negatives.md, so each call can be checked by eye. Books quote books
(Moby-Dick's Extracts quote Milton; Pope's Iliad too)."""
_SENT = re.compile(r"(?<=[.!?])\s+")


@dataclass
class Case:
    record_id: str
    text: str
    work_id: str | None
    span: tuple[int, int] | None
    length: int
    edit: str
    quoted: set[str] = field(default_factory=set)


_START = re.compile(r"\*\*\*\s*START OF (?:THE|THIS) PROJECT GUTENBERG[^\n]*", re.IGNORECASE)
_END = re.compile(r"\*\*\*\s*END OF (?:THE|THIS) PROJECT GUTENBERG", re.IGNORECASE)


def body(text: str) -> str:
    """The book without its Project Gutenberg header and licence (for choosing passages only)."""
    start = _START.search(text)
    end = _END.search(text)
    return text[start.end() if start else 0 : end.start() if end else len(text)]


def boilerplate(text: str) -> str:
    end = _END.search(text)
    return text[end.start() :] if end else ""


def edit_words(words: list[str], rate: float, rng: random.Random, pool: list[str]) -> list[str]:
    out: list[str] = []
    for w in words:
        r = rng.random()
        if r < rate / 3:
            out.append(rng.choice(pool))  # substitute
        elif r < 2 * rate / 3:
            continue  # delete
        elif r < rate:
            out.extend([w, rng.choice(pool)])  # insert
        else:
            out.append(w)
    return out


def reformat(text: str, rng: random.Random) -> str:
    words = text.split()
    out: list[str] = []
    width = rng.randint(6, 14)
    for i, w in enumerate(words):
        if rng.random() < 0.05:
            w = w.upper()
        elif rng.random() < 0.05:
            w = w.lower()
        w = w.replace("'", "\u2019").replace('"', "\u201c")
        if len(w) > 7 and w.isalpha() and rng.random() < 0.05:
            cut = len(w) // 2
            w = w[:cut] + "-\n" + w[cut:]
        out.append(w)
        out.append("\n" if (i + 1) % width == 0 else " ")
    return "".join(out).strip()


def ocr_noise(text: str, rng: random.Random) -> str:
    swaps = {"l": "1", "o": "0", "e": "c", "i": "l", "m": "rn", "h": "b", "a": "o", "s": "5"}
    out: list[str] = []
    for ch in text:
        r = rng.random()
        if ch == " " and r < 0.03:
            continue  # joined words
        if ch.isalpha() and r < 0.015:
            out.append(ch + " ")  # split word
        elif ch in swaps and r < 0.05:
            out.append(swaps[ch])
        elif r < 0.003:
            out.append(ch + rng.choice("~^*|"))
        else:
            out.append(ch)
    return "".join(out)


def reorder(text: str, rng: random.Random) -> str:
    sentences = _SENT.split(text)
    rng.shuffle(sentences)
    return " ".join(sentences)


def make_copy(passage: str, edit: str, rng: random.Random, pool: list[str]) -> str:
    if edit == "verbatim":
        return passage
    if edit == "reformatted":
        return reformat(passage, rng)
    if edit.startswith("edit"):
        return " ".join(edit_words(passage.split(), int(edit[4:]) / 100, rng, pool))
    if edit == "ocr":
        return ocr_noise(passage, rng)
    return reorder(passage, rng)


def word_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in re.finditer(r"\S+", text)]


def build_cases(
    registry_books: dict[str, str], other_books: dict[str, str], per_cell: int, negatives: int, seed: int
) -> list[Case]:
    rng = random.Random(seed)
    reg_ids = sorted(registry_books)
    other_ids = sorted(other_books)
    other_words = {k: body(v).split() for k, v in other_books.items()}
    pool = [w for k in other_ids[:3] for w in other_words[k][:5000]]
    reg_spans = {k: (body(v), word_spans(body(v))) for k, v in registry_books.items()}
    cases: list[Case] = []

    def filler(n: int) -> str:
        words = other_words[rng.choice(other_ids)]
        start = rng.randrange(0, max(1, len(words) - n))
        return " ".join(words[start : start + n])

    for length in LENGTHS:
        for edit in EDITS:
            for i in range(per_cell):
                work_id = rng.choice(reg_ids)
                text_body, spans = reg_spans[work_id]
                start = rng.randrange(0, len(spans) - length)
                s, e = spans[start][0], spans[start + length - 1][1]
                copy = make_copy(text_body[s:e], edit, rng, pool)
                before = filler(rng.randint(0, 600))
                after = filler(rng.randint(0, 600))
                prefix = before + "\n\n" if before else ""
                text = prefix + copy + ("\n\n" + after if after else "")
                cases.append(
                    Case(
                        f"pos-{length}-{edit}-{i}",
                        text,
                        work_id,
                        (len(prefix), len(prefix) + len(copy)),
                        length,
                        edit,
                    )
                )
    boiler = [boilerplate(v) for v in other_books.values() if boilerplate(v)]
    for i in range(negatives):
        if i % 10 == 0 and boiler:
            # Shares only the Project Gutenberg licence with every registry book.
            b = rng.choice(boiler)
            cut = rng.randrange(0, max(1, len(b) - 6000))
            text = filler(rng.randint(50, 400)) + "\n\n" + b[cut : cut + rng.randint(1500, 6000)]
        else:
            text = filler(rng.randint(100, 1200))
        cases.append(Case(f"neg-{i}", text, None, None, 0, "negative"))
    return cases


def overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def union_len(spans: list[tuple[int, int]]) -> int:
    total, end = 0, -1
    for s, e in sorted(spans):
        s = max(s, end)
        if e > s:
            total += e - s
        end = max(end, e)
    return total


def _plain(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def confirmed_quotation(match: Match) -> bool:
    """Does an independent alignment of the match's own evidence agree that it is the same text?"""
    for ev in match.evidence:
        rec, work = _plain(ev.record_text), _plain(ev.work_text or "")
        long_enough = min(len(rec), len(work)) >= CONFIRM_MIN_CHARS
        if long_enough and difflib.SequenceMatcher(None, rec, work, autojunk=False).ratio() >= CONFIRM_RATIO:
            return True
    return False


def evaluate_ours(registry: WorkRegistry, cases: list[Case]) -> dict:
    matcher = Matcher(registry)
    detected: dict[tuple[int, str], list[bool]] = defaultdict(list)
    inter = pred = truth = 0
    by_edit: dict[str, list[int]] = {}
    false_pos = 0
    quotations: list[tuple[str, Match]] = []
    negative_matches: list[tuple[str, Match]] = []
    wrong_work = 0
    t0 = time.perf_counter()
    chars = 0
    for case in cases:
        chars += len(case.text)
        matches = matcher.match(case.text, tokenize(case.text))
        if case.work_id is None:
            negative_matches.extend((case.record_id, m) for m in matches)
            real = [m for m in matches if confirmed_quotation(m)]
            if real:
                quotations.append((case.record_id, real[0]))
                case.quoted = {m.work.id for m in real}
            false_pos += any(not confirmed_quotation(m) for m in matches)
            continue
        assert case.span is not None
        right = [m for m in matches if m.work.id == case.work_id]
        wrong_work += any(m.work.id != case.work_id for m in matches)
        spans = [(s.record_start, s.record_end) for m in right for s in m.spans]
        hit = any(overlap(sp, case.span) > 0 for sp in spans)
        detected[(case.length, case.edit)].append(hit)
        if hit:
            got = union_len(spans)
            both = union_len([(max(a, case.span[0]), min(b, case.span[1])) for a, b in spans])
            inter += both
            pred += got
            truth += case.span[1] - case.span[0]
            cell = by_edit.setdefault(case.edit, [0, 0, 0])
            cell[0] += both
            cell[1] += got
            cell[2] += case.span[1] - case.span[0]
    elapsed = time.perf_counter() - t0
    return {
        "recall": {k: float(np.mean(v)) for k, v in detected.items()},
        "span_precision": inter / pred if pred else 0.0,
        "span_recall": inter / truth if truth else 0.0,
        "span_by_edit": {
            e: (c[0] / c[1] if c[1] else 0.0, c[0] / c[2] if c[2] else 0.0) for e, c in by_edit.items()
        },
        "false_positives": false_pos,
        "wrong_work": wrong_work,
        "quotations": quotations,
        "negative_matches": negative_matches,
        "seconds": elapsed,
        "mb": chars / 1e6,
    }


def evaluate_datasketch(registry_books: dict[str, str], cases: list[Case], k: int) -> dict[str, dict]:
    """datasketch out of the box: whole-document MinHash in MinHashLSH and MinHashLSHEnsemble."""
    from datasketch import MinHash, MinHashLSH, MinHashLSHEnsemble

    def sketch(text: str) -> tuple[MinHash, int]:
        # The same word shingles as auditor, fed to a default MinHash (128 permutations, SHA-1).
        values = np.unique(shingles(tokenize(text).hashes, k))
        m = MinHash(num_perm=128)
        if len(values):
            m.update_batch([v.tobytes() for v in values])
        return m, max(1, len(values))

    t0 = time.perf_counter()
    works = {wid: sketch(text) for wid, text in registry_books.items()}
    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    ensemble = MinHashLSHEnsemble(threshold=0.5, num_perm=128, num_part=8)
    for wid, (m, _) in works.items():
        lsh.insert(wid, m)
    ensemble.index([(wid, m, size) for wid, (m, size) in works.items()])
    build = time.perf_counter() - t0
    results: dict[str, dict] = {}
    for name in ("MinHashLSH (whole documents, threshold 0.5)", "MinHashLSHEnsemble (containment 0.5)"):
        detected: dict[tuple[int, str], list[bool]] = defaultdict(list)
        false_pos = 0
        t0 = time.perf_counter()
        for case in cases:
            m, size = sketch(case.text)
            found = set(lsh.query(m)) if name.startswith("MinHashLSH ") else set(ensemble.query(m, size))
            if case.work_id is None:
                false_pos += bool(found - case.quoted)
            else:
                detected[(case.length, case.edit)].append(case.work_id in found)
        results[name] = {
            "recall": {key: float(np.mean(v)) for key, v in detected.items()},
            "false_positives": false_pos,
            "seconds": time.perf_counter() - t0 + build,
        }
    return results


def recall_table(recall: dict[tuple[int, str], float]) -> list[str]:
    lines = ["| words | " + " | ".join(EDITS) + " |", "|---:|" + "---:|" * len(EDITS)]
    for length in LENGTHS:
        cells = [f"{recall.get((length, e), float('nan')):.2f}" for e in EDITS]
        lines.append(f"| {length} | " + " | ".join(cells) + " |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer cases (a smoke run, not a result)")
    parser.add_argument("--per-cell", type=int, default=40)
    parser.add_argument("--negatives", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "accuracy.md")
    parser.add_argument("--no-datasketch", action="store_true")
    parser.add_argument("--shingle-size", type=int, default=FingerprintConfig().shingle_size)
    parser.add_argument("--stride", type=int, default=FingerprintConfig().stride)
    parser.add_argument("--num-perm", type=int, default=FingerprintConfig().num_perm)
    parser.add_argument("--bands", type=int, default=FingerprintConfig().bands)
    args = parser.parse_args()
    texts = BENCH / "texts"
    if not texts.is_dir():
        print(f"skipped: bench data not found at {texts}")
        return 0
    if args.quick:
        args.per_cell, args.negatives = 8, 1000
    books = {p.stem: p.read_text(encoding="utf-8") for p in sorted(texts.glob("*.txt"))}
    ids = sorted(books)
    registry_books = {k: books[k] for k in ids[0::2]}
    other_books = {k: books[k] for k in ids[1::2]}
    cases = build_cases(registry_books, other_books, args.per_cell, args.negatives, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "works"
        src.mkdir()
        for k, v in registry_books.items():
            (src / f"{k}.txt").write_text(v, encoding="utf-8")
        t0 = time.perf_counter()
        config = FingerprintConfig(
            shingle_size=args.shingle_size,
            stride=args.stride,
            num_perm=args.num_perm,
            bands=args.bands,
            rows=args.num_perm // args.bands,
        )
        build_registry([src], Path(tmp) / "registry", name="gutenberg-half", config=config)
        build_s = time.perf_counter() - t0
        registry = WorkRegistry(Path(tmp) / "registry")
        ours = evaluate_ours(registry, cases)
    baselines = (
        {} if args.no_datasketch else evaluate_datasketch(registry_books, cases, registry.config.shingle_size)
    )

    n_pos = sum(c.work_id is not None for c in cases)
    n_neg = len(cases) - n_pos
    reg_mb = sum(len(v) for v in registry_books.values()) / 1e6
    lines = [
        "# Accuracy benchmark",
        "",
        f"Command: `python benchmarks/accuracy.py {' '.join(sys.argv[1:])}` (seed {args.seed})",
        f"Machine: {platform.machine()}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, {os.cpu_count()} cores",
        f"Data: registry of {len(registry_books)} Gutenberg books ({reg_mb:.1f} MB); "
        f"{n_pos} positive records "
        f"({args.per_cell} per cell) built from the other {len(other_books)} books; {n_neg} negative records "
        f"(1 in 10 carries only the Project Gutenberg licence shared with every registry book).",
        f"Config: `{registry.config.config_id}`",
        "",
        "## auditor",
        "",
        f"Registry build {build_s:.1f} s; scan of {ours['mb']:.1f} MB in {ours['seconds']:.1f} s "
        f"({ours['mb'] / ours['seconds']:.2f} MB/s, one core, matcher only).",
        "",
        "Recall by passage length (words) and edit level:",
        "",
        *recall_table(ours["recall"]),
        "",
        f"Span precision (characters, detected cases): **{ours['span_precision']:.3f}**; "
        f"span recall: **{ours['span_recall']:.3f}**.",
        "",
        "| span (chars) | " + " | ".join(EDITS) + " |",
        "|---|" + "---:|" * len(EDITS),
        "| precision | " + " | ".join(f"{ours['span_by_edit'].get(e, (0, 0))[0]:.3f}" for e in EDITS) + " |",
        "| recall | " + " | ".join(f"{ours['span_by_edit'].get(e, (0, 0))[1]:.3f}" for e in EDITS) + " |",
        "",
        f"False positives: **{ours['false_positives']}** of {n_neg} negatives "
        f"({ours['false_positives'] / n_neg * 10000:.1f} per 10,000); "
        f"positives also matched to a wrong work: {ours['wrong_work']}.",
        f"Matches on negatives that an independent alignment confirms as real quotations between "
        f"books (difflib ratio >= {CONFIRM_RATIO} over >= {CONFIRM_MIN_CHARS} chars of the reported "
        f"spans; not false positives): {len(ours['quotations'])} records; every match on a negative "
        f"is listed with its text in `{args.out.stem}-negatives.md`.",
        "",
    ]
    if ours["quotations"]:
        lines += ["Confirmed quotations found in negative records (first 15):", ""]
        for record_id, m in ours["quotations"][:15]:
            ev = m.evidence[0]
            rec = " ".join(ev.record_text.split())[:110]
            work = " ".join((ev.work_text or "").split())[:110]
            lines.append(f"- `{record_id}` quotes **{m.work.id}**: “{rec}…” ≈ “{work}…”")
        lines.append("")
    for name, res in baselines.items():
        lines += [
            f"## datasketch {name}",
            "",
            f"Time (sketch + index + query): {res['seconds']:.1f} s; ratio to auditor: "
            f"{res['seconds'] / ours['seconds']:.2f}x.",
            "",
            *recall_table(res["recall"]),
            "",
            f"False positives: {res['false_positives']} of {n_neg} negatives.",
            "",
        ]
    report = "\n".join(lines)
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report + "\n", encoding="utf-8")
    details = [
        "# Every match reported on a negative record",
        "",
        f"From `{args.out.name}`'s run. A match counts as a false positive unless the independent "
        f"alignment confirms it (difflib ratio >= {CONFIRM_RATIO} over >= {CONFIRM_MIN_CHARS} chars).",
        "",
        "| record | work | tokens | confirmed | record text | work text |",
        "|---|---|---:|---|---|---|",
    ]
    for record_id, m in ours["negative_matches"]:
        ev = m.evidence[0]
        rec = " ".join(ev.record_text.split())[:160].replace("|", "\\|")
        work = " ".join((ev.work_text or "").split())[:160].replace("|", "\\|")
        ok = "yes" if confirmed_quotation(m) else "**no: false positive**"
        details.append(f"| {record_id} | {m.work.id} | {m.matched_tokens} | {ok} | {rec} | {work} |")
    negatives_file = args.out.with_name(args.out.stem + "-negatives.md")
    negatives_file.write_text("\n".join(details) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
