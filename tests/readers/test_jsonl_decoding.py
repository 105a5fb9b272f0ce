"""JSON Lines are parsed by orjson where it gives exactly json.loads's values, by json elsewhere."""

from __future__ import annotations

import random

import pytest

from auditor.models import Record
from auditor.readers import jsonl
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
