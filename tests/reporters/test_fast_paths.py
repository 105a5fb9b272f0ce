"""The reporters' fast paths equal the standard library code they replace, on random and edge input."""

from __future__ import annotations

import difflib
import gzip
import json
import math
import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.reporters import html, sarif
from auditor.reporters.align import WORD, _key, _tokens, opcodes
from auditor.reporters.summary import url_host
from auditor.reporters.text import _INVISIBLE, dump_json, encodable, iter_json, iter_json_utf8, visible

_SURROGATE = re.compile("[\ud800-\udfff]")


def reference_json(value: Any, indent: int | str | None = 2) -> str:
    text = json.dumps(value, ensure_ascii=False, indent=indent, sort_keys=False, allow_nan=False)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class Text(str):
    """A str subclass: the fast JSON path must hand it to the standard library, as json.dumps sees it."""


class Number(int):
    """An int subclass, likewise."""


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
    st.text(alphabet='\x00\n\t"\\é\ud800\udcb2\u2028😀 a'),
    st.builds(Text, st.text(max_size=5)),
    st.builds(Number, st.integers()),
)
keys = st.one_of(st.text(max_size=8), st.integers(), st.floats(allow_nan=False), st.booleans(), st.none())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=8), inner, max_size=5),
        st.dictionaries(keys, inner, max_size=3),
    ),
    max_leaves=40,
)


def outcome(encode: Any, value: Any, indent: int | str | None) -> str | tuple[type, str]:
    """The text, or the error's type and message."""
    try:
        return str(encode(value, indent))
    except (TypeError, ValueError) as error:
        return type(error), str(error)


@settings(max_examples=400, deadline=None)
@given(values, st.sampled_from([2, 0, 4, "\t", None]))
def test_json_is_the_standard_librarys_text(value: Any, indent: int | str | None) -> None:
    want = outcome(reference_json, value, indent)
    assert outcome(lambda v, i: dump_json(v, indent=i), value, indent) == want
    assert outcome(lambda v, i: "".join(iter_json(v, indent=i)), value, indent) == want
    if indent == 2:  # report.json's pieces, as UTF-8
        encoded = outcome(lambda v, i: b"".join(iter_json_utf8(v)).decode("utf-8"), value, indent)
        assert encoded == want


def test_json_is_the_standard_librarys_text_for_deep_and_long_values() -> None:
    deep: dict[str, Any] = {}
    cur = deep
    for i in range(300):
        cur["k"] = {"v": [i, {"z": "é"}], "w": []}
        cur = cur["k"]
    long = {"findings": [{"n": i, "text": "x" * (i % 50)} for i in range(30_000)], "after": {}}
    for value in (deep, long):
        assert dump_json(value) == reference_json(value)
        assert "".join(iter_json(value)) == reference_json(value)


@pytest.mark.parametrize(
    "bad",
    [math.nan, [1, math.inf], {"a": {"b": -math.inf}}, {"a": object()}, {(1, 2): 1}, {"a": {1: [set()]}}],
)
def test_json_refuses_what_the_standard_library_refuses(bad: Any) -> None:
    with pytest.raises((TypeError, ValueError)) as want:
        reference_json(bad)
    for encode in (dump_json, lambda v: "".join(iter_json(v))):
        with pytest.raises(want.type, match=re.escape(str(want.value))):
            encode(bad)


def test_json_refuses_reference_cycles() -> None:
    cycle: list[Any] = []
    cycle.append({"a": cycle})
    for encode in (dump_json, lambda v: "".join(iter_json(v))):
        with pytest.raises(ValueError, match="Circular reference"):
            encode(cycle)


words = st.lists(st.sampled_from(["a", "b", "c", "d", "the", "é"]), max_size=40)


@settings(max_examples=500, deadline=None)
@given(words, words)
def test_opcodes_are_difflibs(a: list[str], b: list[str]) -> None:
    assert opcodes(a, b) == difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()


@settings(max_examples=300, deadline=None)
@given(words, st.lists(st.tuples(st.integers(0, 40), st.sampled_from(["", "x", "a"])), max_size=4))
def test_opcodes_are_difflibs_for_near_copies(a: list[str], edits: list[tuple[int, str]]) -> None:
    b = list(a)
    for at, word in edits:
        if word:
            b.insert(min(at, len(b)), word)
        elif b:
            del b[min(at, len(b) - 1)]
    assert opcodes(a, b) == difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab AZ_9.\n…’éİßﬁ²٣Ⓐǅ日本\u0301\u202e\x00"))))
def test_tokens_are_the_words_keys_and_offsets_of_the_word_pattern(text: str) -> None:
    parts, keys, ends = _tokens(text)
    spans = [m.span() for m in WORD.finditer(text)]
    assert [(ends[2 * i], ends[2 * i + 1]) for i in range(len(keys))] == spans
    assert keys == [_key(text[s:e]) for s, e in spans]
    assert "".join(parts) == text and ends[-1] == len(text)
    assert keys == [
        w.lower() if w.isascii() else unicodedata.normalize("NFKC", w).casefold() for w in WORD.findall(text)
    ]


def reference_url_host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname if parts.scheme.lower() in ("http", "https") else None
    except ValueError:
        return None
    return host or None


url_parts = st.sampled_from(
    ["http://", "https://", "HTTPS://", " hTTp://", "\thttp://", "ftp://", "a", "Z", "0", ".", "-", ":80",
     "@", "user@", "[::1]", "[", "]", "%41", "/", "?", "#", "\t", "\n", "\x00", "\\", "é", "_", "~", " "]
)  # fmt: skip


@settings(max_examples=2000, deadline=None)
@given(st.lists(url_parts, max_size=10).map("".join))
def test_url_host_is_urlsplits(url: str) -> None:
    assert url_host(url) == reference_url_host(url)


def test_visible_leaves_every_printable_character_and_replaces_the_rest() -> None:
    for code in range(0x110000):
        char = chr(code)
        if char.isprintable():
            assert visible(char) == char
        assert visible(char + "\n") == _INVISIBLE.sub(lambda m: f"[U+{ord(m.group()):04X}]", char + "\n")


def test_encodable_escapes_lone_surrogates_only() -> None:
    assert encodable("plain ascii") == "plain ascii"
    assert encodable("é\ud800x\udcb2") == "é[U+D800]x[U+DCB2]"


def old_sarif(report: dict[str, Any]) -> str:
    """The SARIF reporter before it streamed: the whole log, then gzip-compressed to check its size."""
    limit, cut = sarif.RESULTS_LIMIT, False
    while True:
        log = sarif.build_sarif(report, results_limit=limit, cut_for_size=cut)
        text = dump_json(log, indent=None) + "\n"
        data = text.encode("utf-8")
        if len(data) <= sarif.UPLOAD_LIMIT:
            return text
        size = len(gzip.compress(data, compresslevel=6))
        results = len(log["runs"][0]["results"])
        if size <= sarif.UPLOAD_LIMIT or results == 0:
            return text
        limit, cut = min(results - 1, int(results * sarif.UPLOAD_LIMIT / size * 0.95)), True


@pytest.mark.parametrize("upload_limit", [10 * 1000 * 1000, 20_000, 4_000, 1_500, 200])
def test_streamed_sarif_is_the_whole_log_also_when_cut_to_fit(
    report_factory: Any, finding_factory: Any, hostile: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
    upload_limit: int,
) -> None:  # fmt: skip
    monkeypatch.setattr(sarif, "UPLOAD_LIMIT", upload_limit)
    findings = [
        finding_factory(record_id=f"doc-{i}", row=i, message=f"copies part {i} of a work " + "é" * (i % 7))
        for i in range(300)
    ]
    for report in (report_factory(findings), hostile):
        assert sarif.SarifReporter().render(report) == old_sarif(report)


def test_html_renders_the_same_page_with_a_damaged_or_unwritable_template_cache(
    report: dict[str, Any], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    want = html.HtmlReporter().render(report)
    cache = html._CompiledTemplates()
    monkeypatch.setattr(cache, "directory", str(tmp_path))
    base = html._environment()
    filename = base.loader.get_source(base, "report.html.j2")[1]  # type: ignore[union-attr]
    damaged = tmp_path / (cache.pattern % cache.get_cache_key("report.html.j2", filename))
    damaged.write_bytes(b"j2 not a pickle")
    env = base.overlay(bytecode_cache=cache, cache_size=0)
    assert env.get_template("report.html.j2").render(html.build_context(report)) == want
    assert damaged.read_bytes() != b"j2 not a pickle"  # compiled again and stored
    assert env.get_template("report.html.j2").render(html.build_context(report)) == want  # from the cache
    monkeypatch.setattr(cache, "directory", str(tmp_path / "missing"))
    assert env.get_template("report.html.j2").render(html.build_context(report)) == want


OLD_SOURCE_ROWS = """{% for s in sources %}
<tr><td class="break">{{ s.key }}</td><td class="num" data-v="{{ s.records }}">{{ s.records|num }}</td><td class="num" data-v="{{ s.flagged }}">{{ s.flagged|num }}</td><td data-v="{{ s.rank }}"><span class="sev {{ s.sev_class }}">{{ s.max_severity or "none" }}</span></td><td class="num" data-v="{{ s.risk }}"><span class="bar"><span style="width:{{ s.risk|width }}%"></span></span>{{ "%.2f"|format(s.risk or 0) }}</td></tr>
{% endfor %}"""  # noqa: E501
"""The sources table's rows as the template wrote them before html.py did."""

cell_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet="<>&'\"\x00\u202e\ud800 aé\n-—", max_size=12),
    st.sampled_from(["critical", "high", "medium", "low", "info", "none", "HIGH"]),
)
numbers = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(allow_nan=False))
sources = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "key": cell_values,
            "records": cell_values,
            "flagged": cell_values,
            "max_severity": cell_values,
            "risk": numbers,
        },
    ),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(sources)
def test_source_rows_are_the_templates(rows: list[dict[str, Any]]) -> None:
    env = html._environment()
    template = env.from_string(OLD_SOURCE_ROWS)
    old = [
        dict(s, sev_class=html._sev_class(severity), rank=html.severity_rank(severity))
        for s in rows
        for severity in [s.get("max_severity")]
    ]
    assert "".join(html._source_row_html(s) + "\n" for s in rows) == template.render(sources=old)


@settings(max_examples=300, deadline=None)
@given(cell_values)
def test_a_value_is_printed_as_the_template_prints_it(value: Any) -> None:
    assert html._h(value) == html._environment().from_string("{{ v }}").render(v=value)
