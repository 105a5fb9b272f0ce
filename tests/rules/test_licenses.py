"""Licence classification: real-world spellings (Hugging Face dataset cards, npm, free text) for both uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.rules.licenses import (
    CATEGORIES,
    MISSING,
    LicenseClassifier,
    LicenseTable,
    creative_commons_id,
    fuzzy_key,
)
from auditor.rules.ruleset import RuleSet

# (declared, category for commercial use, category for research use, normalised licence)
SPELLINGS = [
    ("apache-2.0", "permissive", "permissive", "Apache-2.0"),
    ("Apache License, Version 2.0", "permissive", "permissive", "Apache-2.0"),
    ("Apache 2", "permissive", "permissive", "Apache-2.0"),
    ("mit", "permissive", "permissive", "MIT"),
    ("The MIT License (MIT)", "permissive", "permissive", "MIT"),
    ("bsd-3-clause", "permissive", "permissive", "BSD-3-Clause"),
    ("BSD 3-Clause License", "permissive", "permissive", "BSD-3-Clause"),
    ("bsd", "permissive", "permissive", "LicenseRef-BSD"),
    ("isc", "permissive", "permissive", "ISC"),
    ("cc0-1.0", "unencumbered", "unencumbered", "CC0-1.0"),
    ("CC0 1.0 Universal", "unencumbered", "unencumbered", "CC0-1.0"),
    ("public domain", "unencumbered", "unencumbered", "LicenseRef-Public-Domain"),
    ("Unlicense", "unencumbered", "unencumbered", "Unlicense"),
    ("The Unlicense", "unencumbered", "unencumbered", "Unlicense"),
    ("UNLICENSED", "forbidden", "forbidden", "LicenseRef-UNLICENSED"),
    ("pddl", "unencumbered", "unencumbered", "PDDL-1.0"),
    ("wtfpl", "unencumbered", "unencumbered", "WTFPL"),
    ("cc-by-4.0", "notice", "notice", "CC-BY-4.0"),
    ("CC BY 4.0", "notice", "notice", "CC-BY-4.0"),
    ("cc-by-3.0", "notice", "notice", "CC-BY-3.0"),
    ("odc-by", "notice", "notice", "ODC-By-1.0"),
    ("cdla-permissive-2.0", "notice", "notice", "CDLA-Permissive-2.0"),
    ("cc-by-sa-4.0", "reciprocal", "reciprocal", "CC-BY-SA-4.0"),
    ("cc-by-sa-3.0", "reciprocal", "reciprocal", "CC-BY-SA-3.0"),
    ("odbl", "reciprocal", "reciprocal", "ODbL-1.0"),
    ("gpl-3.0", "reciprocal", "reciprocal", "GPL-3.0-only"),
    ("GNU General Public License v3.0", "reciprocal", "reciprocal", "GPL-3.0-only"),
    ("gpl-2.0", "reciprocal", "reciprocal", "GPL-2.0-only"),
    ("agpl-3.0", "reciprocal", "reciprocal", "AGPL-3.0-only"),
    ("lgpl", "reciprocal", "reciprocal", "LicenseRef-LGPL"),
    ("lgpl-3.0", "reciprocal", "reciprocal", "LGPL-3.0-only"),
    ("lgpl-lr", "reciprocal", "reciprocal", "LicenseRef-LGPL"),
    ("gfdl", "reciprocal", "reciprocal", "LicenseRef-GFDL"),
    ("mpl-2.0", "reciprocal", "reciprocal", "MPL-2.0"),
    ("cc-by-nc-4.0", "forbidden", "notice", "CC-BY-NC-4.0"),
    ("CC BY-NC 4.0", "forbidden", "notice", "CC-BY-NC-4.0"),
    ("Creative Commons Attribution-NonCommercial 4.0", "forbidden", "notice", "CC-BY-NC-4.0"),
    ("Creative Commons Attribution-NonCommercial 4.0 International", "forbidden", "notice", "CC-BY-NC-4.0"),
    ("cc-by-nc", "forbidden", "notice", "CC-BY-NC"),
    ("cc-by-nc-3.0", "forbidden", "notice", "CC-BY-NC-3.0"),
    ("cc-by-nc-sa-4.0", "forbidden", "reciprocal", "CC-BY-NC-SA-4.0"),
    (
        "Attribution-NonCommercial-ShareAlike 4.0 International (CC BY-NC-SA 4.0)",
        "forbidden",
        "reciprocal",
        "CC-BY-NC-SA-4.0",
    ),
    ("cc-by-nc-nd-4.0", "forbidden", "restricted", "CC-BY-NC-ND-4.0"),
    ("cc-by-nd-4.0", "restricted", "restricted", "CC-BY-ND-4.0"),
    ("https://creativecommons.org/licenses/by-nd/4.0/", "restricted", "restricted", "CC-BY-ND-4.0"),
    (
        "CC BY-NC-SA 4.0 (https://creativecommons.org/licenses/by-nc-sa/4.0/)",
        "forbidden",
        "reciprocal",
        "CC-BY-NC-SA-4.0",
    ),
    ("openrail", "restricted", "restricted", "LicenseRef-OpenRAIL"),
    ("openrail++", "restricted", "restricted", "LicenseRef-OpenRAIL++"),
    ("bigscience-openrail-m", "restricted", "restricted", "LicenseRef-OpenRAIL-M-BigScience"),
    ("creativeml-openrail-m", "restricted", "restricted", "LicenseRef-OpenRAIL-M-CreativeML"),
    ("llama2", "restricted", "restricted", "LicenseRef-Llama-2"),
    ("llama3", "restricted", "restricted", "LicenseRef-Llama-3"),
    ("llama3.1", "restricted", "restricted", "LicenseRef-Llama-3.1"),
    ("gemma", "restricted", "restricted", "LicenseRef-Gemma"),
    ("deepfloyd-if-license", "forbidden", "restricted", "LicenseRef-DeepFloyd-IF"),
    ("c-uda", "notice", "notice", "LicenseRef-C-UDA"),
    ("All rights reserved", "forbidden", "forbidden", "LicenseRef-All-Rights-Reserved"),
    ("© All Rights Reserved.", "forbidden", "forbidden", "LicenseRef-All-Rights-Reserved"),
    ("proprietary", "forbidden", "forbidden", "LicenseRef-Proprietary"),
    ("research only", "forbidden", "notice", "LicenseRef-Research-Only"),
    ("unknown", "unknown", "unknown", "LicenseRef-Unknown"),
    ("other", "unknown", "unknown", "LicenseRef-Other"),
    ("cc", "unknown", "unknown", "LicenseRef-CC-Unspecified"),
    ("Free for everyone to do anything", "unknown", "unknown", "Free for everyone to do anything"),
    ("MIT OR CC-BY-NC-4.0", "permissive", "permissive", "MIT OR CC-BY-NC-4.0"),
    ("MIT AND CC-BY-NC-4.0", "forbidden", "notice", "MIT AND CC-BY-NC-4.0"),
    ("mit, cc-by-nc-4.0", "forbidden", "notice", "MIT, CC-BY-NC-4.0"),
    ("cc-by-4.0; cc-by-nd-4.0", "restricted", "restricted", "CC-BY-4.0, CC-BY-ND-4.0"),
    (
        "(MIT OR Apache-2.0) AND CC-BY-SA-4.0",
        "reciprocal",
        "reciprocal",
        "(MIT OR Apache-2.0) AND CC-BY-SA-4.0",
    ),
    (
        "GPL-2.0 WITH Classpath-exception-2.0",
        "reciprocal",
        "reciprocal",
        "GPL-2.0-only WITH Classpath-exception-2.0",
    ),
    ("mit OR other", "permissive", "permissive", "MIT OR LicenseRef-Other"),
    ("mit AND other", "unknown", "unknown", "MIT AND LicenseRef-Other"),
]


HF_LICENSES = Path(__file__).resolve().parent / "data" / "hf-dataset-card-licenses.yaml"


def _hf_spellings() -> list[Any]:
    data = yaml.safe_load(HF_LICENSES.read_text(encoding="utf-8"))
    return [
        pytest.param(
            e["declared"], e["commercial"], e["research"], e["license"], id=f"{group}:{e['declared']}"
        )
        for group in ("hub_identifiers", "free_text")
        for e in data[group]
    ]


def test_hugging_face_list_covers_at_least_40_spellings() -> None:
    data = yaml.safe_load(HF_LICENSES.read_text(encoding="utf-8"))
    hub = [e["declared"] for e in data["hub_identifiers"]]
    assert len(hub) >= 40 and len(set(hub)) == len(hub)
    assert {"apache-2.0", "mit", "cc-by-4.0", "cc-by-nc-4.0", "openrail", "other", "unknown"} <= set(hub)


@pytest.mark.parametrize(("declared", "commercial", "research", "normalised"), _hf_spellings())
def test_hugging_face_dataset_card_spellings(
    declared: str, commercial: str, research: str, normalised: str, classifiers: dict[str, LicenseClassifier]
) -> None:
    for use, expected in (("commercial", commercial), ("research", research)):
        verdict = classifiers[use].classify(declared)
        assert (verdict.category, verdict.license) == (expected, normalised), use


def test_spelling_table_is_big_enough() -> None:
    assert len(SPELLINGS) >= 40
    assert {cat for _, c, r, _ in SPELLINGS for cat in (c, r)} == set(CATEGORIES)


@pytest.mark.parametrize(("declared", "commercial", "research", "normalised"), SPELLINGS)
def test_real_world_spellings(
    declared: str, commercial: str, research: str, normalised: str, classifiers: dict[str, LicenseClassifier]
) -> None:
    for use, expected in (("commercial", commercial), ("research", research)):
        verdict = classifiers[use].classify(declared)
        assert (verdict.category, verdict.license) == (expected, normalised), use


@pytest.mark.parametrize("declared", [None, "", "   ", "none", "N/A", "null"])
def test_missing(declared: str | None, classifiers: dict[str, LicenseClassifier]) -> None:
    assert classifiers["commercial"].classify(declared).category == MISSING
    assert LicenseClassifier.is_missing(declared)


def test_unlicensed_is_not_the_unlicense(classifiers: dict[str, LicenseClassifier]) -> None:
    classify = classifiers["commercial"].classify
    assert classify("UNLICENSED").category == "forbidden"
    assert classify("unlicensed").category == "forbidden"
    assert classify("Unlicense").category == "unencumbered"
    assert classify("unlicense").category == "unencumbered"


def test_a_licence_text_in_the_field_is_unknown(classifiers: dict[str, LicenseClassifier]) -> None:
    text = "Permission is hereby granted, free of charge, to any person obtaining a copy " * 10
    assert classifiers["commercial"].classify(text).category == "unknown"


def test_results_are_cached_and_stable(classifiers: dict[str, LicenseClassifier]) -> None:
    classifier = classifiers["commercial"]
    first = classifier.classify("cc-by-nc-4.0")
    assert classifier.classify("cc-by-nc-4.0") is first


def test_unknown_use_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown use 'personal'"):
        LicenseClassifier(LicenseTable(), "personal")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("creative commons attribution noncommercial 4.0", "CC-BY-NC-4.0"),
        ("cc by nc sa 4", "CC-BY-NC-SA-4.0"),
        ("attribution sharealike 3.0 unported", "CC-BY-SA-3.0"),
        ("cc by no derivatives 4.0", "CC-BY-ND-4.0"),
        ("cc zero", "CC0-1.0"),
        ("cc0", "CC0-1.0"),
        ("cc by nd sa 4.0", None),
        ("cc by awesome 4.0", None),
        ("mit", None),
    ],
)
def test_creative_commons_words(key: str, expected: str | None) -> None:
    assert creative_commons_id(key) == expected


def test_fuzzy_key() -> None:
    assert fuzzy_key("The MIT License") == "mit"
    assert fuzzy_key("CC BY-NC 4.0") == fuzzy_key("cc-by-nc-4.0") == "cc by nc 4.0"
    assert fuzzy_key("GNU GPL v3") == "gnu gpl 3"


def test_user_table_overrides_defaults() -> None:
    base = LicenseTable(exact={"mit": {"commercial": "permissive", "research": "permissive"}})
    glob = LicenseTable(globs=[("cc-by-nc-*", {"commercial": "forbidden", "research": "notice"})])
    override = LicenseTable(
        exact={"mit": {"commercial": "forbidden", "research": "forbidden"}},
        globs=[("cc-by-nc-4*", {"commercial": "restricted", "research": "restricted"})],
    )
    table = LicenseTable.combine([base, glob, override])
    assert table.category("MIT", "commercial") == "forbidden"
    assert table.category("CC-BY-NC-4.0", "commercial") == "restricted"
    assert table.category("CC-BY-NC-3.0", "commercial") == "forbidden"


@pytest.fixture(scope="module")
def classifiers(default_rules: RuleSet) -> dict[str, LicenseClassifier]:
    from auditor.rules.kinds.license import LicenseCheck

    table = next(c for c in default_rules._record_checks if isinstance(c, LicenseCheck)).classifier.table
    return {use: LicenseClassifier(table, use) for use in ("commercial", "research")}
