"""The fast path of Φ in torch: the same integers as `bijection.py`, on CPU or CUDA.

torch has no uint64 arithmetic, so 64-bit words live in int64: addition, multiplication and
xor wrap the same way on the bit patterns, and right shifts are masked to be logical. Work
runs in chunks so that temporaries stay in cache; the tail digest is a wrapping int64 sum,
which any reduction order gives exactly.

For a short address the tail T is all zeros, so T1 = F1(H): one pass hashes T1, sums its digest
and leaves T1's digits in the output buffer itself (as floats: digits below 2**21 are exact);
one pass adds F2 and writes the weights over them (design.md §6; storing T1 there costs no
memory and saves hashing it again).

On CUDA the two passes are compiled (`torch.compile`, Triton) into fused kernels that build a
whole batch of short addresses at once (`build_batch`): keys go in as int64 tensors, so one
compilation serves every volume; the grid conversion is arithmetic or a table gather, as
`grid.torch_arithmetic_exact` says for the device. If compilation fails, the eager chunked ops
below build the same bits (a warning is logged once). The CPU uses numba (bijection_numba.py).
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from . import bijection as ref
from . import grid
from .edition import HEAD, Edition
from .grid import N, to_weights

log = logging.getLogger(__name__)

CHUNK = 1 << 20


def _s64(u: int) -> int:
    """A uint64 constant as the int64 with the same bits."""
    u &= (1 << 64) - 1
    return u - (1 << 64) if u >= 1 << 63 else u


GAMMA, C1, C2 = _s64(ref.GAMMA), _s64(ref.C1), _s64(ref.C2)


def _lshr(x: torch.Tensor, s: int) -> torch.Tensor:
    return (x >> s) & ((1 << (64 - s)) - 1)


def mix64(x: torch.Tensor) -> torch.Tensor:
    x = x ^ _lshr(x, 30)
    x = x * C1
    x = x ^ _lshr(x, 27)
    x = x * C2
    return x ^ _lshr(x, 31)


def counters(k: int | torch.Tensor, j: torch.Tensor) -> torch.Tensor:
    return j * GAMMA + (k if isinstance(k, torch.Tensor) else _s64(k))


def digit(counter: torch.Tensor) -> torch.Tensor:
    """The stream digit of a counter: (mix64(counter) >> 11) mod N."""
    return _lshr(mix64(counter), 11) % N


def stream(k: int | torch.Tensor, j: torch.Tensor) -> torch.Tensor:
    """Digits at positions j of key k's stream (see bijection.stream)."""
    return digit(counters(k, j))


def _positions(start: int, count: int, device) -> torch.Tensor:
    return torch.arange(start, start + count, dtype=torch.int64, device=device)


def _chunks(total: int, device):
    size = total if torch.device(device).type == "cuda" else CHUNK
    for start in range(0, total, size):
        yield start, min(size, total - start)


def _digest_chunk(kg: int, j: torch.Tensor, t1: torch.Tensor) -> tuple[int, int]:
    m = mix64(counters(kg, j) ^ t1)
    return int(m.sum()), int(((2 * j + 1) * m).sum())


def _add_mod(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    s = a + b
    return torch.where(s >= N, s - N, s)


def _expand(edition: Edition, d1: int, d2: int) -> np.ndarray:
    mask = (1 << 64) - 1
    return ref.expand(edition, d1 & mask, d2 & mask)


def build_weights(edition: Edition, head: np.ndarray, out: torch.Tensor) -> None:
    """Write Φ((head, 0...0)) as float32 weights into `out` (a flat tensor of P floats).

    This is the build of every short address: all digits past the head are zero.
    """
    P = edition.param_count
    assert out.shape == (P,) and out.dtype == torch.float32
    h = np.asarray(head, dtype=np.int64)
    k1, kg = ref.key(edition, "F1", h), ref.key(edition, "G")
    tail, dev = P - HEAD, out.device
    t1 = out[HEAD:]  # T1's digits wait in the weights' own memory, as exact floats
    d1 = d2 = 0
    for start, count in _chunks(tail, dev):
        j = _positions(start, count, dev)
        digits = stream(k1, j)
        t1[start : start + count] = digits
        a, b = _digest_chunk(kg, j, digits)
        d1, d2 = d1 + a, d2 + b
    h1 = (h + _expand(edition, d1, d2)) % N
    k2 = ref.key(edition, "F2", h1)
    out[:HEAD] = to_weights(torch.from_numpy(h1).to(dev))
    for start, count in _chunks(tail, dev):
        j = _positions(start, count, dev)
        digits = _add_mod(t1[start : start + count].long(), stream(k2, j))
        to_weights(digits, out=out[HEAD + start : HEAD + start + count])


def phi(edition: Edition, a: torch.Tensor) -> torch.Tensor:
    """Φ on a full digit vector (int64 tensor of P digits), on a's device."""
    h, t = a[:HEAD].cpu().numpy(), a[HEAD:]
    k1, kg = ref.key(edition, "F1", h), ref.key(edition, "G")
    t1 = torch.empty_like(t)
    d1 = d2 = 0
    for start, count in _chunks(len(t), t.device):
        j = _positions(start, count, t.device)
        t1[start : start + count] = _add_mod(t[start : start + count], stream(k1, j))
        a_, b_ = _digest_chunk(kg, j, t1[start : start + count])
        d1, d2 = d1 + a_, d2 + b_
    h1 = (h + _expand(edition, d1, d2)) % N
    k2 = ref.key(edition, "F2", h1)
    for start, count in _chunks(len(t), t.device):
        j = _positions(start, count, t.device)
        t1[start : start + count] = _add_mod(t1[start : start + count], stream(k2, j))
    return torch.cat([torch.from_numpy(h1).to(t.device), t1])


def phi_inverse(edition: Edition, m: torch.Tensor) -> torch.Tensor:
    """Φ⁻¹ on a full digit vector, on m's device."""
    h1, t2 = m[:HEAD].cpu().numpy(), m[HEAD:]
    k2, kg = ref.key(edition, "F2", h1), ref.key(edition, "G")
    t1 = torch.empty_like(t2)
    d1 = d2 = 0
    for start, count in _chunks(len(t2), t2.device):
        j = _positions(start, count, t2.device)
        t1[start : start + count] = (t2[start : start + count] - stream(k2, j)) % N
        a_, b_ = _digest_chunk(kg, j, t1[start : start + count])
        d1, d2 = d1 + a_, d2 + b_
    h = (h1 - _expand(edition, d1, d2)) % N
    k1 = ref.key(edition, "F1", h)
    for start, count in _chunks(len(t2), t2.device):
        j = _positions(start, count, t2.device)
        t1[start : start + count] = (t1[start : start + count] - stream(k1, j)) % N
    return torch.cat([torch.from_numpy(h).to(t2.device), t1])


# --- compiled, batched short-address builds (the CUDA path) -------------------------------


def first_round_kernel(
    k1: torch.Tensor, kg: torch.Tensor, gamma: torch.Tensor, t1: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """T1 = F(k1) into t1 [B, n] for keys k1 [B] (int64), and its digest lanes [B], [B]: one
    fused pass. t1 is float32 (the weights' own buffer): digits below 2**21 are exact floats.

    `gamma` is GAMMA as a 0-d int64 tensor: a literal 64-bit constant times Triton's int32
    index does not compile when a row has fewer than 2**31 elements.
    """
    j = torch.arange(t1.shape[1], dtype=torch.int64, device=k1.device)[None, :]
    jg = j * gamma
    digits = digit(jg + k1[:, None])
    t1.copy_(digits)
    m = mix64((jg + kg) ^ digits)
    return m.sum(dim=1), ((2 * j + 1) * m).sum(dim=1)


def tail_kernel(
    t1: torch.Tensor,
    k2: torch.Tensor,
    gamma: torch.Tensor,
    out: torch.Tensor,
    table: torch.Tensor | None,
) -> None:
    """out [B, n] = grid(T1 + F(k2) mod N), one row per key; `table` None: arithmetic. `out` may
    be t1 itself: each element is read before it is written."""
    jg = torch.arange(out.shape[1], dtype=torch.int64, device=out.device)[None, :] * gamma
    v = _add_mod(t1.long(), digit(jg + k2[:, None]))
    out.copy_(to_weights(v) if table is None else table[v])


_compiled: dict[str, object] = {}
_compile_failed: list[bool] = []


def _kernels(compiled: bool):
    """(first round, tail), compiled once per process; a second shape recompiles them with
    dynamic sizes (torch.compile's default), so batch sizes and editions do not recompile
    forever."""
    if not compiled:
        return first_round_kernel, tail_kernel
    if not _compiled:
        _compiled["first"] = torch.compile(first_round_kernel)
        _compiled["tail"] = torch.compile(tail_kernel)
    return _compiled["first"], _compiled["tail"]


def _s64_tensor(keys: list[int], device) -> torch.Tensor:
    return torch.tensor([_s64(k) for k in keys], dtype=torch.int64, device=device)


def build_batch(
    edition: Edition, heads: list[np.ndarray], out: torch.Tensor, compiled: bool = True
) -> None:
    """Write Φ((head, 0...0)) of every head into the rows of `out` [>= B, P] (float32).

    Two kernel calls for the whole batch and one device-to-host copy of the digests; the
    heads' keys and expansions are host work on 16 digits each. `compiled=False` runs the
    same kernels eagerly (tests on small editions: eager, they hold [B, P] temporaries). If
    compilation fails, each row is built by `build_weights` (warned once).
    """
    if compiled and _compile_failed:
        for row, head in zip(out, heads, strict=False):
            build_weights(edition, head, row)
        return
    try:
        _build_batch(edition, heads, out, *_kernels(compiled))
    except Exception:  # noqa: BLE001 - any compiler failure: the eager build gives the same bits
        if not compiled:
            raise
        log.warning("torch.compile failed for the build; using eager torch ops", exc_info=True)
        _compile_failed.append(True)
        build_batch(edition, heads, out)


def _build_batch(edition: Edition, heads: list[np.ndarray], out: torch.Tensor, first, tail):
    P, B, dev = edition.param_count, len(heads), out.device
    assert out.dtype == torch.float32 and out.shape[-1] == P and out.shape[0] >= B
    hs = [np.asarray(h, dtype=np.int64) for h in heads]
    k1 = _s64_tensor([ref.key(edition, "F1", h) for h in hs], dev)
    kg = torch.tensor(_s64(ref.key(edition, "G")), dtype=torch.int64, device=dev)
    gamma = torch.tensor(GAMMA, dtype=torch.int64, device=dev)
    table = None if grid.torch_arithmetic_exact(dev) else grid._table_on(str(dev))
    rows = out[:B, HEAD:]  # T1's digits wait here, as exact floats, until the weights replace them
    d1, d2 = (d.cpu().tolist() for d in first(k1, kg, gamma, rows))
    h1 = [(h + _expand(edition, a, b)) % N for h, a, b in zip(hs, d1, d2, strict=True)]
    k2 = _s64_tensor([ref.key(edition, "F2", h) for h in h1], dev)
    out[:B, :HEAD] = to_weights(torch.from_numpy(np.stack(h1)).to(dev))
    tail(rows, k2, gamma, rows, table)
