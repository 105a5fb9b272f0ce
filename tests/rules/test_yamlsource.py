"""Reading YAML through libyaml gives what PyYAML alone gives: data, lines and problems."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.rules import default_pack_paths, load_rule_set, yamlsource
from auditor.rules.problems import ProblemLog, RulePackProblems
from auditor.rules.yamlsource import MAX_ALIASES, YamlDoc, read_yaml

pytestmark = pytest.mark.skipif(yamlsource._LIBYAML_LOADER is None, reason="PyYAML built without libyaml")

Reading = tuple[YamlDoc | None, tuple[Any, ...]]


class _Counting(yamlsource._LimitedLoader):
    """The pure-Python loader, counting how often it is made (how often libyaml's reading was not used)."""

    made = 0

    def __init__(self, stream: str) -> None:
        type(self).made += 1
        super().__init__(stream)


@pytest.fixture
def count_pyyaml(monkeypatch: pytest.MonkeyPatch) -> type[_Counting]:
    _Counting.made = 0
    monkeypatch.setattr(yamlsource, "_LimitedLoader", _Counting)
    return _Counting


def _read(path: Path, libyaml: bool) -> Reading:
    log = ProblemLog()
    return read_yaml(path, log, libyaml=libyaml), log.problems


def _same(path: Path) -> Reading:
    """Both readings of ``path``, asserted identical (data with its types, lines, digest, problems)."""
    fast, slow = _read(path, libyaml=True), _read(path, libyaml=False)
    assert fast == slow
    assert repr(fast) == repr(slow)  # 1 and 1.0 and True are ==; their reprs are not
    return fast


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "doc.yaml"
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.mark.parametrize("path", default_pack_paths(), ids=lambda p: p.name)
def test_every_bundled_pack_reads_the_same_through_libyaml(path: Path, count_pyyaml: type[_Counting]) -> None:
    doc, problems = _read(path, libyaml=True)
    assert count_pyyaml.made == 0  # libyaml read it whole: nothing fell back to PyYAML
    assert doc is not None and problems == ()
    assert (doc, problems) == _read(path, libyaml=False)
    assert repr(doc) == repr(_read(path, libyaml=False)[0])


def test_load_rule_set_reads_the_bundled_packs_through_libyaml(count_pyyaml: type[_Counting]) -> None:
    load_rule_set()
    assert count_pyyaml.made == 0


EDGE_CASES = {
    "anchors and aliases": "a: &x {k: [1, 2]}\nb: *x\nc: [*x, *x]\nd: &s text\ne: *s\n",
    "merge key": "base: &b {x: 1}\nchild:\n  <<: *b\n  y: 2\n",
    "merge key list": "a: &a {x: 1}\nb: &b {y: 2}\nc:\n  <<: [*a, *b]\n",
    "tags": "a: !!str 12\nb: !!int '7'\nc: !!float 1\nd: !!bool yes\ne: !!null ''\nf: !!seq [1]\n",
    "verbatim and local tags": "a: !<tag:yaml.org,2002:str> 5\nb: !custom x\n",
    "unsafe tag": "rules: !!python/object/apply:os.system ['true']\n",
    "binary": "a: !!binary aGVsbG8=\n",
    "dates": "a: 2026-01-02\nb: 2001-12-14t21:59:43.10-05:00\nc: 2001-12-14 21:59:43.10\nd: 2026-13-01\n",
    "numbers": "a: 0x1F\nb: 0o17\nc: 017\nd: 1_000\ne: 1e3\nf: .inf\ng: -.Inf\nh: .nan\ni: 190:20:30\n",
    "booleans and nulls": "a: yes\nb: No\nc: on\nd: OFF\ne: ~\nf: null\ng:\nh: ''\n",
    "duplicate keys": "pack: p\nversion: 1\npack: q\nrules: []\n",
    "keys that are not text": "1: a\ntrue: b\n~: c\n[1, 2]: d\n? {k: v}\n: e\n1.5: f\n",
    "complex keys": "? a\n: 1\n? |\n  block key\n: 2\n",
    "block scalars": "a: |\n  one\n  two\n\nb: >-\n  folded\n  text\n\n  para\n"
    "c: |+\n  keep\n\nd: |2-\n    indented\n",
    "quoted scalars": "a: 'it''s'\nb: \"tab\\tnew\\nline \\u00e9 \\x41 \\U0001F600\"\n"
    "c: \"multi\n  line\"\nd: 'x\n\n  y'\n",
    "plain multi-line": "a: one\n  two\n  three\nb: - not a list\n",
    "flow collections": "a: [1, {b: c, d: [e, f]}, [], {}]\nb: {x: [y: z]}\nc: [a: 1, b]\n",
    "indentless sequence": "a:\n- 1\n- - 2\n  - 3\n- k: v\n  l: w\n",
    "nested sequences": "- - - 1\n    - 2\n  - 3\n- []\n",
    "empty values": "a:\nb:\n  c:\n  d:\ne: [~, ]\n",
    "comments": "# head\na: 1 # trailing\n# between\nb: [1, # in flow\n  2]\n",
    "document markers": "%YAML 1.1\n---\na: 1\n...\n",
    "tag directive": "%TAG !e! tag:example.com,2000:\n---\na: !e!thing x\n",
    "explicit start": "--- \na: 1\n",
    "crlf": "a: 1\r\nb:\r\n  - 2\r\n  - 3\r\nc: |\r\n  x\r\n  y\r\n",
    "unicode": 'é: ü\nkey: "😀"\nnbsp: a\u00a0b\n',
    "empty": "",
    "comments only": "# nothing\n\n",
    "empty document": "---\n...\n",
    "scalar root": "just text\n",
    "list root": "- a\n- b\n",
    "recursive alias": "pack: p\nversion: 1\nloop: &x [*x]\nrules: []\n",
    "long key": "'" + "k" * 1100 + "': 1\n",
    "alias limit reached": "a: &a 1\nb: [" + ", ".join(["*a"] * MAX_ALIASES) + "]\n",
    "alias limit passed": "a: &a 1\nb: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]\n",
    "alias expansion": "a0: &a0 ["
    + ", ".join(["x"] * 60)
    + "]\n"
    + "".join(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 9)),
    "deep nesting": "[" * 1000 + "]" * 1000 + "\n",
    "unclosed flow": "pack: p\nversion: 1\nrules:\n  - id: [unclosed\n",
    "bad indentation": "a:\n  b: 1\n c: 2\n",
    "undefined alias": "a: *nope\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "duplicate anchor": "a: &x 1\nb: &x 2\nc: *x\n",
    "tab indentation": "a:\n\tb: 1\n",
    "unclosed quote": "a: 'open\nb: 2\n",
    "mapping in plain scalar": "a: b: c\n",
    "yaml 2 directive": "%YAML 2.0\n---\na: 1\n",
    "unknown escape": 'a: "\\q"\n',
    "control character": "a: b\x07c\n",
    "NUL": "a: b\x00c\n",
    "key without value in flow": "{a, b: c}\n",
}
"""Valid documents (aliases, merge keys, tags, dates, odd keys...) and broken ones (read by PyYAML)."""


@pytest.mark.parametrize("text", EDGE_CASES.values(), ids=EDGE_CASES.keys())
def test_edge_cases_read_the_same(tmp_path: Path, text: str) -> None:
    _same(_write(tmp_path, text))


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("duplicate keys", "duplicate key 'pack'"),
        ("merge key", "YAML merge keys (<<) are not supported"),
        ("alias limit passed", f"more than {MAX_ALIASES} YAML aliases"),
        ("alias expansion", "expands to more than"),
        ("recursive alias", "recursive YAML alias"),
        ("unsafe tag", "unsupported YAML value"),
        ("unclosed flow", "YAML error: "),
        ("NUL", "YAML error: "),
        ("deep nesting", "YAML nesting is too deep"),
    ],
)
def test_edge_cases_report_their_problem(tmp_path: Path, name: str, problem: str) -> None:
    """The cases above are what they claim to be (so that comparing their readings means something)."""
    _, problems = _same(_write(tmp_path, EDGE_CASES[name]))
    assert any(problem in p.message for p in problems), problems


@pytest.mark.parametrize(
    "name", ["anchors and aliases", "dates", "keys that are not text", "crlf", "unicode"]
)
def test_valid_edge_cases_are_read_by_libyaml(
    tmp_path: Path, name: str, count_pyyaml: type[_Counting]
) -> None:
    doc, _ = _read(_write(tmp_path, EDGE_CASES[name]), libyaml=True)
    assert doc is not None and count_pyyaml.made == 0


def test_dates_and_lines(tmp_path: Path) -> None:
    doc, problems = _same(_write(tmp_path, EDGE_CASES["dates"]))
    assert doc is not None and problems == ()
    assert doc.data["a"] == datetime.date(2026, 1, 2)
    assert doc.data["d"] == "2026-13-01"  # kept as text, for the field's own check
    assert doc.lines == {(): 1, ("a",): 1, ("b",): 2, ("c",): 3, ("d",): 4}


def test_a_failure_inside_libyaml_falls_back_to_pyyaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count_pyyaml: type[_Counting]
) -> None:
    class Failing(yamlsource._LIBYAML_LOADER):  # type: ignore[misc,name-defined]
        def get_single_node(self) -> Any:
            raise RuntimeError("boom")

    path = _write(tmp_path, EDGE_CASES["anchors and aliases"])
    expected = _read(path, libyaml=False)
    count_pyyaml.made = 0
    monkeypatch.setattr(yamlsource, "_LIBYAML_LOADER", Failing)
    assert _read(path, libyaml=True) == expected
    assert count_pyyaml.made == 1


def test_ctrl_c_inside_libyaml_is_not_swallowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count_pyyaml: type[_Counting]
) -> None:
    class Interrupted(yamlsource._LIBYAML_LOADER):  # type: ignore[misc,name-defined]
        def get_single_node(self) -> Any:
            raise KeyboardInterrupt

    monkeypatch.setattr(yamlsource, "_LIBYAML_LOADER", Interrupted)
    with pytest.raises(KeyboardInterrupt):
        _read(_write(tmp_path, "a: 1\n"), libyaml=True)
    assert count_pyyaml.made == 0


def test_a_users_pack_is_read_by_pyyaml_alone(tmp_path: Path) -> None:
    """libyaml accepts a tab inside a plain scalar, PyYAML does not: a user's pack keeps PyYAML's verdict."""
    text = "pack: p\nversion: 1\nrules: []\ndescription: a\tb\n"
    path = _write(tmp_path, text)
    fast, slow = _read(path, libyaml=True), _read(path, libyaml=False)
    assert fast[0] is not None and slow[0] is None  # the difference this test is about
    with pytest.raises(RulePackProblems) as raised:
        load_rule_set([path], include_defaults=False)
    assert [(p.line, p.message) for p in raised.value.problems] == [
        (4, "YAML error: found character '\\t' that cannot start any token")
    ]


# Random documents: nested data of every scalar type the safe loader makes, dumped by PyYAML in
# block, flow and mixed styles; a value used twice is dumped once, with an anchor, then as aliases.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["yes", "~", "0x1F", "1_0", "2026-01-02", "12:30", "<<", "*x", "- a", "a: b", "#c", "'"]),
    st.dates(),
)
DATA = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(
    data=st.dictionaries(st.text(max_size=8), DATA, min_size=1, max_size=6),
    shared=st.integers(min_value=0, max_value=3),
    flow=st.sampled_from([True, False, None]),
    width=st.sampled_from([20, 80, 1000]),
    indent=st.sampled_from([2, 4]),
    unicode=st.booleans(),
    start=st.booleans(),
)
def test_random_documents_read_the_same(
    tmp_path_factory: pytest.TempPathFactory,
    data: dict[str, Any],
    shared: int,
    flow: bool | None,
    width: int,
    indent: int,
    unicode: bool,
    start: bool,
) -> None:
    common = list(data.values())[:1]
    for i in range(shared):
        data[f"shared{i}"] = common  # one object in several places: an anchor and aliases
    text = yaml.safe_dump(
        data,
        default_flow_style=flow,
        width=width,
        indent=indent,
        allow_unicode=unicode,
        explicit_start=start,
        sort_keys=False,
    )
    _same(_write(tmp_path_factory.mktemp("yaml"), text))
