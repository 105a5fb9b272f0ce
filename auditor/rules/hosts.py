"""URL hosts: extraction from record URLs and matching against domain lists and host patterns."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_HOST_CHARS = re.compile(r"^[a-z0-9._-]+$")
_AUTHORITY = re.compile(r"[^/?#\\]*")
"""The authority part of what follows the scheme: up to the first / ? # or backslash."""


@lru_cache(maxsize=16384)
def canonical_host(host: str) -> str | None:
    """Lower-case, IDNA-encode and strip a trailing dot and a leading ``www.``; None if not a host name."""
    host = host.strip().rstrip(".").lower()
    if not host:
        return None
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    if not _HOST_CHARS.match(host) or ".." in host:
        return None
    if host.startswith("www.") and host.count(".") >= 2:
        host = host[4:]
    return host


def host_of(url: str | None) -> str | None:
    """The canonical host of a URL (scheme optional), without userinfo or port; None if there is none."""
    if not url:
        return None
    url = url.strip()
    _, scheme_sep, rest = url.partition("://")
    if not scheme_sep:
        if url.startswith("//"):
            rest = url[2:]
        elif _SCHEME.match(url) and not url.split(":", 1)[1][:1].isdigit():
            return None  # mailto:, urn:, data: ... carry no host
        else:
            rest = url  # "libgen.is/book/1": a host without a scheme
    authority = _AUTHORITY.match(rest).group()  # type: ignore[union-attr]  # matches any text
    if "@" in authority:
        authority = authority.rsplit("@", 1)[1]
    if authority.startswith("["):
        return None  # IPv6 literal: no domain to match
    return canonical_host(authority.partition(":")[0])


def parent_domains(host: str) -> Iterable[str]:
    """The host and every parent domain: ``a.b.c`` → ``a.b.c``, ``b.c``, ``c``."""
    yield host
    start = host.find(".")
    while start != -1:
        yield host[start + 1 :]
        start = host.find(".", start + 1)


def glob_to_regex(glob: str) -> str:
    """A host glob as a regex: ``*`` matches within one label, ``?`` one character of a label."""
    out = []
    for ch in glob.lower():
        if ch == "*":
            out.append("[^.]*")
        elif ch == "?":
            out.append("[^.]")
        else:
            out.append(re.escape(ch))
    return "".join(out)


class HostMatcher:
    """Matches hosts against domains (the domain and its subdomains), globs and regexes.

    A domain ``libgen.is`` matches ``libgen.is`` and ``cdn.libgen.is`` but not ``notlibgen.is`` nor
    ``libgen.is.evil.com``. A glob is tried against the host and each parent domain, with ``*`` never
    crossing a dot, so ``libgen.*`` matches ``libgen.rs`` and ``x.libgen.rs`` but not ``libgen.rs.evil.com``.
    A regex must match the whole host.
    """

    __slots__ = ("_any_glob", "_domains", "_globs", "_regexes", "_seen")

    def __init__(self, domains: Iterable[str], globs: Iterable[str], regexes: Iterable[re.Pattern[str]]):
        self._domains = frozenset(domains)
        self._seen: dict[str, str | None] = {}
        self._globs = tuple(globs)
        self._regexes = tuple(regexes)
        # Every glob in one regex, one named alternative each: a full match takes the first alternative
        # that matches the whole host, i.e. the first glob in order, as trying them one by one would.
        self._any_glob = (
            re.compile(
                "|".join(
                    f"(?P<g{i}>(?:[^.]+\\.)*{glob_to_regex(glob)})" for i, glob in enumerate(self._globs)
                )
            )
            if self._globs
            else None
        )

    @classmethod
    def union(cls, matchers: Iterable[HostMatcher]) -> HostMatcher:
        """A matcher that matches a host when one of ``matchers`` does (what it names may differ)."""
        matchers = list(matchers)
        return cls(
            (d for m in matchers for d in m._domains),
            (g for m in matchers for g in m._globs),
            (r for m in matchers for r in m._regexes),
        )

    def match(self, host: str) -> str | None:
        """The domain or pattern that the host matches, else None (remembered: hosts repeat)."""
        if host in self._seen:
            return self._seen[host]
        if len(self._seen) >= 65536:
            self._seen.clear()
        found = self._seen[host] = self._match(host)
        return found

    def _match(self, host: str) -> str | None:
        domains = self._domains
        if host in domains:
            return host
        dot = host.find(".")
        while dot != -1:  # the parent domains, as parent_domains() gives them
            parent = host[dot + 1 :]
            if parent in domains:
                return parent
            dot = host.find(".", dot + 1)
        if self._any_glob is not None:
            found = self._any_glob.fullmatch(host)
            if found is not None:
                return self._globs[int(str(found.lastgroup)[1:])]
        for regex in self._regexes:
            if regex.fullmatch(host):
                return regex.pattern
        return None
