"""The reader sandbox process: reads Parquet and Arrow IPC files and streams validated batches back.

Parquet readers still crash natively on damaged files (apache/arrow#41317, #41321, #3081), and the
Arrow IPC readers are still being fixed for crashes OSS-Fuzz finds in them (apache/arrow#43885); a
compressed IPC buffer may also declare any size it likes. So both run here, in a child process, and
never in the scanner: a SIGSEGV, an abort or an out-of-memory kill costs one file, not the scan. The
parent (``auditor.readers.parquet``) sends one JSON request per line on stdin; for each, this process
writes frames on stdout, each a one-byte type, an 8-byte little-endian length and a payload:

* ``S`` — the file's Arrow schema (IPC-serialised), after which the child waits for a line from the
  parent, ``go`` (read the rows) or anything else (stop: the schema was refused);
* ``B`` — at most ``batch_rows`` rows, as a complete Arrow IPC stream (schema, dictionaries, one
  record batch), after ``RecordBatch.validate(full=True)``, so the parent only ever sees well-formed
  Arrow data, dictionary-encoded columns included;
* ``D`` — the file is done; ``E`` — the file could not be read further (UTF-8 message); both end
  the reply.

A request's ``format`` is ``parquet`` (the default) or ``arrow`` (the IPC file format, memory-mapped,
or the IPC stream format, told apart by the file's magic bytes).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any

FRAME_HEADER = 9
ARROW_FILE_MAGIC = b"ARROW1"


def frame(kind: bytes, payload: bytes) -> bytes:
    return kind + len(payload).to_bytes(8, "little") + payload


def read_frames(
    request: dict[str, Any], go_on: Callable[[], bool] | None = None
) -> Iterator[tuple[bytes, bytes]]:
    """The frames that answer one request, in order; never raises for a bad file.

    Args:
        request: ``path``, ``batch_rows``, ``format`` (``parquet`` or ``arrow``) and, for Parquet,
            the thrift limits.
        go_on: asked after the schema frame whether to read the rows (the parent may refuse the
            schema); when it says no, the reply ends with ``D`` at once.
    """
    try:
        schema, batches = _open(request)
        yield b"S", schema.serialize().to_pybytes()
        if go_on is not None and not go_on():
            yield b"D", b""
            return
        rows = int(request["batch_rows"])
        for batch in batches:
            batch.validate(full=True)
            for start in range(0, batch.num_rows, rows):
                yield b"B", batch_payload(batch.slice(start, rows))
    except DamagedFile as exc:
        yield b"E", str(exc).encode("utf-8", "backslashreplace")
        return
    except Exception as exc:  # every failure of the library becomes a message for the parent
        yield b"E", f"{type(exc).__name__}: {exc}".encode("utf-8", "backslashreplace")
        return
    yield b"D", b""


def batch_payload(batch: Any) -> bytes:
    """One record batch as a complete IPC stream: the schema and any dictionaries travel with it.

    Dictionary-encoded top-level columns are sent decoded: a slice of 1,024 rows would otherwise carry
    the column's whole dictionary each time (the parent reads values, never codes).
    """
    import pyarrow as pa

    if any(pa.types.is_dictionary(f.type) for f in batch.schema):
        columns = [c.dictionary_decode() if pa.types.is_dictionary(c.type) else c for c in batch.columns]
        batch = pa.RecordBatch.from_arrays(columns, names=batch.schema.names)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def _open(request: dict[str, Any]) -> tuple[Any, Iterator[Any]]:
    """The file's Arrow schema and an iterator over its record batches (in file order)."""
    import pyarrow as pa

    path = request["path"]
    if request.get("format", "parquet") == "arrow":
        # Memory-mapped: the IPC buffers are read in place, a batch at a time, never copied whole.
        source = pa.memory_map(path)
        if source.read(len(ARROW_FILE_MAGIC)) == ARROW_FILE_MAGIC:
            source.seek(0)
            try:
                file_reader = pa.ipc.open_file(source)
            except pa.ArrowInvalid as exc:
                # No valid footer (a truncated copy?): the batches before the damage are still there,
                # as an IPC stream after the 8-byte magic; read them, then say the file is damaged.
                source.seek(8)
                return _damaged(pa.ipc.open_stream(source), f"{type(exc).__name__}: {exc}")
            count = file_reader.num_record_batches
            return file_reader.schema, (file_reader.get_batch(i) for i in range(count))
        source.seek(0)
        stream_reader = pa.ipc.open_stream(source)
        return stream_reader.schema, iter(stream_reader)

    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(
        path,
        memory_map=False,
        thrift_string_size_limit=request.get("thrift_string_size_limit"),
        thrift_container_size_limit=request.get("thrift_container_size_limit"),
    )
    return parquet.schema_arrow, parquet.iter_batches(batch_size=request["batch_rows"], use_threads=False)


class DamagedFile(Exception):
    """An Arrow IPC file without a valid footer, read as far as its stream goes."""


def _damaged(reader: Any, why: str) -> tuple[Any, Iterator[Any]]:
    def batches() -> Iterator[Any]:
        what = f"damaged Arrow file: no valid footer, a truncated copy? ({why})"
        try:
            yield from reader
        except Exception as exc:
            until = f"{type(exc).__name__}: {exc}"
            raise DamagedFile(f"{what}; its batches read as a stream until {until}") from None
        raise DamagedFile(f"{what}; its batches read as a stream up to the damage")

    return reader.schema, batches()


def _die_with_parent(parent: int) -> None:
    # Without this an orphaned sandbox would wait on stdin forever after the scanner is SIGKILLed.
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl: Callable[..., int] = libc.prctl
        prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the scanner's to handle
    if len(sys.argv) > 1:
        _die_with_parent(int(sys.argv[1]))
    out = sys.stdout.buffer
    stdin = sys.stdin.buffer

    def go_on() -> bool:
        out.flush()
        return stdin.readline().strip() == b"go"

    for line in stdin:
        request = json.loads(line)
        for kind, payload in read_frames(request, go_on):
            out.write(frame(kind, payload))
        out.flush()


if __name__ == "__main__":
    main()
