"""Field look-up and record ids: to_record and DuplicateIds against straightforward readings of them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.models import Record, Skipped
from auditor.readers.base import (
    ID_FIELDS,
    LICENSE_FIELDS,
    TEXT_FIELDS,
    URL_FIELDS,
    DuplicateIds,
    FieldSpec,
    lookup,
    to_record,
)
from auditor.readers.jsonl import JsonlReader


def _found(obj: Mapping[str, Any], named: str | None, names: tuple[str, ...]) -> tuple[str | None, Any]:
    for name in [named] if named else names:
        # the general dotted look-up for every name, where to_record takes plain names directly
        if lookup(obj, name) is not None:
            return name, lookup(obj, name)
    return None, None


def _optional(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list):
        return " AND ".join(str(v).strip() for v in value if v is not None and str(v).strip()) or None
    return str(value)


def _reference(obj: Any, fields: FieldSpec, row: int) -> Record | Skipped:
    """to_record as its docstring and messages say, written the plain way."""
    if not isinstance(obj, Mapping):
        return Skipped("in", row, f"record is not an object but {type(obj).__name__}")
    name, text = _found(obj, fields.text, TEXT_FIELDS)
    if text is None:
        return Skipped(
            "in", row, f"no text field ({fields.text or ' / '.join(TEXT_FIELDS)}); name it with --text-field"
        )
    if not isinstance(text, str):
        return Skipped("in", row, f"text field {name!r} is {type(text).__name__}, not a string")
    if not text.strip():
        return Skipped("in", row, "empty text")
    rec_id = _found(obj, fields.id, ID_FIELDS)[1]
    return Record(
        id=f"in:{row}" if rec_id is None or str(rec_id) == "" else str(rec_id),
        text=text,
        input="in",
        row=row,
        url=_optional(_found(obj, fields.url, URL_FIELDS)[1]),
        license=_optional(_found(obj, fields.license, LICENSE_FIELDS)[1]),
        meta={k: v for k, v in obj.items() if k != name},
    )


_NAMES = [
    *TEXT_FIELDS,
    *ID_FIELDS,
    *URL_FIELDS,
    *LICENSE_FIELDS,
    "meta",
    "metadata",
    "meta.body",
    "x.y.z",
    "x",
]
_leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4)
_values = st.recursive(
    _leaves | st.sampled_from(["", " ", "MIT", " a "]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["url", "license", "body", "y", "z", "source_url"]), inner, max_size=3
        )
    ),
    max_leaves=8,
)
_objects = st.fixed_dictionaries(
    {},
    optional={name: st.text(max_size=3) | st.none() | _values for name in _NAMES}
    | {"text": st.sampled_from(["t", " a "]) | st.text(max_size=3)},
)
_fields = st.builds(
    FieldSpec,
    text=st.none() | st.sampled_from(["text", "meta.body", "x.y.z", "x", "nothing"]),
    id=st.none() | st.sampled_from(["id", "meta.url", "x"]),
    url=st.none() | st.sampled_from(["url", "metadata.url", "x.y.z"]),
    license=st.none() | st.sampled_from(["license", "meta.license", "x"]),
)


@settings(max_examples=250, deadline=None)
@given(obj=_objects | _values, fields=_fields, row=st.integers(1, 5), proxy=st.booleans())
def test_records_are_read_as_the_plain_reading_has_them(obj, fields, row, proxy):
    if proxy and isinstance(obj, dict):
        obj = MappingProxyType(obj)  # a Mapping that is not a dict
    assert repr(to_record(obj, fields=fields, input_name="in", row=row)) == repr(_reference(obj, fields, row))


@pytest.mark.parametrize(
    "obj",
    [
        {"text": "t", "id": None, "doc_id": 7},
        {"text": "t", "id": " x "},
        {"text": "t", "id": "", "doc_id": "d"},
        {"text": "t", "id": 0},
        {"text": "t", "id": False, "url": None, "meta": {"url": "u"}, "license": [" a ", None, "", 2]},
        {"text": "t", "meta.url": None, "meta": {"url": "u"}, "license": "  ", "licence": "L"},
        {"text": None, "content": "c", "meta": None, "metadata": {"url": 5}},
    ],
)
def test_ids_urls_and_licences_fall_back_as_the_plain_reading_has_them(obj):
    assert repr(to_record(obj, fields=FieldSpec(), input_name="in", row=3)) == repr(
        _reference(obj, FieldSpec(), 3)
    )


def test_meta_keeps_every_field_but_the_text_in_order():
    obj = {"a": 1, "text": "t", "meta": {"body": "b"}, "z": None}
    assert to_record(obj, fields=FieldSpec(), input_name="in", row=1).meta == {
        "a": 1,
        "meta": {"body": "b"},
        "z": None,
    }
    nested = to_record(obj, fields=FieldSpec(text="meta.body"), input_name="in", row=1)
    assert nested.text == "b" and list(nested.meta) == ["a", "text", "meta", "z"]


@settings(deadline=None)  # no time limit an example: a loaded machine is slow, not wrong
@given(ids=st.lists(st.sampled_from(["a", "b", "in:1", "in:2", "in:12", "in:", "in2", ""]), max_size=12))
def test_repeated_ids_are_found_except_those_made_from_the_row(ids):
    found = DuplicateIds("in")
    for row, rec_id in enumerate(ids, start=1):
        found.add(Record(id=rec_id, text="t", input="in", row=row))
    kept = [(row, rec_id) for row, rec_id in enumerate(ids, start=1) if rec_id != f"in:{row}"]
    repeats = sum(1 for i, (_, rec_id) in enumerate(kept) if rec_id in [r for _, r in kept[:i]])
    note = found.note()
    assert (note is None) == (repeats == 0)
    if note:
        assert note.startswith(f"duplicate record ids: {repeats} record(s)")


class _Failing(JsonlReader):
    def __init__(self, before: int) -> None:
        super().__init__()
        self.before = before

    def _read(self, path: Path, input_name: str) -> Iterator[Record | Skipped]:
        for row in range(1, self.before + 1):
            yield Record(id="same", text="t", input=input_name, row=row)
        raise OSError(5, "Input/output error")


@pytest.mark.parametrize("before", [0, 1, 2])
def test_a_read_error_is_an_entry_and_notes_follow_whatever_came_before(tmp_path, before):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b"")
    out = list(_Failing(before).read(path, "c.jsonl"))
    assert out[before] == Skipped("c.jsonl", None, "cannot read: Input/output error")
    notes = [entry.reason for entry in out[before + 1 :]]
    assert notes == ([] if before < 2 else [notes[0]]) and all(n.startswith("duplicate") for n in notes)


def test_an_input_without_lines_says_so(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b"\n \n")
    empty = Skipped("c.jsonl", None, "no records: the file is empty")
    assert list(JsonlReader().read(path, "c.jsonl")) == [empty]
    path.write_bytes(b'{"text": "t"}\n')
    assert empty not in list(JsonlReader().read(path, "c.jsonl"))
