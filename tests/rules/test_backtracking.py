"""The catastrophic-backtracking check: its class sets (computed with set operations) against the plain
per-character test, and the shapes it refuses or lets through."""

from __future__ import annotations

import importlib
import re
import warnings

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from auditor.rules.backtracking import _class_chars, _class_chars_reference, backtracking_risk

_parser = importlib.import_module("re._parser")
_const = importlib.import_module("re._constants")

CLASS_ITEMS = st.sampled_from(
    [
        "a-z",
        "A-Z",
        "0-9",
        "\\w",
        "\\W",
        "\\s",
        "\\S",
        "\\d",
        "\\D",
        "_",
        "-",
        "&.'",
        "İıſK",
        "\u00c0-\u024f",
        "\u2000-\u206f",
        "\\x00-\\x7f",
        "é",
        "ß",
        "\u0130",
        "\u212a",
        "\\n",
        "–,",
        "Xx",
        "\U0001f600",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.booleans(), st.booleans(), st.lists(CLASS_ITEMS, min_size=1, max_size=4))
def test_class_sets_equal_the_per_character_test(negate: bool, ignore_case: bool, items: list[str]) -> None:
    pattern = ("(?i)" if ignore_case else "") + "[" + ("^" if negate else "") + "".join(items) + "]"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # "--" in a class: a possible future set operation
        try:
            re.compile(pattern)
        except re.error:
            assume(False)  # e.g. "[Xx-a]": a range given backwards
        tree = _parser.parse(pattern)
    for op, av in tree:
        if op == _const.IN:
            assert _class_chars(tuple(av)) == _class_chars_reference(av)


@pytest.mark.parametrize(
    ("pattern", "risky"),
    [
        (r"(a+)+$", True),
        (r"(\w+\s?)*$", True),
        (r"(a|aa)*", True),
        (r"(a|a)*", True),
        (r"(\w+ )*", False),
        (r"(?:\s*[-–,]\s*\d+)*", False),
        (r"[\w&.'-]+", False),
        (r"([a-z]+[0-9]?)*$", True),
        # a negated class does not match what it lists: each repetition ends at its delimiter
        (r"(?:[^.]+\.)*x", False),
        (r"([^,]+,)*x", False),
        (r"([^,]+[,a])*x", True),
        (r"([^,]+[^;])*x", True),
    ],
)
def test_refused_shapes(pattern: str, risky: bool) -> None:
    assert (backtracking_risk(pattern) is not None) == risky
    assert (backtracking_risk(pattern) is not None) == risky  # remembered
