"""The grid: 2,000,001 float32 values, each the nearest float32 to its decimal."""

import numpy as np
import torch

from babel_core import grid


def test_grid_has_two_million_and_one_values_from_minus_100_to_100():
    t = grid.table()
    assert t.shape == (2_000_001,) and t.dtype == np.float32
    assert (t[0], t[grid.ZERO], t[-1]) == (-100.0, 0.0, 100.0)
    assert t[grid.ZERO + 1] == np.float32(0.0001)
    assert np.all(np.diff(t) > 0)


def test_every_grid_value_is_the_float32_nearest_its_decimal():
    t = grid.table()
    n = np.arange(grid.N, dtype=np.float64) - grid.ZERO  # the decimal is n / 10000

    def error(w):  # |w - n/10000| * 10000, exact in float64 (24-bit times 14-bit mantissas)
        return np.abs(w.astype(np.float64) * 10_000 - n)

    here = error(t)
    assert np.all(here <= error(np.nextafter(t, np.float32(np.inf))))
    assert np.all(here <= error(np.nextafter(t, np.float32(-np.inf))))


def test_naive_scaling_would_move_most_weights_so_the_rule_matters():
    d = np.arange(grid.N, dtype=np.float32)
    naive = d * np.float32(1e-4) - np.float32(100)
    assert np.mean(naive != grid.table()) > 0.5


def test_torch_cpu_division_reproduces_the_table_for_every_digit():
    assert grid.torch_arithmetic_exact("cpu")
    d = torch.arange(grid.N)
    assert np.array_equal(grid.to_weights(d).numpy().view(np.uint32), grid.table().view(np.uint32))


def test_rounding_to_the_grid_reports_clamps_and_the_largest_error():
    w = np.array([0.00004, -0.00016, 99.99996, 150.0, -1e9, np.nan, 0.5], dtype=np.float64)
    digits, clamped, max_err = grid.weights_to_digits(w)
    assert digits.tolist() == [
        grid.ZERO,
        grid.ZERO - 2,
        grid.N - 1,
        grid.N - 1,
        0,
        grid.ZERO,
        grid.ZERO + 5000,
    ]
    assert clamped == 3
    assert abs(max_err - 0.00004) < 1e-9


def test_every_grid_value_rounds_back_to_its_own_digit():
    digits, clamped, max_err = grid.weights_to_digits(grid.table())
    assert np.array_equal(digits, np.arange(grid.N))
    assert clamped == 0 and max_err < 1e-6
