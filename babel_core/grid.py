"""The grid: every weight is one of 2,000,001 values, -100 to 100 in steps of 0.0001.

Digit d in [0, N) means the weight (d - 1,000,000) / 10,000, stored as the float32 nearest
that decimal. `float32(d - 1_000_000) / float32(10_000)` is one correctly rounded IEEE
division, which gives exactly that float for all 2,000,001 digits (checked by
`tests/test_grid.py` on every device the tests see). A device that rounds differently gets
the 8 MB table instead: `to_weights` checks each device once and picks arithmetic or table.
"""

from __future__ import annotations

import functools

import numpy as np

from .edition import N

ZERO = 1_000_000  # the digit of weight 0.0
SCALE = 10_000  # digits per unit weight
LIMIT = 100.0  # |weight| never exceeds this


@functools.cache
def table() -> np.ndarray:
    """All N grid values as float32, indexed by digit: the canonical definition."""
    d = np.arange(N, dtype=np.int64) - ZERO
    return (d.astype(np.float32) / np.float32(SCALE)).astype(np.float32)


def digits_to_weights_np(digits: np.ndarray) -> np.ndarray:
    """Reference conversion, by table lookup."""
    return table()[np.asarray(digits, dtype=np.int64)]


def weights_to_digits(weights: np.ndarray) -> tuple[np.ndarray, int, float]:
    """Round weights to the nearest grid digit (locate's first step).

    Returns (digits as int32, how many weights lay outside [-100, 100] or were not finite and
    were clamped, the largest |weight - grid value| among the rest). Halves round to even, in
    float64, so every float32 grid value maps back to its own digit.
    """
    w = np.asarray(weights, dtype=np.float64)
    finite = np.isfinite(w)
    w = np.where(finite, w, 0.0)
    outside = (np.abs(w) > LIMIT) | ~finite
    clamped = np.clip(w, -LIMIT, LIMIT)
    digits = (np.rint(clamped * SCALE) + ZERO).astype(np.int32)
    err = np.abs(clamped - table()[digits].astype(np.float64))
    max_err = float(err[~outside].max()) if (~outside).any() else 0.0
    return digits, int(outside.sum()), max_err


# --- torch side -----------------------------------------------------------------------------
_arith_ok: dict[str, bool] = {}


def _torch_arith(digits):
    import torch

    return (digits - ZERO).to(torch.float32) / SCALE


def torch_arithmetic_exact(device) -> bool:
    """Whether this device's float32 division reproduces the table for all N digits."""
    import torch

    key = str(torch.device(device))
    if key not in _arith_ok:
        d = torch.arange(N, dtype=torch.int64, device=device)
        got = _torch_arith(d).cpu().numpy()
        _arith_ok[key] = bool(np.array_equal(got.view(np.uint32), table().view(np.uint32)))
    return _arith_ok[key]


@functools.cache
def _table_on(device: str):
    import torch

    return torch.from_numpy(table()).to(device)


def to_weights(digits, out=None):
    """Digits (an int tensor) to float32 weights on the digits' device, bit-exact."""

    if torch_arithmetic_exact(digits.device):
        w = _torch_arith(digits)
    else:
        w = _table_on(str(digits.device))[digits.long()]
    if out is None:
        return w
    out.copy_(w)
    return out
