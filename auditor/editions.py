"""Edition groups in findings: one record's copies of several editions of one book become one match."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace

from auditor.models import EditionMatch, Match

COPY_KINDS: tuple[str, ...] = ("exact-duplicate", "near-duplicate")
"""The match kinds that name a copied work, in the order a tie between editions is broken."""


def group_key(match: Match) -> tuple[str, str]:
    """The book a match is about: its registry and edition group (the work itself when ungrouped)."""
    return (match.work.registry, match.work.group or match.work.id)


def _rank(match: Match) -> tuple[int, int, str]:
    kind = COPY_KINDS.index(match.kind) if match.kind in COPY_KINDS else len(COPY_KINDS)
    return (-match.matched_tokens, kind, match.work.id)


def group_editions(matches: Sequence[Match], kinds: Collection[str] = COPY_KINDS) -> list[Match]:
    """One match per book: a record's matches against editions of one edition group merged into one.

    The EPUB and the PDF of a novel are two works of one edition group; a record that copies a chapter
    matches both. The group's match is its representative edition's — the one with the most matched
    tokens, then an exact duplicate before a near duplicate, then the smallest work id — with every
    other edition matched listed in ``editions`` (by work id, with its own kind, score and spans).
    Groups are per registry, so matches from different registries never merge.

    Args:
        matches: one record's matches, from every registry.
        kinds: the match kinds to group (those an enabled rule reports, so an edition matched only
            in a kind no rule reports never hides one that would be reported); matches of other kinds
            are kept as they are.

    Returns:
        The matches with each group's editions merged, each at the place of its representative.
    """
    groups: dict[tuple[str, str], list[Match]] = {}
    for match in matches:
        if match.kind in kinds:
            groups.setdefault(group_key(match), []).append(match)
    merged: dict[int, Match] = {}
    dropped: set[int] = set()
    for members in groups.values():
        if len(members) == 1:
            continue
        best = min(members, key=_rank)
        others = sorted((m for m in members if m is not best), key=lambda m: m.work.id)
        merged[id(best)] = replace(
            best,
            editions=tuple(EditionMatch(m.work, m.kind, m.score, m.spans) for m in others),
        )
        dropped.update(id(m) for m in others)
    return [merged.get(id(m), m) for m in matches if id(m) not in dropped]
