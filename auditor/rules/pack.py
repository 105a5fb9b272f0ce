"""Rule-pack files: reading one pack and validating its top level and rule headers strictly."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from auditor.models import PackInfo, Severity
from auditor.rules.check import KINDS
from auditor.rules.licenses import LicenseTable
from auditor.rules.params import Cursor, type_name
from auditor.rules.problems import ProblemLog
from auditor.rules.rule import Rule
from auditor.rules.yamlsource import read_yaml

PACK_VERSION = 1
PACK_KEYS = ("pack", "version", "description", "rules", "disable", "enable", "licenses")
RULE_KEYS = (
    "id",
    "name",
    "severity",
    "kind",
    "message",
    "description",
    "rationale",
    "references",
    "aliases",
    "params",
    "enabled",
)
REQUIRED_RULE_KEYS = ("id", "name", "severity", "kind", "message", "description")
RULE_ID = re.compile(r"^[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+$")
RULE_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
PACK_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


@dataclass
class RuleSource:
    """A rule header as read, with the cursors its kind compiles from.

    ``provisional`` marks a rule whose header has problems but whose kind is known: its params are
    still compiled, so that one run reports every problem, but it never becomes a check.
    """

    rule: Rule
    where: Cursor
    params: Cursor
    provisional: bool = False


@dataclass
class PackSource:
    """One pack file, read and checked at the top level; rules are compiled later, all packs together."""

    info: PackInfo
    path: Path
    rules: list[RuleSource] = field(default_factory=list)
    enable: list[tuple[str, Cursor]] = field(default_factory=list)
    disable: list[tuple[str, Cursor]] = field(default_factory=list)
    licenses: LicenseTable | None = None
    ids: list[tuple[str, Cursor]] = field(default_factory=list)
    """Every rule id and alias the pack declares (even on rules with other problems), where it is."""


def read_pack(path: Path, log: ProblemLog, *, bundled: bool = False) -> PackSource | None:
    """Read one pack, recording every problem in ``log``; None when nothing usable could be read.
    A ``bundled`` pack (one of :func:`auditor.rules.default_pack_paths`) is parsed through libyaml."""
    doc = read_yaml(path, log, libyaml=bundled)
    if doc is None:
        return None
    root = Cursor(doc, log)
    if not root.expect_mapping("a rule pack"):
        return None
    root.check_keys(PACK_KEYS, required=("pack", "version", "rules"), what="the pack")
    name = root.text("pack") or path.stem
    if root.at("pack").exists and not PACK_NAME.match(name):
        root.at("pack").problem(
            f"pack name {name!r} is not a simple name", "use lower-case letters, digits, - . _"
        )
    version = root.at("version")
    if version.exists and (version.value != PACK_VERSION or isinstance(version.value, bool)):
        version.problem(
            f"unsupported pack version {version.value!r}", f"this auditor reads `version: {PACK_VERSION}`"
        )
    root.text("description")
    pack = PackSource(info=PackInfo(name=name, digest=doc.digest, path=str(path)), path=path)
    for key in ("enable", "disable"):
        patterns = root.texts(key) or []
        target = pack.enable if key == "enable" else pack.disable
        target.extend((pattern.strip(), root.at(key).at(i)) for i, pattern in enumerate(patterns))
    if root.at("licenses").exists:
        pack.licenses = LicenseTable.parse(root.at("licenses"))
    for rule_cursor in root.items("rules") or []:
        if isinstance(rule_cursor.value, dict):
            for key in ("id", "aliases"):
                value = rule_cursor.value.get(key)
                codes = value if isinstance(value, list) else [value]
                pack.ids.extend(
                    (code, rule_cursor.at(key)) for code in codes if isinstance(code, str) and code
                )
        source = _read_rule(rule_cursor, name)
        if source is not None:
            pack.rules.append(source)
    return pack


def _read_rule(where: Cursor, pack: str) -> RuleSource | None:
    if not where.expect_mapping("a rule"):
        return None
    rule_id = where.text("id")
    label = f"rule {rule_id}" if rule_id else "a rule"
    where.check_keys(RULE_KEYS, required=REQUIRED_RULE_KEYS, what=label)
    if rule_id is not None and not RULE_ID.match(rule_id):
        where.at("id").problem(
            f"rule id {rule_id!r} is not a stable code", "use upper-case parts joined by -, e.g. ACME-LIC-001"
        )
        rule_id = None
    name = where.text("name")
    if name is not None and not RULE_NAME.match(name):
        where.at("name").problem(f"rule name {name!r} is not kebab-case", "e.g. shadow-library-source")
    severity = where.severity("severity")
    kind = where.text("kind")
    if kind is not None and kind not in KINDS:
        close = difflib.get_close_matches(kind, list(KINDS), n=1)
        where.at("kind").problem(
            f"unknown check kind {kind!r}",
            f"did you mean {close[0]!r}?" if close else "use one of " + ", ".join(sorted(KINDS)),
        )
        kind = None
    message = where.text("message")
    description = where.text("description")
    rationale = where.text("rationale", default="")
    references = where.texts("references") or []
    aliases = where.texts("aliases") or []
    for index, alias in enumerate(aliases):
        if not RULE_ID.match(alias):
            where.at("aliases").at(index).problem(
                f"alias {alias!r} is not a rule id", "aliases are former rule ids"
            )
    enabled = where.flag("enabled", True)
    params = where.at("params")
    if params.exists and not isinstance(params.value, dict):
        params.problem(f"params must be a mapping, got {type_name(params.value)}", "write `key: value` lines")
        return None
    if not params.exists:
        params = Cursor(where.doc, where.log, params.path, {})
    if kind is None:
        return None
    if rule_id is None or name is None or severity is None or message is None or description is None:
        stand_in = Rule(
            id=rule_id or "INVALID-RULE",
            name=name or "invalid-rule",
            severity=severity if severity is not None else Severity.CRITICAL,
            kind=kind,
            message=message or "",
            description=description or "",
            pack=pack,
        )
        return RuleSource(rule=stand_in, where=where, params=params, provisional=True)
    rule = Rule(
        id=rule_id,
        name=name,
        severity=severity,
        kind=kind,
        message=message,
        description=" ".join(description.split()),
        rationale=" ".join((rationale or "").split()),
        references=tuple(references),
        aliases=tuple(aliases),
        pack=pack,
        enabled=enabled,
    )
    return RuleSource(rule=rule, where=where, params=params)
