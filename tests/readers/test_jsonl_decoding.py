"""JSON Lines are parsed by orjson where it gives exactly json.loads's values, by json elsewhere."""

from __future__ import annotations

import json
import random

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.models import Record, Skipped
from auditor.readers import jsonl
from auditor.readers.base import FieldSpec, to_record
from auditor.readers.jsonl import JsonlReader

TRICKY = [
    b'{"text": "plain", "n": 1, "f": 0.5, "b": true, "z": null, "l": [1, 2.5, {"x": "y"}]}',
    b'{"text": "duplicate keys", "a": 1, "b": 2, "a": 3}',
    b'{"text": "big ints", "a": 123456789012345678901234567890, "f": 1.5}',
    b'{"text": "big ints", "a": -9223372036854775809, "b": [0.25]}',
    b'{"text": "big ints, no float", "a": 123456789012345678901234567890}',
    b'{"text": "64-bit edges", "a": 18446744073709551615, "b": -9223372036854775808, "f": 2.0}',
    b'{"text": "not numbers", "a": NaN, "b": Infinity, "c": -Infinity}',
    b'{"text": "out of range", "a": 1e400, "b": -1e400, "c": 1e-400}',
    b'{"text": "lone surrogates \\ud800 and \\udfff"}',
    b'{"text": "a pair \\ud834\\udd1e, escapes \\u0000 \\/ \\" \\\\ \\t"}',
    b'{"text": "\xc3\xa9t\xc3\xa9 \xe2\x80\x9cquoted\xe2\x80\x9d \xf0\x9f\x98\x80"}',
    b'{"text": "a raw control char \x1f"}',
    b'{"text": "trailing comma",}',
    b'\xef\xbb\xbf{"text": "a byte order mark after the first line"}',
    b'  {"text": "spaces around"}  \r',
    b'{"text": "deep", "d": ' + b"[" * 150 + b"]" * 150 + b"}",
    b'{"text": "deeper than json takes", "d": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"text": "invalid UTF-8 \xed\xa0\x80"}',
    b'["not", "an", "object"]',
    b'{"text": "-0 and exponents", "a": -0, "b": -0.0, "c": 1E5, "d": 0.1e1, "e": 4.9e-324}',
]


def _read(path) -> list[str]:
    # repr tells 1 from 1.0 and shows NaN, which never equals itself
    return [repr(entry) for entry in JsonlReader().read(path, path.name)]


def _json_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(line: bytes) -> object:
        raise ValueError("json only")

    monkeypatch.setattr(jsonl.orjson, "loads", refuse)


def test_every_line_reads_as_json_loads_has_it(tmp_path, monkeypatch):
    path = tmp_path / "tricky.jsonl"
    path.write_bytes(b"\n".join(TRICKY) + b"\n")
    fast = _read(path)
    _json_only(monkeypatch)
    assert fast == _read(path)
    assert sum(line.startswith("Record(") for line in fast) >= 10


def test_numbers_read_as_json_loads_has_them(tmp_path, monkeypatch):
    rng = random.Random(5)
    lines = []
    for i in range(2000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 30))).lstrip("0") or "0"
        number = rng.choice(["", "-"]) + digits
        if rng.random() < 0.5:
            number += "." + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 25)))
        if rng.random() < 0.4:
            number += rng.choice("eE") + rng.choice(["", "+", "-"]) + str(rng.randint(0, 400))
        extra = ', "f": 0.5' if rng.random() < 0.5 else ""
        lines.append(f'{{"text": "n{i}", "v": {number}{extra}}}'.encode())
    path = tmp_path / "numbers.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    fast = _read(path)
    _json_only(monkeypatch)
    assert fast == _read(path)


def test_ordinary_lines_are_parsed_by_orjson(tmp_path, monkeypatch):
    parsed = []
    loads = jsonl.orjson.loads

    def counting(line: bytes) -> object:
        parsed.append(line)
        return loads(line)

    monkeypatch.setattr(jsonl.orjson, "loads", counting)
    monkeypatch.setattr(jsonl.json, "loads", None)  # json is never needed for these
    path = tmp_path / "plain.jsonl"
    path.write_bytes(b'{"id": "a", "text": "one", "meta": {"score": 0.5}}\n{"id": "b", "text": "two"}\n')
    out = list(JsonlReader().read(path, path.name))
    assert [r.id for r in out if isinstance(r, Record)] == ["a", "b"]
    assert len(parsed) == 2


def test_lines_with_many_brackets_never_reach_orjson(tmp_path, monkeypatch):
    """orjson recurses without a limit (a million ``[`` crash the process); json refuses them."""
    given = []
    loads = jsonl.orjson.loads

    def guarded(line: bytes) -> object:
        brackets = line.count(b"[") + line.count(b"{")
        given.append(brackets)
        if brackets > jsonl._MAX_BRACKETS:
            raise AssertionError("a line with this many brackets must not reach orjson")
        return loads(line)

    monkeypatch.setattr(jsonl.orjson, "loads", guarded)
    deep = b"[" * 1_000_000 + b"]" * 1_000_000
    code = b'{"text": "' + b"x[1] = {a[2]}; " * 400 + b'"}'
    path = tmp_path / "deep.jsonl"
    path.write_bytes(b'{"text": "before"}\n' + deep + b"\n" + code + b"\n")
    out = list(JsonlReader().read(path, path.name))
    assert [getattr(e, "reason", None) for e in out] == [None, "malformed JSON: nested too deeply", None]
    assert out[2].text.startswith("x[1] = {a[2]};")
    assert all(b <= jsonl._MAX_BRACKETS for b in given) and len(given) == 1


# --- The fast path against a straightforward reading: json.loads, checks in the order they are worded ---


def _reference(line: bytes, row: int = 2, fields: FieldSpec | None = None) -> Record | Skipped | None:
    """What a line reads as, json.loads deciding everything (no orjson, no shortcuts)."""
    if row == 1 and line.startswith(b"\xef\xbb\xbf"):
        line = line[3:]
    if not line.strip():
        return None
    if b"\x00" in line:
        return Skipped("x", row, "raw NUL byte in the line: binary data, not JSON")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Skipped("x", row, f"invalid UTF-8 at byte {exc.start} of the line")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return Skipped("x", row, f"malformed JSON: {exc.msg} at column {exc.colno}")
    except RecursionError:
        return Skipped("x", row, "malformed JSON: nested too deeply")
    except ValueError as exc:
        return Skipped("x", row, f"malformed JSON: {exc}")
    return to_record(obj, fields=fields or FieldSpec(), input_name="x", row=row)


def _decoded(line: bytes, row: int = 2, fields: FieldSpec | None = None) -> str:
    # repr tells 1 from 1.0 and True from 1, and shows NaN, which never equals itself
    return repr(JsonlReader(fields)._decode(line, row, "x"))


_TOKENS = [
    b"{", b"}", b"[", b"]", b":", b",", b" ", b"\t", b"\r", b"\x0b", b"\x0c", b'"', b"\\", b"\x00", b"\x1f",
    b'"text"', b'"id"', b'"url"', b'"license"', b'"meta"', b'"a"', b'"plain words"',
    b'"\xe2\x80\x9cq\xe2\x80\x9d"',
    b"\\ud800", b"\\udfff", b"\\ud834\\udd1e", b"\\u0000", b"\\n", b"\\/",
    b"0", b"-0", b"1", b"-1.5e3", b"0.1", b"1e400", b"4.9e-324", b"123456789012345678901234567890",
    b"18446744073709551615", b"-9223372036854775809", b"NaN", b"Infinity", b"-Infinity", b"true", b"null",
    b"\xef\xbb\xbf", b"\xed\xa0\x80", b"\xc0\x80", b"\xf4\x90\x80\x80", b"\xe2\x80", b"\xff", b"\x80",
]  # fmt: skip

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["text", "id", "a", "meta"]), inner)
    ),
    max_leaves=12,
)


def _json_line(obj: object, ascii_only: bool) -> bytes:
    return json.dumps(obj, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


_lines = st.one_of(
    st.lists(st.sampled_from(_TOKENS) | st.binary(max_size=3), max_size=24).map(b"".join),
    st.builds(
        _json_line,
        st.dictionaries(st.sampled_from(["text", "id", "url", "license", "content", "a"]), _json_values),
        st.booleans(),
    ),
    st.tuples(
        st.builds(_json_line, st.fixed_dictionaries({"text": st.text(), "n": _json_values}), st.booleans()),
        st.integers(0, 200),
        st.sampled_from(_TOKENS),
    ).map(lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]),
)


@settings(max_examples=400, deadline=None)
@given(line=_lines, row=st.sampled_from([1, 2]))
def test_any_line_reads_as_the_straightforward_reading_has_it(line, row):
    assert _decoded(line, row) == repr(_reference(line, row))


def test_every_short_byte_sequence_in_a_string_reads_as_json_loads_has_it():
    """orjson takes no line Python's strict UTF-8 refuses (encoded surrogates, overlong forms, beyond
    U+10FFFF, cut sequences) and no raw NUL byte, so the reasons for those are the reference's."""
    sequences = [bytes([a]) for a in range(256)] + [
        bytes([a, b]) for a in range(0x80, 0x100) for b in range(256)
    ]
    sequences += [
        bytes([0xE0 | a >> 6, 0x80 | a & 0x3F, c]) for a in range(0x400) for c in (0x80, 0xBF, 0x41)
    ]
    sequences += [bytes([a, b, 0x80, 0x80]) for a in range(0xF0, 0x100) for b in range(0x80, 0xC0)]
    for seq in sequences:
        line = b'{"text": "a' + seq + b'"}'
        assert _decoded(line) == repr(_reference(line)), seq


@pytest.mark.parametrize("count", [0, 1, 7, 8, 9, 10, 999, 1000, 1001, 5000])
@pytest.mark.parametrize("bracket", [b"[", b"{", b"[{"])
def test_brackets_are_bounded_exactly(count, bracket):
    line = b'{"text": "' + bracket * count + b'"}'
    brackets = line.count(b"[") + line.count(b"{")
    assert jsonl._few_brackets(line) == (brackets <= jsonl._MAX_BRACKETS)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=3), _json_values, max_size=6) | _json_values)
def test_what_orjson_is_trusted_with_is_what_json_gives(value):
    line = json.dumps(value).encode()
    try:
        fast = orjson.loads(line)
    except orjson.JSONDecodeError:  # NaN and Infinity: json's alone
        return
    if jsonl._as_json_gives(fast, line):
        assert repr(fast) == repr(json.loads(line))


def test_big_integers_in_a_flat_object_are_not_trusted_to_orjson():
    line = b'{"text": "t", "a": 123456789012345678901234567890, "b": "x"}'
    assert not jsonl._as_json_gives(orjson.loads(line), line)
    assert jsonl._as_json_gives(orjson.loads(b'{"text": "t", "n": 5, "b": true, "z": null}'), b"")
