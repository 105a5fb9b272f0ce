"""The Ray engine: the local engine's pipeline on a Ray cluster, with band look-ups as a distributed join.

A scan's unit of work is one input: a Ray task reads it (staging a URL input to the worker's disk
first), audits it whole with :func:`auditor.engine.audit_input` and hands back an
:class:`~auditor.engine.InputAudit`. The driver takes them in input order and does everything that
depends on order (suppressions, tallies, checkpoints, reports) exactly as the local engine does, so
the two engines give the same report.

The band index is never copied into the workers. It is cut into key ranges of about equal rows
(:func:`auditor.registry.band_bounds`); one actor per range holds that slice in memory, joined with
its passages. A task routes each batch's band keys to the actors owning them and gets back the hits
(a partitioned hash join of record windows with registered passages); verification then reads only
the candidate passages' shingles, with pread, from the registry folder, which every node must see at
the same path (a shared file system). Work counts and limits are in docs/scaling.md.

A registry build runs the tokenising and signing of each work as Ray tasks; its sources may be URLs,
copied to the driver first (:func:`staged_sources`) and recorded in the registry under their URLs.

Failures: a task whose worker dies is run again by Ray (``max_retries``) and its input is taken once,
whole, so nothing is lost or counted twice; an actor that dies is restarted, reloads its slice, and
the calls it had are retried.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from auditor.engine import (
    InputAudit,
    RecordAuditor,
    ScanOptions,
    Unit,
    audit_in_parts,
    audit_input,
    audit_span,
    cut_plan,
    identify_file,
)
from auditor.errors import UsageError
from auditor.keyindex import KeyIndex, bucket_bits, bucket_table
from auditor.match import BandLookup, expand_ranges
from auditor.models import Skipped
from auditor.readers import (
    HEAD_BYTES,
    InputFile,
    discover_inputs,
    is_filter_manifest_head,
    reader_by_content,
)
from auditor.readers.base import reader_for
from auditor.readers.spans import Span
from auditor.registry import Mapper, WorkRegistry, band_bounds, read_band_partition
from auditor.rules import RuleSet

INSTALL_HINT = "pip install 'provenance-auditor[ray]'"
PARTITION_ROWS = 50_000_000
"""Band index rows per partition actor by default (0.8 GB in memory at 16 bytes a row)."""

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(text: str) -> bool:
    """Whether a corpus or source argument is a URL (``s3://``, ``gs://``, ``file://``…), not a path."""
    return bool(_URL.match(text))


def require_ray() -> ModuleType:
    """The ``ray`` module, or a UsageError that says how to install it."""
    try:
        import ray
    except ImportError:
        raise UsageError(f"--engine ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


@dataclass(frozen=True, slots=True)
class RemoteInput:
    """A corpus input read through a pyarrow file system (``s3://``, ``gs://``, ``file://``…)."""

    url: str
    name: str
    reader: type[Any]
    size: int
    mtime_ns: int


def _filesystem(url: str) -> tuple[Any, str]:
    from pyarrow import fs

    try:
        return fs.FileSystem.from_uri(url)
    except Exception as exc:  # pyarrow raises ArrowInvalid, ArrowNotImplementedError, OSError…
        raise UsageError(f"cannot open {url}: {exc}") from None


def _mtime_ns(info: Any) -> int:
    return int(info.mtime_ns) if info.mtime_ns is not None else 0


def discover_urls(url: str) -> tuple[list[RemoteInput], list[Skipped]]:
    """The files under a URL (a file or a prefix), as :func:`~auditor.readers.discover_inputs` finds
    them under a folder: hidden files left out, unsupported types skipped with the reason."""
    from pyarrow import fs

    filesystem, root = _filesystem(url)
    info = filesystem.get_file_info(root)
    if info.type == fs.FileType.NotFound:
        raise UsageError(f"corpus path {url} does not exist")
    base = url.rstrip("/")
    if info.type == fs.FileType.File:
        entries = [(url, info)]
    else:
        found = filesystem.get_file_info(fs.FileSelector(root, recursive=True))
        entries = []
        for entry in found:
            relative = entry.path[len(root.rstrip("/")) + 1 :]
            if entry.type != fs.FileType.File or any(p.startswith(".") for p in relative.split("/")):
                continue
            entries.append((f"{base}/{relative}", entry))
    inputs: list[RemoteInput] = []
    skipped: list[Skipped] = []
    for name, entry in sorted(entries, key=lambda e: e[0]):
        with filesystem.open_input_stream(entry.path, compression=None) as handle:
            head = handle.read(HEAD_BYTES)
        if is_filter_manifest_head(entry.base_name, head):
            if info.type == fs.FileType.File:
                what = "the manifest auditor filter wrote with a cleaned corpus, not corpus; not read"
                skipped.append(Skipped(name, None, what))
            continue  # found under a prefix, passed over as discover_inputs does in a folder
        cls = reader_for(Path(entry.base_name))
        if cls is not None:
            cls = reader_by_content(head) or cls  # decoded by content, as discover_inputs does
        if cls is None:
            suffix = "".join(Path(entry.base_name).suffixes) or entry.base_name
            skipped.append(Skipped(name, None, f"unsupported file type {suffix!r}"))
            continue
        inputs.append(RemoteInput(name, name, cls, int(entry.size or 0), _mtime_ns(entry)))
    return inputs, skipped


def _copy_file(filesystem: Any, path: str, local: Path) -> None:
    """One file of a pyarrow file system copied, as stored (never decompressed), to a local path."""
    with filesystem.open_input_stream(path, compression=None) as source, local.open("wb") as target:
        shutil.copyfileobj(source, target, 1 << 22)


@contextlib.contextmanager
def staged(item: InputFile | RemoteInput) -> Iterator[InputFile]:
    """An input as a local file: a local one as it is, a URL copied to this machine's temp folder
    (removed afterwards) under the input's name, so readers and reports see the same input."""
    if isinstance(item, InputFile):
        yield item
        return
    filesystem, path = _filesystem(item.url)
    folder = tempfile.mkdtemp(prefix="auditor-stage-")
    try:
        local = Path(folder) / Path(path).name
        _copy_file(filesystem, path, local)
        yield InputFile(path=local, name=item.name, reader=item.reader, size=item.size)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def staged_sources(sources: Sequence[str]) -> Iterator[tuple[list[Path], dict[Path, str]]]:
    """Registry sources as local paths: URLs (a file or a prefix) copied to this machine's temp folder
    for the build, paths as they are; and the URL of each copy, to record in the registry."""
    from pyarrow import fs

    folder = Path(tempfile.mkdtemp(prefix="auditor-sources-"))
    try:
        paths: list[Path] = []
        names: dict[Path, str] = {}
        for n, source in enumerate(sources):
            if not is_url(source):
                paths.append(Path(source))
                continue
            filesystem, path = _filesystem(source)
            info = filesystem.get_file_info(path)
            if info.type == fs.FileType.NotFound:
                raise UsageError(f"registry source {source} does not exist")
            local = folder / str(n) / (Path(path).name or "source")
            local.parent.mkdir(parents=True)
            if info.type == fs.FileType.Directory:
                fs.copy_files(path, str(local), source_filesystem=filesystem)
            else:
                _copy_file(filesystem, path, local)
            paths.append(local)
            names[local] = source.rstrip("/")
        yield paths, names
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def identify(item: InputFile | RemoteInput) -> tuple[int, int, str]:
    """An input's size, modification time (ns) and sha256, read where it lies."""
    if isinstance(item, InputFile):
        return identify_file(item.path)
    digest = hashlib.sha256()
    filesystem, path = _filesystem(item.url)
    with filesystem.open_input_stream(path, compression=None) as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return item.size, item.mtime_ns, digest.hexdigest()


class BandPartition:
    """One key range of a registry's band index, held in memory by a Ray actor and looked up there."""

    def __init__(self, registry: str, lo: int, hi: int | None) -> None:
        from auditor import kernels

        kernels.warm_up()
        self.keys, self.work, self.start = read_band_partition(Path(registry), lo, hi)
        bits = bucket_bits(len(self.keys))
        self.index = KeyIndex(self.keys, bucket_table(self.keys, bits) if len(self.keys) else None)

    def rows(self) -> int:
        return len(self.keys)

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The hits of ``keys``: (position of each hit's key in ``keys``, passage work, passage start)."""
        query, lo, count = self.index.ranges(keys)
        rows = expand_ranges(lo, count)
        return np.repeat(query, count), self.work[rows].astype(np.int64), self.start[rows].astype(np.int64)


def partitioned_lookup(actors: Sequence[Any], bounds: np.ndarray) -> BandLookup:
    """A :data:`~auditor.match.BandLookup` that sends each key to the actor owning its key range."""
    import ray

    def lookup(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        owner = np.searchsorted(bounds, keys, side="right") - 1
        asked = []
        for part in np.unique(owner):
            positions = np.flatnonzero(owner == part)
            asked.append((positions, actors[int(part)].lookup.remote(keys[positions])))
        answers = ray.get([ref for _, ref in asked])
        if not answers:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, empty
        return (
            np.concatenate([positions[q] for (positions, _), (q, _, _) in zip(asked, answers, strict=True)]),
            np.concatenate([w for _, w, _ in answers]),
            np.concatenate([s for _, _, s in answers]),
        )

    return lookup


@dataclass(frozen=True, slots=True)
class _Registry:
    path: str
    digest: str
    actors: tuple[Any, ...]
    bounds: np.ndarray


@dataclass(frozen=True, slots=True)
class _Job:
    """What every task of one scan needs, put in Ray's object store once."""

    key: str
    registries: tuple[_Registry, ...]
    rules: RuleSet
    options: ScanOptions


_AUDITORS: dict[str, RecordAuditor] = {}
"""Per worker process: the auditor of the scan it works for (built on its first task)."""


def _auditor_for(job: _Job) -> RecordAuditor:
    auditor = _AUDITORS.get(job.key)
    if auditor is None:
        _AUDITORS.clear()
        registries = []
        for reg in job.registries:
            opened = WorkRegistry(Path(reg.path), verify=False, bands=False)
            if opened.manifest.get("digest") != reg.digest:
                raise RuntimeError(f"{reg.path} changed during the scan (its manifest digest differs)")
            registries.append(opened)
        lookups = [partitioned_lookup(reg.actors, reg.bounds) for reg in job.registries]
        auditor = RecordAuditor(registries, job.rules, job.options, lookups=lookups)
        _AUDITORS[job.key] = auditor
    return auditor


def _audit_one(job: _Job, item: InputFile | RemoteInput, span: Span | None = None) -> InputAudit:
    """A Ray task: one input audited whole on this worker, or one span of it (a path every node sees)."""
    auditor = _auditor_for(job)
    if span is not None:
        assert isinstance(item, InputFile), "only inputs given as paths are cut into spans"
        return audit_span(auditor, item, span, job.options.fields, job.options.limits)
    try:
        with staged(item) as local:
            result = audit_input(auditor, local, job.options.fields, job.options.limits)
    except OSError as exc:  # the URL could not be copied here
        return InputAudit(item.name, skipped=[Skipped(item.name, None, f"cannot read: {exc}")])
    if isinstance(item, RemoteInput) and not result.unreadable:
        result.size, result.mtime_ns = item.size, item.mtime_ns  # the input's, not the staged copy's
    return result


class RayEngine:
    """Scans and builds on a Ray cluster: the one at ``address`` (or ``RAY_ADDRESS``), else a local
    one started here and stopped on :meth:`close`.

    Args:
        address: a Ray cluster address (``ray://host:10001``, ``auto``); None starts a local Ray.
        partitions: band index partitions (actors) per registry; default, one per
            :data:`PARTITION_ROWS` rows, at least 2.
        num_cpus: CPUs of a local Ray started here (default: all).
        in_flight: most inputs queued or running at once (default: 2 per CPU of the cluster).
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        partitions: int | None = None,
        num_cpus: int | None = None,
        in_flight: int | None = None,
    ) -> None:
        self.ray = require_ray()
        self.partitions = partitions
        self._started = False
        if not self.ray.is_initialized():
            address = address or os.environ.get("RAY_ADDRESS") or None
            init: dict[str, Any] = {"address": address, "include_dashboard": False, "log_to_driver": False}
            if address is None:
                init["num_cpus"] = num_cpus
            self.ray.init(**init)
            self._started = True
        cpus = int(self.ray.cluster_resources().get("CPU", 1))
        self.in_flight = in_flight or max(2, 2 * cpus)
        self._actors: dict[tuple[str, str], _Registry] = {}

    def close(self) -> None:
        for reg in self._actors.values():
            for actor in reg.actors:
                with contextlib.suppress(Exception):
                    self.ray.kill(actor)
        self._actors.clear()
        if self._started:
            self.ray.shutdown()
            self._started = False

    def __enter__(self) -> RayEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- engine protocol (auditor.engine.Engine) -------------------------------------------------

    def discover(self, corpus: Sequence[str]) -> tuple[list[Any], list[Skipped]]:
        local = [Path(c) for c in corpus if not is_url(c)]
        found: list[Any]
        found, skipped = discover_inputs(local) if local else ([], [])
        found, skipped = list(found), list(skipped)
        for url in (c for c in corpus if is_url(c)):
            more, more_skipped = discover_urls(url)
            found += more
            skipped += more_skipped
        return sorted(found, key=lambda i: i.name), sorted(skipped, key=lambda s: s.input)

    def identify(self, item: Any) -> tuple[int, int, str]:
        return identify(item)

    def audit_inputs(
        self,
        items: Sequence[Any],
        registries: Sequence[WorkRegistry],
        rules: RuleSet,
        options: ScanOptions,
    ) -> Iterator[InputAudit]:
        job = _Job(
            key=uuid.uuid4().hex,
            registries=tuple(self.partitioned(r) for r in registries),
            rules=rules,
            options=replace(options, workers=1),
        )
        task = self.ray.remote(num_cpus=1, max_retries=3)(_audit_one)
        job_ref = self.ray.put(job)
        # Large plain inputs given as paths are cut into spans, one task each, as the local engine's
        # workers read them: a single large file is then audited by the whole cluster.
        cpus = max(2, int(self.ray.cluster_resources().get("CPU", 1)))
        plan = cut_plan(items, cpus, options.limits)
        stop = threading.Event()

        def audit(units: Iterator[Unit]) -> Iterator[InputAudit]:
            return self._ordered_calls(task, ((job_ref, item, span) for item, span in units))

        try:
            yield from audit_in_parts(items, plan, cpus, audit, stop)
        finally:
            stop.set()

    # -- registry build --------------------------------------------------------------------------

    def mapper(self) -> Mapper:
        """A :data:`~auditor.registry.Mapper` over Ray tasks: how ``registry build`` tokenises and
        signs works on the cluster (``shared`` arguments are put in the object store once)."""

        def run(
            function: Callable[..., Any], calls: list[tuple[Any, ...]], shared: tuple[Any, ...]
        ) -> list[Any]:
            task = self.ray.remote(num_cpus=1, max_retries=3)(function)
            refs = tuple(self.ray.put(value) for value in shared)
            return list(self._ordered_calls(task, [(*call, *refs) for call in calls]))

        return run

    # -- internals -------------------------------------------------------------------------------

    def partitioned(self, registry: WorkRegistry) -> _Registry:
        """The registry's band index loaded into partition actors (once per engine)."""
        key = (str(registry.path.resolve()), registry.manifest["digest"])
        if key not in self._actors:
            rows = len(registry.band_key)
            parts = self.partitions or max(2, -(-rows // PARTITION_ROWS))
            bounds = band_bounds(registry.path, parts)
            actor_class = self.ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(BandPartition)
            his: list[int | None] = [int(b) for b in bounds[1:]]
            actors = tuple(
                actor_class.remote(key[0], int(lo), hi) for lo, hi in zip(bounds, [*his, None], strict=True)
            )
            held = sum(self.ray.get([a.rows.remote() for a in actors]))
            if held != rows:
                raise RuntimeError(f"band partitions of {registry.path} hold {held} rows of {rows}")
            self._actors[key] = _Registry(key[0], key[1], actors, bounds)
        return self._actors[key]

    def _ordered_calls(self, task: Any, calls: Iterable[tuple[Any, ...]]) -> Iterator[Any]:
        """Submit ``task`` per call, at most ``in_flight`` at a time, and yield results in call order
        (the calls are taken as they are needed)."""
        pending: deque[Any] = deque()
        calls_left = iter(calls)
        try:
            while True:
                while len(pending) < self.in_flight:
                    args = next(calls_left, None)
                    if args is None:
                        break
                    pending.append(task.remote(*args))
                if not pending:
                    return
                yield self.ray.get(pending.popleft())
        finally:
            for ref in pending:
                with contextlib.suppress(Exception):
                    self.ray.cancel(ref, force=True)
