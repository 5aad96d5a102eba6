"""Φ: the bijection from an address's digits to a volume's weight digits (NumPy reference).

This file is the definition, written to be read; `bijection_torch.py` is the fast path and
must agree with it bit for bit. Everything is integer arithmetic: digits mod N, hashes mod
2**64, keys from BLAKE2b. Nothing here uses a library's random stream, so no upgrade of NumPy
or torch can move a volume.

A digit vector a (P digits, least significant first) splits into a head H (the first 16
digits) and a tail T (the rest). Three Feistel rounds, all sums mod N:

    T1 = T  + F(k1, len T)     k1 = key("F1", H)
    H1 = H  + G(T1)            G: a keyed digest of the whole tail, expanded to 16 digits
    T2 = T1 + F(k2, len T)     k2 = key("F2", H1)
    Φ(a) = (H1, T2)

and Φ⁻¹ undoes the rounds in reverse order. Every round is invertible whatever F and G are,
so Φ is a bijection; F and G only have to diffuse. `docs/the-library.md` gives the constants
and test vectors.
"""

from __future__ import annotations

import hashlib

import numpy as np

from .edition import HEAD, Edition
from .grid import N

GAMMA = 0x9E3779B97F4A7C15  # SplitMix64's increment (odd: j * GAMMA is a bijection mod 2**64)
C1 = 0xBF58476D1CE4E5B9  # SplitMix64 finaliser multipliers
C2 = 0x94D049BB133111EB
_U64 = np.uint64


def key(edition: Edition, label: str, digits: np.ndarray | None = None) -> int:
    """A 64-bit round key: BLAKE2b-64 of (edition id, label, digits as uint32 little-endian)."""
    h = hashlib.blake2b(digest_size=8, person=b"babel-shelf")
    h.update(edition.id.encode() + b"\x00" + label.encode())
    if digits is not None:
        h.update(np.asarray(digits, dtype="<u4").tobytes())
    return int.from_bytes(h.digest(), "little")


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a bijection on uint64 that scatters every input bit."""
    x = x ^ (x >> _U64(30))
    x = x * _U64(C1)
    x = x ^ (x >> _U64(27))
    x = x * _U64(C2)
    return x ^ (x >> _U64(31))


def counters(k: int, start: int, count: int) -> np.ndarray:
    """The counter of position j under key k: k + j * GAMMA mod 2**64."""
    j = np.arange(start, start + count, dtype=np.uint64)
    return j * _U64(GAMMA) + _U64(k)


def stream(k: int, count: int, start: int = 0) -> np.ndarray:
    """F: digits j = start.. of key k's stream; digit j = (mix64(counter j) >> 11) mod N."""
    return ((mix64(counters(k, start, count)) >> _U64(11)) % _U64(N)).astype(np.int64)


def digest(edition: Edition, tail: np.ndarray) -> tuple[int, int]:
    """The tail digest's two lanes: m_j = mix64(counter_j ^ t_j), D1 = Σ m_j, D2 = Σ (2j+1) m_j.

    Sums mod 2**64 do not depend on order, so any device may reduce in any order.
    """
    m = mix64(counters(key(edition, "G"), 0, len(tail)) ^ tail.astype(np.uint64))
    odd = np.arange(len(tail), dtype=np.uint64) * _U64(2) + _U64(1)
    return int(m.sum(dtype=np.uint64)), int((odd * m).sum(dtype=np.uint64))


def expand(edition: Edition, d1: int, d2: int) -> np.ndarray:
    """G's output: the digest (D1, D2) expanded to the 16 head digits."""
    lanes = np.array([d1 & 0xFFFFFFFF, d1 >> 32, d2 & 0xFFFFFFFF, d2 >> 32], dtype=np.uint64)
    return stream(key(edition, "G-expand", lanes), HEAD)


def G(edition: Edition, tail: np.ndarray) -> np.ndarray:
    return expand(edition, *digest(edition, tail))


def phi(edition: Edition, a: np.ndarray) -> np.ndarray:
    """Address digits -> weight digits."""
    a = np.asarray(a, dtype=np.int64)
    assert a.shape == (edition.param_count,), "a digit vector has one digit per parameter"
    h, t = a[:HEAD], a[HEAD:]
    t1 = (t + stream(key(edition, "F1", h), len(t))) % N
    h1 = (h + G(edition, t1)) % N
    t2 = (t1 + stream(key(edition, "F2", h1), len(t))) % N
    return np.concatenate([h1, t2])


def phi_inverse(edition: Edition, m: np.ndarray) -> np.ndarray:
    """Weight digits -> address digits: the rounds of phi undone in reverse order."""
    m = np.asarray(m, dtype=np.int64)
    assert m.shape == (edition.param_count,), "a digit vector has one digit per parameter"
    h1, t2 = m[:HEAD], m[HEAD:]
    t1 = (t2 - stream(key(edition, "F2", h1), len(t2))) % N
    h = (h1 - G(edition, t1)) % N
    t = (t1 - stream(key(edition, "F1", h), len(t1))) % N
    return np.concatenate([h, t])
