"""Builder fixtures shared by the tests: generated texts, small registries, corpus files."""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from auditor.registry import WorkRegistry, build_registry

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_corpora"

_COMMON = ["the", "of", "and", "a", "to", "in", "was", "he", "it", "that", "she", "with", "on", "for"]
BOILERPLATE = (
    "Copyright 2020 by the Author. All rights reserved. No part of this publication may be reproduced, "
    "stored in a retrieval system, or transmitted in any form without the prior written permission of the "
    "publisher. Printed in the United States of America."
)


class Words:
    """A seeded generator of word salad with a per-instance vocabulary (never real text)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.vocab = [
            "".join(self.rng.choice("abcdefghiklmnoprstuvwy") for _ in range(self.rng.randint(2, 9)))
            for _ in range(4000)
        ]

    def text(self, n: int) -> str:
        words = [
            self.rng.choice(_COMMON) if self.rng.random() < 0.35 else self.rng.choice(self.vocab)
            for _ in range(n)
        ]
        out = []
        for i, w in enumerate(words):
            out.append(w.capitalize() if i % 12 == 0 else w)
            if i % 12 == 11:
                out[-1] += "."
        return " ".join(out)


@pytest.fixture(scope="session")
def _cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("auditor-cache")


@pytest.fixture(autouse=True)
def _private_cache(monkeypatch: pytest.MonkeyPatch, _cache_root: Path) -> None:
    """Tests never read or write the user's cache (auditor.cache): they share one of their own."""
    monkeypatch.setenv("AUDITOR_CACHE_DIR", str(_cache_root))


@pytest.fixture(scope="session")
def words() -> Words:
    return Words(7)


@pytest.fixture(scope="session")
def small_works(words: Words) -> dict[str, str]:
    """Eight works of 3,000 words, each opening with the same copyright-page boilerplate."""
    return {f"work-{i}": BOILERPLATE + "\n\n" + words.text(3000) for i in range(8)}


@pytest.fixture(scope="session")
def small_registry(tmp_path_factory: pytest.TempPathFactory, small_works: dict[str, str]) -> WorkRegistry:
    root = tmp_path_factory.mktemp("reg")
    (root / "works").mkdir()
    for work_id, text in small_works.items():
        (root / "works" / f"{work_id}.txt").write_text(text, encoding="utf-8")
    build_registry([root / "works"], root / "registry", name="small")
    return WorkRegistry(root / "registry")


@pytest.fixture
def write_jsonl(tmp_path: Path) -> Callable[..., Path]:
    def write(rows: list[object], name: str = "corpus.jsonl", raw_lines: list[bytes] | None = None) -> Path:
        path = tmp_path / name
        data = b"".join(json.dumps(r).encode() + b"\n" for r in rows) + b"".join(raw_lines or [])
        if name.endswith(".gz"):
            data = gzip.compress(data, mtime=0)
        path.write_bytes(data)
        return path

    return write


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> Callable[[tuple[int, int], int], list[Any]]:
    """Lower the engine's part sizes, so that small test files are cut into spans, and record every
    LineCutter the engine makes: ``cutters = small_parts((smallest, largest), tail)``."""
    from auditor import engine

    def lower(parts: tuple[int, int], tail: int) -> list[Any]:
        monkeypatch.setattr(engine, "PART_BYTES", parts)
        monkeypatch.setattr(engine, "TAIL_PART_BYTES", tail)
        make, cutters = engine.LineCutter, []

        def cutter(*args: Any) -> Any:
            cutters.append(make(*args))
            return cutters[-1]

        monkeypatch.setattr(engine, "LineCutter", cutter)
        return cutters

    return lower
