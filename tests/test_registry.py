import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auditor.errors import RegistryError, UsageError
from auditor.fingerprint import FingerprintConfig
from auditor.registry import WorkRegistry, build_registry, open_registries


def test_manifest_and_tables(small_registry):
    m = small_registry.manifest
    assert m["format"] == "auditor-registry" and m["format_version"] == 1
    assert m["counts"]["works"] == 8 and m["counts"]["boilerplate_shingles"] > 0
    assert m["config_id"] == FingerprintConfig().config_id
    assert m["digest"].startswith("sha256:")
    assert [r.id for r in small_registry.refs] == [f"work-{i}" for i in range(8)]
    assert not any(p.suffix in (".pkl", ".pickle") for p in small_registry.path.iterdir())


def test_catalogue_metadata_and_isbns(tmp_path, words):
    (tmp_path / "works").mkdir()
    (tmp_path / "works" / "a.txt").write_text(words.text(500), encoding="utf-8")
    (tmp_path / "catalogue.csv").write_text(
        "work_id,title,authors,isbn,rights_holder,license,source,md5,sha256,path\n"
        "book-a,A Book,Ann Author;Bo Writer,9780306406157;978-0-306-40615-7,Pub,All rights reserved,"
        "libgen,,,works/a.txt\n"
        "book-b,Metadata Only,Cy,9781861972712,Pub,All rights reserved,publisher,,,\n",
        encoding="utf-8",
    )
    build_registry([tmp_path / "catalogue.csv"], tmp_path / "reg")
    reg = WorkRegistry(tmp_path / "reg")
    assert [r.id for r in reg.refs] == ["book-a", "book-b"]
    assert reg.work_for_isbn("9781861972712").id == "book-b"
    assert reg.refs[0].title == "A Book"
    assert reg.works_meta[0]["authors"] == ["Ann Author", "Bo Writer"]
    assert reg.work_tokens(1) == 0


def test_fingerprints_only_keeps_no_text(tmp_path, small_works):
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "x.txt").write_text(small_works["work-0"], encoding="utf-8")
    build_registry([tmp_path / "w"], tmp_path / "reg", fingerprints_only=True)
    texts = pa.ipc.open_file(pa.memory_map(str(tmp_path / "reg" / "texts.arrow"))).read_all()
    assert texts["text"].to_pylist() == [None]
    assert "text" not in pq.read_table(tmp_path / "reg" / "works.parquet").column_names
    assert WorkRegistry(tmp_path / "reg").work_text(0) is None


def test_tampered_registry_is_refused(tmp_path, small_registry):
    copy = tmp_path / "copy"
    shutil.copytree(small_registry.path, copy)
    with (copy / "bands.parquet").open("r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01\x02")
    with pytest.raises(RegistryError, match=r"bands\.parquet has sha256"):
        WorkRegistry(copy)


def test_other_format_version_and_missing_manifest_are_refused(tmp_path, small_registry):
    copy = tmp_path / "copy"
    shutil.copytree(small_registry.path, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["format_version"] = 99
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RegistryError, match="format 99 is not supported"):
        WorkRegistry(copy)
    with pytest.raises(RegistryError, match="not a registry"):
        WorkRegistry(tmp_path)


def test_registries_with_different_configs_cannot_be_combined(tmp_path, small_works, small_registry):
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "x.txt").write_text(small_works["work-0"], encoding="utf-8")
    build_registry([tmp_path / "w"], tmp_path / "other", config=FingerprintConfig(seed=9))
    with pytest.raises(RegistryError, match="seed: 1 != 9"):
        open_registries([small_registry.path, tmp_path / "other"])


def test_build_refuses_to_overwrite_a_non_registry_folder(tmp_path, small_works):
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "x.txt").write_text(small_works["work-0"], encoding="utf-8")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "precious.txt").write_text("keep me")
    with pytest.raises(UsageError, match="not a registry"):
        build_registry([tmp_path / "w"], tmp_path / "data")
    assert (tmp_path / "data" / "precious.txt").read_text() == "keep me"


def test_missing_source_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        build_registry([tmp_path / "nope"], tmp_path / "reg")
