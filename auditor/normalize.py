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

Token hash (since version 3): a polynomial over the normalised token's code points modulo 2^64,
finished with MurmurHash3's fmix64 (see :func:`token_hash`), so a whole text is hashed with a few
numpy array operations instead of one call per token.

How :func:`tokenize` is fast: the text is classified code point by code point with lookup tables
(built from the very regular expressions and Unicode functions of the plain algorithm,
:func:`_tokenize_reference`, and kept in the per-user cache under a name derived from all they are
built from, so a process reads them in ~1 ms instead of building them in ~0.2 s); token bounds come
from array operations; a code-point table gives each character's normal form where normalising the
character alone is exact in any context, and all tokens are hashed at once from one prefix sum. Only
tokens holding a character without such a form (ligatures, ``ß``, combining marks, zero-width
characters, characters outside the BMP) take the plain per-token path. A text whose only non-ASCII
characters separate tokens (typographic quotes and dashes) is tokenized by a compiled pass over its
UTF-8 bytes, which :func:`tokenize_many` runs over many texts in one call. Tests prove the fast
paths equal to the plain one.
"""

from __future__ import annotations

import functools
import hashlib
import re
import sys
import threading
import types
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from auditor import cache, kernels
from auditor.fingerprint_config import NORMALIZER_VERSION

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
_TOKEN_PATTERN = rf"[{_NO_SPACE}]|{_WORD}(?:{_WORD}|[{_MARKS}{_INVISIBLE}])*"


@functools.cache
def _token_re() -> re.Pattern[str]:
    """A token, as a regex: the definition the tables and the plain algorithm derive from. Compiled on
    first use (~15 ms, its classes span the BMP): the fast tokenizer, which a scan runs, never needs it."""
    return re.compile(_TOKEN_PATTERN)


@functools.cache
def _split_re() -> re.Pattern[str]:
    """:func:`_token_re` as a capturing group, for ``split``; compiled on first use (~15 ms) likewise."""
    return re.compile(f"({_TOKEN_PATTERN})")


_ASCII_SPLIT = re.compile(r"([a-z0-9]+)")
_INVISIBLE_RE = re.compile(f"[{_INVISIBLE}]")
# A hyphen (or soft hyphen) that ends a line inside a word: the word was broken for layout.
_LINE_HYPHEN = re.compile(r"(?<=\w)[-\u00ad\u2010][ \t]*\r?\n[ \t]*(?=\w)")

_MASK64 = (1 << 64) - 1
# Token hash parameters; changing any of them changes every token hash (bump NORMALIZER_VERSION).
_POLY = 0xD6E8FEB86659FD93  # odd, so position powers never vanish mod 2^64
_LEN_MUL = 0x9FB21C651E98DF25
_FMIX_M1 = 0xFF51AFD7ED558CCD
_FMIX_M2 = 0xC4CEB9FE1A85EC53
# As 0-d arrays: numpy applies them to arrays faster than scalars.
_A33, _A_M1, _A_M2, _A_LEN_MUL = (np.array(v, dtype=np.uint64) for v in (33, _FMIX_M1, _FMIX_M2, _LEN_MUL))


@dataclass(frozen=True, slots=True)
class Tokens:
    """The tokens of one text: start and end character offsets and a 64-bit hash per token."""

    starts: np.ndarray
    ends: np.ndarray
    hashes: np.ndarray

    def __len__(self) -> int:
        return len(self.hashes)


def _fmix64_int(h: int) -> int:
    h ^= h >> 33
    h = (h * _FMIX_M1) & _MASK64
    h ^= h >> 33
    h = (h * _FMIX_M2) & _MASK64
    return h ^ (h >> 33)


def _poly(token: str) -> int:
    # sum(ord(token[j]) * _POLY**j) mod 2^64, by Horner's rule from the last character.
    acc = 0
    for ch in reversed(token):
        acc = (acc * _POLY + ord(ch)) & _MASK64
    return acc


def token_hash(token: str) -> int:
    """The stable 64-bit hash of one normalised token.

    ``fmix64(sum(ord(token[j]) * P**j) + len(token) * L)`` with all arithmetic mod 2^64 and fixed
    odd constants ``P`` and ``L``: a pure function of the token's code points, the same on every
    platform, and equal to what :func:`tokenize` computes for the token with array operations.
    """
    return _fmix64_int((_poly(token) + len(token) * _LEN_MUL) & _MASK64)


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
    if not ascii_lowered:
        if joined.isascii():
            joined = joined.lower()
        else:
            joined = unicodedata.normalize("NFKC", _INVISIBLE_RE.sub("", joined)).casefold()
    return _fold_ocr(joined).split("\x00")


# ---------------------------------------------------------------------------------------------------
# Lookup tables, derived from the regular expressions and Unicode functions above.
# ---------------------------------------------------------------------------------------------------

_NOSPACE_RE = re.compile(f"[{_NO_SPACE}]+")
_WORD_RE = re.compile(f"{_WORD}+")
_CONT_RE = re.compile(f"[{_MARKS}{_INVISIBLE}]+")

# Character classes are bit sets, so that one OR over a text tells which kinds it holds.
_RUN = 1  # a word, mark or invisible character: runs of them hold the multi-character tokens
_MARK = 2  # a mark or invisible character: continues a token, never starts one
_SINGLE = 4  # a no-space-script character: a token of its own
_SLOW = 8  # no context-free fold: the token holding it takes the plain per-token path
_WORD_CLASS = _RUN
_MARK_CLASS = _RUN | _MARK | _SLOW
# Fold of a character whose fold is not used (slow ones): any non-zero code point will do.
_NO_FOLD = 0x10FFFF


def _char_class(ch: str) -> int:
    """The class of one character, by the same precedence as a token's regex (without _SLOW)."""
    if _NOSPACE_RE.match(ch):
        return _SINGLE
    if _WORD_RE.match(ch):
        return _WORD_CLASS
    if _CONT_RE.match(ch):
        return _MARK_CLASS
    return 0


def _class_table(chars: str) -> np.ndarray:
    table = np.zeros(len(chars), dtype=np.uint8)
    # Later patterns overwrite earlier ones: the reverse of _char_class's precedence.
    for pattern, value in ((_CONT_RE, _MARK_CLASS), (_WORD_RE, _WORD_CLASS), (_NOSPACE_RE, _SINGLE)):
        for m in pattern.finditer(chars):
            table[m.start() : m.end()] = value
    return table


# Canonical decompositions exist only in planes 0-2 (the last are the CJK compatibility ideographs
# supplement, U+2F800-U+2FA1D); a test checks this against every plane for the running Python.
_DECOMPOSING_PLANES = 0x30000


def _composition_followers(limit: int = _DECOMPOSING_PLANES) -> set[int]:
    """Code points that canonical composition may merge into a preceding character."""
    followers: set[int] = set()
    for cp in range(limit):
        decomposition = unicodedata.decomposition(chr(cp))
        if decomposition and not decomposition.startswith("<"):
            parts = decomposition.split()
            if len(parts) == 2:
                followers.add(int(parts[1], 16))
    # Hangul syllables compose algorithmically: leading + vowel jamo, then + trailing jamo.
    followers.update(range(0x1161, 0x1176))
    followers.update(range(0x11A8, 0x11C3))
    return followers


def _context_free(ch: str, followers: set[int]) -> bool:
    """Whether NFKC of any string ending before ``ch`` is unchanged by appending ``ch``.

    NFKC is decompose, reorder marks, compose. If ``ch`` decomposes to a starter (combining class 0)
    that never composes with a preceding character, nothing before it is reordered with or composed
    into anything of ``ch``, so NFKC(x + ch) == NFKC(x) + NFKC(ch) for every x.
    """
    first = unicodedata.normalize("NFKD", ch)[:1]
    return bool(first) and unicodedata.combining(first) == 0 and ord(first) not in followers


def _single_fold(ch: str) -> str:
    return unicodedata.normalize("NFKC", ch).casefold().translate(_OCR_TABLE)


@functools.cache
def _bmp_tables() -> tuple[np.ndarray, np.ndarray]:
    """:func:`_build_bmp_tables`, from the per-user cache when it holds them (~1 ms instead of ~0.2 s
    of CPU at the start of every scan), else built and stored there for the next process."""
    name = _tables_cache_name()
    tables = _tables_from_bytes(cache.read_bytes(name))
    if tables is None:
        tables = _build_bmp_tables()
        cache.write_bytes(name, _tables_to_bytes(*tables))
    return tables


def _build_bmp_tables() -> tuple[np.ndarray, np.ndarray]:
    """(class, fold) tables over the BMP.

    fold[c] is the code point that c normalises to wherever it stands in a token (NFKC, case
    folding and the one-character OCR folds), 0 for characters that are never part of a token;
    the class of a token character without such a fold has the _SLOW bit.
    """
    chars = "".join(map(chr, range(0x10000)))
    classes = _class_table(chars)
    fold = np.zeros(0x10000, dtype=np.uint32)
    followers = _composition_followers()
    for cp in np.flatnonzero(classes).tolist():
        ch = chr(cp)
        folded = _single_fold(ch)
        # A no-space character is a token on its own: no neighbour can change its form.
        fast = classes[cp] in (_WORD_CLASS, _SINGLE) and len(folded) == 1
        if fast and (classes[cp] == _SINGLE or _context_free(ch, followers)):
            fold[cp] = ord(folded)
        else:
            fold[cp] = _NO_FOLD
            classes[cp] |= _SLOW
    return classes, fold


def _code_digest(code: types.CodeType, digest: Any) -> None:
    digest.update(code.co_code)
    digest.update(repr(code.co_names).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code_digest(const, digest)
        else:
            digest.update(repr(const).encode())


def _tables_cache_name() -> str:
    """The cache file of the tables this process would build: keyed on everything they derive from
    (the Unicode database and Python version, the patterns, the OCR folds and the code of the
    functions that build them), so that a change to any of them is a new file, never a stale table."""
    digest = hashlib.sha256()
    patterns = [_TOKEN_PATTERN, *(r.pattern for r in (_NOSPACE_RE, _WORD_RE, _CONT_RE))]
    classes = (_RUN, _MARK, _SINGLE, _SLOW, _WORD_CLASS, _MARK_CLASS, _NO_FOLD, _DECOMPOSING_PLANES)
    for part in (unicodedata.unidata_version, sys.version_info[:2], NORMALIZER_VERSION, *patterns, classes):
        digest.update(f"{part}\x00".encode())
    digest.update(repr(sorted(_OCR_TABLE.items())).encode())
    builders = (_build_bmp_tables, _class_table, _composition_followers, _context_free, _single_fold)
    for function in builders:
        _code_digest(function.__code__, digest)
    return f"unicode-tables/{digest.hexdigest()[:32]}.bin"


_TABLES_SIZE = 0x10000 * 5  # uint8 classes, then uint32 (little-endian) folds


def _tables_to_bytes(classes: np.ndarray, fold: np.ndarray) -> bytes:
    payload = classes.astype(np.uint8).tobytes() + fold.astype("<u4").tobytes()
    return hashlib.sha256(payload).digest() + payload


def _tables_from_bytes(data: bytes | None) -> tuple[np.ndarray, np.ndarray] | None:
    """The tables stored by :func:`_tables_to_bytes`, or None if ``data`` is not exactly that."""
    if data is None or len(data) != 32 + _TABLES_SIZE or hashlib.sha256(data[32:]).digest() != data[:32]:
        return None
    classes = np.frombuffer(data, dtype=np.uint8, count=0x10000, offset=32).copy()
    fold = np.frombuffer(data, dtype="<u4", count=0x10000, offset=32 + 0x10000).astype(np.uint32)
    return classes, fold


# The fold of each byte of an ASCII text: 0 for a byte that is no word character.
_ASCII_FOLD = bytes(
    ord(_single_fold(chr(c))) if c < 128 and _WORD_RE.match(chr(c)) else 0 for c in range(256)
)

# The same as an array for kernels.text_tokens, and its table of the BMP characters of no token.
_ASCII_FOLD_TABLE = np.frombuffer(_ASCII_FOLD, dtype=np.uint8)
_NO_SEPARATORS = np.zeros(0x10000, dtype=np.uint8)
_NO_SEPARATORS.flags.writeable = False


@functools.cache
def _separators() -> np.ndarray:
    """1 for each BMP character that is part of no token (class 0), else 0."""
    table = (_bmp_tables()[0] == 0).astype(np.uint8)
    table.flags.writeable = False
    return table


# Code points hashed per block of a long text, so that the power tables stay small.
_BLOCK = 1 << 16
_INVERSE = pow(_POLY, -1, 1 << 64)
_pow_tables = (np.ones(1, dtype=np.uint64), np.ones(1, dtype=np.uint64))

# Where a line-break hyphen may start (a prefix of _LINE_HYPHEN without look-arounds); the first
# pattern starts with a literal, which the regex engine finds fast.
_HYPHEN_BREAK_ASCII = re.compile(r"-[ \t]*\r?\n")
_HYPHEN_BREAK = re.compile(r"[-\u00ad\u2010][ \t]*\r?\n")


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(_POLY ** k, _POLY ** -k) mod 2^64 for k < at least n, grown by doubling."""
    global _pow_tables
    powers, inverses = _pow_tables
    while len(powers) < n:
        size = len(powers)
        step = np.uint64(pow(_POLY, size, 1 << 64))
        inverse_step = np.uint64(pow(_INVERSE, size, 1 << 64))
        powers = np.concatenate([powers, powers * step])
        inverses = np.concatenate([inverses, inverses * inverse_step])
        _pow_tables = (powers, inverses)
    return powers, inverses


# ---------------------------------------------------------------------------------------------------
# The fast path. Arrays over a text are padded with one NUL on each side, so that a token at text
# offsets [s, e) sits at [s + 1, e + 1): runs start and end at changes between neighbours, and
# prefix sums at e and s give a token's sum.
# ---------------------------------------------------------------------------------------------------


def _empty_tokens() -> Tokens:
    empty = np.empty(0, dtype=np.int64)
    return Tokens(empty, empty.copy(), np.empty(0, dtype=np.uint64))


def tokenize(text: str) -> Tokens:
    """Split a text into normalised tokens with offsets into ``text``.

    Args:
        text: the text exactly as read; offsets are code-point offsets into it.

    Returns:
        Tokens whose ``starts[i]:ends[i]`` slice of ``text`` is the i-th token as written.
    """
    return tokenize_many([text])[0]


def tokenize_many(texts: Sequence[str]) -> list[Tokens]:
    """:func:`tokenize` of each text, in one compiled pass over them all.

    A text whose only non-ASCII characters separate tokens (typographic quotes and dashes, as in
    most prose) is tokenized by the compiled pass; the others (the pass gives up on them at their
    first other non-ASCII character) take the general path one by one. One call for all texts,
    because a call costs ~5 us beside ~25 us of work on a typical record. The pass writes into this
    thread's reused arrays, sized for the worst case (a token per two bytes), whose pages are warm
    after the first batch; the tokens found (about a sixth of that room in prose) are copied out
    once, and each text's Tokens are views of those copies (so they live as long as any of them).
    """
    if not texts:
        return []
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
    raw = encoded[0] if len(encoded) == 1 else b"".join(encoded)
    bounds = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=bounds[1:])
    separators = _NO_SEPARATORS if len(raw) == sum(map(len, texts)) else _separators()
    starts, ends, hashes = _outputs(len(raw) // 2 + len(texts))
    counts = np.empty(len(texts), dtype=np.int64)
    chars = np.frombuffer(raw, dtype=np.uint8)
    kernels.text_tokens(chars, bounds, _ASCII_FOLD_TABLE, separators, starts, ends, hashes, counts)
    total = int(counts[counts > 0].sum())
    starts, ends, hashes = starts[:total].copy(), ends[:total].copy(), hashes[:total].copy()
    out = []
    first = 0
    for text, count in zip(texts, counts.tolist(), strict=True):
        if count < 0:
            out.append(_tokenize_general(text))
            continue
        last = first + count
        out.append(Tokens(starts[first:last], ends[first:last], hashes[first:last]))
        first = last
    return out


_KEEP_OUTPUTS = 1 << 20
"""Room (tokens) up to which a thread keeps its output arrays for the next call; only the pages a
call writes are ever resident (~2.7 MB for a batch of 256 typical records)."""


class _Outputs(threading.local):
    """A thread's output arrays of kernels.text_tokens (starts, ends, hashes), kept between calls."""

    arrays: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


_OUTPUTS = _Outputs()


def _outputs(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Output arrays with room for ``size`` tokens: this thread's kept ones if they are large enough."""
    arrays = _OUTPUTS.arrays
    if arrays is not None and len(arrays[0]) >= size:
        return arrays
    arrays = (np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64), np.empty(size, dtype=np.uint64))
    if size <= _KEEP_OUTPUTS:
        _OUTPUTS.arrays = arrays
    return arrays


def _tokenize_general(text: str) -> Tokens:
    """:func:`tokenize` of any text, by lookup tables over its code points and array operations."""
    cps = np.frombuffer(f"\0{text}\0".encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    tokens = _tokenize_unicode(text, cps)
    if tokens is None:
        return _empty_tokens()
    starts, ends, poly, lengths = tokens
    if "\n" in text:
        wide_hyphen = "\u00ad" in text or "\u2010" in text
        glue = _hyphen_glue(text, starts, ends, _HYPHEN_BREAK if wide_hyphen else _HYPHEN_BREAK_ASCII)
        if glue:
            starts, ends, poly, lengths = _glue_tokens(glue, starts, ends, poly, lengths)
    return Tokens(starts, ends, _finish_all(poly, lengths))


def _finish_all(poly: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """fmix64(poly + length * L) element-wise, in place; uint64 arrays wrap mod 2^64 silently."""
    h = poly
    h += lengths.view(np.uint64) * _A_LEN_MUL
    shifted = h >> _A33
    h ^= shifted
    h *= _A_M1
    np.right_shift(h, _A33, out=shifted)
    h ^= shifted
    h *= _A_M2
    np.right_shift(h, _A33, out=shifted)
    h ^= shifted
    return h


def _edges(mask: np.ndarray) -> np.ndarray:
    """Text offsets start0, end0, start1, end1, ... of the runs of True in a padded mask.

    The mask is False at both ends, so it changes value exactly at the runs' bounds.
    """
    return (mask[1:] != mask[:-1]).nonzero()[0]


def _polys(values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Polynomial hash and length of each token [s, e) of ``edges`` over padded ``values``.

    sum(values[j] * _POLY ** (j - s - 1) for j in [s + 1, e + 1)) mod 2^64, from one prefix sum
    over the text; a long text in blocks of about _BLOCK code points, so the power tables stay small.
    """
    starts = edges[0::2]
    lengths = edges[1::2] - starts
    if len(values) <= _BLOCK:
        return _block_polys(values, edges), lengths
    ends = edges[1::2]
    parts = []
    first = 0
    while first < len(starts):
        base = int(starts[first])
        last = max(first + 1, int(np.searchsorted(ends, base + _BLOCK - 1, side="right")))
        span = values[base : int(ends[last - 1]) + 1]
        parts.append(_block_polys(span, edges[2 * first : 2 * last] - base))
        first = last
    return np.concatenate(parts), lengths


def _block_polys(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    n = len(values)
    powers, inverses = _powers(n)
    prefix = np.add.accumulate(values * powers[:n])
    at = prefix[edges]
    poly = at[1::2] - at[0::2]
    poly *= inverses[1:][edges[0::2]]
    return poly


def _hyphen_glue(text: str, starts: np.ndarray, ends: np.ndarray, breaks: re.Pattern[str]) -> list[int]:
    """:func:`_line_hyphen_glue`, trying the full pattern only where ``breaks`` finds a line break.

    ``breaks`` matches where _LINE_HYPHEN can (without its look-arounds) and its matches hold no
    hyphen after their first character, so finditer misses none of those places.
    """
    glue = []
    for m in breaks.finditer(text):
        at = m.start()
        full = _LINE_HYPHEN.match(text, at)
        if full is None:
            continue
        i = int(np.searchsorted(ends, at))
        if i + 1 < len(starts) and ends[i] == at and starts[i + 1] == full.end():
            glue.append(i)
    return glue


def _tokenize_unicode(
    text: str, cps: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Token bounds, polynomial hashes and lengths of a text, from its padded code points."""
    classes_bmp, fold_bmp = _bmp_tables()
    try:
        cls = classes_bmp[cps]
        nc = fold_bmp[cps]
    except IndexError:
        cls, nc = _classify_astral(cps, classes_bmp, fold_bmp)
    present = int(np.bitwise_or.reduce(cls))
    # Runs of word, mark and invisible characters; a token starts at its run's first word
    # character. Characters of no-space scripts end runs and are tokens of their own.
    edges = _edges((cls & _RUN).view(bool))
    if present & _MARK:
        lead = np.flatnonzero(cls[1:][edges[0::2]] & _MARK)
        if len(lead):
            edges = _trim_runs(cls[1:], nc[1:], edges, lead)
    starts, ends = edges[0::2], edges[1::2]
    single = singles = None
    if present & _SINGLE:
        single = np.flatnonzero(cls & _SINGLE) - 1
        singles = nc[1:][single].astype(np.uint64)
        nc[1:][single] = 0
    if not len(starts) and single is None:
        return None
    slow = np.empty(0, dtype=np.int64)
    if present & _SLOW:
        # Now the non-zero folds are exactly the word tokens; a token is slow if it holds a
        # character without a context-free fold (marks and invisible characters included).
        counts = np.cumsum((cls & (_SLOW | _SINGLE)) == _SLOW)
        slow = np.flatnonzero(counts[ends] != counts[starts])
    if len(starts):
        folded = nc.tobytes().decode("utf-32-le")
        # Through str, so that a digraph can never straddle two 4-byte code points.
        joined = folded.replace("rn", "m").replace("vv", "w")
        if len(joined) != len(folded):
            values = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
            poly, lengths = _polys(values, _edges(values != 0))
        else:
            poly, lengths = _polys(nc, edges)
    else:
        poly, lengths = np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
    if single is not None and singles is not None:
        # A no-space character is a token of one code point: its polynomial is that code point.
        slow_single = np.flatnonzero(cls[1:][single] & _SLOW)
        slow = np.concatenate([slow, len(starts) + slow_single])
        starts = np.concatenate([starts, single])
        ends = np.concatenate([ends, single + 1])
        poly = np.concatenate([poly, singles])
        lengths = np.concatenate([lengths, np.ones(len(single), dtype=np.int64)])
        order = np.argsort(starts, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        starts, ends, poly, lengths, slow = (
            starts[order],
            ends[order],
            poly[order],
            lengths[order],
            rank[slow],
        )
    if len(slow):
        # Tokens the tables cannot normalise alone: the plain per-token path, hashed alike.
        raw = [text[s:e] for s, e in zip(starts[slow].tolist(), ends[slow].tolist(), strict=True)]
        words = _normalize_all(raw)
        poly[slow] = [_poly(w) for w in words]
        lengths[slow] = [len(w) for w in words]
    return starts, ends, poly, lengths


def _classify_astral(
    cps: np.ndarray, classes_bmp: np.ndarray, fold_bmp: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Classes and folds of a text with characters outside the BMP (all of whose tokens are slow)."""
    astral = np.flatnonzero(cps > 0xFFFF)
    index = cps.copy()
    index[astral] = 0
    cls = classes_bmp[index]
    nc = fold_bmp[index]
    # Classified with the regular expressions themselves.
    astral_cls = np.array([_char_class(chr(c)) for c in cps[astral].tolist()], dtype=np.uint8)
    cls[astral] = np.where(astral_cls != 0, astral_cls | _SLOW, 0)
    nc[astral] = np.where(astral_cls != 0, _NO_FOLD, 0)
    return cls, nc


def _trim_runs(cls: np.ndarray, nc: np.ndarray, edges: np.ndarray, lead: np.ndarray) -> np.ndarray:
    """Start runs that begin with marks at their first word character, or drop them if none.

    ``cls`` and ``nc`` are indexed by text offset. The folds of the characters left out are set to
    0: they belong to no token.
    """
    bounds = edges.reshape(-1, 2).copy()
    keep = np.ones(len(bounds), dtype=bool)
    for i in lead.tolist():
        s, e = int(bounds[i, 0]), int(bounds[i, 1])
        words = np.flatnonzero((cls[s:e] & _MARK) == 0)
        first = s + int(words[0]) if len(words) else e
        nc[s:first] = 0
        bounds[i, 0] = first
        keep[i] = first < e
    return bounds[keep].ravel()


def _glue_tokens(
    glue: list[int], starts: np.ndarray, ends: np.ndarray, poly: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Join token i and i + 1 for i in ``glue``: the normal forms concatenate (no re-folding)."""
    keep = np.ones(len(starts), dtype=bool)
    ends, poly, lengths = ends.copy(), poly.copy(), lengths.copy()
    for i in reversed(glue):
        # poly(a + b) = poly(a) + P^len(a) * poly(b)
        head = int(lengths[i])
        poly[i] = (int(poly[i]) + pow(_POLY, head, 1 << 64) * int(poly[i + 1])) & _MASK64
        lengths[i] = head + int(lengths[i + 1])
        ends[i] = ends[i + 1]
        keep[i + 1] = False
    return starts[keep], ends[keep], poly[keep], lengths[keep]


# ---------------------------------------------------------------------------------------------------
# The plain algorithm: the definition of the token semantics, kept as the reference of the tests and
# the benchmark. tokenize() must return exactly what this returns.
# ---------------------------------------------------------------------------------------------------


def _reference_words(text: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Token offsets and normalised token strings by the plain regex-and-Unicode algorithm."""
    if text.isascii():
        parts = _ASCII_SPLIT.split(text.lower())
        raw = parts[1::2]
        words = _normalize_all(raw, ascii_lowered=True) if raw else []
    else:
        parts = _split_re().split(text)
        raw = parts[1::2]
        words = _normalize_all(raw) if raw else []
    if not raw:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), []
    lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    ends_all = np.cumsum(lengths)
    starts = (ends_all - lengths)[1::2]
    ends = ends_all[1::2]
    if "\n" in text:
        starts, ends, words = _join_line_hyphens(text, starts, ends, words)
    return starts, ends, words


def _tokenize_reference(text: str) -> Tokens:
    """:func:`tokenize` by the plain algorithm: one regex split, per-token normalisation and hashing."""
    starts, ends, words = _reference_words(text)
    hashes = np.array([token_hash(w) for w in words], dtype=np.uint64)
    return Tokens(starts, ends, hashes)


def _join_line_hyphens(
    text: str, starts: np.ndarray, ends: np.ndarray, words: list[str]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    glue = _line_hyphen_glue(text, starts, ends)
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


def _line_hyphen_glue(text: str, starts: np.ndarray, ends: np.ndarray) -> list[int]:
    """Indices i of the tokens that a line-break hyphen joins to token i + 1."""
    breaks = {m.start(): m.end() for m in _LINE_HYPHEN.finditer(text)}
    if not breaks:
        return []
    # A token ending where a line-break hyphen starts is glued to the token starting where it ends.
    return [i for i, e in enumerate(ends.tolist()[:-1]) if breaks.get(e) == starts[i + 1]]
