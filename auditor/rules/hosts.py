"""URL hosts: extraction from record URLs and matching against domain lists and host patterns."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_HOST_CHARS = re.compile(r"^[a-z0-9._-]+$")


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
    if "://" in url:
        rest = url.split("://", 1)[1]
    elif url.startswith("//"):
        rest = url[2:]
    elif _SCHEME.match(url) and not url.split(":", 1)[1][:1].isdigit():
        return None  # mailto:, urn:, data: ... carry no host
    else:
        rest = url  # "libgen.is/book/1": a host without a scheme
    end = len(rest)
    for sep in "/?#\\":
        pos = rest.find(sep)
        if pos != -1 and pos < end:
            end = pos
    authority = rest[:end]
    if "@" in authority:
        authority = authority.rsplit("@", 1)[1]
    if authority.startswith("["):
        return None  # IPv6 literal: no domain to match
    authority = authority.split(":", 1)[0]
    return canonical_host(authority)


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

    __slots__ = ("_domains", "_globs", "_patterns", "_regexes", "_seen")

    def __init__(self, domains: Iterable[str], globs: Iterable[str], regexes: Iterable[re.Pattern[str]]):
        self._domains = frozenset(domains)
        self._seen: dict[str, str | None] = {}
        self._globs = tuple(globs)
        self._regexes = tuple(regexes)
        self._patterns = tuple(
            (glob, re.compile(r"(?:[^.]+\.)*" + glob_to_regex(glob))) for glob in self._globs
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
        for candidate in parent_domains(host):
            if candidate in self._domains:
                return candidate
        for glob, compiled in self._patterns:
            if compiled.fullmatch(host):
                return glob
        for regex in self._regexes:
            if regex.fullmatch(host):
                return regex.pattern
        return None
