"""Sizes on the command line and the limits they set."""

from __future__ import annotations

import pytest

from auditor import cli
from auditor.limits import GiB, KiB, Limits, MiB, format_size, parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("65536", 65536),
        ("64MiB", 64 * MiB),
        ("64 mib", 64 * MiB),
        ("2G", 2 * 10**9),
        ("1.5KiB", 1536),
        ("1TiB", 1 << 40),
    ],
)
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "-1", "0", "12 parsecs", "1e9"])
def test_parse_size_refuses_what_is_not_a_size(text):
    with pytest.raises(ValueError, match="size"):
        parse_size(text)


def test_format_size_and_defaults():
    assert [format_size(n) for n in (64 * MiB, 64 * GiB, 3 * KiB, 1000)] == [
        "64 MiB",
        "64 GiB",
        "3 KiB",
        "1,000 bytes",
    ]
    limits = Limits()
    assert (limits.max_record_bytes, limits.max_ratio, limits.zstd_max_window) == (64 * MiB, 200, 128 * MiB)
    with pytest.raises(ValueError, match="max_ratio"):
        Limits(max_ratio=0)


@pytest.mark.parametrize("option", ["--max-record-size", "--max-expanded-size", "--zstd-max-window"])
def test_a_bad_size_option_exits_2(tmp_path, capsys, option):
    (tmp_path / "a.jsonl").write_text('{"text": "x"}\n')
    with pytest.raises(SystemExit) as exc:
        cli.main(["scan", str(tmp_path / "a.jsonl"), "-o", str(tmp_path / "o"), option, "huge"])
    assert exc.value.code == 2 and f"{option}: 'huge' is not a size" in capsys.readouterr().err
