"""URL hosts and domain matching: subdomains match, lookalikes never do."""

from __future__ import annotations

import re

import pytest

from auditor.rules.hosts import HostMatcher, canonical_host, host_of


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
