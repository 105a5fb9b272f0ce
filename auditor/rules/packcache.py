"""The bundled packs already parsed: what :func:`auditor.rules.yamlsource.read_yaml` gives for them,
stored by the SHA-256 of each file's bytes in ``builtin-packs.json`` beside this module.

Parsing YAML with line numbers (the pure-Python loader, which bounds hostile YAML) is most of what loading
the default rule set costs. A file whose bytes have a digest stored here is taken from the store instead;
any other file, a bundled pack edited since the store was written included, is parsed as always. The
store holds only packs that parsed without a problem, so reading one from it reports nothing either.
``tests/rules/test_packcache.py`` checks that the store equals a fresh parse of the bundled packs.

Regenerate after editing a bundled pack::

    python -m auditor.rules.packcache
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

STORE = Path(__file__).resolve().with_name("builtin-packs.json")
STORE_VERSION = 1

_loaded: dict[str, tuple[Any, list[tuple[tuple[str | int, ...], int]]]] | None = None
_lock = threading.Lock()


def lookup(digest: str) -> tuple[Any, dict[tuple[str | int, ...], int]] | None:
    """The data and value lines of the stored pack with this digest (fresh copies), else None."""
    global _loaded
    store = _loaded
    if store is None:
        with _lock:
            if _loaded is None:
                _loaded = _read_store(STORE)
            store = _loaded
    found = store.get(digest)
    if found is None:
        return None
    data, lines = found
    return _copy(data), dict(lines)


def _read_store(path: Path) -> dict[str, tuple[Any, list[tuple[tuple[str | int, ...], int]]]]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict) or raw.get("version") != STORE_VERSION:
        return {}
    out = {}
    for digest, entry in raw.get("packs", {}).items():
        out[digest] = (entry["data"], [(tuple(where), line) for where, line in entry["lines"]])
    return out


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _plain(value: Any) -> bool:
    """Whether JSON gives ``value`` back as it is (so the store can hold it)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return (
        value is None
        or isinstance(value, str | bool | int)
        or (isinstance(value, float) and value == value and value not in (float("inf"), float("-inf")))
    )


def build(paths: Iterable[Path]) -> dict[str, Any]:
    """The store's content for these pack files: each that parses without a problem, by digest."""
    from auditor.rules.problems import ProblemLog
    from auditor.rules.yamlsource import read_yaml

    packs: dict[str, Any] = {}
    for path in sorted(paths, key=lambda p: p.name):
        log = ProblemLog()
        doc = read_yaml(path, log, cached=False)
        if doc is None or len(log) or not _plain(doc.data):
            continue
        lines = sorted(doc.lines.items(), key=lambda item: (item[1], [str(p) for p in item[0]]))
        packs[doc.digest] = {
            "file": path.name,
            "data": doc.data,
            "lines": [[list(where), line] for where, line in lines],
        }
    return {"version": STORE_VERSION, "packs": packs}


def render(content: dict[str, Any]) -> str:
    """The store file's text for :func:`build`'s content: the data indented, one value's line a line."""
    packs = []
    for digest, entry in content["packs"].items():
        data = json.dumps(entry["data"], ensure_ascii=False, indent=1).replace("\n", "\n  ")
        lines = ",\n   ".join(json.dumps(item, ensure_ascii=False) for item in entry["lines"])
        packs.append(
            f' {json.dumps(digest)}: {{\n  "file": {json.dumps(entry["file"], ensure_ascii=False)},\n'
            f'  "data": {data},\n  "lines": [\n   {lines}\n  ]\n }}'
        )
    body = ",\n".join(packs)
    return f'{{"version": {content["version"]}, "packs": {{\n{body}\n}}}}\n'


def main(argv: list[str] | None = None) -> int:
    from auditor.rules.ruleset import default_pack_paths

    content = build(default_pack_paths())
    STORE.write_text(render(content), encoding="utf-8")
    names = ", ".join(entry["file"] for entry in content["packs"].values())
    print(f"wrote {STORE} ({len(content['packs'])} packs: {names})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
