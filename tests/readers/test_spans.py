"""A large plain JSON Lines input cut into line-aligned spans reads, span by span, exactly as it reads
whole: the same records and skips with the whole file's row numbers, and the same file-level notes."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.limits import Limits
from auditor.readers import spans
from auditor.readers.base import DuplicateIds, file_notes
from auditor.readers.jsonl import JsonlReader
from auditor.readers.spans import cut_lines, is_plain

LINE = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"x"))


def _check_cut(data: bytes, path: Path, part: int | Callable[[int], int]) -> None:
    path.write_bytes(data)
    cut = cut_lines(path, part)
    assert cut is not None
    assert cut.size == len(data) and cut.sha256 == hashlib.sha256(data).hexdigest()
    assert cut.spans[0].start == 0 and cut.spans[-1].end == len(data)
    for before, after in zip(cut.spans, cut.spans[1:], strict=False):
        assert before.end == after.start
        wanted = part if isinstance(part, int) else max(1, part(len(data) - before.start))
        assert before.end - before.start >= wanted  # only the last span may be short
        assert data.rfind(b"\n", before.start, before.end - 1) < before.start + wanted - 1  # no later
        assert data[before.end - 1 : before.end] == b"\n"  # never inside a line
    for span in cut.spans:
        assert span.first_row == data.count(b"\n", 0, span.start) + 1


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(LINE, max_size=60), crlf=st.booleans(), tail=st.booleans(), part=st.integers(1, 90))
def test_spans_cover_the_file_at_line_starts_with_the_whole_file_s_row_numbers(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], crlf: bool, tail: bool, part: int
) -> None:
    end = b"\r\n" if crlf else b"\n"
    data = end.join(lines) + (end if tail and lines else b"")
    _check_cut(data, tmp_path_factory.mktemp("cut") / "x.jsonl", part)


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(LINE, max_size=60), part=st.integers(1, 90), share=st.integers(1, 5))
def test_parts_given_by_the_bytes_left_shrink_towards_the_end(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], part: int, share: int
) -> None:
    data = b"\n".join(lines) + b"\n"
    _check_cut(data, tmp_path_factory.mktemp("cut") / "x.jsonl", lambda left: min(part, left // share))


def test_a_part_size_function_is_asked_with_the_bytes_left_from_each_span_start(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"abcdefghi\n" * 100)  # 1,000 bytes, a line every 10
    asked: list[int] = []

    def part(left: int) -> int:
        asked.append(left)
        return max(10, left // 2)

    cut = cut_lines(path, part)
    assert cut is not None
    assert [s.end - s.start for s in cut.spans] == [500, 250, 130, 60, 30, 20, 10]
    assert asked[: len(cut.spans)] == [1000, 500, 250, 120, 60, 30, 10]


def test_cuts_found_across_read_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spans, "_CHUNK", 7)  # every line and cut point straddles chunks
    data = b"".join(b"%d-" % n * (n % 5) + b"\n" for n in range(300))
    for part in (1, 3, 8, 50, 10_000):
        _check_cut(data, tmp_path / f"x{part}.jsonl", part)


def test_an_empty_file_is_one_empty_span(tmp_path: Path) -> None:
    (tmp_path / "e.jsonl").write_bytes(b"")
    cut = cut_lines(tmp_path / "e.jsonl", 10)
    assert cut is not None and [(s.start, s.end, s.first_row) for s in cut.spans] == [(0, 0, 1)]


def test_a_cancelled_cut_stops_reading(tmp_path: Path) -> None:
    (tmp_path / "x.jsonl").write_bytes(b"{}\n" * 10)
    assert cut_lines(tmp_path / "x.jsonl", 4, lambda: True) is None


class _FailingRead:
    """A file handle whose reads fail once ``good`` reads have succeeded."""

    def __init__(self, handle, good: int) -> None:
        self.handle, self.good = handle, good

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.handle.close()

    def read(self, size: int = -1) -> bytes:
        if self.good == 0:
            raise OSError(5, "Input/output error")
        self.good -= 1
        return self.handle.read(size)


def test_spans_are_handed_out_as_the_read_finds_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spans, "_CHUNK", 64)
    path = tmp_path / "x.jsonl"
    # 11-byte lines, 20 to a span: the last cut falls exactly at the end of the file
    path.write_bytes(b"".join(b'{"n": %03d}\n' % n for n in range(500)))
    reads: list[int] = []
    opened = spans.open_regular

    def counting(p: Path):
        handle = opened(p)
        real = handle.read
        handle.read = lambda size=-1: reads.append(size) or real(size)  # type: ignore[method-assign]
        return handle

    monkeypatch.setattr(spans, "open_regular", counting)
    cutter = spans.LineCutter(path, 220)
    found = []
    for span in cutter:
        found.append(span)
        # cut (and the sha256 in it) is known when, and only when, the last span is handed out
        assert (cutter.cut is not None) == (span.end == path.stat().st_size)
        if len(found) == 1:
            assert len(reads) < 10  # the first span left long before the file was read to its end
    assert cutter.cut is not None and cutter.cut.spans == tuple(found) and len(found) == 25
    assert cutter.cut == cut_lines(path, 220)


def _failing_cutter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> spans.LineCutter:
    """A cutter of 1,800 bytes in 100-byte spans whose eleventh 64-byte read fails."""
    monkeypatch.setattr(spans, "_CHUNK", 64)
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"n": 1}\n' * 200)
    opened = spans.open_regular
    monkeypatch.setattr(spans, "open_regular", lambda p: _FailingRead(opened(p), 10))
    return spans.LineCutter(path, 100)


def test_a_read_failing_part_way_is_kept_after_the_spans_it_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cutter = _failing_cutter(tmp_path, monkeypatch)
    found = []
    with pytest.raises(OSError, match="Input/output"):
        found.extend(cutter)
    assert found and found[-1].end <= 640 and cutter.cut is None
    assert isinstance(cutter.error, OSError)


def test_only_plain_files_are_cut(tmp_path: Path) -> None:
    (tmp_path / "plain.jsonl").write_text('{"text": "a"}\n')
    (tmp_path / "packed.jsonl.gz").write_bytes(gzip.compress(b'{"text": "a"}\n'))
    (tmp_path / "misnamed.jsonl").write_bytes(gzip.compress(b'{"text": "a"}\n'))
    assert is_plain(tmp_path / "plain.jsonl", Limits())
    assert not is_plain(tmp_path / "packed.jsonl.gz", Limits())
    assert not is_plain(tmp_path / "misnamed.jsonl", Limits())


def _awkward_corpus(path: Path) -> None:
    rows = [
        b'\xef\xbb\xbf{"id": "a", "text": "a byte order mark opens the file"}',
        b"",
        b'{"id": "b", "text": "' + b"long " * 60 + b'"}',
        b"{broken",
        b"[1, 2]",
        b'{"id": "a", "text": "the id of row 1 again"}',
        b'{"text": "nul \x00 byte"}',
        b'{"text": "bad utf-8 \xff"}',
        b"",
        b"",
    ]
    rows += [b'{"id": "r%d", "text": "record number %d of the file"}' % (n % 37, n) for n in range(200)]
    rows += [b'{"id": "b", "text": "last line without a newline"}']
    path.write_bytes(b"\n".join(rows))


@pytest.mark.parametrize("part", [1, 64, 500, 5_000, 1_000_000])
def test_reading_span_by_span_gives_what_reading_whole_gives(tmp_path: Path, part: int) -> None:
    path = tmp_path / "corpus.jsonl"
    _awkward_corpus(path)
    reader = JsonlReader(limits=Limits(max_record_bytes=200))
    whole = list(reader.read(path, "corpus.jsonl"))
    cut = cut_lines(path, part)
    assert cut is not None
    ids, produced, pieces = DuplicateIds("corpus.jsonl"), False, []
    for span in cut.spans:
        entries = list(reader.read_span(path, "corpus.jsonl", span, ids))
        produced = produced or bool(entries)
        pieces += entries
    pieces += file_notes("corpus.jsonl", produced, ids)
    assert pieces == whole
    reasons = [s.reason for s in whole if not hasattr(s, "text")]
    assert any("duplicate record ids" in r for r in reasons) and any("line too long" in r for r in reasons)
    assert len(cut.spans) > 1 or part == 1_000_000


def test_an_empty_input_read_in_spans_says_so_once(tmp_path: Path) -> None:
    path = tmp_path / "blank.jsonl"
    path.write_bytes(b"\n\n\n")
    reader = JsonlReader()
    cut = cut_lines(path, 1)
    assert cut is not None and len(cut.spans) == 3
    ids = DuplicateIds("blank.jsonl")
    entries = [e for span in cut.spans for e in reader.read_span(path, "blank.jsonl", span, ids)]
    assert entries == [] and file_notes("blank.jsonl", False, ids) == list(reader.read(path, "blank.jsonl"))


def test_rows_in_a_later_span_are_the_whole_file_s(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps({"text": f"line {n}"}) + "\n" for n in range(1, 101)))
    cut = cut_lines(path, 1_000)
    assert cut is not None
    last = list(JsonlReader().read_span(path, "rows.jsonl", cut.spans[-1], DuplicateIds("rows.jsonl")))
    assert [r.row for r in last] == [int(r.text.split()[1]) for r in last] and last[-1].row == 100


def _lines_file(path: Path, lines: int) -> Path:
    path.write_bytes(b"".join(b'{"n": %05d}\n' % n for n in range(lines)))
    return path


def test_spans_cut_ahead_are_a_line_cutter_s_in_order(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(spans, "_CHUNK", 64)
    first, second = _lines_file(tmp_path / "a.jsonl", 300), _lines_file(tmp_path / "b.jsonl", 70)
    ahead = spans.CutAhead({"a": spans.LineCutter(first, 200), "b": spans.LineCutter(second, 200)})
    # the second input's spans are there while the first's are still being taken
    found_a = ahead.spans("a")
    one = next(found_a)
    found_b = list(ahead.spans("b"))
    found = [one, *found_a]
    assert tuple(found) == cut_lines(first, 200).spans == ahead.cutters["a"].cut.spans  # type: ignore[union-attr]
    assert tuple(found_b) == cut_lines(second, 200).spans
    assert ahead.cutters["a"].cut == cut_lines(first, 200)  # sha256, size and mtime too
    ahead.join()


def test_a_cut_ahead_takes_the_spans_before_a_failed_read_and_keeps_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cutter = _failing_cutter(tmp_path, monkeypatch)
    found = list(spans.CutAhead({"x": cutter}).spans("x"))
    assert found and found[-1].end <= 640 and cutter.cut is None
    assert isinstance(cutter.error, OSError)


def test_a_fault_in_a_cut_ahead_is_raised_to_its_consumer(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(spans, "_CHUNK", 64)
    path = _lines_file(tmp_path / "x.jsonl", 100)
    calls = 0

    def part(left: int) -> int:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise ZeroDivisionError("a bug in the part sizes")
        return 200

    ahead = spans.CutAhead({"x": spans.LineCutter(path, part)})
    found = []
    with pytest.raises(ZeroDivisionError, match="a bug"):
        found.extend(ahead.spans("x"))
    assert [s.start for s in found] == [0]  # the span before the fault went out


def test_a_cancelled_cut_ahead_ends_without_reading_on(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(spans, "_CHUNK", 64)
    path = _lines_file(tmp_path / "x.jsonl", 20_000)  # 240 KB: ~3,750 reads
    reads = 0
    opened = spans.open_regular

    def counting(p: Path):
        handle = opened(p)
        real = handle.read

        def read(size: int = -1) -> bytes:
            nonlocal reads
            reads += 1
            return real(size)

        handle.read = read  # type: ignore[method-assign]
        return handle

    monkeypatch.setattr(spans, "open_regular", counting)
    stop = threading.Event()
    stop.set()
    cutter = spans.LineCutter(path, 200, stop.is_set)
    ahead = spans.CutAhead({"x": cutter})
    assert list(ahead.spans("x")) == []
    ahead.join()
    assert cutter.cut is None and cutter.error is None and reads <= 1
