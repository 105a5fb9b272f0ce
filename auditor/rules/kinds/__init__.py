"""The built-in check kinds; importing this package registers every one of them in ``KINDS``."""

from auditor.rules.kinds import (
    exact_duplicate,
    isbn,
    license,
    metadata,
    near_duplicate,
    notice,
    source,
)

__all__ = ["exact_duplicate", "isbn", "license", "metadata", "near_duplicate", "notice", "source"]
