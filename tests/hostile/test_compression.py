"""Compressed inputs: truncation, corruption, bombs and mislabelled content cost a counted skip."""

from __future__ import annotations

import gzip
import io
import os
import random
import tarfile

import pytest
import zstandard

from auditor.limits import Limits
from auditor.readers.stream import ZstdFrameWatcher
from tests.hostile.conftest import jsonl, numbered, one_skip, read_input, records

DATA = jsonl(numbered(3000))


def _zstd(data: bytes, **params: int) -> bytes:
    if params:
        cparams = zstandard.ZstdCompressionParameters.from_level(3, **params)
        return zstandard.ZstdCompressor(compression_params=cparams).compress(data)
    return zstandard.ZstdCompressor(write_checksum=True).compress(data)


@pytest.mark.parametrize(("suffix", "compress"), [(".gz", gzip.compress), (".zst", _zstd)])
def test_truncated_stream_keeps_the_records_before_the_cut_and_marks_the_file_partial(
    tmp_path, suffix, compress
):
    path = tmp_path / f"c.jsonl{suffix}"
    path.write_bytes(compress(DATA)[:-500])
    out = read_input(path)
    kept = records(out)
    assert 0 < len(kept) < 3000
    assert [r.id for r in kept] == [f"r{i}" for i in range(len(kept))]  # no half record at the cut
    skip = one_skip(out)
    assert skip.row is None and skip.reason.startswith(
        f"partial: truncated {suffix[1:].replace('gz', 'gzip')}"
    )
    assert f"after line {len(kept)}" in skip.reason


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst", ".txt"])
def test_random_bytes_with_a_compressed_or_text_name_are_refused_not_hashed(tmp_path, suffix):
    path = tmp_path / f"noise{suffix}"
    path.write_bytes(random.Random(3).randbytes(20_000))
    skip = one_skip(read_input(path))
    assert skip.row is None and skip.reason.startswith("content/extension mismatch")


def test_gzip_bomb_stops_at_the_ratio_limit_with_bounded_work(tmp_path):
    path = tmp_path / "bomb.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl(numbered(10)) + b" " * (64 << 20) + b"\n", compresslevel=9))
    out = read_input(path, limits=Limits(max_ratio=100, ratio_floor_bytes=1 << 20))
    assert len(records(out)) == 10
    skip = one_skip(out)
    assert skip.reason.startswith("partial: decompression limit exceeded: expands more than 100:1")
    assert "--max-compression-ratio" in skip.reason


def test_zstd_bomb_stops_at_the_expanded_size_limit(tmp_path):
    path = tmp_path / "bomb.jsonl.zst"
    path.write_bytes(_zstd(jsonl(numbered(10)) + b"x" * (32 << 20)))
    out = read_input(path, limits=Limits(max_expanded_bytes=4 << 20, max_record_bytes=1 << 20))
    assert len(records(out)) == 10
    skip = one_skip(out)
    assert "expands to more than 4 MiB" in skip.reason and "--max-expanded-size" in skip.reason


def test_a_bomb_of_nul_bytes_is_refused_as_binary_at_once(tmp_path):
    path = tmp_path / "bomb.jsonl.gz"
    path.write_bytes(gzip.compress(b"\0" * (64 << 20), compresslevel=9))
    assert one_skip(read_input(path)).reason.startswith(
        "content/extension mismatch: the gzip stream holds binary"
    )


def test_zstd_frame_with_a_huge_window_is_refused_naming_the_option(tmp_path):
    path = tmp_path / "long.jsonl.zst"
    cparams = zstandard.ZstdCompressionParameters.from_level(3, window_log=24, enable_ldm=1)
    streaming = zstandard.ZstdCompressor(compression_params=cparams).compressobj()  # no content size
    path.write_bytes(streaming.compress(DATA * 8) + streaming.flush())
    skip = one_skip(read_input(path, limits=Limits(zstd_max_window=1 << 20)))
    assert "--zstd-max-window" in skip.reason
    assert len(records(read_input(path))) == 3000 * 8  # the default window reads it


def test_multi_member_gzip_and_multi_frame_zstd_with_a_skippable_frame_are_read_whole(tmp_path):
    third = len(DATA) // 3
    cut = DATA.index(b"\n", third) + 1
    gz = tmp_path / "m.jsonl.gz"
    gz.write_bytes(gzip.compress(DATA[:cut]) + gzip.compress(b"") + gzip.compress(DATA[cut:]))
    zst = tmp_path / "m.jsonl.zst"
    skippable = (0x184D2A53).to_bytes(4, "little") + (5).to_bytes(4, "little") + b"hello"
    zst.write_bytes(_zstd(DATA[:cut]) + skippable + _zstd(DATA[cut:]))
    for path in (gz, zst):
        out = read_input(path)
        assert len(records(out)) == 3000 and records(out) == [r for r in out]


def test_corrupt_gzip_data_keeps_what_came_before(tmp_path):
    blob = bytearray(gzip.compress(DATA))
    for i in range(len(blob) // 2, len(blob) // 2 + 64):
        blob[i] ^= 0x5A
    path = tmp_path / "c.jsonl.gz"
    path.write_bytes(bytes(blob))
    out = read_input(path)
    assert 0 < len(records(out)) < 3000
    # Deflate decodes flipped bits into garbage lines (skipped one by one) until the CRC check fails.
    assert out[-1].row is None and out[-1].reason.startswith("partial: corrupt gzip data")


def test_gzip_with_trailing_garbage_is_partial(tmp_path):
    path = tmp_path / "c.jsonl.gz"
    path.write_bytes(gzip.compress(DATA) + b"garbage after the member")
    out = read_input(path)
    assert len(records(out)) == 3000 and one_skip(out).reason.startswith("partial: corrupt gzip data")


def test_gzip_holding_a_tar_archive_is_refused_as_binary(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("inner.jsonl")
        info.size = len(DATA)
        tar.addfile(info, io.BytesIO(DATA))
    path = tmp_path / "c.jsonl.gz"
    path.write_bytes(gzip.compress(buf.getvalue()))
    skip = one_skip(read_input(path))
    assert skip.reason.startswith("content/extension mismatch: the gzip stream holds binary data")


def test_empty_gzip_stream_is_noted_as_no_records(tmp_path):
    path = tmp_path / "c.jsonl.gz"
    path.write_bytes(gzip.compress(b""))
    assert one_skip(read_input(path)).reason.startswith("no records")


@pytest.mark.parametrize("seed", range(6))
def test_zstd_frame_watcher_tells_complete_streams_from_cut_ones(seed):
    rng = random.Random(seed)
    frames = [
        _zstd(
            rng.randbytes(rng.randint(0, 300_000))
            if seed % 2
            else os.urandom(0) + b"ab" * rng.randint(1, 9999)
        )
        for _ in range(rng.randint(1, 4))
    ]
    blob = b"".join(frames)
    for cut in [len(blob)] + [rng.randint(0, len(blob) - 1) for _ in range(20)]:
        watcher = ZstdFrameWatcher()
        pos = 0
        while pos < cut:
            step = rng.randint(1, 70_000)
            watcher.feed(blob[pos : min(cut, pos + step)])
            pos += step
        boundaries = {sum(len(f) for f in frames[:i]) for i in range(len(frames) + 1)}
        assert watcher.complete == (cut in boundaries), (cut, sorted(boundaries))
