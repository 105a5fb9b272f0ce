"""provenance-auditor: find copies of registered works, risky sources and licences in training corpora."""

from typing import Any

__all__ = ["__version__"]

__version__: str  # bound by __getattr__ on first use


def __getattr__(name: str) -> Any:
    """``__version__``, looked up on first use: importing importlib.metadata and finding the
    distribution costs ~40 ms, which a command that never shows or stores the version need not pay."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("provenance-auditor")
    except PackageNotFoundError:  # running from a source tree that was never installed
        found = "0.0.0+local"
    globals()["__version__"] = found
    return found
