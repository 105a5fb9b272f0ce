"""Text → normalised tokens, each with character offsets back into the original text.

Matching never sees the original text, only token hashes; evidence always points into the original.
Normalisation (version NORMALIZER_VERSION, part of every fingerprint config):

* Unicode NFKC and case folding per token (fullwidth letters, ligatures, ``ß`` → ``ss``);
* typographic quotes, dashes and other punctuation separate tokens and are otherwise ignored;
* zero-width characters and soft hyphens inside a word are removed (``wo\u200brd`` → ``word``);
* a word hyphenated across a line break is joined (``exam-\\nple`` → ``example``);
* combining marks stay with their letter, so NFD and NFC spellings give the same token;
* scripts written without spaces (Chinese, Japanese kana, Thai, Lao, Khmer, Myanmar) give one
  token per character, so word k-gram shingles become character k-grams there.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import xxhash

NORMALIZER_VERSION = 1

_NO_SPACE = (
    "\u0e00-\u0e7f"  # Thai
    "\u0e80-\u0eff"  # Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uf900-\ufaff"  # CJK compatibility ideographs
)
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_INVISIBLE = "\u00ad\u200b-\u200d\u2060\ufeff"
_WORD = rf"[^\W_{_NO_SPACE}]"
_TOKEN = re.compile(rf"[{_NO_SPACE}]|{_WORD}(?:{_WORD}|[{_MARKS}{_INVISIBLE}])*")
_ASCII_TOKEN = re.compile(r"[a-z0-9]+")
_INVISIBLE_RE = re.compile(f"[{_INVISIBLE}]")
# A hyphen (or soft hyphen) that ends a line inside a word: the word was broken for layout.
_LINE_HYPHEN = re.compile(r"(?<=\w)[-\u00ad\u2010][ \t]*\r?\n[ \t]*(?=\w)")

_HASH_CACHE: dict[str, int] = {}
_HASH_CACHE_LIMIT = 1 << 20


@dataclass(frozen=True, slots=True)
class Tokens:
    """The tokens of one text: start and end character offsets and a 64-bit hash per token."""

    starts: np.ndarray
    ends: np.ndarray
    hashes: np.ndarray

    def __len__(self) -> int:
        return len(self.hashes)


def token_hash(token: str) -> int:
    """The stable 64-bit hash of one normalised token (xxh3_64 of its UTF-8 bytes, seed 0)."""
    return xxhash.xxh3_64_intdigest(token.encode("utf-8", "surrogatepass"))


def _hash_all(words: list[str]) -> np.ndarray:
    cache = _HASH_CACHE
    if len(cache) > _HASH_CACHE_LIMIT:
        cache.clear()
    out = np.empty(len(words), dtype=np.uint64)
    for i, word in enumerate(words):
        h = cache.get(word)
        if h is None:
            h = cache[word] = token_hash(word)
        out[i] = h
    return out


def normalize_token(raw: str) -> str:
    """The normal form of one raw token: invisible characters removed, NFKC, case folded."""
    if raw.isascii():
        return raw.lower()
    return unicodedata.normalize("NFKC", _INVISIBLE_RE.sub("", raw)).casefold()


def tokenize(text: str) -> Tokens:
    """Split a text into normalised tokens with offsets into ``text``.

    Args:
        text: the text exactly as read; offsets are code-point offsets into it.

    Returns:
        Tokens whose ``starts[i]:ends[i]`` slice of ``text`` is the i-th token as written.
    """
    if text.isascii():
        lowered = text.lower()
        spans = [m.span() for m in _ASCII_TOKEN.finditer(lowered)]
        words = [lowered[s:e] for s, e in spans]
    else:
        spans = []
        words = []
        for m in _TOKEN.finditer(text):
            word = normalize_token(m.group())
            if word:
                spans.append(m.span())
                words.append(word)
    if "\n" in text and spans:
        spans, words = _join_line_hyphens(text, spans, words)
    if not spans:
        empty = np.empty(0, dtype=np.int64)
        return Tokens(empty, empty.copy(), np.empty(0, dtype=np.uint64))
    offsets = np.array(spans, dtype=np.int64)
    return Tokens(offsets[:, 0].copy(), offsets[:, 1].copy(), _hash_all(words))


def _join_line_hyphens(
    text: str, spans: list[tuple[int, int]], words: list[str]
) -> tuple[list[tuple[int, int]], list[str]]:
    breaks = {m.start(): m.end() for m in _LINE_HYPHEN.finditer(text)}
    if not breaks:
        return spans, words
    out_spans: list[tuple[int, int]] = []
    out_words: list[str] = []
    i = 0
    while i < len(spans):
        start, end = spans[i]
        word = words[i]
        while i + 1 < len(spans) and breaks.get(end) == spans[i + 1][0]:
            i += 1
            end = spans[i][1]
            word += words[i]
        out_spans.append((start, end))
        out_words.append(word)
        i += 1
    return out_spans, out_words
