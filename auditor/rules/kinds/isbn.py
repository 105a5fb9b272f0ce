"""The ``isbn`` kind: ISBNs in a record that name a registered work or appear in an ISBN list file."""

from __future__ import annotations

import threading
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, ClassVar

from auditor.models import Finding, Span, WorkRef
from auditor.rules.check import Check, CompileContext, Subject, register_kind
from auditor.rules.isbn import IsbnHit, IsbnList
from auditor.rules.kinds.notice import evidence_for
from auditor.rules.params import Cursor
from auditor.rules.rule import Rule

MAX_LIST_BYTES = 256 * 1024 * 1024

_LISTS: dict[Path, IsbnList] = {}
_LISTS_LOCK = threading.Lock()


def shared_list(path: Path) -> IsbnList:
    """One IsbnList per file per process, however many rules use it."""
    with _LISTS_LOCK:
        found = _LISTS.get(path)
        if found is None:
            found = _LISTS[path] = IsbnList(path)
        return found


def resolve_list(name: str, pack_dir: Path, where: Cursor) -> Path | None:
    """The list file ``name`` beside the pack, refusing absolute paths and escapes from the pack folder."""
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    if (
        posix.is_absolute()
        or windows.is_absolute()
        or windows.drive
        or ".." in posix.parts
        or ".." in windows.parts
    ):
        where.problem(
            f"isbn_list {name!r} must be a path relative to the pack's folder, without '..'",
            "put the list beside the pack and give its file name",
        )
        return None
    base = pack_dir.resolve()
    path = (base / posix).resolve()
    if not path.is_relative_to(base):
        where.problem(f"isbn_list {name!r} leads outside the pack's folder", "put the list beside the pack")
        return None
    if not path.is_file():
        where.problem(f"isbn_list {name!r} does not exist in {base}", "check the file name")
        return None
    if path.stat().st_size > MAX_LIST_BYTES:
        where.problem(f"isbn_list {name!r} is larger than {MAX_LIST_BYTES} bytes", "split or trim the list")
        return None
    return path


@register_kind
class IsbnCheck(Check):
    """One finding per distinct valid ISBN that the registry knows (or the list holds), with its spans."""

    kind = "isbn"
    placeholders: ClassVar[dict[str, Any]] = {
        "isbn": "9780306406157",
        "work_title": "A Registered Novel",
        "work_id": "work-1",
        "registry": "publisher-registry",
        "list": "books3-isbns.txt",
        "where": "text",
    }
    CONTEXT = 40

    def __init__(self, rule: Rule, isbn_list: IsbnList | None, list_name: str) -> None:
        super().__init__(rule)
        self.isbn_list = isbn_list
        self.list_name = list_name

    @classmethod
    def compile(cls, rule: Rule, params: Cursor, ctx: CompileContext) -> Check | None:
        params.check_keys(("isbn_list",), what=f"params of {cls.kind}")
        name = params.text("isbn_list")
        if name is None:
            return None if params.at("isbn_list").exists else cls(rule, None, "")
        path = resolve_list(name, ctx.pack_dir, params.at("isbn_list"))
        return cls(rule, shared_list(path), name) if path is not None else None

    def evaluate(self, subject: Subject) -> list[Finding]:
        hits = subject.isbns
        if not hits:
            return []
        by_isbn: dict[str, list[IsbnHit]] = {}
        for hit in hits:
            by_isbn.setdefault(hit.isbn13, []).append(hit)
        # One finding per registered book: ISBNs of two editions of it (grouped in the registry, as
        # the EPUB's and the PDF's) count once. ISBNs found through a list are reported one by one.
        books: dict[tuple[str, ...], tuple[WorkRef | None, list[str], list[IsbnHit]]] = {}
        for isbn13, group in by_isbn.items():
            work: WorkRef | None = None
            if self.isbn_list is None:
                work = subject.facts.work_for_isbn(isbn13)
                if work is None:
                    continue
                key: tuple[str, ...] = ("work", work.registry, work.group or work.id)
            elif isbn13 not in self.isbn_list:
                continue
            else:
                key = ("isbn", isbn13)
            entry = books.setdefault(key, (work, [], []))
            entry[1].append(isbn13)
            entry[2].extend(group)
        out = []
        for work, isbns, group in books.values():
            ordered = sorted(group, key=lambda h: (h.start is None, h.start or 0))
            spans = tuple(Span(h.start, h.end) for h in ordered if h.start is not None and h.end is not None)
            text = subject.record.text
            evidence = tuple(evidence_for(text, s.record_start, s.record_end, self.CONTEXT) for s in spans)
            out.append(
                self.finding(
                    subject,
                    severity=self.rule.severity,
                    detail=min(isbns),
                    values={
                        "isbn": ", ".join(sorted(isbns)),
                        "work_title": work.title if work else "",
                        "work_id": work.id if work else "",
                        "registry": work.registry if work else "",
                        "list": self.list_name,
                        "where": "text" if spans else "metadata",
                    },
                    work=work,
                    spans=spans,
                    evidence=evidence,
                )
            )
        return out
