import numpy as np
import pytest

from babel_core.edition import T5_SMALL, TINY


@pytest.fixture(scope="session")
def small_random_digits():
    """One random full-length t5-small address (60.4 M digits), shared by the slow tests."""
    return np.random.default_rng(2026).integers(0, 2_000_001, T5_SMALL.param_count)


@pytest.fixture(params=[TINY, T5_SMALL], ids=lambda e: e.name)
def edition(request):
    return request.param
