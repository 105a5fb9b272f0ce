"""The per-user cache: where it lives, turning it off, and writes that never fail a command."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor import cache


def test_the_cache_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AUDITOR_CACHE_DIR", str(tmp_path / "mine"))
    assert cache.cache_dir() == tmp_path / "mine"
    for off in ("", "off", "0", "OFF"):
        monkeypatch.setenv("AUDITOR_CACHE_DIR", off)
        assert cache.cache_dir() is None
    monkeypatch.delenv("AUDITOR_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "auditor"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # as the XDG spec says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "auditor"


def test_files_are_replaced_whole(tmp_path: Path) -> None:
    assert cache.read_bytes("sub/x.json") is None
    assert cache.write_bytes("sub/x.json", b"one")
    assert cache.write_bytes("sub/x.json", b"two")
    assert cache.read_bytes("sub/x.json") == b"two"
    folder = cache.cache_dir()
    assert folder is not None
    assert [p.name for p in (folder / "sub").iterdir()] == ["x.json"]  # no temporary file left


def test_an_unusable_cache_is_no_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("AUDITOR_CACHE_DIR", str(tmp_path / "a-file" / "cache"))
    assert not cache.write_bytes("x", b"data")
    assert cache.read_bytes("x") is None
    monkeypatch.setenv("AUDITOR_CACHE_DIR", "off")
    assert not cache.write_bytes("x", b"data")


def test_the_cache_is_private(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AUDITOR_CACHE_DIR", str(tmp_path / "home" / "cache"))
    assert cache.write_bytes("sub/x", b"data")
    for path in (tmp_path / "home" / "cache", tmp_path / "home" / "cache" / "sub"):
        assert path.stat().st_mode & 0o777 == 0o700, path
    assert (tmp_path / "home" / "cache" / "sub" / "x").stat().st_mode & 0o777 == 0o600
