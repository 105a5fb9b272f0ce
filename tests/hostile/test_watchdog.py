"""An interrupt always ends the run, even when the orderly shutdown hangs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

HUNG_SHUTDOWN = """
import sys, time
from pathlib import Path
from auditor import cli, engine

cli.SHUTDOWN_GRACE_SECONDS = 1.0

def scan(*args, **kwargs):
    Path(sys.argv[1]).write_text("started")
    try:
        time.sleep(60)
    except KeyboardInterrupt:
        time.sleep(60)  # a shutdown that never finishes (a deadlocked pool)
        raise

engine.scan = scan
cli.main(["scan", sys.argv[2], "-o", sys.argv[3], "--workers", "1"])
"""


def test_a_hung_shutdown_after_ctrl_c_still_exits_130_with_the_resume_hint(tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "text": "some words here"}\n')
    marker = tmp_path / "started"
    script = tmp_path / "hung.py"
    script.write_text(HUNG_SHUTDOWN)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(marker), str(corpus), str(tmp_path / "out")],
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err.decode()
    assert "shutdown took too long" in err.decode() and "--resume" in err.decode()
