"""Regenerate the sample corpora in this folder from the project's own text generator.

    python sample_corpora/generate.py            # rewrite sample_corpora/
    python sample_corpora/generate.py --check    # exit 1 if the committed files differ from a fresh run
    python sample_corpora/generate.py --out DIR  # write (or check) another folder

See README.md next to this script for what each file is. Never edit the generated files by hand.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # run from a checkout without installing the package
    sys.path.insert(0, str(HERE.parent))

from auditor.synth import DEFAULT_SEED, build_sample_corpora, compare_sample_corpora  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate (or check) the sample corpora.")
    parser.add_argument(
        "--out", type=Path, default=HERE, help="folder to write or check (default: %(default)s)"
    )
    parser.add_argument(
        "--check", action="store_true", help="regenerate into a temp dir and compare, byte for byte"
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="generator seed (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    if args.check:
        with tempfile.TemporaryDirectory(prefix="sample-corpora-") as tmp:
            summary = build_sample_corpora(Path(tmp), args.seed)
            problems = compare_sample_corpora(Path(tmp), args.out)
        if problems:
            for line in problems:
                print(line, file=sys.stderr)
            print(
                f"{len(problems)} generated file(s) out of date in {args.out}; "
                "run `python sample_corpora/generate.py` and commit the result",
                file=sys.stderr,
            )
            return 1
        print(f"{args.out}: {len(summary['files'])} generated files up to date")
        return 0
    summary = build_sample_corpora(args.out, args.seed)
    total = sum(f["bytes"] for f in summary["files"].values())
    print(f"wrote {len(summary['files'])} files ({total / 1e6:.2f} MB) to {args.out}")
    print("records: " + ", ".join(f"{k} {v}" for k, v in summary["categories"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
