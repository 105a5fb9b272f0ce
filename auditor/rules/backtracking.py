"""Catastrophic-backtracking check for pack regexes: nested quantifiers refused at load time.

Python's ``re`` backtracks, so a pattern such as ``(a+)+$`` or ``(\\w+\\s?)*$`` takes time exponential in
the length of a text it almost matches: one hostile record would stall a scan. Running every regex under
a timeout would make findings depend on the machine's speed (reports must be byte-identical), so packs
are checked statically instead, on the parse tree of the pattern.

A *loop* is a quantifier that may repeat its part 10 times or more (``*``, ``+``, ``{n,}``, ``{0,80}``).
A loop is refused when its part holds an *ambiguity* that a later repetition could also consume:

* a nested variable quantifier (``*``, ``+``, ``?``, ``{m,n}`` with m < n), as in ``(a+)+``, ``(\\w+\\s?)*``;
* an alternation two of whose branches can start with the same character (``(a|ab)*`` is fine when
  both branches are plain text and neither is a prefix of the other), as in ``(a|aa)*``;

unless each repetition must consume a *delimiter*: a single character of the repeated part, outside any
quantifier or alternation, that none of the ambiguities can match (``(\\w+ )*`` and
``(?:\\s*[-–,]\\s*\\d+)*`` are fine: a space, a dash or comma closes every repetition). Two branches that
can both match the empty text (``(a|a)*``) are refused whatever the delimiters. Possessive quantifiers
(``a*+``), atomic groups (``(?>...)``) and lookarounds never backtrack into themselves and are not
ambiguities.

The check is a heuristic that refuses the classic exponential shapes; it does not look for
polynomial backtracking (``\\s*\\s*\\s*x``), which the ``window`` of notice keywords bounds in practice.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

_parser: Any = importlib.import_module("re._parser")
_const: Any = importlib.import_module("re._constants")

LOOP_MIN = 10
"""A quantifier whose maximum is at least this is a loop (10 nested ways per step is already 10^n)."""

_ALPHABET: frozenset[str] = frozenset(
    [chr(i) for i in range(0x250)]
    + list("\u0391\u03b1\u0416\u0436\u05d0\u0627\u0663\u0966\u4e2d\u3042\uff21\uff41\uff10")
    + list("\u2000\u2009\u200b\u2013\u2014\u2018\u2019\u201c\u201d\u2028\u2029\u3000\ufeff\U0001f600")
)
"""Characters that stand for all others when character classes are compared (ASCII, Latin and a few
letters, digits and spaces of other scripts); a class is the set of these that it matches."""

_LITERAL = _const.LITERAL
_NOT_LITERAL = _const.NOT_LITERAL
_ANY = _const.ANY
_IN = _const.IN
_BRANCH = _const.BRANCH
_SUBPATTERN = _const.SUBPATTERN
_REPEATS = (_const.MAX_REPEAT, _const.MIN_REPEAT)
_POSSESSIVE = _const.POSSESSIVE_REPEAT
_ATOMIC = _const.ATOMIC_GROUP
_ASSERTS = (_const.ASSERT, _const.ASSERT_NOT)
_GROUPREF_EXISTS = _const.GROUPREF_EXISTS
_MAXREPEAT = _const.MAXREPEAT
_SINGLE = (_LITERAL, _NOT_LITERAL, _ANY, _IN)

Node = tuple[Any, Any]


@functools.lru_cache(maxsize=1024)
def backtracking_risk(pattern: str) -> str | None:
    """Why ``pattern`` can backtrack exponentially, or None when the check finds no such shape.

    The pattern must already compile; one that does not parse is left to the compiler's error.
    """
    try:
        tree = _parser.parse(pattern)
    except Exception:
        return None
    return _walk(list(tree))


def _walk(seq: Sequence[Node]) -> str | None:
    for op, av in seq:
        found: str | None = None
        if op in _REPEATS:
            low, high, body = av
            if high >= LOOP_MIN or high == _MAXREPEAT:
                found = _loop_problem(list(body), _quantifier(low, high))
            found = found or _walk(list(body))
        elif op == _POSSESSIVE:
            found = _walk(list(av[2]))
        elif op == _SUBPATTERN:
            found = _walk(list(av[3]))
        elif op == _ATOMIC:
            found = _walk(list(av))
        elif op == _BRANCH:
            for branch in av[1]:
                found = found or _walk(list(branch))
        elif op in _ASSERTS:
            found = _walk(list(av[1]))
        elif op == _GROUPREF_EXISTS:
            found = _walk(list(av[1])) or (_walk(list(av[2])) if av[2] is not None else None)
        if found:
            return found
    return None


def _quantifier(low: int, high: int) -> str:
    if high == _MAXREPEAT:
        return {0: "*", 1: "+"}.get(low, f"{{{low},}}")
    return f"{{{low}}}" if low == high else f"{{{low},{high}}}"


def _loop_problem(body: list[Node], quantifier: str) -> str | None:
    hazards: list[frozenset[str]] = []
    for kind, chars in _hazards(body):
        if kind == "empty-branches":
            return (
                f"a group repeated with {quantifier} has two alternatives that both match empty text, "
                "so every repetition can be matched two ways"
            )
        hazards.append(chars)
    if not hazards:
        return None
    risky = frozenset().union(*hazards)
    if any(not (_chars([item]) & risky) for item in _delimiters(body)):
        return None
    return (
        f"a group repeated with {quantifier} contains a nested quantifier or overlapping alternatives "
        "that can match the same text as the next repetition"
    )


def _hazards(seq: Sequence[Node]) -> Iterable[tuple[str, frozenset[str]]]:
    """The ambiguities of a loop's part: ("quantifier"|"branches"|"empty-branches", their characters)."""
    for op, av in seq:
        if op in _REPEATS:
            low, high, body = av
            if high != low:
                yield "quantifier", _chars(body)
            yield from _hazards(body)
        elif op == _SUBPATTERN:
            yield from _hazards(av[3])
        elif op == _BRANCH:
            branches = [list(b) for b in av[1]]
            if sum(1 for b in branches if _nullable(b)) >= 2:
                yield "empty-branches", frozenset()
            elif _branches_overlap(branches):
                yield "branches", frozenset().union(*(_chars(b) for b in branches))
            for branch in branches:
                yield from _hazards(branch)
        elif op == _GROUPREF_EXISTS:
            yield from _hazards(av[1])
            if av[2] is not None:
                yield from _hazards(av[2])
        # possessive repeats, atomic groups and lookarounds never give back what they matched


def _delimiters(body: Sequence[Node]) -> Iterable[Node]:
    """Single-character items every repetition must match, outside quantifiers and alternations."""
    for op, av in body:
        if op in _SINGLE:
            yield (op, av)
        elif op == _SUBPATTERN:
            yield from _delimiters(av[3])


def _literal_text(seq: Sequence[Node]) -> str | None:
    if all(op == _LITERAL for op, _ in seq):
        return "".join(chr(av) for _, av in seq)
    return None


def _branches_overlap(branches: list[list[Node]]) -> bool:
    texts = [_literal_text(b) for b in branches]
    if all(t is not None for t in texts):
        words = sorted(t.lower() for t in texts if t is not None)
        return any(b.startswith(a) for a, b in itertools.pairwise(words))
    firsts = [_first(b) for b in branches]
    return any(firsts[i] & firsts[j] for i in range(len(firsts)) for j in range(i + 1, len(firsts)))


def _nullable(seq: Sequence[Node]) -> bool:
    for op, av in seq:
        if op in _SINGLE:
            return False
        if op in _REPEATS or op == _POSSESSIVE:
            if av[0] > 0 and not _nullable(av[2]):
                return False
        elif op == _SUBPATTERN:
            if not _nullable(av[3]):
                return False
        elif op == _ATOMIC:
            if not _nullable(av):
                return False
        elif op == _BRANCH and not any(_nullable(b) for b in av[1]):
            return False
    return True


def _first(seq: Sequence[Node]) -> frozenset[str]:
    """Characters the sequence can start with (every character when it can match empty text)."""
    out: set[str] = set()
    for op, av in seq:
        if op in _SINGLE:
            return frozenset(out | _chars([(op, av)]))
        if op in _REPEATS or op == _POSSESSIVE:
            out |= _first(av[2])
            if av[0] > 0 and not _nullable(av[2]):
                return frozenset(out)
        elif op == _SUBPATTERN:
            out |= _first(av[3])
            if not _nullable(av[3]):
                return frozenset(out)
        elif op == _ATOMIC:
            out |= _first(av)
            if not _nullable(av):
                return frozenset(out)
        elif op == _BRANCH:
            for branch in av[1]:
                out |= _first(branch)
            if not any(_nullable(b) for b in av[1]):
                return frozenset(out)
    return _ALPHABET


def _chars(seq: Sequence[Node]) -> frozenset[str]:
    """Every character (of the alphabet, and any literal) the sequence can consume anywhere, any case."""
    out: set[str] = set()
    for op, av in seq:
        if op == _LITERAL:
            out |= _cases(chr(av))
        elif op == _NOT_LITERAL:
            # [^,] matches every character but ","; a letter it excludes still matches in its other case
            excluded = chr(av)
            out |= _ALPHABET - {excluded} if _cases(excluded) == {excluded} else _ALPHABET
        elif op == _ANY:
            out |= _ALPHABET
        elif op == _IN:
            out |= _class_chars(tuple(av))
        elif op in _REPEATS or op == _POSSESSIVE:
            out |= _chars(av[2])
        elif op == _SUBPATTERN:
            out |= _chars(av[3])
        elif op == _ATOMIC:
            out |= _chars(av)
        elif op == _BRANCH:
            for branch in av[1]:
                out |= _chars(branch)
        elif op == _GROUPREF_EXISTS:
            out |= _chars(av[1]) | (_chars(av[2]) if av[2] is not None else set())
        elif op == _const.GROUPREF:
            out |= _ALPHABET
    return frozenset(out)


def _cases(ch: str) -> set[str]:
    return {v for v in (ch, ch.lower(), ch.upper(), ch.swapcase()) if len(v) == 1}


_ALPHABET_CASES: tuple[tuple[str, tuple[str, ...]], ...] = tuple((c, tuple(_cases(c))) for c in _ALPHABET)
_UNIVERSE: frozenset[str] = frozenset(v for _, cases in _ALPHABET_CASES for v in cases)
"""The alphabet with every case of its characters: all that :func:`_in_class` is ever asked about."""


@functools.lru_cache(maxsize=64)
def _category_chars(name: str) -> frozenset[str]:
    return frozenset(v for v in _UNIVERSE if _category(name, v))


@functools.lru_cache(maxsize=1024)
def _class_chars(items: tuple[Node, ...]) -> frozenset[str]:
    """The characters a class ``[...]`` matches, any case: those of the alphabet, and its literals.

    The alphabet characters are those with a case that :func:`_in_class` accepts, worked out with set
    operations over :data:`_UNIVERSE` (:func:`_class_chars_reference` asks per character).
    """
    negate = False
    matched: set[str] = set()
    for op, av in items:
        if op == _const.NEGATE:
            negate = True
        elif op == _LITERAL:
            matched.add(chr(av))
        elif op == _const.RANGE:
            low, high = av
            matched |= {v for v in _UNIVERSE if low <= ord(v) <= high}
        elif op == _const.CATEGORY:
            matched |= _category_chars(str(av))
    if negate:  # a negated class's literals are what it does not match
        return frozenset(c for c, cases in _ALPHABET_CASES if any(v not in matched for v in cases))
    out = {c for c, cases in _ALPHABET_CASES if any(v in matched for v in cases)}
    out |= {v for kind, value in items if kind == _LITERAL for v in _cases(chr(value))}
    return frozenset(out)


def _class_chars_reference(items: Sequence[Node]) -> frozenset[str]:
    """:func:`_class_chars`, one :func:`_in_class` call per character and case."""
    out = {c for c in _ALPHABET if any(_in_class(items, v) for v in _cases(c))}
    if all(op != _const.NEGATE for op, _ in items):
        out |= {v for kind, value in items if kind == _LITERAL for v in _cases(chr(value))}
    return frozenset(out)


def _in_class(items: Sequence[Node], ch: str) -> bool:
    negate = False
    hit = False
    for op, av in items:
        if op == _const.NEGATE:
            negate = True
        elif op == _LITERAL:
            hit = hit or ord(ch) == av
        elif op == _const.RANGE:
            hit = hit or av[0] <= ord(ch) <= av[1]
        elif op == _const.CATEGORY:
            hit = hit or _category(str(av), ch)
    return hit != negate


def _category(name: str, ch: str) -> bool:
    if "DIGIT" in name:
        found = unicodedata.category(ch) == "Nd"
    elif "SPACE" in name:
        found = ch.isspace()
    elif "WORD" in name:
        found = ch.isalnum() or ch == "_"
    elif "LINEBREAK" in name:
        found = ch == "\n"
    else:
        return True
    return found != ("NOT" in name)
