"""Text → normalised tokens, each with character offsets back into the original text.

Matching never sees the original text, only token hashes; evidence always points into the original.
Normalisation (version NORMALIZER_VERSION, part of every fingerprint config):

* Unicode NFKC and case folding per token (fullwidth letters, ligatures, ``ß`` → ``ss``);
* typographic quotes, dashes and other punctuation separate tokens and are otherwise ignored;
* zero-width characters and soft hyphens inside a word are removed (``wo\u200brd`` → ``word``);
* a word hyphenated across a line break is joined (``exam-\\nple`` → ``example``);
* combining marks stay with their letter, so NFD and NFC spellings give the same token;
* scripts written without spaces (Chinese, Japanese kana, Thai, Lao, Khmer, Myanmar) give one
  token per character, so word k-gram shingles become character k-grams there;
* characters that OCR confuses are folded together (``1``/``i``/``l`` → ``l``, ``0`` → ``o``,
  ``5`` → ``s``, ``rn`` → ``m``, ``vv`` → ``w``), so a scanned copy (``c0rnpass``) still gives
  the token of the original (``compass``). Folding applies to every text alike; a few distinct
  words become one token (``ill``/``lll``), which word shingles make harmless. Stray symbols are
  not word characters and never form tokens; joined or split words break only the shingles that
  span them, and verification bridges such gaps.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import xxhash

NORMALIZER_VERSION = 2

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
_SPLIT = re.compile(f"({_TOKEN.pattern})")
_ASCII_SPLIT = re.compile(r"([a-z0-9]+)")
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
    # Hash each distinct word once: a text has far fewer distinct words than tokens.
    vocab: dict[str, int] = {}
    ids = [vocab.setdefault(w, len(vocab)) for w in words]
    cache = _HASH_CACHE
    if len(cache) > _HASH_CACHE_LIMIT:
        cache.clear()
    distinct = np.empty(len(vocab), dtype=np.uint64)
    for i, word in enumerate(vocab):
        h = cache.get(word)
        if h is None:
            h = cache[word] = token_hash(word)
        distinct[i] = h
    return distinct[np.array(ids, dtype=np.int64)]


def normalize_token(raw: str) -> str:
    """The normal form of one raw token: invisible characters removed, NFKC, case folded, OCR-folded."""
    return _normalize_all([raw])[0]


_OCR_TABLE = str.maketrans({"1": "l", "i": "l", "0": "o", "5": "s"})


def _fold_ocr(joined: str) -> str:
    return joined.translate(_OCR_TABLE).replace("rn", "m").replace("vv", "w")


def _normalize_all(raw: list[str], ascii_lowered: bool = False) -> list[str]:
    # One pass over all tokens joined by NUL (never inside a token; NFKC and case folding never
    # combine across it), instead of one Python call per token.
    joined = "\x00".join(raw)
    if ascii_lowered:
        pass
    elif joined.isascii():
        joined = joined.lower()
    else:
        joined = unicodedata.normalize("NFKC", _INVISIBLE_RE.sub("", joined)).casefold()
    return _fold_ocr(joined).split("\x00")


def tokenize(text: str) -> Tokens:
    """Split a text into normalised tokens with offsets into ``text``.

    Args:
        text: the text exactly as read; offsets are code-point offsets into it.

    Returns:
        Tokens whose ``starts[i]:ends[i]`` slice of ``text`` is the i-th token as written.
    """
    if text.isascii():
        parts = _ASCII_SPLIT.split(text.lower())
        raw = parts[1::2]
        words = _normalize_all(raw, ascii_lowered=True) if raw else []
    else:
        parts = _SPLIT.split(text)
        raw = parts[1::2]
        words = _normalize_all(raw) if raw else []
    if not raw:
        empty = np.empty(0, dtype=np.int64)
        return Tokens(empty, empty.copy(), np.empty(0, dtype=np.uint64))
    lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    ends_all = np.cumsum(lengths)
    starts = (ends_all - lengths)[1::2]
    ends = ends_all[1::2]
    if "\n" in text:
        starts, ends, words = _join_line_hyphens(text, starts, ends, words)
    return Tokens(starts, ends, _hash_all(words))


def _join_line_hyphens(
    text: str, starts: np.ndarray, ends: np.ndarray, words: list[str]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    breaks = {m.start(): m.end() for m in _LINE_HYPHEN.finditer(text)}
    if not breaks:
        return starts, ends, words
    # A token ending where a line-break hyphen starts is glued to the token starting where it ends.
    glue = [i for i, e in enumerate(ends.tolist()[:-1]) if breaks.get(e) == starts[i + 1]]
    if not glue:
        return starts, ends, words
    keep = np.ones(len(words), dtype=bool)
    new_words = list(words)
    new_ends = ends.copy()
    for i in reversed(glue):
        new_words[i] = new_words[i] + new_words[i + 1]
        new_ends[i] = new_ends[i + 1]
        keep[i + 1] = False
    kept = [w for w, k in zip(new_words, keep.tolist(), strict=True) if k]
    return starts[keep], new_ends[keep], kept
