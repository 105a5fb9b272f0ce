"""The per-user cache: where it lives, and reading and atomically replacing the small files in it.

What auditor caches can always be recomputed (which registry files were verified, as of which file
status; the tokenizer's Unicode tables), so every failure here — no home directory, a read-only or
full disk, a corrupt or foreign file — means "not cached", never an error.

Location: ``$AUDITOR_CACHE_DIR`` if set (empty, ``off`` or ``0``: no cache at all), else
``$XDG_CACHE_HOME/auditor``, else ``~/.cache/auditor``. This module is the one place outside the
command line that reads the environment for it, so the library and the command line agree.

What is cached is trusted like the user's own files (a forged verification record or table would
mislead a scan), so the folders made here are private (0700) and the files 0600.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

CACHE_ENV = "AUDITOR_CACHE_DIR"
_OFF = ("", "0", "off", "none", "false")


def cache_dir() -> Path | None:
    """The cache folder (not necessarily existing yet), or None when caching is turned off."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen is not None:
        return None if chosen.strip().lower() in _OFF else Path(chosen).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "auditor"
    try:
        return Path.home() / ".cache" / "auditor"
    except RuntimeError:  # no home directory to be found
        return None


def read_bytes(name: str) -> bytes | None:
    """The content of cache file ``name`` (a relative path), or None if there is none or no cache."""
    root = cache_dir()
    if root is None:
        return None
    try:
        return (root / name).read_bytes()
    except OSError:
        return None


def write_bytes(name: str, data: bytes) -> bool:
    """Replace cache file ``name`` with ``data`` atomically (a reader sees the old or the new file,
    never a part); False if it could not be written."""
    root = cache_dir()
    if root is None:
        return False
    target = root / name
    try:
        # The cache folder and those in it are private; folders above it are made as usual.
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, target)
        return True
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        return False
