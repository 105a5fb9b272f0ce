"""Per-input checkpoints of a scan, so ``--resume`` continues after Ctrl-C, SIGTERM or ``kill -9``.

State lives in ``OUTDIR/.auditor-state/``:

* ``run.json`` — what the findings depend on (tool version, config id over registry and rule-pack
  digests, rules, options, limits, suppression files) and the hash of it all, the run key;
* ``inputs/<hash of the input's name>.jsonl`` — one file per completed input, written to a temporary
  file and renamed into place once the input's last record has been audited: a header line (input,
  input key, digest, counts, skipped rows, source tally), one line per record with findings (the raw
  findings, before suppression), and a trailer with the line count and the sha256 of every byte before
  it. A torn or altered checkpoint fails that check and its input is read again;
* ``lock`` — held (``flock``) while a scan runs, so two scans never share one output folder.

An input's key hashes the run key with the input's name, size, mtime and sha256, so an input that
changed since is scanned again. A resumed scan replays checkpoints in input order, exactly where the
input would have been read, through the same suppression and tallies, so its report.json equals an
uninterrupted run's (apart from run times and the command line). The unit of work is the input file:
an input interrupted part-way is read again from its start.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import itertools
import json
import os
import shutil
import types
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

from auditor import __version__
from auditor.errors import UsageError
from auditor.models import Evidence, Finding, Skipped
from auditor.sources import SourceTally

STATE_VERSION = 1
STATE_DIR = ".auditor-state"


# ----------------------------------------------------------------------------- dataclasses as JSON


_PLAIN = (str, int, float, bool, type(None))
_FIELDS: dict[type, tuple[str, ...]] = {}  # a dataclass's field names (other types: none), once per type
_HINTS: dict[type, list[tuple[str, Any]]] = {}  # a dataclass's fields with their types, once per type


def encode(value: Any) -> Any:
    """A frozen-dataclass value (findings, tallies) as plain JSON data; ``decode`` reverses it."""
    kind = type(value)
    if kind in _PLAIN:  # exact types: an IntEnum is an int but is encoded as its value below
        return value
    names = _FIELDS.get(kind)
    if names is None:
        is_fields = dataclasses.is_dataclass(value) and not isinstance(value, type)
        names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(value)) if is_fields else ()
    if names:
        return {name: encode(getattr(value, name)) for name in names}
    if kind is Evidence:
        return value.as_dict()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot checkpoint a {type(value).__name__}")


def decode(data: Any, hint: Any) -> Any:
    """Rebuild a value of type ``hint`` from ``encode``'s output."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return decode(data, inner)
    if origin is dict:
        return {k: decode(v, args[1]) for k, v in data.items()}
    if origin is tuple:
        return tuple(decode(v, args[0]) for v in data)
    if origin is list:
        return [decode(v, args[0]) for v in data]
    if hint is Evidence:
        return Evidence(data["record_text"], data["work_text"])
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        fields = _HINTS.get(hint)
        if fields is None:  # evaluating the annotations is slow: once per type, not once per value
            hints = typing.get_type_hints(hint)
            fields = _HINTS[hint] = [(f.name, hints[f.name]) for f in dataclasses.fields(hint)]
        return hint(**{name: decode(data[name], kind) for name, kind in fields})
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(data)
    if hint is float and isinstance(data, int):
        return float(data)
    return data


# ----------------------------------------------------------------------------- one input's checkpoint


@runtime_checkable
class EncodedFindings(Protocol):
    """Findings by record that can give their checkpoint lines directly: a scan's findings spill holds
    them encoded already, so its checkpoints are written without decoding and encoding them again."""

    def __iter__(self) -> Iterator[tuple[int, list[Finding]]]: ...

    def checkpoint_lines(self) -> Iterator[bytes]:
        """Per record with findings, the line ``_dump([row, [encode(f) for f in its findings]])``."""
        ...


@dataclass(slots=True)
class InputCheckpoint:
    """What one completed input contributed to the scan.

    Attributes:
        name: the input's name in reports.
        key: the input key it was made under.
        sha256: the input's digest.
        records: records audited.
        skipped_rows: records skipped.
        skipped: every Skipped the input gave (rows and file-level notes), in reading order.
        findings: per record with findings, its row and its raw findings (before suppression); any
            iterable that can be iterated again (a scan gives its findings spill's, read as written).
        tally: the input's source tally (after suppression, which the run key covers).
    """

    name: str
    key: str
    sha256: str
    records: int = 0
    skipped_rows: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    findings: Iterable[tuple[int, list[Finding]]] = field(default_factory=list)
    tally: SourceTally = field(default_factory=SourceTally)


def input_key(run_key: str, name: str, size: int, mtime_ns: int, sha256: str) -> str:
    """The key an input's checkpoint is valid under: the run's key and the input's identity."""
    text = json.dumps([run_key, name, size, mtime_ns, sha256], ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def dump_json(value: Any) -> bytes:
    """``value`` as the compact ASCII JSON of checkpoint (and spill) lines, without the newline.

    ensure_ascii keeps lone surrogates as \\udXXX escapes, so any text round-trips exactly; the output is
    canonical (loading and dumping it again gives the same bytes), which the spill relies on.
    """
    return json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()


def _dump(value: Any) -> bytes:
    return dump_json(value) + b"\n"


def write_checkpoint(path: Path, checkpoint: InputCheckpoint) -> None:
    """Write a checkpoint atomically (temporary file, then rename); a crash leaves no partial file.

    Lines are encoded and written one at a time: a large input's checkpoint is never whole in memory.
    """
    header = {
        "state_version": STATE_VERSION,
        "input": checkpoint.name,
        "key": checkpoint.key,
        "sha256": checkpoint.sha256,
        "records": checkpoint.records,
        "skipped_rows": checkpoint.skipped_rows,
        "skipped": [encode(s) for s in checkpoint.skipped],
        "tally": encode(checkpoint.tally),
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as handle:
            digest = hashlib.sha256()
            lines = 0
            found_by_row = checkpoint.findings
            body: Iterable[bytes]
            if isinstance(found_by_row, EncodedFindings):
                body = found_by_row.checkpoint_lines()
            else:
                body = (_dump([row, [encode(f) for f in found]]) for row, found in found_by_row)
            for line in itertools.chain([_dump(header)], body):
                digest.update(line)
                handle.write(line)
                lines += 1
            handle.write(_dump({"end": True, "lines": lines, "sha256": digest.hexdigest()}))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def read_checkpoint(path: Path) -> InputCheckpoint | None:
    """Read a checkpoint; None if it is missing, torn, altered or from another state version."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    lines = data.splitlines(keepends=True)
    try:
        trailer = json.loads(lines[-1])
        body = lines[:-1]
        digest = hashlib.sha256(b"".join(body)).hexdigest()
        if trailer != {"end": True, "lines": len(body), "sha256": digest}:
            return None
        head = json.loads(body[0])
        if head.get("state_version") != STATE_VERSION:
            return None
        return InputCheckpoint(
            name=head["input"],
            key=head["key"],
            sha256=head["sha256"],
            records=head["records"],
            skipped_rows=head["skipped_rows"],
            skipped=[decode(s, Skipped) for s in head["skipped"]],
            findings=[(row, [decode(f, Finding) for f in found]) for row, found in map(json.loads, body[1:])],
            tally=decode(head["tally"], SourceTally),
        )
    except (IndexError, ValueError, KeyError, TypeError, AttributeError):
        return None


# ----------------------------------------------------------------------------- the store


class CheckpointStore:
    """The checkpoints of one output folder: begun once per scan, one file per completed input.

    Args:
        folder: the state folder (``OUTDIR/.auditor-state``).
        resume: keep and reuse the checkpoints of an earlier run with the same configuration; without
            it, earlier checkpoints are deleted when the scan begins.
        extra: more settings the findings depend on, supplied by the caller (e.g. the digests of the
            baseline and waivers files).
    """

    def __init__(self, folder: Path, *, resume: bool, extra: dict[str, Any] | None = None) -> None:
        self.folder = Path(folder)
        self.resume = resume
        self.extra = dict(extra or {})
        self.run_key = ""
        self.restored = 0
        self.failed: str | None = None
        self._lock: IO[str] | None = None

    def begin(self, settings: dict[str, Any]) -> None:
        """Lock the folder and start (or, when resuming, check) the run state.

        Raises:
            UsageError: another scan holds the folder, or ``--resume`` was asked with settings other
                than the interrupted run's (the message lists what differs).
        """
        settings = {"tool_version": __version__, **settings, **self.extra}
        material = json.loads(json.dumps(settings, sort_keys=True, default=str))
        self.run_key = hashlib.sha256(_dump(material)).hexdigest()
        self.folder.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        run_file = self.folder / "run.json"
        inputs = self.folder / "inputs"
        previous = _read_json(run_file) if self.resume else None
        if previous is not None and previous.get("run_key") != self.run_key:
            self.close()
            diff = _differences(previous.get("settings", {}), material)
            raise UsageError(
                f"cannot --resume from {self.folder}: the earlier scan used other settings "
                f"({'; '.join(diff) or 'state from another version'}); run the scan without --resume "
                "to start over"
            )
        if previous is None:
            shutil.rmtree(inputs, ignore_errors=True)
            _write_json(
                run_file, {"state_version": STATE_VERSION, "run_key": self.run_key, "settings": material}
            )
        inputs.mkdir(exist_ok=True)
        for stale in inputs.glob(".*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()

    def _take_lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # no flock on this platform: scans are not guarded against each other
            return
        handle = (self.folder / "lock").open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip() or "?"
            handle.close()
            raise UsageError(
                f"output folder {self.folder.parent} is in use by another scan (pid {owner}); "
                "wait for it or choose another -o"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock = handle

    def close(self) -> None:
        """Release the lock (checkpoints stay for a later ``--resume``)."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _path(self, name: str) -> Path:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return self.folder / "inputs" / f"{digest}.jsonl"

    def key_for(self, name: str, size: int, mtime_ns: int, sha256: str) -> str:
        return input_key(self.run_key, name, size, mtime_ns, sha256)

    def load(self, name: str, key: str) -> InputCheckpoint | None:
        """The checkpoint of an input if one is valid for ``key``; a torn or stale one is removed."""
        if not self.resume:
            return None
        path = self._path(name)
        checkpoint = read_checkpoint(path)
        if checkpoint is None or checkpoint.key != key or checkpoint.name != name:
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        self.restored += 1
        return checkpoint

    def save(self, checkpoint: InputCheckpoint) -> None:
        """Save a completed input; a failure (a full disk) only costs resumability, never the scan."""
        try:
            write_checkpoint(self._path(checkpoint.name), checkpoint)
        except OSError as exc:
            self.failed = self.failed or f"cannot write checkpoints in {self.folder}: {exc.strerror or exc}"


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, value: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(_dump(value))
    os.replace(tmp, path)


def _differences(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    out = []
    for key in sorted(set(before) | set(now)):
        if before.get(key) != now.get(key):
            was, is_ = json.dumps(before.get(key))[:80], json.dumps(now.get(key))[:80]
            out.append(f"{key}: {was} then, {is_} now")
    return out
