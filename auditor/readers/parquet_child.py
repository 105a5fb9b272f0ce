"""The Parquet sandbox process: reads Parquet files on request and streams validated Arrow batches back.

Parquet readers still crash natively on damaged files (apache/arrow#41317, #41321, #3081), so they run
here, in a child process, and never in the scanner: a SIGSEGV, an abort or an out-of-memory kill costs
one file, not the scan. The parent (``auditor.readers.parquet``) sends one JSON request per line on
stdin; for each, this process writes frames on stdout, each a one-byte type, an 8-byte little-endian
length and a payload:

* ``S`` — the file's Arrow schema (IPC-serialised), after which the child waits for a line from the
  parent, ``go`` (read the rows) or anything else (stop: the schema was refused);
* ``B`` — one record batch (IPC-serialised), after ``RecordBatch.validate(full=True)``, so the parent
  only ever sees well-formed Arrow data;
* ``D`` — the file is done; ``E`` — the file could not be read further (UTF-8 message); both end
  the reply.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any

FRAME_HEADER = 9


def frame(kind: bytes, payload: bytes) -> bytes:
    return kind + len(payload).to_bytes(8, "little") + payload


def read_frames(
    request: dict[str, Any], go_on: Callable[[], bool] | None = None
) -> Iterator[tuple[bytes, bytes]]:
    """The frames that answer one request, in order; never raises for a bad file.

    Args:
        request: ``path``, ``batch_rows`` and the thrift limits.
        go_on: asked after the schema frame whether to read the rows (the parent may refuse the
            schema); when it says no, the reply ends with ``D`` at once.
    """
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(
            request["path"],
            memory_map=False,
            thrift_string_size_limit=request.get("thrift_string_size_limit"),
            thrift_container_size_limit=request.get("thrift_container_size_limit"),
        )
        yield b"S", parquet.schema_arrow.serialize().to_pybytes()
        if go_on is not None and not go_on():
            yield b"D", b""
            return
        for batch in parquet.iter_batches(batch_size=request["batch_rows"], use_threads=False):
            batch.validate(full=True)
            yield b"B", batch.serialize().to_pybytes()
    except Exception as exc:  # every failure of the library becomes a message for the parent
        yield b"E", f"{type(exc).__name__}: {exc}".encode("utf-8", "backslashreplace")
        return
    yield b"D", b""


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
