"""URL hosts and domain matching: subdomains match, lookalikes never do."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.rules.hosts import HostMatcher, canonical_host, glob_to_regex, host_of, parent_domains


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://libgen.is/book/index.php?md5=1", "libgen.is"),
        ("HTTP://WWW.LibGen.IS/", "libgen.is"),
        ("https://user:secret@libgen.is:8080/x", "libgen.is"),
        ("https://libgen.is.:443", "libgen.is"),
        ("//libgen.is/path", "libgen.is"),
        ("libgen.is/book/1", "libgen.is"),
        ("libgen.is:8080/book/1", "libgen.is"),
        ("https://bücher.example/x", "xn--bcher-kva.example"),
        ("https://www.example/x", "www.example"),
        ("https://libgen.is?q=1", "libgen.is"),
        ("https://libgen.is#top", "libgen.is"),
        ("mailto:someone@libgen.is", None),
        ("https://[2001:db8::1]/x", None),
        ("", None),
        (None, None),
        ("https:///nohost", None),
        ("https://bad host/", None),
    ],
)
def test_host_of(url: str | None, host: str | None) -> None:
    assert host_of(url) == host


def test_canonical_host_rejects_junk() -> None:
    assert canonical_host("a..b") is None
    assert canonical_host("") is None
    assert canonical_host("EXAMPLE.COM.") == "example.com"


MATCHER = HostMatcher(
    ["libgen.is", "gen.lib.rus.ec"], ["z-lib.*", "1lib.*"], [re.compile(r"sci-?hub\.[a-z]+")]
)


@pytest.mark.parametrize(
    ("host", "matched"),
    [
        ("libgen.is", "libgen.is"),
        ("cdn.libgen.is", "libgen.is"),
        ("a.b.libgen.is", "libgen.is"),
        ("gen.lib.rus.ec", "gen.lib.rus.ec"),
        ("z-lib.org", "z-lib.*"),
        ("de.z-lib.org", "z-lib.*"),
        ("1lib.sk", "1lib.*"),
        ("scihub.se", r"sci-?hub\.[a-z]+"),
        ("libgen.is.evil.com", None),
        ("notlibgen.is", None),
        ("notlibgen.is.example.com", None),
        ("libgen.iss", None),
        ("lib.rus.ec", None),
        ("z-lib.org.evil.com", None),
        ("notz-lib.org", None),
        ("evil-z-lib.org", None),
        ("x.scihub.se", None),  # regexes match the whole host only
    ],
)
def test_matching(host: str, matched: str | None) -> None:
    assert MATCHER.match(host) == matched


def _host_of_reference(url: str | None) -> str | None:
    """host_of as first written (a find per separator), for the property test below."""
    if not url:
        return None
    url = url.strip()
    if "://" in url:
        rest = url.split("://", 1)[1]
    elif url.startswith("//"):
        rest = url[2:]
    elif re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", url) and not url.split(":", 1)[1][:1].isdigit():
        return None
    else:
        rest = url
    end = len(rest)
    for sep in "/?#\\":
        pos = rest.find(sep)
        if pos != -1 and pos < end:
            end = pos
    authority = rest[:end]
    if "@" in authority:
        authority = authority.rsplit("@", 1)[1]
    if authority.startswith("["):
        return None
    authority = authority.split(":", 1)[0]
    return canonical_host(authority)


URL_PIECES = st.sampled_from(
    [
        "https://",
        "http://",
        "HTTP://",
        "//",
        "mailto:",
        "a:",
        "x:1",
        "://",
        "www.",
        "libgen.is",
        "LibGen.IS",
        "bücher",
        ".example",
        ".",
        "..",
        ":8080",
        "@",
        "user:pw@",
        "[",
        "]",
        "/",
        "?",
        "#",
        "\\",
        " ",
        "\t",
        "%41",
        "z-lib.org",
        "İ",
        "\u212a",
        "xn--bcher-kva",
        "-",
        "_",
    ]
)
URLS = st.one_of(
    st.text(max_size=30), st.lists(st.one_of(URL_PIECES, st.text(max_size=3)), max_size=10).map("".join)
)


@settings(max_examples=500, deadline=None)
@given(URLS)
def test_host_of_equals_its_first_form(url: str) -> None:
    assert host_of(url) == _host_of_reference(url)


def _match_reference(matcher: HostMatcher, host: str) -> str | None:
    """HostMatcher.match as first written: each glob's regex tried in turn."""
    for candidate in parent_domains(host):
        if candidate in matcher._domains:
            return candidate
    for glob in matcher._globs:
        if re.fullmatch(r"(?:[^.]+\.)*" + glob_to_regex(glob), host):
            return glob
    for regex in matcher._regexes:
        if regex.fullmatch(host):
            return regex.pattern
    return None


GLOBS = ["libgen.*", "*.lib.*", "z-lib.*", "lib?en.*", "*", "a*b.c", "*.*", "1lib.*"]
HOSTS = st.lists(
    st.sampled_from(
        ["libgen", "lib", "z-lib", "libxen", "a", "ab", "b", "c", "org", "is", "evil", "1lib", "x"]
    ),
    min_size=1,
    max_size=5,
).map(".".join)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(["libgen.is", "lib.org", "a.b", "c"]), max_size=3),
    st.lists(st.sampled_from(GLOBS), max_size=4),
    st.lists(st.sampled_from([r"sci-?hub\.[a-z]+", r"(a|ab)\.c", r"x.*"]), max_size=2),
    HOSTS,
)
def test_globs_in_one_regex_match_as_one_by_one(domains, globs, regexes, host) -> None:
    matcher = HostMatcher(domains, globs, [re.compile(r) for r in regexes])
    assert matcher.match(host) == _match_reference(matcher, host)
    assert matcher._match(host) == _match_reference(matcher, host)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from(["libgen.is", "lib.org", "a.b", "c"]), max_size=2),
            st.lists(st.sampled_from(GLOBS), max_size=2),
        ),
        min_size=1,
        max_size=4,
    ),
    HOSTS,
)
def test_a_union_matches_when_one_matcher_does(parts, host) -> None:
    matchers = [HostMatcher(domains, globs, []) for domains, globs in parts]
    union = HostMatcher.union(matchers)
    assert (union.match(host) is not None) == any(m.match(host) is not None for m in matchers)
