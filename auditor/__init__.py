"""provenance-auditor: find copies of registered works, risky sources and licences in training corpora."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("provenance-auditor")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
