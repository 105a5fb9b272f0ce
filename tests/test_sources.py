import pytest

from auditor.models import RecordRef, Severity
from auditor.sources import SourceTally, source_key, url_host


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://www.LibGen.rs/book/index.php?md5=abc", "libgen.rs"),
        ("http://user:pw@z-lib.org:8080/x", "z-lib.org"),
        ("annas-archive.org/md5/1", "annas-archive.org"),
        ("https://example.com./a", "example.com"),
        ("", None),
        (None, None),
        ("http://[::1", None),
    ],
)
def test_url_host(url, host):
    assert url_host(url) == host


def test_source_key_falls_back_to_the_input_file():
    assert source_key(RecordRef("a", "shard.jsonl", 1, None)) == "shard.jsonl"
    assert source_key(RecordRef("a", "shard.jsonl", 1, "https://news.example/x")) == "news.example"


def test_risk_is_the_mean_worst_severity_weight_and_ranks_sources():
    tally = SourceTally()
    for i in range(4):
        worst = Severity.CRITICAL if i < 3 else Severity.HIGH
        tally.add(RecordRef(str(i), "s", i, "https://libgen.rs/x"), worst)
    for i in range(10):
        tally.add(RecordRef(str(i), "s", i, "https://news.example/x"), Severity.HIGH if i == 0 else None)
    tally.add(RecordRef("l", "s", 1, "https://blog.example/x"), Severity.LOW)
    ranked = tally.ranked()
    assert [s.key for s in ranked] == ["libgen.rs", "blog.example", "news.example"]
    assert ranked[0].risk == pytest.approx((3 * 1.0 + 0.7) / 4)
    assert (ranked[2].records, ranked[2].flagged, ranked[2].max_severity) == (10, 1, Severity.HIGH)
    assert ranked[2].risk == pytest.approx(0.07)


def test_merged_tallies_equal_one_tally():
    refs = [(RecordRef(str(i), "s", i, f"https://h{i % 3}.example"), Severity(i % 5)) for i in range(30)]
    whole, a, b = SourceTally(), SourceTally(), SourceTally()
    for i, (ref, sev) in enumerate(refs):
        whole.add(ref, sev)
        (a if i % 2 else b).add(ref, sev)
    a.merge(b)
    assert a.ranked() == whole.ranked()
