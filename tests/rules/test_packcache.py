"""The bundled packs' parse store: fresh, equal to parsing, and used only for the exact bytes stored."""

from __future__ import annotations

import json
from pathlib import Path

from auditor.rules import load_rule_set, packcache
from auditor.rules.problems import ProblemLog
from auditor.rules.ruleset import default_pack_paths
from auditor.rules.yamlsource import read_yaml


def test_the_store_is_fresh() -> None:
    # Fails after a bundled pack is edited: run `python -m auditor.rules.packcache` (loading still works,
    # the edited pack is parsed, only more slowly).
    stored = json.loads(packcache.STORE.read_text(encoding="utf-8"))
    assert stored == packcache.build(default_pack_paths())
    assert packcache.STORE.read_text(encoding="utf-8") == packcache.render(stored)
    assert {entry["file"] for entry in stored["packs"].values()} == {p.name for p in default_pack_paths()}


def test_a_stored_pack_reads_as_its_parse() -> None:
    for path in default_pack_paths():
        log = ProblemLog()
        stored = read_yaml(path, log)
        parsed = read_yaml(path, log, cached=False)
        assert stored is not None and parsed is not None and not len(log)
        assert packcache.lookup(stored.digest) is not None
        assert stored == parsed
        assert stored.data is not read_yaml(path, log).data  # each read gets its own copy


def test_other_bytes_are_parsed(tmp_path: Path) -> None:
    source = default_pack_paths()[0]
    edited = tmp_path / source.name
    edited.write_bytes(source.read_bytes() + b"\n# edited\n")
    log = ProblemLog()
    doc = read_yaml(edited, log)
    assert doc is not None and packcache.lookup(doc.digest) is None
    assert doc.data == read_yaml(source, log).data and doc.file == str(edited)


def test_a_stored_pack_with_a_problem_is_not_stored(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("pack: dup\nversion: 1\nversion: 1\nrules: []\n", encoding="utf-8")
    assert packcache.build([path])["packs"] == {}


def test_rule_sets_from_the_store_equal_parsed_ones(monkeypatch) -> None:
    stored = load_rule_set()
    monkeypatch.setattr(packcache, "lookup", lambda digest: None)
    parsed = load_rule_set()
    assert stored.listing() == parsed.listing()
    assert [r.describe() for r in stored.rules] == [r.describe() for r in parsed.rules]
