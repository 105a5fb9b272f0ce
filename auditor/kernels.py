"""Compiled inner loops (numba) for the steps numpy cannot express well: MinHash, chaining, pre-checks.

A block's MinHash is, for each of ``num_perm`` permutations, the minimum of ``a * fmix64(v) + b`` over
the block's shingles. In numpy that is a (num_perm x shingles) temporary written and read back; here
it is one pass over the shingles with the running minima in registers, about 5x faster. Chaining
matched shingle pairs is a sequential greedy scan, a Python loop otherwise. Counting the record
shingles a candidate work shares is a dozen numpy calls on arrays of ~150 values, where call overhead,
not arithmetic, is the cost.

Every function has a plain numpy or Python twin next to the code that calls it (:mod:`auditor.fingerprint`,
:mod:`auditor.match`, :mod:`auditor.keyindex`) that tests compare it with. Compiled code is cached on
disk (``cache=True``), so only the first run on a machine compiles. Even so, loading costs: importing
numba ~0.4 s, readying its CPU target ~0.5 s once, ~10 ms per kernel. So nothing is loaded at import:
each kernel loads on its first call, a command that runs none never imports numba, and a scan loads
the kernels it runs (:func:`warm_up`), not those that build registries.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np

_F = TypeVar("_F", bound=Callable[..., Any])

# Signatures are strings that numba evaluates in the namespace of numba.core.types, so that this
# module imports without numba; read-only arrays accept writable ones too.
_BYTES = "Array(uint8, 1, 'C', readonly=True)"
_RO_U64 = "Array(uint64, 1, 'C', readonly=True)"
_RO_I64 = "Array(int64, 1, 'C', readonly=True)"
_RO_U64_2D = "Array(uint64, 2, 'C', readonly=True)"

_LOCK = threading.RLock()
_INLINE: list[Callable[..., Any]] = []
_KERNELS: dict[str, _Kernel] = {}
_ready = False


def _inline(function: _F) -> _F:
    """A helper that kernels inline (``njit(inline="always")``); jitted with the first kernel."""
    _INLINE.append(function)
    return function


def _kernel(signature: str | None = None) -> Callable[[_F], _F]:
    """A kernel (``njit(signature, cache=True, nogil=True)``) compiled, or loaded from numba's cache,
    on its first call; without a signature, each new combination of argument types loads its own."""

    def lazy(function: _F) -> _F:
        kernel = _Kernel(function, signature)
        _KERNELS[function.__name__] = kernel
        return cast(_F, kernel)

    return lazy


class _Kernel:
    """Stands for a kernel until its first call, which puts numba's dispatcher in its place: a command
    loads only the kernels it runs (about 10 ms each), and one that runs none never imports numba."""

    def __init__(self, function: Callable[..., Any], signature: str | None) -> None:
        self.function = function
        self.signature = signature
        self.dispatcher: Any = None

    def __call__(self, *args: Any) -> Any:
        return (self.dispatcher or self.load())(*args)

    def load(self) -> Any:
        """numba's dispatcher of this kernel (with its signature loaded), made on the first call."""
        with _LOCK:
            if self.dispatcher is None:
                numba = ready_numba()
                options = {"cache": True, "nogil": True}
                if self.signature is None:
                    dispatcher = numba.njit(**options)(self.function)
                else:
                    dispatcher = numba.njit(self.signature, **options)(self.function)
                globals()[self.function.__name__] = dispatcher
                self.dispatcher = dispatcher
            return self.dispatcher


def ready_numba() -> Any:
    """numba, once its CPU target is ready and the inline helpers are jitted (the first kernel's cost).

    Other compiled code of auditor (:mod:`auditor.rules.automaton`) gets numba from here too, so that
    whichever loads first, numba is readied without scipy.linalg and cffi (see below)."""
    global _ready
    import numba

    with _LOCK:
        if not _ready:
            _import_arraymath_without_blas()
            _import_cffi_typing_without_cffi()
            for function in _INLINE:
                globals()[function.__name__] = numba.njit(inline="always")(function)
            globals()["_prefetch"] = _prefetch_intrinsic()
            _ready = True
    return numba


def _prefetch(array: np.ndarray, index: int) -> None:  # pragma: no cover - replaced when numba loads
    """Ask the CPU to start loading ``array[index]`` into its caches, without waiting for it: a hint,
    which changes no result. Compiled kernels get :func:`_prefetch_intrinsic` in its place; run as
    plain Python there is nothing to ask for."""
    del array, index


def _prefetch_intrinsic() -> Any:
    """:func:`_prefetch` for compiled code: LLVM's ``llvm.prefetch`` (read, low temporal locality,
    data cache) of the element's address; no bounds check, and a prefetch never faults."""
    from llvmlite import ir
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    @intrinsic
    def prefetch(typingctx: Any, array: Any, index: Any) -> Any:
        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            array_type = signature.args[0]
            view = context.make_array(array_type)(context, builder, args[0])
            address = cgutils.get_item_pointer(
                context, builder, array_type, view, [args[1]], wraparound=False, boundscheck=False
            )
            byte_ptr, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
            # void @llvm.prefetch(ptr address, i32 rw, i32 locality, i32 cache type); LLVMs with
            # opaque pointers read the typed name p0i8 as p0.
            signature_ = ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32])
            function = cgutils.get_or_insert_function(builder.module, signature_, "llvm.prefetch.p0i8")
            builder.call(function, [builder.bitcast(address, byte_ptr), i32(0), i32(1), i32(1)])
            return context.get_dummy_value()

        return types.void(array, index), codegen

    return prefetch


def _import_arraymath_without_blas() -> None:
    """Import ``numba.np.arraymath`` without letting it import ``scipy.linalg`` (~0.5 s of CPU).

    Loading the first kernel, cached or not, makes numba import its numpy implementations
    (``CPUContext.load_additional_registries``). One of them, ``numba.np.arraymath``, sets
    ``_HAVE_BLAS`` at import by calling ``numba.np.linalg.ensure_blas()``, which imports
    ``scipy.linalg.cython_blas`` only to learn whether a BLAS exists. That flag decides one thing:
    whether ``np.correlate``/``np.convolve`` of float arrays compiled later use ``np.dot`` or a plain
    loop. The kernels here use neither (nor any BLAS or LAPACK function).

    So, while arraymath is imported, ``ensure_blas`` says "no BLAS"; then it is restored, in both
    modules. Everything else is untouched: ``np.dot`` and ``np.linalg`` in code jitted later call the
    real ``ensure_blas`` (and its LP64/ILP64 check) when they are compiled, as always. The one trace
    left is ``_HAVE_BLAS`` False in this process, so float ``np.correlate``/``np.convolve`` compiled by
    other code in the same process take numba's plain loop (the same sums, possibly rounded
    differently). Numba's compiler lock is held throughout, so no other thread compiles meanwhile.
    Nothing is done when arraymath or scipy.linalg is already imported (then the check costs nothing).
    """
    if "numba.np.arraymath" in sys.modules or "scipy.linalg" in sys.modules:
        return
    from numba.core.compiler_lock import global_compiler_lock
    from numba.np import linalg

    def no_blas() -> None:
        raise ImportError("auditor's kernels use no BLAS (see auditor.kernels)")

    with global_compiler_lock:
        real = linalg.ensure_blas
        linalg.ensure_blas = no_blas
        try:
            from numba.np import arraymath
        finally:
            linalg.ensure_blas = real
        if getattr(arraymath, "ensure_blas", None) is no_blas:
            arraymath.ensure_blas = real


def _import_cffi_typing_without_cffi() -> None:
    """Import ``numba.core.typing.cffi_utils`` as if cffi were not installed (~0.1 s of CPU saved).

    Loading the first kernel makes numba's typing context import its typing registries
    (``Context.load_additional_registries``). One of them, ``cffi_utils``, imports cffi and makes a
    ``cffi.FFI()``, which imports cffi's C parser, pycparser, whose lexer and parser compile dozens
    of regular expressions: about a quarter of the first kernel's cost. All that serves one thing:
    typing cffi functions and ``ffi`` objects passed to jitted code. The kernels here take arrays and
    numbers only.

    So, while cffi_utils is imported, ``cffi`` reads as missing (a ``None`` in ``sys.modules``, the
    documented way to make an import fail); then it is importable again, for anything else. The
    trace left is ``cffi_utils.SUPPORTED`` False in this process: code jitted later in the same process
    cannot take cffi functions as arguments (numba then reports them as untyped values). Numba's
    compiler lock is held throughout, so no other thread compiles meanwhile. Nothing is done when
    cffi or cffi_utils is already imported.
    """
    if "numba.core.typing.cffi_utils" in sys.modules or "cffi" in sys.modules:
        return
    from numba.core.compiler_lock import global_compiler_lock

    with global_compiler_lock:
        sys.modules["cffi"] = None  # type: ignore[assignment]
        try:
            import numba.core.typing.cffi_utils  # noqa: F401
        finally:
            if sys.modules.get("cffi", ...) is None:
                del sys.modules["cffi"]


_MAX = np.uint64(0xFFFFFFFFFFFFFFFF)
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_ZERO = np.uint64(0)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@_inline
def _fmix64(h: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    """MurmurHash3's 64-bit finaliser (fingerprint.fmix64), inlined where it is used."""
    h ^= h >> _S33
    h *= _M1
    h ^= h >> _S33
    h *= _M2
    h ^= h >> _S33
    return h


@_inline
def _min_into(row: np.ndarray, h: np.uint64, a: np.ndarray, b: np.ndarray) -> None:  # pragma: no cover
    """Fold one hashed shingle into a MinHash row: each permutation ``a * h + b`` keeps its minimum."""
    for p in range(a.shape[0]):
        v = a[p] * h + b[p]
        if v < row[p]:
            row[p] = v


@_kernel("void(uint64[::1], int64[::1], uint64[::1], uint64[::1], uint64[:, ::1])")
def block_minhashes(
    values: np.ndarray, bounds: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover - compiled; tested against fingerprint.block_minhashes_numpy
    """Fill ``out[j]`` (shape blocks x num_perm) with the MinHash of ``values[bounds[j]:bounds[j+1]]``.

    Values equal to 0 are masked (left out); a block with none left is all ``2^64 - 1``.
    """
    perms = a.shape[0]
    for j in range(bounds.shape[0] - 1):
        row = out[j]
        for p in range(perms):
            row[p] = _MAX
        for i in range(bounds[j], bounds[j + 1]):
            h = values[i]
            if h == _ZERO:
                continue
            _min_into(row, _fmix64(h), a, b)


@_kernel("int64(int64[::1], int64[::1], int64, int64, int64[::1])")
def chain_pairs(
    rec: np.ndarray, work: np.ndarray, max_gap: int, max_jump: int, chain_of: np.ndarray
) -> int:  # pragma: no cover - compiled; tested against match._chain_reference
    """Chain matched shingle pairs (sorted by record position, then work position) greedily.

    Each pair joins the active chain (last pair at most ``max_gap`` record positions back) whose last
    pair is at most ``max_jump`` work positions away and whose step best keeps the diagonal, the
    earliest such chain on ties; else it starts a chain. Fills ``chain_of`` and returns the chain count.
    """
    n = rec.shape[0]
    rec_last = np.empty(n, dtype=np.int64)
    work_last = np.empty(n, dtype=np.int64)
    active = np.empty(n, dtype=np.int64)
    n_active = 0
    n_chains = 0
    for k in range(n):
        i = rec[k]
        j = work[k]
        best = -1
        best_cost = 0
        kept = 0
        for a in range(n_active):
            c = active[a]
            if i - rec_last[c] > max_gap:
                continue
            active[kept] = c
            kept += 1
            step = j - work_last[c]
            if abs(step) > max_jump:
                continue
            cost = abs(step - (i - rec_last[c]))
            if best == -1 or cost < best_cost:
                best = c
                best_cost = cost
        n_active = kept
        if best == -1:
            best = n_chains
            n_chains += 1
            active[n_active] = best
            n_active += 1
        rec_last[best] = i
        work_last[best] = j
        chain_of[k] = best
    return n_chains


@_inline
def _table_bits(n: int) -> int:  # pragma: no cover - compiled
    """Bits of an open-addressing table for ``n`` values: at least twice as many slots, 16 or more."""
    bits = 4
    while (1 << bits) < 2 * n:
        bits += 1
    return bits


@_inline
def _slot(slots: np.ndarray, v: np.uint64, shift: np.uint64, mask: int) -> np.int64:  # pragma: no cover
    """The slot of ``v`` in an open-addressing table (0 marks an empty slot): where it is, or the empty
    slot where it goes (linear probing from its multiplicative hash)."""
    h = np.int64((v * _GOLDEN) >> shift)
    while slots[h] != _ZERO and slots[h] != v:
        h = (h + 1) & mask
    return h


@_kernel(f"int64(uint64[::1], int64[::1], {_RO_U64}, int64, int64)")
def shared_positions(
    values: np.ndarray, bounds: np.ndarray, work: np.ndarray, max_occurrences: int, enough: int
) -> int:  # pragma: no cover - compiled; tested against match._shared_positions_reference
    """How many record positions in the disjoint ranges ``[bounds[2i], bounds[2i+1])`` of ``values``
    hold an unmasked shingle found 1 to ``max_occurrences`` times in ``work``; counting stops at
    ``enough``.

    The work's shingles are counted in an open-addressing hash table (0, the masked value, marks an
    empty slot): on a few hundred values, with many equal masked ones, that is several times faster
    than sorting them.
    """
    bits = _table_bits(work.shape[0])
    mask = (1 << bits) - 1
    shift = np.uint64(64 - bits)
    slots = np.zeros(1 << bits, dtype=np.uint64)
    counts = np.zeros(1 << bits, dtype=np.int64)
    for i in range(work.shape[0]):
        v = work[i]
        if v == _ZERO:
            continue
        h = _slot(slots, v, shift, mask)
        slots[h] = v
        counts[h] += 1
    found = 0
    for i in range(0, bounds.shape[0] - 1, 2):
        for p in range(bounds[i], bounds[i + 1]):
            v = values[p]
            if v == _ZERO:
                continue
            h = _slot(slots, v, shift, mask)
            if slots[h] == v and counts[h] <= max_occurrences:
                found += 1
                if found >= enough:
                    return found
    return found


@_kernel(f"Tuple((int64[::1], int64[::1]))(uint64[::1], int64[::1], {_RO_U64}, int64[::1], int64)")
def shingle_pairs(
    values: np.ndarray, bounds: np.ndarray, work: np.ndarray, work_bounds: np.ndarray, max_occurrences: int
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled; tested against match._pairs
    """Every (record position, work position) with the same unmasked shingle, for shingles found 1 to
    ``max_occurrences`` times in ``work``: record positions in the disjoint ranges
    ``[bounds[2i], bounds[2i+1])`` of ``values``; ``work`` holds the work's shingles at the positions
    of its ranges ``work_bounds``, concatenated. Sorted by record position, then work position.

    The work's shingles go into the hash table of :func:`shared_positions`, each slot with the list of
    its positions in order (``head``/``following``), so each record position finds its pairs at once.
    """
    n = work.shape[0]
    position = np.empty(n, dtype=np.int64)
    k = 0
    for i in range(0, work_bounds.shape[0] - 1, 2):
        for p in range(work_bounds[i], work_bounds[i + 1]):
            position[k] = p
            k += 1
    bits = _table_bits(n)
    mask = (1 << bits) - 1
    shift = np.uint64(64 - bits)
    slots = np.zeros(1 << bits, dtype=np.uint64)
    counts = np.zeros(1 << bits, dtype=np.int64)
    head = np.empty(1 << bits, dtype=np.int64)
    tail = np.empty(1 << bits, dtype=np.int64)
    following = np.empty(n, dtype=np.int64)
    for i in range(n):
        v = work[i]
        if v == _ZERO:
            continue
        h = _slot(slots, v, shift, mask)
        if slots[h] == _ZERO:
            slots[h] = v
            head[h] = i
        else:
            following[tail[h]] = i
        tail[h] = i
        counts[h] += 1
    # Each record position's slot, or -1: counted first, so the pairs fill arrays of the right size.
    slot_of = np.full(values.shape[0], -1, dtype=np.int64)
    total = 0
    for i in range(0, bounds.shape[0] - 1, 2):
        for p in range(bounds[i], bounds[i + 1]):
            v = values[p]
            if v == _ZERO:
                continue
            h = _slot(slots, v, shift, mask)
            if slots[h] == v and counts[h] <= max_occurrences:
                slot_of[p] = h
                total += counts[h]
    rec_out = np.empty(total, dtype=np.int64)
    work_out = np.empty(total, dtype=np.int64)
    out = 0
    for i in range(0, bounds.shape[0] - 1, 2):
        for p in range(bounds[i], bounds[i + 1]):
            h = slot_of[p]
            if h < 0:
                continue
            j = head[h]
            for _ in range(counts[h]):
                rec_out[out] = p
                work_out[out] = position[j]
                out += 1
                j = following[j]
    return rec_out, work_out


_AHEAD = 16
"""How many look-ups :func:`key_ranges` keeps in flight: each waits on two reads from main memory."""


@_kernel()
def key_ranges(
    keys: np.ndarray,
    buckets: np.ndarray,
    shift: np.uint64,
    queries: np.ndarray,
    first: np.ndarray,
    count: np.ndarray,
) -> None:  # pragma: no cover - compiled; tested against keyindex.KeyIndex.ranges_numpy
    """For each query, the position of the first equal key in the sorted ``keys`` and how many there
    are (``count`` 0 when absent); ``buckets`` is the radix table of :mod:`auditor.keyindex`.

    A look-up reads its bucket, then the keys the bucket points to: two reads far apart in a table of
    hundreds of MB, each a cache miss, the second waiting on the first. So look-ups run as a pipeline
    (twice as fast, measured): the bucket of the query ``2 * _AHEAD`` ahead is prefetched, the bounds
    of the query ``_AHEAD`` ahead are read (its bucket has arrived by then) and its first key
    prefetched, and the current query walks keys already on their way. ``first`` and ``count`` hold a
    query's bucket bounds until its turn.
    """
    n = keys.shape[0]
    m = queries.shape[0]
    for q in range(min(2 * _AHEAD, m)):
        _prefetch(buckets, queries[q] >> shift)
    for q in range(min(_AHEAD, m)):
        b = queries[q] >> shift
        first[q] = buckets[b]
        count[q] = buckets[b + 1]
    for q in range(m):
        ahead = q + 2 * _AHEAD
        if ahead < m:
            _prefetch(buckets, queries[ahead] >> shift)
        ahead = q + _AHEAD
        if ahead < m:
            b = queries[ahead] >> shift
            first[ahead] = buckets[b]
            count[ahead] = buckets[b + 1]
            if first[ahead] < n:
                _prefetch(keys, first[ahead])
        value = queries[q]
        pos = first[q]
        end = count[q]
        while pos < end and keys[pos] < value:
            pos += 1
        found = 0
        while pos + found < n and keys[pos + found] == value:
            found += 1
        first[q] = pos
        count[q] = found


_POLY = np.uint64(0xD6E8FEB86659FD93)
_LEN_MUL = np.uint64(0x9FB21C651E98DF25)
_ONE = np.uint64(1)
_R, _N, _V, _M, _W = (np.uint8(ord(c)) for c in "rnvmw")


_HYPHEN, _SPACE, _TAB, _CR, _LF = (np.uint8(ord(c)) for c in "- \t\r\n")


@_inline
def _code_point(raw: np.ndarray, b: int) -> tuple[np.int64, int]:  # pragma: no cover - compiled
    """The code point whose UTF-8 sequence starts at byte ``b`` (a lead byte) and its length in
    bytes; -1 for a 4-byte sequence (outside the BMP)."""
    lead = np.int64(raw[b])
    if lead < 0x80:
        return lead, 1
    if lead < 0xE0:
        return ((lead & 0x1F) << 6) | (np.int64(raw[b + 1]) & 0x3F), 2
    if lead < 0xF0:
        return ((lead & 0x0F) << 12) | ((np.int64(raw[b + 1]) & 0x3F) << 6) | (np.int64(raw[b + 2]) & 0x3F), 3
    return np.int64(-1), 4


@_kernel(f"void({_BYTES}, {_RO_I64}, {_BYTES}, {_BYTES}, int64[::1], int64[::1], uint64[::1], int64[::1])")
def text_tokens(
    raw: np.ndarray,
    bounds: np.ndarray,
    fold: np.ndarray,
    separates: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    hashes: np.ndarray,
    counts: np.ndarray,
) -> None:  # pragma: no cover - compiled; tested against normalize._tokenize_reference
    """Token starts, ends and hashes of each of many texts whose non-ASCII characters all separate tokens.

    Many texts in one call, written into arrays the caller provides (and may reuse): a call's
    overhead (~5 us: argument checks, allocating and boxing result arrays) is a fifth of a typical
    record's own work, and fresh result arrays sized for the worst case would fault in new pages.

    Args:
        raw: the texts in UTF-8 (lone surrogates as their 3-byte sequences), one after another.
        bounds: text ``t`` is ``raw[bounds[t]:bounds[t + 1]]``.
        fold: ``fold[b]`` is the normal form of ASCII character ``b``, 0 for a character of no token
            and for every byte from 0x80 (256 entries).
        separates: 1 for each BMP character of no token.
        starts, ends, hashes: receive the tokens of all texts, text after text; room for
            ``len(raw) // 2 + len(counts)`` tokens is always enough.
        counts: receives each text's number of tokens, or -1 for a text holding a non-ASCII
            character that is not known to separate tokens (the caller takes the general path for
            it; it has no tokens in the outputs).

    Offsets are in code points from the start of each text. Within a run of word characters the OCR
    digraphs ``rn`` and ``vv`` fold to ``m`` and ``w`` (left to right, as ``str.replace`` does; the
    two share no character, so one pass does both). A run that ends with a hyphen (``-`` or U+2010),
    spaces or tabs, a line break (``\r?\n``) and more spaces or tabs before a word character
    continues there (a word hyphenated across a line break; no digraph spans the join). A token's
    hash is normalize.token_hash of its folded characters: ``fmix64(sum(c_j * P**j) + len * L)``,
    all mod 2^64.
    """
    total = 0
    for t in range(counts.shape[0]):
        found = _one_text_tokens(raw, bounds[t], bounds[t + 1], fold, separates, starts, ends, hashes, total)
        counts[t] = found
        if found > 0:
            total += found


@_inline
def _one_text_tokens(
    raw: np.ndarray,
    lo: int,
    n: int,
    fold: np.ndarray,
    separates: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    hashes: np.ndarray,
    first: int,
) -> int:  # pragma: no cover - compiled
    """:func:`text_tokens` of the one text ``raw[lo:n]``, written from index ``first``: its number of
    tokens, or -1."""
    count = first
    b = lo  # byte offset
    shift = -lo  # code points minus bytes from lo to b (0 or less)
    while b < n:
        if raw[b] >= 0x80:
            cp, size = _code_point(raw, b)
            if cp < 0 or separates[cp] == 0:
                return -1
            b += size
            shift -= size - 1
            continue
        c = fold[raw[b]]
        if c == 0:
            b += 1
            continue
        start = b + shift
        acc = _ZERO
        power = _ONE
        length = 0
        while True:
            # A run of word characters (ASCII) from b, whose fold is c (not 0).
            while True:
                nxt = fold[raw[b + 1]] if b + 1 < n else np.uint8(0)
                if c == _R and nxt == _N:
                    v = _M
                    b += 2
                    c = fold[raw[b]] if b < n else np.uint8(0)
                elif c == _V and nxt == _V:
                    v = _W
                    b += 2
                    c = fold[raw[b]] if b < n else np.uint8(0)
                else:
                    v = c
                    b += 1
                    c = nxt
                acc += np.uint64(v) * power
                power *= _POLY
                length += 1
                if c == 0:
                    break
            end = b + shift
            # A hyphen, then [ \t]*\r?\n[ \t]* and a word character: the word goes on there.
            p = -1
            if b < n and raw[b] == _HYPHEN:
                p = b + 1
            elif b + 2 < n and raw[b] == 0xE2 and raw[b + 1] == 0x80 and raw[b + 2] == 0x90:  # U+2010
                p = b + 3
            if p > 0:
                while p < n and (raw[p] == _SPACE or raw[p] == _TAB):
                    p += 1
                if p < n and raw[p] == _CR:
                    p += 1
                if p < n and raw[p] == _LF:
                    p += 1
                    while p < n and (raw[p] == _SPACE or raw[p] == _TAB):
                        p += 1
                    if p < n and fold[raw[p]] != 0:
                        if raw[b] != _HYPHEN:
                            shift -= 2
                        b = p
                        c = fold[raw[b]]
                        continue
            break
        h = acc + np.uint64(length) * _LEN_MUL
        h = _fmix64(h)
        starts[count] = start
        ends[count] = end
        hashes[count] = h
        count += 1
    return count - first


@_kernel(f"void({_RO_U64}, {_RO_I64}, {_RO_I64}, int64, uint64[::1])")
def shingle_hashes(
    tokens: np.ndarray, first: np.ndarray, offsets: np.ndarray, k: int, out: np.ndarray
) -> None:  # pragma: no cover - compiled; tested against fingerprint.shingles_numpy
    """The shingles of many texts (fingerprint.shingles): text t's tokens start at ``tokens[first[t]]``,
    and ``out[offsets[t] + i]`` gets the hash of its tokens ``i .. i + k - 1``, for every i below
    ``offsets[t + 1] - offsets[t]`` (its token count less ``k - 1``).

    Block by block, one token position of all the block's shingles at a time: the inner loops run
    over independent shingles, which the compiler vectorises.
    """
    for t in range(first.shape[0]):
        end = offsets[t + 1]
        shift = first[t] - offsets[t]  # shingle i of the text starts at token i + shift
        for lo in range(offsets[t], end, 1024):
            hi = min(lo + 1024, end)
            for i in range(lo, hi):
                h = tokens[i + shift]
                h = _fmix64(h)
                out[i] = h
            for j in range(1, k):
                for i in range(lo, hi):
                    h = out[i] * _GOLDEN + tokens[i + shift + j]
                    h = _fmix64(h)
                    out[i] = h
            for i in range(lo, hi):
                if out[i] == _ZERO:
                    out[i] = _ONE


@_kernel(f"int64({_RO_U64}, {_RO_I64}, int64, {_RO_U64}, {_RO_U64}, uint64[:, ::1], int64[::1], int64[::1])")
def window_minhashes(
    values: np.ndarray,
    offsets: np.ndarray,
    stride: int,
    a: np.ndarray,
    b: np.ndarray,
    sigs: np.ndarray,
    text: np.ndarray,
    starts: np.ndarray,
) -> (
    int
):  # pragma: no cover - compiled; tested against fingerprint.Fingerprinter.window_signatures_many_numpy
    """MinHash signatures of the half-overlapping windows of many texts, in one pass.

    Text t's shingles are ``values[offsets[t]:offsets[t+1]]``, cut into blocks of ``stride``; window
    j of a text is blocks j and j+1 (a text of one block has one window, the block), its MinHash the
    element-wise minimum of theirs (see :func:`block_minhashes`). Windows whose first value is
    ``2^64 - 1`` (no unmasked shingle) are dropped; the others fill ``sigs``, ``text`` (the text's
    index) and ``starts`` (the window's first shingle in its text) from row 0, which must have room
    for every block. Returns the number of windows written.
    """
    perms = a.shape[0]
    prev = np.empty(perms, dtype=np.uint64)
    cur = np.empty(perms, dtype=np.uint64)
    written = 0
    for t in range(offsets.shape[0] - 1):
        lo = offsets[t]
        hi = offsets[t + 1]
        blocks = (hi - lo + stride - 1) // stride
        for j in range(blocks):
            for p in range(perms):
                cur[p] = _MAX
            for i in range(lo + j * stride, min(lo + (j + 1) * stride, hi)):
                h = values[i]
                if h == _ZERO:
                    continue
                _min_into(cur, _fmix64(h), a, b)
            if blocks > 1 and j == 0:
                prev, cur = cur, prev
                continue
            if blocks == 1:
                for p in range(perms):
                    sigs[written, p] = cur[p]
            else:
                for p in range(perms):
                    sigs[written, p] = min(prev[p], cur[p])
                prev, cur = cur, prev
            if sigs[written, 0] != _MAX:
                text[written] = t
                starts[written] = max(j - 1, 0) * stride
                written += 1
    return written


@_kernel(f"void({_RO_U64_2D}, {_RO_U64}, int64, uint64[:, ::1])")
def band_keys(
    sigs: np.ndarray, salt: np.ndarray, rows: int, out: np.ndarray
) -> None:  # pragma: no cover - compiled; tested against fingerprint.Fingerprinter.band_keys_numpy
    """``out[w, j]`` = the LSH key of band j of signature w: starting from ``salt[j]``, for each of
    the band's ``rows`` values r, ``key = fmix64(key * G + r)`` (G the golden-ratio constant)."""
    for w in range(sigs.shape[0]):
        for j in range(salt.shape[0]):
            key = salt[j]
            for r in range(rows):
                key = key * _GOLDEN + sigs[w, j * rows + r]
                key ^= key >> _S33
                key *= _M1
                key ^= key >> _S33
                key *= _M2
                key ^= key >> _S33
            out[w, j] = key


@_inline
def _log2(size: int) -> int:  # pragma: no cover - compiled
    bits = 0
    while (1 << bits) < size:
        bits += 1
    return bits


@_kernel(f"void({_RO_U64}, uint64[::1], int64[::1], uint64[::1])")
def hash_table(
    keys: np.ndarray, slots: np.ndarray, index: np.ndarray, seen: np.ndarray
) -> None:  # pragma: no cover - compiled; tested through keyindex.KeySet
    """Fill an open-addressing table of distinct non-zero ``keys``: ``slots`` (a power of two of
    them, zeros, at least twice as many as keys) hold the keys, ``index`` their positions in
    ``keys``; ``seen`` (a power of two of 64-bit words, zeros) gets a bit set per key, a filter
    small enough for the L2 cache that answers most absent values alone (see :func:`_find`)."""
    mask = slots.shape[0] - 1
    shift = np.uint64(64 - _log2(slots.shape[0]))
    seen_shift = np.uint64(64 - _log2(seen.shape[0] * 64))
    for k in range(keys.shape[0]):
        mixed = keys[k] * _GOLDEN
        bit = np.int64(mixed >> seen_shift)
        seen[bit >> 6] |= np.uint64(1) << np.uint64(bit & 63)
        h = np.int64(mixed >> shift)
        while slots[h] != _ZERO:
            h = (h + 1) & mask
        slots[h] = keys[k]
        index[h] = k


@_inline
def _find(
    slots: np.ndarray,
    index: np.ndarray,
    seen: np.ndarray,
    shift: np.uint64,
    seen_shift: np.uint64,
    mask: int,
    value: np.uint64,
) -> int:  # pragma: no cover - compiled
    """The position in the keys of ``value`` (a :func:`hash_table`), or -1."""
    mixed = value * _GOLDEN
    bit = np.int64(mixed >> seen_shift)
    if (seen[bit >> 6] >> np.uint64(bit & 63)) & np.uint64(1) == _ZERO or value == _ZERO:
        return -1
    h = np.int64(mixed >> shift)
    while True:
        slot = slots[h]
        if slot == value:
            return index[h]
        if slot == _ZERO:
            return -1
        h = (h + 1) & mask


@_kernel(f"void({_RO_U64}, uint64[::1], int64[::1], uint64[::1], uint64[::1])")
def mask_members(
    values: np.ndarray, slots: np.ndarray, index: np.ndarray, seen: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover - compiled; tested through keyindex.KeySet
    """``out[i]`` = 0 where ``values[i]`` is a key of the :func:`hash_table`, else ``values[i]``
    (``out`` may be ``values``)."""
    mask = slots.shape[0] - 1
    shift = np.uint64(64 - _log2(slots.shape[0]))
    seen_shift = np.uint64(64 - _log2(seen.shape[0] * 64))
    for i in range(values.shape[0]):
        v = values[i]
        out[i] = _ZERO if _find(slots, index, seen, shift, seen_shift, mask, v) >= 0 else v


@_kernel(f"void({_RO_U64}, int64, uint64[::1], int64[::1], uint64[::1], int64[::1], int64[::1])")
def count_groups(
    values: np.ndarray,
    group: int,
    slots: np.ndarray,
    index: np.ndarray,
    seen: np.ndarray,
    last_group: np.ndarray,
    groups: np.ndarray,
) -> None:  # pragma: no cover - compiled; tested through registry._shared_shingles_numpy
    """Count, per key of a :func:`hash_table`, the distinct groups whose values hold it: for each
    value found, ``groups[key] += 1`` unless ``last_group[key]`` is already ``group`` (so call it for
    the texts of one group after another)."""
    mask = slots.shape[0] - 1
    shift = np.uint64(64 - _log2(slots.shape[0]))
    seen_shift = np.uint64(64 - _log2(seen.shape[0] * 64))
    for i in range(values.shape[0]):
        k = _find(slots, index, seen, shift, seen_shift, mask, values[i])
        if k >= 0 and last_group[k] != group:
            last_group[k] = group
            groups[k] += 1


@_kernel(f"void({_RO_U64}, int64, int64[::1])")
def top_bits_histogram(
    values: np.ndarray, shift: int, counts: np.ndarray
) -> None:  # pragma: no cover - compiled
    """``counts[v >> shift] += 1`` for each value."""
    s = np.uint64(shift)
    for i in range(values.shape[0]):
        counts[np.int64(values[i] >> s)] += 1


@_kernel(f"void({_RO_U64}, int64, int64, int64, int64[::1], uint64[::1])")
def scatter_by_top_bits(
    values: np.ndarray, shift: int, lo: int, hi: int, cursor: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover - compiled; tested through registry._shared_shingles
    """A radix partition of the values whose bucket ``v >> shift`` is in ``[lo, hi)``: each goes to
    ``out[cursor[bucket]]``, and that cursor advances."""
    s = np.uint64(shift)
    for i in range(values.shape[0]):
        v = values[i]
        b = np.int64(v >> s)
        if lo <= b < hi:
            out[cursor[b]] = v
            cursor[b] += 1


@_kernel("int64(uint64[::1], int64, uint64[::1])")
def frequent_values(
    sorted_values: np.ndarray, threshold: int, out: np.ndarray
) -> int:  # pragma: no cover - compiled; tested against np.unique(return_counts=True)
    """The distinct values of a sorted array that occur at least ``threshold`` times, in order, into
    ``out``; returns how many."""
    n = sorted_values.shape[0]
    found = 0
    i = 0
    while i < n:
        j = i + 1
        while j < n and sorted_values[j] == sorted_values[i]:
            j += 1
        if j - i >= threshold:
            out[found] = sorted_values[i]
            found += 1
        i = j
    return found


@_kernel("void(uint64[::1], int64, int64)")
def mask_fills(
    values: np.ndarray, max_fill: int, min_flank: int
) -> None:  # pragma: no cover - compiled; tested against fingerprint.mask_template_fills_numpy
    """In place: mask (0) every run of unmasked values shorter than ``max_fill`` that is neither the
    first nor the last run and lies between two masked runs of at least ``min_flank`` values each
    (runs as they were before any of this masking)."""
    n = values.shape[0]
    prev_len = 0  # length of the run before the current one (0: none)
    pending_start = -1  # an unmasked inner run short enough, waiting for the masked run after it
    pending_len = 0
    pending_flank = 0
    i = 0
    while i < n:
        masked = values[i] == _ZERO
        j = i + 1
        while j < n and (values[j] == _ZERO) == masked:
            j += 1
        length = j - i
        if masked:
            if pending_start >= 0 and pending_flank >= min_flank and length >= min_flank:
                for p in range(pending_start, pending_start + pending_len):
                    values[p] = _ZERO
            pending_start = -1
        elif prev_len > 0 and length < max_fill:
            # runs alternate: the run before this unmasked one is masked
            pending_start = i
            pending_len = length
            pending_flank = prev_len
        prev_len = length
        i = j


@_kernel(f"void({_RO_U64}, int64, int64, int64, int64, int64[::1], uint64[::1], uint64[::1])")
def radix_scatter(
    keys: np.ndarray,
    shift: int,
    bits: int,
    lo: int,
    hi: int,
    cursor: np.ndarray,
    out_keys: np.ndarray,
    out_packed: np.ndarray,
) -> None:  # pragma: no cover - compiled; tested through keyindex.sort_keys
    """A stable radix partition of the keys whose bucket ``key >> shift`` is in ``[lo, hi)``: each
    such key goes to ``out_keys[cursor[bucket]]``, and the key with its low ``bits`` bits replaced by
    its index to ``out_packed`` there; the cursor advances."""
    s = np.uint64(shift)
    b = np.uint64(bits)
    for i in range(keys.shape[0]):
        k = keys[i]
        bucket = np.int64(k >> s)
        if lo <= bucket < hi:
            p = cursor[bucket]
            out_keys[p] = k
            out_packed[p] = ((k >> b) << b) | np.uint64(i)
            cursor[bucket] = p + 1


@_inline
def _row(index: np.uint64, per_row: int, shift: int) -> np.uint32:  # pragma: no cover - compiled
    if shift >= 0:
        return np.uint32(index >> np.uint64(shift))
    return np.uint32(index // np.uint64(per_row))


@_kernel(f"void(uint64[::1], int64, uint64[::1], {_RO_U64}, int64, uint32[::1])")
def packed_rows(
    packed: np.ndarray,
    bits: int,
    sorted_keys: np.ndarray,
    keys: np.ndarray,
    per_row: int,
    out_rows: np.ndarray,
) -> None:  # pragma: no cover - compiled; tested through keyindex.sort_keys
    """From sorted packed keys (high bits, then the index in the low ``bits``) and the same keys
    sorted: ``index // per_row`` of each in (key, index) order.

    A run of equal high bits holds the keys of the same run of ``sorted_keys``; where those differ
    (in the low bits only: rare and tiny for hashed keys) the run is put in (key, index) order by
    their full values, looked up in ``keys``; equal keys are already in index order.
    """
    b = np.uint64(bits)
    low = (np.uint64(1) << b) - np.uint64(1)
    shift = -1
    if per_row > 0 and per_row & (per_row - 1) == 0:
        shift = 0
        while (1 << shift) < per_row:
            shift += 1
    n = packed.shape[0]
    for x in range(n):
        out_rows[x] = _row(packed[x] & low, per_row, shift)
    x = 1
    while x < n:
        if sorted_keys[x] != sorted_keys[x - 1] and (packed[x] >> b) == (packed[x - 1] >> b):
            high = packed[x] >> b
            i = x - 1
            while i > 0 and (packed[i - 1] >> b) == high:
                i -= 1
            j = x + 1
            while j < n and (packed[j] >> b) == high:
                j += 1
            # indices ascend within the run; a stable sort by the full key gives (key, index) order
            run = np.empty(j - i, dtype=np.uint64)
            index = np.empty(j - i, dtype=np.uint64)
            for y in range(i, j):
                index[y - i] = packed[y] & low
                run[y - i] = keys[np.int64(index[y - i])]
            order = np.argsort(run, kind="mergesort")
            for y in range(i, j):
                packed[y] = (high << b) | index[order[y - i]]
                out_rows[y] = _row(index[order[y - i]], per_row, shift)
            x = j
        else:
            x += 1


@_kernel(f"void({_RO_U64}, int64, int64[::1])")
def bucket_starts(
    sorted_keys: np.ndarray, bits: int, out: np.ndarray
) -> None:  # pragma: no cover - compiled; tested against keyindex.bucket_table_numpy
    """``out[b]`` = the position of the first key whose top ``bits`` bits are at least b, for b in
    0 .. 2^bits (``out`` has 2^bits + 1 entries)."""
    shift = np.uint64(64 - bits)
    n = sorted_keys.shape[0]
    b = 0
    for i in range(n):
        top = np.int64(sorted_keys[i] >> shift)
        while b <= top:
            out[b] = i
            b += 1
    while b < out.shape[0]:
        out[b] = n
        b += 1


# The kernels a scan runs; the others build registries.
_SCAN = (
    "text_tokens",
    "shingle_hashes",
    "window_minhashes",
    "band_keys",
    "bucket_starts",
    "shared_positions",
    "shingle_pairs",
    "chain_pairs",
)


def warm_up() -> None:
    """Load the kernels a scan runs (from numba's cache, or compile them) now, e.g. before worker
    processes fork, so that they inherit them instead of each loading them; the others load on first use."""
    for name in _SCAN:
        _KERNELS[name].load()
    # key_ranges is loaded per argument types (~15 ms each). A scan looks band keys up in a registry's
    # memory-mapped (read-only) keys and int32 bucket table, so that variant loads here; the others
    # (keys or buckets built in memory, int64 buckets beyond 2^31 keys) load where they are first met.
    keys = _read_only(np.zeros(1, dtype=np.uint64))
    buckets = _read_only(np.zeros(2, dtype=np.int32))
    pairs = np.zeros(1, dtype=np.int64)
    key_ranges(keys, buckets, np.uint64(63), np.zeros(1, dtype=np.uint64), pairs, pairs.copy())


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


# ---------------------------------------------------------------------------------------------------
# Build kernels added for the registry build's direct writes into its tables (auditor.registry).
# Kept apart from the kernels above, which the scan shares.
# ---------------------------------------------------------------------------------------------------


@_kernel(f"int64({_RO_U64}, int64, uint64, uint64)")
def window_count(
    values: np.ndarray, stride: int, a0: np.uint64, b0: np.uint64
) -> int:  # pragma: no cover - compiled; tested against window_minhashes
    """The number of windows :func:`window_minhashes` keeps of one text: its rule (a window is
    dropped when its first value is ``2^64 - 1``) needs the first permutation ``a0``, ``b0`` alone."""
    n = values.shape[0]
    blocks = (n + stride - 1) // stride
    prev = _MAX
    kept = 0
    for j in range(blocks):
        cur = _MAX
        for i in range(j * stride, min((j + 1) * stride, n)):
            h = values[i]
            if h == _ZERO:
                continue
            v = a0 * _fmix64(h) + b0
            if v < cur:
                cur = v
        if blocks > 1 and j == 0:
            prev = cur
            continue
        first = cur if blocks == 1 else min(prev, cur)
        prev = cur
        if first != _MAX:
            kept += 1
    return kept


@_kernel(f"int64({_RO_U64}, int64, {_RO_U64}, {_RO_U64}, uint64[:, ::1], int32[::1])")
def window_minhashes_into(
    values: np.ndarray, stride: int, a: np.ndarray, b: np.ndarray, sigs: np.ndarray, starts: np.ndarray
) -> int:  # pragma: no cover - compiled; tested against window_minhashes
    """:func:`window_minhashes` of one text, written to ``sigs`` and ``starts`` with exactly as many
    rows as it keeps (:func:`window_count`): a dropped window is never written, so a work's rows can
    be a slice of a table whose next rows another thread fills. Returns the number of windows written."""
    perms = a.shape[0]
    prev = np.empty(perms, dtype=np.uint64)
    cur = np.empty(perms, dtype=np.uint64)
    n = values.shape[0]
    blocks = (n + stride - 1) // stride
    written = 0
    for j in range(blocks):
        for p in range(perms):
            cur[p] = _MAX
        for i in range(j * stride, min((j + 1) * stride, n)):
            h = values[i]
            if h == _ZERO:
                continue
            _min_into(cur, _fmix64(h), a, b)
        if blocks > 1 and j == 0:
            prev, cur = cur, prev
            continue
        first = cur[0] if blocks == 1 else min(prev[0], cur[0])
        if first != _MAX:
            if written >= sigs.shape[0]:
                return -1
            if blocks == 1:
                for p in range(perms):
                    sigs[written, p] = cur[p]
            else:
                for p in range(perms):
                    sigs[written, p] = min(prev[p], cur[p])
            starts[written] = np.int32(max(j - 1, 0) * stride)
            written += 1
        if blocks > 1:
            prev, cur = cur, prev
    return written
