"""Φ: a bijection on digit vectors, the same bits from NumPy, numba and torch, and diffusing."""

import numpy as np
import pytest
import torch

from babel_core import bijection as ref
from babel_core import bijection_numba as fast
from babel_core import bijection_torch as tfast
from babel_core import grid
from babel_core.edition import HEAD, T5_SMALL, TINY


def random_digits(edition, seed):
    return np.random.default_rng(seed).integers(0, grid.N, edition.param_count)


def short_digits(edition, head):
    a = np.zeros(edition.param_count, dtype=np.int64)
    a[: len(head)] = head
    return a


def test_keys_and_hash_constants_are_pinned():
    assert ref.key(T5_SMALL, "G") == 0xACA946A4EC9786CE
    assert ref.mix64(np.array([0, 1], dtype=np.uint64)).tolist() == [0, 0x5692161D100B05E5]
    assert ref.stream(12345, 4).tolist() == ref.stream(12345, 6)[:4].tolist()
    assert ref.stream(12345, 3, start=2).tolist() == ref.stream(12345, 5)[2:].tolist()


@pytest.mark.parametrize("seed", range(20))
def test_phi_inverse_undoes_phi_on_random_tiny_vectors(seed):
    a = random_digits(TINY, seed)
    m = ref.phi(TINY, a)
    assert np.array_equal(ref.phi_inverse(TINY, m), a)
    assert m.min() >= 0 and m.max() < grid.N


def test_phi_inverse_undoes_phi_on_a_random_t5_small_vector(small_random_digits):
    m = fast.phi(T5_SMALL, small_random_digits)
    assert np.array_equal(fast.phi_inverse(T5_SMALL, m), small_random_digits)


def test_numba_and_torch_agree_with_the_numpy_reference_bit_for_bit(edition, small_random_digits):
    a = small_random_digits if edition is T5_SMALL else random_digits(TINY, 7)
    m = ref.phi(edition, a)
    assert np.array_equal(fast.phi(edition, a), m)
    assert np.array_equal(tfast.phi(edition, torch.from_numpy(a)).numpy(), m)
    assert np.array_equal(fast.phi_inverse(edition, m), a)
    assert np.array_equal(tfast.phi_inverse(edition, torch.from_numpy(m)).numpy(), a)


def assert_short_builds_match_the_reference(edition, head):
    expected = grid.digits_to_weights_np(ref.phi(edition, short_digits(edition, head)))
    got = np.empty(edition.param_count, dtype=np.float32)
    fast.build_weights(edition, short_digits(edition, head)[:HEAD], got)
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))
    got_t = torch.empty(edition.param_count)
    tfast.build_weights(edition, short_digits(edition, head)[:HEAD], got_t)
    assert np.array_equal(got_t.numpy().view(np.uint32), expected.view(np.uint32))


@pytest.mark.parametrize("head", [[0], [1], [12345, 678], [grid.N - 1] * HEAD])
def test_short_builds_write_the_reference_weights_tiny(head):
    assert_short_builds_match_the_reference(TINY, head)


def test_short_builds_write_the_reference_weights_t5_small():
    assert_short_builds_match_the_reference(T5_SMALL, [12345, 678])


def test_a_t5_small_volume_uses_every_grid_value_so_the_build_checked_all_of_them():
    m = fast.phi(T5_SMALL, short_digits(T5_SMALL, [3, 1]))
    assert len(np.unique(m)) == grid.N  # ~30 draws per value: the float conversion saw each


def test_neighbouring_addresses_share_no_more_digits_than_chance():
    a = short_digits(T5_SMALL, [41, 7])
    b = short_digits(T5_SMALL, [42, 7])
    shared = int((fast.phi(T5_SMALL, a) == fast.phi(T5_SMALL, b)).sum())
    assert shared < 80  # chance: P / N = 30.2, standard deviation 5.5


def test_short_address_digits_are_uniform_by_chi_square():
    m = fast.phi(T5_SMALL, short_digits(T5_SMALL, [5]))
    counts = np.bincount(m * 1000 // grid.N, minlength=1000)
    expected = len(m) / 1000
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert abs(chi2 - 999) < 6 * np.sqrt(2 * 999)  # 999 degrees of freedom, six sigma
    low_bits = np.bincount(m % 256, minlength=256)  # the hash's low bits too
    chi2_low = float(((low_bits - len(m) / 256) ** 2 / (len(m) / 256)).sum())
    assert abs(chi2_low - 255) < 6 * np.sqrt(2 * 255)


def test_compiled_batch_build_equals_numba_bit_for_bit_on_tiny(caplog):
    """The CUDA build path (torch.compile kernels, keys as tensors) run on the CPU: 3 volumes
    in one call, and again from the same compilation, equal bijection_numba's floats."""
    import random

    from babel_core.address import random_address
    from babel_core.build import head_digits

    heads = [head_digits(random_address(random.Random(i))) for i in range(6)]
    out = torch.empty(3, TINY.param_count)
    want = np.empty(TINY.param_count, dtype=np.float32)
    for first in (0, 3):
        tfast.build_batch(TINY, heads[first : first + 3], out, compiled=True)
        for head, row in zip(heads[first : first + 3], out, strict=True):
            fast.build_weights(TINY, head, want)
            assert np.array_equal(row.numpy().view(np.uint32), want.view(np.uint32))
    assert "torch.compile failed" not in caplog.text  # the compiled kernels built them


def test_eager_batch_build_with_the_table_gather_equals_numba_on_tiny(monkeypatch):
    """The grid by table gather (CUDA's float32 division is not the table's) gives the same."""
    import random

    from babel_core.address import random_address
    from babel_core.build import head_digits

    monkeypatch.setattr(grid, "torch_arithmetic_exact", lambda device: False)
    heads = [head_digits(random_address(random.Random(10 + i))) for i in range(4)]
    out = torch.empty(4, TINY.param_count)
    tfast.build_batch(TINY, heads, out, compiled=False)
    want = np.empty(TINY.param_count, dtype=np.float32)
    for head, row in zip(heads, out, strict=True):
        fast.build_weights(TINY, head, want)
        assert np.array_equal(row.numpy().view(np.uint32), want.view(np.uint32))


def test_compiled_batch_build_equals_numba_on_one_t5_small_volume(caplog):
    from babel_core.address import parse_address
    from babel_core.build import head_digits

    head = head_digits(parse_address("babel-w3-s2-v17"))
    out = torch.empty(1, T5_SMALL.param_count)
    tfast.build_batch(T5_SMALL, [head], out, compiled=True)
    want = np.empty(T5_SMALL.param_count, dtype=np.float32)
    fast.build_weights(T5_SMALL, head, want)
    assert np.array_equal(out[0].numpy().view(np.uint32), want.view(np.uint32))
    assert "torch.compile failed" not in caplog.text
