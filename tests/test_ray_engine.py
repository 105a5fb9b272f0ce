"""The Ray engine (``--engine ray``): the same reports as the local engine, the band index as a
distributed join, and nothing lost or counted twice when a worker dies. The tests start a local Ray
with 2 CPUs."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
import ray

from auditor import cli, engine
from auditor.match import local_band_lookup
from auditor.models import AuditResult
from auditor.ray_engine import RayEngine, discover_urls, partitioned_lookup
from auditor.readers import discover_inputs
from auditor.registry import WorkRegistry, build_registry
from auditor.rules import load_rule_set
from auditor.synth import build_sample_corpora
from tests.conftest import SAMPLES


@pytest.fixture(scope="module")
def local_ray() -> Any:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def sample_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ray-sample") / "registry"
    build_registry([SAMPLES / "registry"], path, name="sample")
    return path


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another generated corpus with planted copies (another seed than sample_corpora/), in 12 shards
    so that a scan has several inputs in flight at once."""
    root = tmp_path_factory.mktemp("ray-generated")
    build_sample_corpora(root / "source", 7)
    shards = root / "shards"
    shards.mkdir()
    rows = pq.read_table(root / "source" / "webcrawl" / "crawl-00001.parquet").to_pylist()
    with gzip.open(root / "source" / "webcrawl" / "crawl-00000.jsonl.gz", "rt", encoding="utf-8") as handle:
        rows += [json.loads(line) for line in handle]
    for shard in range(12):
        with (shards / f"part-{shard:02d}.jsonl").open("w", encoding="utf-8") as out:
            for row in rows[shard::12]:
                out.write(json.dumps(row) + "\n")
    (shards / "broken.jsonl").write_text('{"text": "fine row with enough words to read"}\n{not json\n')
    return root


def _run(args: list[str], capsys: pytest.CaptureFixture[str] | None = None) -> tuple[int, str]:
    """The command line, in-process: its exit code and (with capsys) what it printed on stderr."""
    with pytest.raises(SystemExit) as exc:
        cli.main([str(a) for a in args])
    code = exc.value.code
    return code if isinstance(code, int) else 1, capsys.readouterr().err if capsys else ""


def _scan(corpus: list[str], registry: Path, out: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    args = ["scan", *corpus, "-r", str(registry), "-o", str(out), "--quiet", "--format", "json,parquet,sarif"]
    code, _ = _run([*args, *extra])
    return code, json.loads((out / "report.json").read_text(encoding="utf-8"))


def _without_run(report: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in report.items() if key != "run"}


def _same_outputs(a: Path, b: Path) -> None:
    first = json.loads((a / "report.json").read_text(encoding="utf-8"))
    second = json.loads((b / "report.json").read_text(encoding="utf-8"))
    assert _without_run(first) == _without_run(second)
    assert pq.read_table(a / "findings.parquet").equals(pq.read_table(b / "findings.parquet"))


def test_sample_corpora_give_the_same_report_on_ray_as_on_the_local_engine(
    local_ray, sample_registry, tmp_path
):
    corpus = [str(SAMPLES / "webcrawl")]
    code_local, local = _scan(corpus, sample_registry, tmp_path / "local")
    code_ray, _ = _scan(corpus, sample_registry, tmp_path / "ray", "--engine", "ray")
    assert code_local == code_ray == 1
    assert local["summary"]["records_flagged"] > 0
    _same_outputs(tmp_path / "local", tmp_path / "ray")


def test_a_generated_corpus_with_planted_copies_gives_the_same_report_and_registry(
    local_ray, generated, tmp_path, capsys
):
    # the registry built on Ray is the registry built here, file for file
    for engine_name in ("local", "ray"):
        args = [
            "registry",
            "build",
            str(generated / "source" / "registry"),
            "-o",
            str(tmp_path / engine_name),
        ]
        code, err = _run([*args, "--name", "gen", "--quiet", "--engine", engine_name], capsys)
        assert code == 0, err
    manifests = [json.loads((tmp_path / e / "manifest.json").read_text()) for e in ("local", "ray")]
    assert manifests[0]["files"] == manifests[1]["files"]
    assert manifests[0]["digest"] == manifests[1]["digest"]

    corpus = [str(generated / "shards")]
    registry = tmp_path / "local"
    code_local, local = _scan(corpus, registry, tmp_path / "scan-local", "--fail-on", "never")
    code_ray, _ = _scan(corpus, registry, tmp_path / "scan-ray", "--fail-on", "never", "--engine", "ray")
    assert code_local == code_ray == 0
    truth = json.loads((generated / "source" / "truth.json").read_text())
    assert truth and any(f["kind"] == "near-duplicate" for f in local["findings"])
    assert local["summary"]["records_skipped"] == 1  # the broken line, counted on both engines
    _same_outputs(tmp_path / "scan-local", tmp_path / "scan-ray")


def _processes_titled(prefix: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                title = handle.read().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if title.startswith(prefix):
            found.append(int(entry))
    return found


def _comparable(result: AuditResult) -> AuditResult:
    return dataclasses.replace(result, started="", finished="")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds Ray's workers through /proc")
def test_workers_killed_mid_scan_lose_and_duplicate_no_finding(
    local_ray, generated, sample_registry, tmp_path
):
    registry_path = tmp_path / "registry"
    build_registry([generated / "source" / "registry"], registry_path, name="gen")
    registries = [WorkRegistry(registry_path)]
    rules = load_rule_set()
    corpus = [generated / "shards"]
    local = engine.scan(corpus, registries, rules, engine.ScanOptions(workers=1))

    killed: list[str] = []
    stop = threading.Event()

    def kill_one_of_each() -> None:
        # a worker in the middle of auditing an input, and an actor holding a partition of the index
        for title in ("ray::_audit_one", "ray::BandPartition"):
            while not stop.is_set():
                pids = _processes_titled(title)
                if pids:
                    os.kill(pids[0], signal.SIGKILL)
                    killed.append(title)
                    break
                time.sleep(0.005)

    with RayEngine(partitions=3) as ray_engine:
        killer = threading.Thread(target=kill_one_of_each)
        killer.start()
        try:
            on_ray = engine.scan(corpus, registries, rules, engine.ScanOptions(workers=1), engine=ray_engine)
        finally:
            stop.set()
            killer.join()
    # the scan did lose a worker in the middle of an input, and a partition of the band index
    assert killed == ["ray::_audit_one", "ray::BandPartition"]
    assert _comparable(on_ray) == _comparable(local)


def test_one_large_input_is_cut_into_spans_audited_by_ray_tasks_with_the_local_outcome(
    local_ray, generated, sample_registry, tmp_path, small_parts
):
    # A single large plain file is audited by the whole cluster, span by span, not by one task.
    registry_path = tmp_path / "registry"
    build_registry([generated / "source" / "registry"], registry_path, name="gen")
    registries = [WorkRegistry(registry_path)]
    rules = load_rule_set()
    large = tmp_path / "all.jsonl"
    with large.open("wb") as out:
        for shard in sorted((generated / "shards").iterdir()):
            out.write(shard.read_bytes())
    local = engine.scan([large], registries, rules, engine.ScanOptions(workers=1))
    assert any(f.kind == "near-duplicate" for f in local.findings) and len(local.skipped) == 1

    cutters = small_parts((16 << 10, 64 << 10), 4 << 10)
    with RayEngine() as ray_engine:
        on_ray = engine.scan([large], registries, rules, engine.ScanOptions(workers=1), engine=ray_engine)
    (cut,) = [c.cut for c in cutters]
    assert cut is not None and len(cut.spans) >= 4
    assert _comparable(on_ray) == _comparable(local)
    assert on_ray.inputs[0].sha256 == local.inputs[0].sha256 != ""


def test_each_partition_holds_its_slice_and_the_join_finds_what_the_local_index_finds(
    local_ray, sample_registry
):
    registry = WorkRegistry(sample_registry)
    rng = np.random.default_rng(5)
    keys = np.concatenate(
        [
            registry.band_key[rng.integers(0, len(registry.band_key), 3000)],
            rng.integers(0, 2**63, 500, dtype=np.uint64),
        ]
    )
    rng.shuffle(keys)
    with RayEngine(partitions=4) as ray_engine:
        held = ray_engine.partitioned(registry)
        rows = ray.get([actor.rows.remote() for actor in held.actors])
        assert sum(rows) == len(registry.band_key)
        assert max(rows) < len(registry.band_key)  # no actor holds the whole index
        remote = partitioned_lookup(held.actors, held.bounds)(keys)
    local = local_band_lookup(registry)(keys)
    order_remote = np.lexsort(remote[::-1])
    order_local = np.lexsort(local[::-1])
    assert len(local[0]) > 3000
    for mine, theirs in zip(remote, local, strict=True):
        assert np.array_equal(mine[order_remote], theirs[order_local])


def test_corpus_urls_are_read_through_pyarrow_file_systems(local_ray, sample_registry, tmp_path):
    url = (SAMPLES / "webcrawl").resolve().as_uri()
    code_local, local = _scan([str(SAMPLES / "webcrawl")], sample_registry, tmp_path / "local")
    code_ray, on_ray = _scan([url], sample_registry, tmp_path / "url", "--engine", "ray")
    assert code_local == code_ray == 1
    assert [i["path"] for i in on_ray["inputs"]] == [
        f"{url}/crawl-00000.jsonl.gz",
        f"{url}/crawl-00001.parquet",
    ]
    assert [i["sha256"] for i in on_ray["inputs"]] == [i["sha256"] for i in local["inputs"]]
    assert on_ray["summary"] == local["summary"]

    def where(finding: dict[str, Any]) -> tuple[Any, ...]:
        return (finding["rule_id"], finding["record"]["row"], finding["work"], finding["spans"])

    assert [where(f) for f in on_ray["findings"]] == [where(f) for f in local["findings"]]


def test_a_corpus_url_needs_the_ray_engine(sample_registry, tmp_path, capsys):
    code, err = _run(["scan", "s3://bucket/shards", "-r", sample_registry, "-o", tmp_path / "out"], capsys)
    assert code == 2
    assert "--engine ray" in err


def test_without_ray_installed_the_message_says_how_to_install_it(
    sample_registry, tmp_path, monkeypatch, capsys
):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails, as when it is not installed
    args = ["scan", SAMPLES / "webcrawl", "-r", sample_registry, "-o", tmp_path / "out", "--engine", "ray"]
    code, err = _run(args, capsys)
    assert code == 2
    assert "pip install 'provenance-auditor[ray]'" in err
    code, err = _run(
        ["registry", "build", SAMPLES / "registry", "-o", tmp_path / "r", "--engine", "ray"], capsys
    )
    assert code == 2
    assert "pip install 'provenance-auditor[ray]'" in err


def test_checkpoints_of_either_engine_resume_on_the_other_with_the_same_report(
    local_ray, sample_registry, tmp_path, capsys
):
    args = ["scan", SAMPLES / "webcrawl", "-r", sample_registry, "-o", tmp_path / "out"]
    code, _ = _run([*args, "--engine", "ray"], capsys)
    first = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    for engine_name in ("local", "ray"):  # the Ray scan's checkpoints restore on either engine
        code_again, err = _run([*args, "--resume", "--engine", engine_name], capsys)
        again = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
        assert code == code_again == 1
        assert "resumed: 2 input(s) restored from checkpoints" in err  # nothing audited twice
        assert _without_run(again) == _without_run(first)


def test_registry_sources_may_be_urls_and_are_recorded_by_their_urls(local_ray, tmp_path, capsys):
    url = (SAMPLES / "registry").resolve().as_uri()
    local_args = ["registry", "build", SAMPLES / "registry", "-o", tmp_path / "local", "--name", "s"]
    url_args = ["registry", "build", url, "-o", tmp_path / "url", "--name", "s", "--engine", "ray"]
    for args in (local_args, url_args):
        code, err = _run([*args, "--quiet"], capsys)
        assert code == 0, err
    local, remote = (json.loads((tmp_path / n / "manifest.json").read_text()) for n in ("local", "url"))
    for name in ("bands.arrow", "tokens.arrow", "passages.parquet", "texts.arrow", "isbns.parquet"):
        assert local["files"][name] == remote["files"][name], name
    assert [s["path"] for s in remote["sources"]] == [url]
    # works keep the paths their catalogue gives; the catalogue rows they come from are named by URL
    works = [pq.read_table(tmp_path / n / "works.parquet").to_pylist() for n in ("local", "url")]
    assert [w["path"] for w in works[0]] == [w["path"] for w in works[1]]
    assert all(w["origin"].startswith(url + "/") for w in works[1] if w["origin"])
    assert any(w["origin"] for w in works[1])


def test_url_discovery_decides_formats_as_folder_discovery_does(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.jsonl").write_text('{"text": "x"}\n')
    shutil.copy(SAMPLES / "webcrawl" / "crawl-00001.parquet", corpus / "b.jsonl")  # Parquet by content
    (corpus / "c.bin").write_bytes(b"\0\1")
    (corpus / ".hidden.jsonl").write_text('{"text": "x"}\n')
    (corpus / "filter-manifest.json").write_text('{"manifest_version": 1, "tool": {"name": "auditor"}}\n')
    local, local_skipped = discover_inputs([corpus])
    remote, remote_skipped = discover_urls(corpus.as_uri())
    assert [(Path(i.name).name, i.reader) for i in local] == [(Path(i.name).name, i.reader) for i in remote]
    assert (
        [Path(s.input).name for s in local_skipped]
        == [Path(s.input).name for s in remote_skipped]
        == ["c.bin"]
    )


def test_registry_add_on_ray_writes_what_it_writes_locally(
    local_ray, generated, sample_registry, tmp_path, capsys
):
    more = generated / "source" / "registry" / "works"
    for engine_name in ("local", "ray"):
        shutil.copytree(sample_registry, tmp_path / engine_name)
        code, err = _run(
            ["registry", "add", tmp_path / engine_name, more, "--quiet", "--engine", engine_name], capsys
        )
        assert code == 0, err
    local, remote = (json.loads((tmp_path / n / "manifest.json").read_text()) for n in ("local", "ray"))
    assert local["counts"]["works"] > 20
    assert local["files"] == remote["files"]
