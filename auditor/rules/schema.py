"""JSON Schemas of the YAML files users write (rule packs, waivers files), shipped beside this module.

The schemas document the structure for editors and other tools; the loaders (``auditor.rules.pack``,
``auditor.suppress``) validate the same structure and more (regexes, placeholders, duplicate ids,
files that must exist), with file:line messages. tests/rules/test_schema.py keeps the two in step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMAS = {"pack": "pack.schema.json", "waivers": "waivers.schema.json"}
"""Schema files by the kind of file they describe."""


def schema_path(name: str) -> Path:
    """The schema file for ``pack`` or ``waivers``."""
    if name not in SCHEMAS:
        raise ValueError(f"unknown schema {name!r}: use one of {', '.join(SCHEMAS)}")
    return Path(__file__).resolve().parent / SCHEMAS[name]


def schema_text(name: str) -> str:
    """The schema for ``pack`` or ``waivers`` as JSON text."""
    return schema_path(name).read_text(encoding="utf-8")


def load_schema(name: str) -> dict[str, Any]:
    """The schema for ``pack`` or ``waivers`` as a mapping."""
    data: dict[str, Any] = json.loads(schema_text(name))
    return data
