"""Registries that are truncated, tampered with or built differently are refused, saying what differs."""

from __future__ import annotations

import json
import shutil

import pytest

from auditor.fingerprint import FingerprintConfig
from auditor.normalize import NORMALIZER_VERSION
from auditor.registry import build_registry
from tests.hostile.conftest import jsonl, numbered


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(jsonl(numbered(3)))
    return path


@pytest.fixture
def registry(tmp_path, small_registry):
    copy = tmp_path / "reg"
    shutil.copytree(small_registry.path, copy)
    return copy


def _edit_manifest(registry, change):
    manifest = json.loads((registry / "manifest.json").read_text())
    change(manifest)
    (registry / "manifest.json").write_text(json.dumps(manifest))


def _set_config(key, value):
    def change(manifest):
        manifest["config"][key] = value

    return change


def test_a_truncated_data_file_is_refused_naming_it(registry, corpus, run_scan):
    data = (registry / "tokens.arrow").read_bytes()
    (registry / "tokens.arrow").write_bytes(data[: len(data) // 2])
    run = run_scan(corpus, "-r", registry)
    assert run.code == 2 and "tokens.arrow has xxh3_128" in run.err and "corrupt or was altered" in run.err
    assert run.report is None


def test_a_truncated_manifest_is_refused(registry, corpus, run_scan):
    text = (registry / "manifest.json").read_text()
    (registry / "manifest.json").write_text(text[: len(text) // 2])
    run = run_scan(corpus, "-r", registry)
    assert run.code == 2 and "manifest.json is unreadable" in run.err


def test_a_missing_data_file_is_refused(registry, corpus, run_scan):
    (registry / "bands.arrow").unlink()
    run = run_scan(corpus, "-r", registry)
    assert run.code == 2 and "bands.arrow is missing" in run.err


def test_a_tampered_file_list_is_refused(registry, corpus, run_scan):
    def change(manifest):
        manifest["files"]["works.parquet"] = "0" * 64

    _edit_manifest(registry, change)
    run = run_scan(corpus, "-r", registry)
    assert run.code == 2 and "manifest digest does not match its file list" in run.err


def test_a_tampered_fingerprint_config_is_refused(registry, corpus, run_scan):
    _edit_manifest(registry, _set_config("seed", 2))
    run = run_scan(corpus, "-r", registry)
    assert run.code == 2 and "does not match its fingerprint settings" in run.err and "seed2" in run.err


def test_a_registry_from_another_normaliser_version_is_refused(registry, corpus, run_scan):
    old = FingerprintConfig(normalizer=NORMALIZER_VERSION - 1)

    def change(manifest):
        manifest["config"] = old.to_dict()
        manifest["config_id"] = old.config_id
        manifest["tool_version"] = "0.0.1"

    _edit_manifest(registry, change)
    run = run_scan(corpus, "-r", registry)
    assert run.code == 2
    assert f"text normaliser version {NORMALIZER_VERSION - 1} (auditor 0.0.1)" in run.err
    assert f"this scanner uses version {NORMALIZER_VERSION}" in run.err


def test_registries_built_with_different_settings_are_refused_with_the_difference(
    tmp_path, small_works, registry, corpus, run_scan
):
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "x.txt").write_text(small_works["work-0"], encoding="utf-8")
    build_registry([tmp_path / "w"], tmp_path / "other", config=FingerprintConfig(seed=9, shingle_size=5))
    run = run_scan(corpus, "-r", registry, "-r", tmp_path / "other")
    assert run.code == 2 and "different fingerprint settings" in run.err
    assert "shingle_size: 4 != 5" in run.err and "seed: 1 != 9" in run.err


def test_a_pickle_is_never_loaded(tmp_path, corpus, run_scan):
    pickle = tmp_path / "registry.pkl"
    pickle.write_bytes(b"\x80\x04K\x01.")
    run = run_scan(corpus, "-r", pickle)
    assert run.code == 2 and "is a pickle" in run.err


def test_a_newer_registry_format_is_refused(registry, corpus, run_scan):
    def change(manifest):
        manifest["format_version"] = 99

    _edit_manifest(registry, change)
    run = run_scan(corpus, "-r", registry)
    assert run.code == 2 and "registry format 99 is not supported" in run.err
