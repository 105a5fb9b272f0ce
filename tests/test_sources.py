import pickle
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.models import RecordRef, Severity
from auditor.sources import DATASET_FIELDS, SourceTally, dataset_key, license_key, source_key, url_host


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


def _url_host_reference(url):
    """url_host as first written: always through urlsplit."""
    if not url:
        return None
    text = url.strip()
    if "://" not in text:
        text = "//" + text
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.rstrip(".").lower()
    return host[4:] if host.startswith("www.") else host


URL_PIECES = st.sampled_from(
    [
        "https://",
        "http://",
        "HTTP://",
        "//",
        "a:",
        "a:b://",
        "1http://",
        "ht_tp://",
        "://",
        "www.",
        "WWW.",
        "libgen.rs",
        "LibGen",
        ".",
        ":8080",
        ":",
        "@",
        "user:pw@",
        "[",
        "]",
        "[::1]",
        "/",
        "?",
        "#",
        "\\",
        " ",
        "\t",
        "\n",
        "\r",
        "%",
        "%41",
        "é",
        "ｅ",
        "\u2100",
        "\x01",
        "-",
        "_",
        "+",
        "x",
    ]
)
URLS = st.one_of(
    st.text(max_size=30), st.lists(st.one_of(URL_PIECES, st.text(max_size=3)), max_size=10).map("".join)
)


@settings(max_examples=500, deadline=None)
@given(URLS)
def test_url_host_equals_urlsplit(url):
    assert url_host(url) == _url_host_reference(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://a:b@c:d@host:1/x",
        "https://host.%41/",
        "http://[::1]:80/",
        "http://]x/",
        "ht\ttp://x/",
        "https://x\n.com/",
        "HTTPS://WWW.X.COM.",
        "a:b://c/",
        "//x",
        "x.com:",
        "http://@/",
        "http://:80/",
        "é.com/x",
        "https://ｅxample.com/",
        "\x01http://x/",
    ],
)
def test_url_host_edge_cases_equal_urlsplit(url):
    assert url_host(url) == _url_host_reference(url)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=20), st.sampled_from(["MIT", " cc-by  4.0 ", "x" * 300])))
def test_license_key_is_the_collapsed_spelling(declared):
    expected = " ".join((declared or "").split())[:200] or "(none declared)"
    assert license_key(declared) == expected
    assert license_key(declared) == expected  # remembered


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["dataset", "source", "pile_set_name", "meta", "metadata", "id", "x"]),
        st.one_of(
            st.text(max_size=5),
            st.integers(),
            st.booleans(),
            st.none(),
            st.dictionaries(
                st.sampled_from(["dataset", "source", "pile_set_name", "redpajama_set_name"]),
                st.text(max_size=5),
            ),
        ),
        max_size=4,
    )
)
def test_dataset_key_takes_the_first_field_it_names(meta):
    expected = None
    for dotted in DATASET_FIELDS:
        value = meta
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None and not isinstance(value, bool) and isinstance(value, int | float | str):
            text = " ".join(str(value).split())[:200]
            if text:
                expected = text
                break
    assert dataset_key(meta) == expected


def test_merging_copies_counts_and_never_shares_them():
    a, b = SourceTally(), SourceTally()
    b.add(RecordRef("1", "s", 1, "https://x.example/"), Severity.HIGH)
    a.merge(b)
    b.add(RecordRef("2", "s", 2, "https://x.example/"), Severity.CRITICAL)
    assert [(s.key, s.records, s.max_severity) for s in a.ranked()] == [("x.example", 1, Severity.HIGH)]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.sampled_from(["a.example", "b.example", "ü.example"])),
            st.one_of(st.none(), st.sampled_from(["pile-cc", "books"])),
            st.sampled_from(["in-1.jsonl", "in-2.jsonl"]),
            st.one_of(st.none(), st.sampled_from(["MIT", "(none declared)"])),
            st.one_of(st.none(), st.sampled_from(list(Severity))),
        ),
        max_size=40,
    )
)
def test_a_tally_pickles_to_an_equal_tally(rows):
    # Workers send their tallies to the scan's process pickled, in a packed form of their own.
    tally = SourceTally()
    for host, dataset, input_name, license_, worst in rows:
        tally.add_keys((host, dataset, input_name, license_), worst)
    copy = pickle.loads(pickle.dumps(tally))
    assert copy == tally
    assert copy.ranked() == tally.ranked() and copy.ranked_by() == tally.ranked_by()
    for a, b in zip(copy.ranked(), tally.ranked(), strict=True):
        assert type(a.max_severity) is type(b.max_severity)
    copy.add_keys(("a.example", None, "in-1.jsonl", None), Severity.LOW)  # counts of its own
    assert pickle.loads(pickle.dumps(tally)) == tally
