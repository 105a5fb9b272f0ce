"""The copyright-notice detector: copyright pages fire, prose that mentions copyright does not."""

from __future__ import annotations

import pytest

from auditor.models import Severity
from auditor.rules import RuleSet
from auditor.rules.check import Subject
from auditor.rules.kinds.notice import NoticeCheck

from .conftest import FakeFacts, make_record

COPYRIGHT_PAGE = """\
Copyright © 2008 by Houghton Example Publishing Company

All rights reserved. No part of this publication may be reproduced, stored in a retrieval system,
or transmitted, in any form or by any means, without the prior written permission of the publisher.

Library of Congress Cataloging-in-Publication Data is available.
ISBN-13: 978-0-306-40615-7

Printed in the United States of America
First published in 2008
"""

PROSE = [
    "Copyright law protects original works of authorship. The copyright term in the United States is the "
    "life of the author plus seventy years.",
    "She said the copyright on her grandfather's songs had lapsed, and that all rights reserved "
    "meant little.",
    "The library printed in the newsletter that the first published edition was rare.",
    "© 2023 Example Corp. All rights reserved. | Privacy Policy | Terms of Use",
    "Copyright 2021 Example LLC",
    "The novel, first published in 1851, sold poorly. It is a work of fiction about a whale.",
]


@pytest.fixture(scope="module")
def notice(default_rules: RuleSet) -> NoticeCheck:
    return next(c for c in default_rules._record_checks if isinstance(c, NoticeCheck))


def _run(check: NoticeCheck, text: str) -> list:
    return check.evaluate(Subject(make_record(text=text), [], FakeFacts()))


def test_copyright_page(notice: NoticeCheck) -> None:
    text = "Chapter text before.\n" + COPYRIGHT_PAGE + "\nChapter One\nIt was a quiet morning."
    [finding] = _run(notice, text)
    assert finding.severity == Severity.MEDIUM
    assert finding.detail.split(",") == sorted(finding.detail.split(","))
    assert {"all_rights_reserved", "no_reproduction", "cip_block", "printed_in", "isbn_line"} <= set(
        finding.detail.split(",")
    )
    assert finding.work is None and finding.score is None
    assert len(finding.spans) == len(finding.evidence)
    starts = [s.record_start for s in finding.spans]
    assert starts == sorted(starts)
    for span, evidence in zip(finding.spans, finding.evidence, strict=True):
        assert span.work_start is None
        assert 0 <= span.record_start < span.record_end <= len(text)
        matched = " ".join(text[span.record_start : span.record_end].split())
        assert matched in evidence.record_text


@pytest.mark.parametrize("text", PROSE)
def test_prose_and_footers_do_not_fire(notice: NoticeCheck, text: str) -> None:
    assert _run(notice, text) == []


def test_windowed_search_equals_full_search(notice: NoticeCheck) -> None:
    text = ("filler words " * 400) + COPYRIGHT_PAGE + ("more filler " * 400)
    lowered = text.lower()
    for signal in notice.signals:
        windowed = signal.spans(text, lowered, notice.window, 50)
        full = [m.span() for m in signal.pattern.finditer(text)][:50]
        assert windowed == full, signal.name


def test_text_whose_lower_case_changes_length_still_works(notice: NoticeCheck) -> None:
    text = "İstanbul edition. " + COPYRIGHT_PAGE
    [finding] = _run(notice, text)
    for span in finding.spans:
        assert text[span.record_start : span.record_end].strip()


def test_span_cap(notice: NoticeCheck) -> None:
    [finding] = _run(notice, COPYRIGHT_PAGE * 30)
    assert len(finding.spans) == notice.max_spans
