"""Parquet files, read in a sandbox process and streamed back as validated Arrow record batches.

A crash, hang or out-of-memory kill inside the Parquet library costs the file being read (a counted
``partial:`` skip naming the signal), never the scan: the library runs in ``parquet_child``, one
long-lived process that is restarted after each failure. The schema is checked before any row is read:
a file without a usable text column is one file-level skip naming the column and ``--text-field``.
``SandboxedReader`` is that reading, shared with the Arrow IPC reader (``auditor.readers.arrow``).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, ClassVar

import pyarrow as pa

from auditor.limits import format_size
from auditor.models import Record, Skipped
from auditor.readers import parquet_child
from auditor.readers.base import TEXT_FIELDS, Reader, register, to_record
from auditor.readers.stream import open_regular

BATCH_ROWS = 1024
THRIFT_STRING_LIMIT = 100_000_000
THRIFT_CONTAINER_LIMIT = 1_000_000
_MAX_FRAME = 1 << 40


class SandboxFailed(Exception):
    """The sandbox process died, hung or could not be started while reading a file."""


class ParquetSandbox:
    """The parent's handle on the Parquet child process: one request at a time, restarted after failures."""

    def __init__(self, command: list[str] | None = None) -> None:
        self.command = command
        self._proc: subprocess.Popen[bytes] | None = None
        self._owner = os.getpid()
        self._what = "Parquet"

    def _start(self) -> subprocess.Popen[bytes]:
        # -P keeps the child's own folder (auditor/readers) off sys.path; our pid lets it die with us.
        command = self.command or [sys.executable, "-P", parquet_child.__file__, str(os.getpid())]
        try:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                bufsize=0,
                close_fds=True,
            )
        except OSError as exc:
            raise SandboxFailed(
                f"cannot start the {self._what} reader process: {exc.strerror or exc}"
            ) from exc
        self._proc = proc
        return proc

    def close(self) -> None:
        """Stop the child (it is started again on the next request)."""
        proc, self._proc = self._proc, None
        if proc is None or self._owner != os.getpid():
            return
        with contextlib.suppress(OSError):
            proc.kill()
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def interrupt(self) -> None:
        """Kill the child without touching its pipes (another thread may be reading them)."""
        proc = self._proc
        if proc is not None and self._owner == os.getpid():
            with contextlib.suppress(OSError):
                proc.kill()

    def frames(
        self, request: dict[str, Any], timeout: float, accept: Callable[[bytes], bool], what: str = "Parquet"
    ) -> Iterator[tuple[bytes, bytes]]:
        """The child's frames for one request; raises SandboxFailed if it dies or goes silent.

        ``accept`` is given the schema frame; when it returns False the child skips the rows (and
        stays up for the next file). ``what`` names the format in failure messages.
        """
        self._what = what
        if self._owner != os.getpid():  # a forked copy: the child belongs to the parent process
            self._proc, self._owner = None, os.getpid()
        proc = self._proc if self._proc is not None and self._proc.poll() is None else self._start()
        assert proc.stdin is not None and proc.stdout is not None
        done = False
        try:
            try:
                proc.stdin.write(json.dumps(request).encode() + b"\n")
                proc.stdin.flush()
            except OSError as exc:
                raise self._failure(proc, timeout=False) from exc
            while not done:
                header = self._read_exact(proc, proc.stdout, parquet_child.FRAME_HEADER, timeout)
                kind, size = header[:1], int.from_bytes(header[1:], "little")
                if size > _MAX_FRAME:
                    raise SandboxFailed(f"the {what} reader process sent a malformed reply")
                payload = self._read_exact(proc, proc.stdout, size, timeout)
                done = kind in (b"D", b"E")
                if kind == b"S":
                    answer = b"go\n" if accept(payload) else b"stop\n"
                    try:
                        proc.stdin.write(answer)
                        proc.stdin.flush()
                    except OSError as exc:
                        raise self._failure(proc, timeout=False) from exc
                yield kind, payload
        finally:
            if not done:
                # A reply read part-way cannot be resynchronised: start afresh for the next file.
                self.close()

    def _read_exact(self, proc: subprocess.Popen[bytes], pipe: IO[bytes], size: int, timeout: float) -> bytes:
        fd = pipe.fileno()
        chunks: list[bytes] = []
        got = 0
        while got < size:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                raise self._failure(proc, timeout=True, waited=timeout)
            data = os.read(fd, min(size - got, 1 << 20))
            if not data:
                raise self._failure(proc, timeout=False)
            chunks.append(data)
            got += len(data)
        return b"".join(chunks)

    def _failure(self, proc: subprocess.Popen[bytes], *, timeout: bool, waited: float = 0.0) -> SandboxFailed:
        if timeout:
            self.close()
            return SandboxFailed(f"the {self._what} reader hung (no data for {waited:g} s) and was stopped")
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        self.close()
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return SandboxFailed(f"the {self._what} reader crashed (killed by {name})")
        return SandboxFailed(f"the {self._what} reader process exited unexpectedly (status {code})")


_SANDBOX = ParquetSandbox()
atexit.register(_SANDBOX.close)


def interrupt_sandbox() -> None:
    """Kill the sandbox's child from any thread; the thread reading from it then sees it die."""
    _SANDBOX.interrupt()


def _is_text_type(dtype: pa.DataType) -> bool:
    if pa.types.is_dictionary(dtype):
        return _is_text_type(dtype.value_type)
    is_view = getattr(pa.types, "is_string_view", None)
    return bool(
        pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or (is_view is not None and is_view(dtype))
    )


def _field_type(schema: pa.Schema, dotted: str) -> pa.DataType | None:
    if dotted in schema.names:
        return schema.field(dotted).type
    dtype: pa.DataType | None = None
    fields: Any = schema
    for part in dotted.split("."):
        if fields is None:
            return None
        names = [f.name for f in fields]
        if part not in names:
            return None
        dtype = fields[names.index(part)].type
        fields = list(dtype) if pa.types.is_struct(dtype) else None
    return dtype


def schema_problem(schema: pa.Schema, text_field: str | None) -> str | None:
    """Why a Parquet schema has no usable text column, or None when it has one."""
    wanted = (text_field,) if text_field else TEXT_FIELDS
    present = [(name, t) for name in wanted if (t := _field_type(schema, name)) is not None]
    if any(_is_text_type(t) for _, t in present):
        return None
    columns = ", ".join(schema.names[:20]) + (", …" if len(schema.names) > 20 else "")
    if present:
        name, dtype = present[0]
        return (
            f"wrong schema: text column {name!r} is {dtype}, not a string; "
            f"name the text column with --text-field (columns: {columns or 'none'})"
        )
    if text_field:
        return f"wrong schema: no column {text_field!r} (--text-field); columns: {columns or 'none'}"
    return (
        f"wrong schema: no text column ({' / '.join(TEXT_FIELDS)}); name it with --text-field "
        f"(columns: {columns or 'none'})"
    )


def decode_batch(payload: bytes) -> pa.RecordBatch:
    """The record batch of a ``B`` frame (a one-batch IPC stream written by the sandbox)."""
    return pa.ipc.open_stream(pa.py_buffer(payload)).read_next_batch()


class SandboxedReader(Reader):
    """Rows of a columnar file read by the sandbox process; each row is a record with the columns as fields.

    Subclasses check the file's magic bytes and build the sandbox request (``_request``).
    """

    what: ClassVar[str]
    """The format's name in messages (``Parquet``, ``Arrow``)."""
    isolated = True
    """Read in the sandbox process (the default); False reads in this process, for tests and debugging."""

    def _read_sandboxed(self, request: dict[str, Any], input_name: str) -> Iterator[Record | Skipped]:
        request = {"batch_rows": BATCH_ROWS, **request}
        row = 0
        problem: str | None = None

        def accept(payload: bytes) -> bool:
            nonlocal problem
            problem = schema_problem(pa.ipc.read_schema(pa.py_buffer(payload)), self.fields.text)
            return problem is None

        frames = (
            _SANDBOX.frames(request, self.limits.parquet_timeout, accept, self.what)
            if self.isolated
            else parquet_child.read_frames(request)
        )
        try:
            for kind, payload in frames:
                if kind == b"S":
                    if not self.isolated:
                        accept(payload)
                    if problem:
                        yield Skipped(input_name, None, problem)
                        if not self.isolated:
                            return
                elif kind == b"B" and problem is None:
                    try:
                        objs = decode_batch(payload).to_pylist()
                    except (pa.ArrowException, ValueError, OverflowError) as exc:
                        yield Skipped(input_name, None, self._partial(row, f"cannot convert values: {exc}"))
                        return
                    for obj in objs:
                        row += 1
                        yield self._record(obj, input_name, row)
                elif kind == b"E":
                    yield Skipped(input_name, None, self._partial(row, payload.decode("utf-8", "replace")))
                    return
        except SandboxFailed as exc:
            yield Skipped(input_name, None, self._partial(row, str(exc)))
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()

    def _record(self, obj: dict[str, Any], input_name: str, row: int) -> Record | Skipped:
        entry = to_record(obj, fields=self.fields, input_name=input_name, row=row)
        cap = self.limits.max_record_bytes
        if isinstance(entry, Record) and len(entry.text) > cap:
            return Skipped(
                input_name,
                row,
                f"text too long: {len(entry.text):,} characters, over the --max-record-size limit of "
                f"{format_size(cap)}",
            )
        return entry

    def _partial(self, row: int, what: str) -> str:
        if row:
            return f"partial: {what}; stopped after row {row}, the rest of the file is not read"
        return f"cannot read {self.what}: {what}"


@register
class ParquetReader(SandboxedReader):
    """Rows of a Parquet file; each row is a record with the columns as fields."""

    format = "parquet"
    suffixes = (".parquet", ".pq")
    what = "Parquet"

    def _read(self, path: Path, input_name: str) -> Iterator[Record | Skipped]:
        with open_regular(path) as handle:  # refuses FIFOs and devices; raises OSError if unreadable
            magic = handle.read(4)
        if magic != b"PAR1":
            yield Skipped(input_name, None, "content/extension mismatch: not a Parquet file (no PAR1 magic)")
            return
        yield from self._read_sandboxed(
            {
                "format": "parquet",
                "path": os.fsdecode(os.path.abspath(path)),
                "thrift_string_size_limit": THRIFT_STRING_LIMIT,
                "thrift_container_size_limit": THRIFT_CONTAINER_LIMIT,
            },
            input_name,
        )
