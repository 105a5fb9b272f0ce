"""One pass over a batch's bytes for many keywords at once: an Aho-Corasick automaton run by numba.

The automaton is a full DFA over byte classes: every byte that occurs in no keyword is class 0, and an
ASCII capital has the class of its small letter, so the text is searched as if ASCII-lower-cased without
being copied to lower case. States are numbered so that those where a keyword ends come last, and the
transition table holds each next state already multiplied by the number of classes: the inner loop is
one class look-up, one table look-up and one comparison per byte. A text is scanned from the start
state, so no keyword is found across two texts.

Imported on first use only (by :mod:`auditor.rules.keywords`), so commands that never evaluate rules do
not load numba. The compiled scan is cached on disk (``cache=True``), as :mod:`auditor.kernels` is.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from auditor.kernels import ready_numba

# numba readied as for auditor's kernels: a scan without registries, or `auditor rules test`, loads
# numba here first, and would otherwise import scipy.linalg and cffi (~0.6 s of CPU) on the way.
numba = ready_numba()
njit, types = numba.njit, numba.types

_BYTES = types.Array(types.uint8, 1, "C", readonly=True)
_SIGNATURES = [
    types.void(
        _BYTES,
        types.int64[::1],
        types.uint32[::1],
        table,
        types.int64,
        types.int64,
        types.uint64[:, ::1],
        types.uint64[:, ::1],
    )
    for table in (types.uint16[::1], types.uint32[::1])
]


@njit(_SIGNATURES, cache=True, nogil=True)
def scan_texts(
    data: np.ndarray,
    starts: np.ndarray,
    classes: np.ndarray,
    delta: np.ndarray,
    width: int,
    first_out: int,
    masks: np.ndarray,
    found: np.ndarray,
) -> None:  # pragma: no cover - compiled; tested against keywords.keywords_per_text_reference
    """OR into ``found[t]`` the keyword bits of every state reached in ``data[starts[t]:starts[t + 1]]``.

    ``delta[state + class]`` is the next state times ``width`` (the number of classes); states from
    ``first_out`` on end at least one keyword, ``masks[state // width - first_out // width]`` the bits.
    """
    words = masks.shape[1]
    limit = np.uint32(first_out)
    base = first_out // width
    for t in range(starts.shape[0] - 1):
        state = np.uint32(0)
        for i in range(starts[t], starts[t + 1]):
            state = np.uint32(delta[np.uint32(state + classes[data[i]])])
            if state >= limit:
                row = state // width - base
                for w in range(words):
                    found[t, w] |= masks[row, w]


@dataclass(frozen=True, slots=True)
class Automaton:
    """A compiled keyword set: see the module's description. ``patterns`` are the keywords' bytes in
    bit order (bit ``i`` of a text's mask is set when ``patterns[i]`` occurs in it)."""

    patterns: tuple[bytes, ...]
    classes: np.ndarray
    delta: np.ndarray
    width: int
    first_out: int
    masks: np.ndarray

    @classmethod
    def build(cls, patterns: Sequence[bytes]) -> Automaton:
        """The automaton of ``patterns``: non-empty, without ASCII capitals (the text is searched as if
        ASCII-lower-cased, where none are left)."""
        if any(not p or p != p.lower() for p in patterns):
            raise ValueError("patterns must be non-empty and without ASCII capitals")
        alphabet = sorted({b for p in patterns for b in p})
        classes = np.zeros(256, dtype=np.uint32)
        for index, byte in enumerate(alphabet, start=1):
            classes[byte] = index
        for byte in range(ord("A"), ord("Z") + 1):
            classes[byte] = classes[byte + 32]
        width = len(alphabet) + 1
        goto: list[dict[int, int]] = [{}]
        out = [0]
        for bit, pattern in enumerate(patterns):
            state = 0
            for byte in pattern:
                key = int(classes[byte])
                nxt = goto[state].get(key)
                if nxt is None:
                    nxt = goto[state][key] = len(goto)
                    goto.append({})
                    out.append(0)
                state = nxt
            out[state] |= 1 << bit
        count = len(goto)
        delta = [[0] * width for _ in range(count)]
        fail = [0] * count
        queue: deque[int] = deque()
        for c in range(width):
            child = goto[0].get(c)
            if child is not None:
                delta[0][c] = child
                queue.append(child)
        while queue:
            state = queue.popleft()
            out[state] |= out[fail[state]]
            for c in range(width):
                child = goto[state].get(c)
                if child is not None:
                    fail[child] = delta[fail[state]][c]
                    delta[state][c] = child
                    queue.append(child)
                else:
                    delta[state][c] = delta[fail[state]][c]
        # The start state first, then states that end no keyword, then those that do.
        order = [0] + [s for s in range(1, count) if not out[s]] + [s for s in range(1, count) if out[s]]
        number = {state: index for index, state in enumerate(order)}
        silent = sum(1 for s in range(count) if not out[s])
        dtype = np.uint16 if count * width <= 0xFFFF else np.uint32
        table = np.array([number[delta[s][c]] * width for s in order for c in range(width)], dtype=dtype)
        words = max(1, (len(patterns) + 63) // 64)
        masks = np.zeros((count - silent, words), dtype=np.uint64)
        for state in order[silent:]:
            for w in range(words):
                masks[number[state] - silent, w] = (out[state] >> (64 * w)) & 0xFFFF_FFFF_FFFF_FFFF
        return cls(tuple(patterns), classes, table, width, silent * width, masks)

    def scan(self, encoded: Sequence[bytes]) -> list[int]:
        """For each text (UTF-8 bytes), the bits of the patterns found in it."""
        if not encoded:
            return []
        starts = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=starts[1:])
        data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        found = np.zeros((len(encoded), self.masks.shape[1]), dtype=np.uint64)
        scan_texts(data, starts, self.classes, self.delta, self.width, self.first_out, self.masks, found)
        if found.shape[1] == 1:
            return list(found[:, 0].tolist())
        return [sum(int(v) << (64 * w) for w, v in enumerate(row)) for row in found.tolist()]
