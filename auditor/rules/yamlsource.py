"""Safe YAML reading for rule packs: line numbers kept for every value, size and alias limits enforced.

The bundled packs, read on every scan, are scanned and parsed by libyaml (PyYAML's C extension, ~10x
faster than its pure-Python reader, scanner and parser, which were most of the cost of loading them)
and composed here, in Python, as every other file is. Other files are read by PyYAML alone: libyaml
accepts documents PyYAML rejects (a tab inside a plain scalar, ``?`` inside a flow scalar) and reads
some differently (a lone ``!`` tag), so for a user's file the answer would depend on how PyYAML was
built. The bundled packs are fixed; tests pin that both readings of each are identical.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from auditor.rules.problems import ProblemLog

MAX_PACK_BYTES = 5 * 1024 * 1024
"""Rule packs are small; anything bigger is a mistake or an attack."""
MAX_ALIASES = 100
"""YAML aliases allowed in one pack (a "billion laughs" document needs many)."""
MAX_NODES = 200_000
"""Values allowed after aliases are expanded; bounds the work a small file can cause."""

YamlPath = tuple[str | int, ...]
"""Where a value sits in a document: mapping keys and list indexes from the root."""

_MERGE_TAG = "tag:yaml.org,2002:merge"
_COLLECTION_TAGS = frozenset({"tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"})


@dataclass(frozen=True, slots=True)
class YamlDoc:
    """One parsed YAML file: plain Python data plus the line of every value."""

    file: str
    data: Any
    digest: str
    lines: dict[YamlPath, int] = field(default_factory=dict)

    def line(self, path: YamlPath) -> int | None:
        """The line of the value at ``path``, else of its nearest ancestor that has one."""
        while True:
            found = self.lines.get(path)
            if found is not None or not path:
                return found
            path = path[:-1]


class _LimitExceeded(Exception):
    def __init__(self, line: int | None, message: str, fix: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.fix = fix


class _AliasLimit(yaml.composer.Composer):
    """A composer that counts aliases, so alias bombs stop early."""

    alias_count = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        events: Any = self  # the parser it is mixed with, PyYAML's or libyaml's, has the events
        if events.check_event(yaml.AliasEvent):
            self.alias_count += 1
            if self.alias_count > MAX_ALIASES:
                mark = events.peek_event().start_mark
                raise _LimitExceeded(
                    mark.line + 1,
                    f"more than {MAX_ALIASES} YAML aliases",
                    "write the values out instead of using anchors (&) and aliases (*)",
                )
        return super().compose_node(parent, index)


class _LimitedLoader(_AliasLimit, yaml.SafeLoader):
    """SafeLoader that counts aliases while composing: the reference path, and every error's wording."""


class _Loader(Protocol):
    """What reading needs of a loader, either one."""

    def get_single_node(self) -> yaml.Node | None: ...

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any: ...

    def dispose(self) -> None: ...


def _libyaml_loader() -> Callable[[str], _Loader] | None:
    """The loader whose events come from libyaml, or None when PyYAML was built without it.

    Only scanning and parsing are libyaml's: composing stays :class:`_AliasLimit`'s Python code (not
    the C composer, ``CParser.get_single_node``), which would neither count aliases nor turn a deeply
    nested document into a RecursionError; constructing and resolving are PyYAML's Python code on both
    paths. It costs ~3 ms more than the C composer for the bundled packs.
    """
    try:
        from yaml._yaml import CParser
    except ImportError:  # pragma: no cover - PyYAML without libyaml
        return None

    class _LibyamlLoader(_AliasLimit, CParser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

    return _LibyamlLoader


_LIBYAML_LOADER = _libyaml_loader()


def _compose(text: str, libyaml: bool) -> tuple[_Loader, yaml.Node | None]:
    """The loader and the document's root node (None for an empty document): through libyaml when
    asked for and it reads the document whole, else through PyYAML, whose exceptions propagate, so
    that a problem is reported in PyYAML's words at PyYAML's line on either path."""
    if libyaml and _LIBYAML_LOADER is not None:
        fast = _LIBYAML_LOADER(text)
        try:
            return fast, fast.get_single_node()
        except Exception:  # any failure is PyYAML's to report; Ctrl-C is no Exception and propagates
            fast.dispose()
    loader = _LimitedLoader(text)
    try:
        return loader, loader.get_single_node()
    except BaseException:
        loader.dispose()
        raise


def read_yaml(
    path: Path,
    log: ProblemLog,
    *,
    what: str = "rule pack",
    start: str = "start it with `pack: <name>`, `version: 1` and `rules:`",
    libyaml: bool = False,
) -> YamlDoc | None:
    """Read one YAML file safely, recording its problems in ``log``.

    Args:
        path: the file.
        log: where problems go.
        what: what the file is, for messages (``rule pack``, ``waivers file``).
        start: how to fix an empty file.
        libyaml: scan and parse through libyaml, when PyYAML has it: only for the bundled packs,
            whose reading tests pin as identical to PyYAML's (see the module's docstring).

    Returns:
        The document, or None when it could not be read at all (the reason is in ``log``).
    """
    file = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_PACK_BYTES:
            log.add(
                file,
                None,
                f"file is {size} bytes, more than the {MAX_PACK_BYTES} allowed for a {what}",
                "split the file, or keep large lists in a data file referenced from params",
            )
            return None
        raw = path.read_bytes()
    except OSError as exc:
        log.add(
            file, None, f"cannot read the {what}: {exc.strerror or exc}", "check the path and permissions"
        )
        return None
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        log.add(file, None, f"not UTF-8 text (byte {exc.start})", f"save the {what} as UTF-8")
        return None

    loader: _Loader | None = None
    try:
        loader, root = _compose(text, libyaml)
        if root is None:
            log.add(file, 1, f"the {what} is empty", start)
            return None
        lines: dict[YamlPath, int] = {(): root.start_mark.line + 1}
        converter = _Converter(loader, file, lines, log)
        data = converter.convert(root, ())
    except _LimitExceeded as exc:
        log.add(file, exc.line, exc.message, exc.fix)
        return None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = exc.problem or exc.context or "invalid YAML"
        log.add(file, line, f"YAML error: {what}", "fix the YAML syntax (check indentation and quoting)")
        return None
    except yaml.YAMLError as exc:
        log.add(file, None, f"YAML error: {exc}", "fix the YAML syntax")
        return None
    except RecursionError:
        log.add(file, None, "YAML nesting is too deep", "flatten the document")
        return None
    finally:
        if loader is not None:
            loader.dispose()
    return YamlDoc(file=file, data=data, digest=digest, lines=lines)


class _Converter:
    """Turns composed nodes into plain data, bounding alias expansion and noting lines."""

    def __init__(self, loader: _Loader, file: str, lines: dict[YamlPath, int], log: ProblemLog):
        self.loader = loader
        self.file = file
        self.lines = lines
        self.log = log
        self.budget = MAX_NODES
        self.active: set[int] = set()

    def convert(self, node: yaml.Node, path: YamlPath) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise _LimitExceeded(
                node.start_mark.line + 1,
                f"the document expands to more than {MAX_NODES} values (alias expansion)",
                "write the values out instead of nesting aliases",
            )
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if node.tag not in _COLLECTION_TAGS:
            raise _LimitExceeded(
                node.start_mark.line + 1,
                f"unsupported YAML value: tag {node.tag!r}",
                "use plain strings, numbers, booleans, lists and mappings",
            )
        if id(node) in self.active:
            raise _LimitExceeded(
                node.start_mark.line + 1, "recursive YAML alias", "an anchor may not contain its own alias"
            )
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                items = []
                for index, item in enumerate(node.value):
                    self.lines.setdefault((*path, index), item.start_mark.line + 1)
                    items.append(self.convert(item, (*path, index)))
                return items
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
        finally:
            self.active.discard(id(node))
        return None  # pragma: no cover - composer yields only the three node types

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, OverflowError):
            # A plain scalar that looks like a date or number but is not one (2026-13-01): keep the
            # text, so the field's own check reports it at its line instead of the loader crashing.
            return node.value
        except yaml.constructor.ConstructorError as exc:
            raise _LimitExceeded(
                node.start_mark.line + 1,
                f"unsupported YAML value: {exc.problem}",
                "use plain strings, numbers, booleans, lists and mappings",
            ) from None

    def _mapping(self, node: yaml.MappingNode, path: YamlPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE_TAG:
                self.log.add(self.file, line, "YAML merge keys (<<) are not supported", "write the keys out")
                continue
            key = self._scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                self.log.add(
                    self.file,
                    line,
                    f"mapping key {key!r} is not text" if key is not None else "mapping key is not text",
                    'quote the key, e.g. "1.0": ...',
                )
                continue
            if key in result:
                self.log.add(self.file, line, f"duplicate key {key!r}", "keep one of them")
            self.lines[(*path, key)] = line
            result[key] = self.convert(value_node, (*path, key))
        return result
