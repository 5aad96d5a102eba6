"""The CPU fast path of the grid and of call slips: the same integers as grid.py and slip.py.

Locating a t5-small model rounds 60.4 M weights to the grid and a found volume's slip packs
and unpacks 60.4 M digits. The NumPy definitions (`grid.weights_to_digits`, `slip.pack`,
`slip.unpack`) make float64 and uint64 temporaries and took 3.6 s, 0.24 s and ~0.8 s here;
these kernels make one parallel pass each (0.1 s or less, BENCHMARKS.md). tests/test_find.py
holds them to the definitions, bit for bit, including halves, clamped and non-finite weights.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .grid import LIMIT, SCALE, ZERO, N

_N = np.uint64(N)
_N2 = np.uint64(N * N)
_N3 = np.uint64(N**3)


@njit(parallel=True, cache=True)
def _round(w, out):
    """out[i] = the digit nearest w[i] (float64, halves to even, clamped to the grid);
    returns (weights outside [-100, 100] or not finite, largest |w - grid value| of the rest)."""
    outside = 0
    worst = 0.0
    for i in prange(w.shape[0]):
        x = np.float64(w[i])
        bad = not np.isfinite(x)
        if bad:
            x = 0.0
        if abs(x) > LIMIT:
            bad = True
            x = LIMIT if x > 0 else -LIMIT
        d = np.int64(np.rint(x * SCALE)) + ZERO
        out[i] = d
        if bad:
            outside += 1
        else:
            err = abs(x - np.float64(np.float32(d - ZERO) / np.float32(SCALE)))
            worst = max(worst, err)
    return outside, worst


def weights_to_digits(weights: np.ndarray) -> tuple[np.ndarray, int, float]:
    """grid.weights_to_digits, fast: (int64 digits, clamped count, largest rounding error)."""
    w = np.ascontiguousarray(weights)
    out = np.empty(w.shape[0], dtype=np.int64)
    outside, worst = _round(w, out)
    return out, int(outside), float(worst)


@njit(parallel=True, cache=True)
def _pack(a, words):
    n = a.shape[0]
    for i in prange(words.shape[0]):
        w = np.uint64(a[3 * i])
        if 3 * i + 1 < n:
            w += np.uint64(a[3 * i + 1]) * _N
        if 3 * i + 2 < n:
            w += np.uint64(a[3 * i + 2]) * _N2
        words[i] = w


def pack(digits: np.ndarray) -> bytes:
    """slip.pack, fast: the digits as little-endian base-N^3 words."""
    a = np.ascontiguousarray(digits, dtype=np.int64)
    words = np.empty((len(a) + 2) // 3, dtype=np.uint64)
    _pack(a, words)
    return words.astype("<u8", copy=False).tobytes()


@njit(parallel=True, cache=True)
def _unpack(words, out):
    """Returns the number of words out of range, and of digits set past len(out)."""
    n = out.shape[0]
    bad = 0
    beyond = 0
    for i in prange(words.shape[0]):
        w = words[i]
        if w >= _N3:
            bad += 1
            w = np.uint64(0)
        for j in range(3):
            d = np.int64(w % _N)
            w //= _N
            if 3 * i + j < n:
                out[3 * i + j] = d
            elif d != 0:
                beyond += 1
    return bad, beyond


def unpack(payload: bytes, count: int) -> tuple[np.ndarray, int, int]:
    """slip.unpack's digits, fast; with the counts of bad words and stray digits to refuse."""
    words = np.frombuffer(payload, dtype="<u8")
    out = np.empty(count, dtype=np.int64)
    bad, beyond = _unpack(words, out)
    return out, int(bad), int(beyond)
