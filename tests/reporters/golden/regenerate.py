"""Regenerate the golden outputs of tests/reporters/test_golden_outputs.py.

    python tests/reporters/golden/regenerate.py

Every text format of a few report records, byte for byte: the reporters stream their output in
pieces and take fast paths (JSON encoding, evidence alignment, HTML rows), and these files pin that
the bytes stay what they were. Run it only after a deliberate change to a format, and review the diff.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.reporters.conftest import (  # noqa: E402
    HOSTILE,
    empty_report,
    hostile_report,
    make_finding,
    make_report,
    sample_report,
)

FORMATS = {"json": "json", "html": "html", "sarif": "sarif", "junit": "xml", "md": "md"}
"""Reporter name and file extension of every format pinned (Parquet embeds the pyarrow version)."""

_PROSE = (
    "The printer set the type by hand. Every line was checked twice; the proofs went back and forth. "
    "Nobody in the shop remembered a winter as long as this one! Snow covered the road to the mill, "
    "and the paper ran short. Was it worth printing the almanac at all? They decided it was.\n\n"
    "In March the thaw came: the river rose, the ﬁrst barges arrived, and the STRASSE sign fell. "
)


def _cut(text: str, keep: int) -> str:
    """The engine's middle cut: both ends of a long excerpt around " … "."""
    half = keep // 2
    return text[:half] + " … " + text[len(text) - half :]


def evidence_report() -> dict[str, Any]:
    """Findings whose evidence takes every path of the aligned view."""
    work = {"id": "almanac", "title": "The Almanac", "registry": "books", "isbns": [], "group": "almanac"}
    long_record = _PROSE * 12
    long_work = long_record.replace("winter", "Winter").replace("mill", "old mill")
    edited = _PROSE.replace("checked twice", "read twice").replace("Snow", "Deep snow") + " Straße."
    spans = [{"record_start": 10, "record_end": 10 + len(_PROSE), "work_start": 500, "work_end": 900}]
    findings = [
        make_finding(record_id="same", row=1, work=work, spans=spans,
                     evidence=[{"record_text": _PROSE * 3, "work_text": _PROSE * 3}]),
        make_finding(record_id="edited", row=2, work=work, spans=spans,
                     evidence=[{"record_text": edited, "work_text": _PROSE}]),
        make_finding(
            record_id="cut", row=3, work=work,
            spans=[{"record_start": 0, "record_end": 9000, "work_start": 40, "work_end": 8000}],
            evidence=[{"record_text": _cut(long_record, 1200), "work_text": _cut(long_work, 1180)}],
        ),
        make_finding(
            record_id="windowed", row=4, work=work,
            spans=[{"record_start": 0, "record_end": len(long_record), "work_start": 0,
                    "work_end": len(long_work)}],
            evidence=[{"record_text": long_record, "work_text": long_work}],
        ),
        make_finding(
            severity="low", kind="notice", rule_id="AUD401", record_id="notice", row=5,
            spans=[{"record_start": 3, "record_end": 40, "work_start": None, "work_end": None}],
            evidence=[{"record_text": "© 2019 Acme Books.\nAll rights reserved. " + HOSTILE,
                       "work_text": None}],
        ),
        make_finding(
            record_id="fingerprints-only", row=6, work=work, spans=spans,
            evidence=[{"record_text": _PROSE, "work_text": None}],
        ),
        make_finding(record_id="no-spans", row=7, work=work, kind="exact-duplicate", spans=[], evidence=[]),
        make_finding(
            record_id="hostile", row=8, work=work, spans=[*spans, {}],
            evidence=[{"record_text": HOSTILE + " " + _PROSE, "work_text": _PROSE + " " + HOSTILE}, None],
        ),
        make_finding(
            record_id="empty-texts", row=9, work=work, spans=spans,
            evidence=[{"record_text": "", "work_text": "…"}],
        ),
    ]  # fmt: skip
    return make_report(findings)


def golden_reports() -> dict[str, dict[str, Any]]:
    return {
        "sample": sample_report(),
        "empty": empty_report(),
        "hostile": hostile_report(),
        "evidence": evidence_report(),
    }


def render(report: dict[str, Any], fmt: str) -> bytes:
    from auditor.reporters import get_reporter

    out = get_reporter(fmt).render(report)
    return out if isinstance(out, bytes) else out.encode("utf-8")


def main() -> None:
    for name, report in golden_reports().items():
        for fmt, ext in FORMATS.items():
            (HERE / f"{name}.{ext}").write_bytes(render(report, fmt))


if __name__ == "__main__":
    main()
