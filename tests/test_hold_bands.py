"""A scan of a large corpus reads the registry's band index into memory (look-ups there are faster than
through the file's map, see WorkRegistry.hold_bands); what it finds is the same either way."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from auditor import engine
from auditor.match import Matcher
from auditor.models import AuditResult
from auditor.normalize import tokenize
from auditor.registry import WorkRegistry
from auditor.rules import load_rule_set


@pytest.fixture
def registry_path(tmp_path: Path, small_registry: WorkRegistry) -> Path:
    """A private copy of the small registry (the tests open and change their own instances)."""
    return Path(shutil.copytree(small_registry.path, tmp_path / "registry"))


@pytest.fixture
def corpus(write_jsonl: Any, small_works: dict[str, str], words: Any) -> Path:
    """Web-like records, some carrying a passage of a work."""
    rows = []
    for i in range(60):
        text = words.text(300)
        if i % 4 == 0:
            work = small_works[f"work-{i % 8}"].split()
            text += " " + " ".join(work[400 + i : 700 + i])
        rows.append({"id": f"r{i}", "url": f"https://site{i % 5}.example/{i}", "text": text})
    return Path(write_jsonl(rows))


def _same(a: AuditResult, b: AuditResult) -> None:
    assert dataclasses.replace(a, started="", finished="") == dataclasses.replace(b, started="", finished="")


def test_held_bands_are_the_mapped_ones_in_memory_of_their_own(registry_path):
    registry = WorkRegistry(registry_path)
    keys, buckets = np.array(registry.band_key), np.array(registry.band_buckets)
    assert registry.band_bytes == keys.nbytes + buckets.nbytes > 0
    registry.hold_bands()
    for held, mapped in ((registry.band_key, keys), (registry.band_buckets, buckets)):
        assert held.dtype == mapped.dtype and np.array_equal(held, mapped)
        assert held.flags.owndata and not held.flags.writeable


def test_a_registry_opened_without_bands_holds_none(registry_path):
    registry = WorkRegistry(registry_path, bands=False)
    registry.hold_bands()
    assert len(registry.band_key) == 0 and registry.band_bytes == registry.band_buckets.nbytes


def test_a_matcher_indexes_the_band_arrays_its_first_look_up_finds(registry_path, small_works):
    # The scan holds the bands while the auditor (and its matchers) are being made: the index must be
    # made of the arrays as they are at the first look-up, not when the matcher was made.
    registry = WorkRegistry(registry_path)
    matcher = Matcher(registry)
    passage = " ".join(small_works["work-3"].split()[500:900])
    registry.band_key = np.zeros(0, dtype=np.uint64)
    registry.band_buckets = np.zeros(2, dtype=np.int32)
    assert matcher.match(passage, tokenize(passage)) == []
    found = Matcher(WorkRegistry(registry_path)).match(passage, tokenize(passage))
    assert [m.work.id for m in found] == ["work-3"]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_large_corpus_is_scanned_with_held_bands_and_finds_the_same(
    registry_path, corpus, monkeypatch, workers
):
    held: list[str] = []
    hold = WorkRegistry.hold_bands

    def spy(self: WorkRegistry) -> None:
        held.append(self.name)
        hold(self)

    monkeypatch.setattr(WorkRegistry, "hold_bands", spy)
    rules = load_rule_set()
    options = engine.ScanOptions(workers=workers)
    monkeypatch.setattr(engine, "HOLD_BANDS_SHARE", 0)  # never: a corpus of any size is too small
    mapped = engine.scan([corpus], [WorkRegistry(registry_path)], rules, options)
    assert held == []
    monkeypatch.setattr(engine, "HOLD_BANDS_SHARE", 10**9)  # always
    registry = WorkRegistry(registry_path)
    in_memory = engine.scan([corpus], [registry], rules, options)
    assert held == [registry.name] and registry.band_key.flags.owndata
    assert any(f.kind == "near-duplicate" for f in mapped.findings)
    _same(mapped, in_memory)


def test_a_band_index_that_cannot_be_read_into_memory_stays_mapped(registry_path, corpus, monkeypatch):
    def fail(self: WorkRegistry) -> None:
        raise OSError(5, "Input/output error")

    rules = load_rule_set()
    expected = engine.scan([corpus], [WorkRegistry(registry_path)], rules, engine.ScanOptions(workers=1))
    monkeypatch.setattr(engine, "HOLD_BANDS_SHARE", 10**9)
    monkeypatch.setattr(WorkRegistry, "hold_bands", fail)
    registry = WorkRegistry(registry_path)
    found = engine.scan([corpus], [registry], rules, engine.ScanOptions(workers=1))
    assert not registry.band_key.flags.owndata
    _same(expected, found)
