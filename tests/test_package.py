"""The package's own module: its version, looked up on first use."""

from __future__ import annotations

import importlib
import importlib.metadata

import pytest

import auditor


def test_the_version_is_the_installed_distributions() -> None:
    from auditor import __version__

    assert __version__ == importlib.metadata.version("provenance-auditor")
    assert vars(auditor)["__version__"] == __version__  # looked up once, then a plain attribute


def test_the_version_is_looked_up_on_first_use_only(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = importlib.metadata.version

    def counting(name: str) -> str:
        calls.append(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", counting)
    vars(auditor).pop("__version__", None)  # a reload keeps the names the module had
    fresh = importlib.reload(auditor)
    try:
        assert "__version__" not in vars(fresh) and calls == []
        assert fresh.__version__ == real("provenance-auditor") and calls == ["provenance-auditor"]
        assert fresh.__version__ and calls == ["provenance-auditor"]
    finally:
        vars(fresh).pop("__version__", None)


def test_a_source_tree_never_installed_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    vars(auditor).pop("__version__", None)
    fresh = importlib.reload(auditor)
    try:
        assert fresh.__version__ == "0.0.0+local"
    finally:
        vars(fresh).pop("__version__", None)


def test_other_names_are_not_attributes() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'no_such_thing'"):
        auditor.no_such_thing  # noqa: B018
