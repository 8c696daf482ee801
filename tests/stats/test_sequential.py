"""Sequential Monte-Carlo p-values (Besag & Clifford 1991)."""

import numpy as np
import pytest

from txpredict.errors import TxpredictError
from txpredict.stats import check_exceedances, sequential_p_value


def test_worked_examples():
    # h = 3: the 3rd statistic >= 0.5 is the 5th drawn; later draws are ignored.
    null = [0.6, 0.1, 0.5, 0.2, 0.9, 0.7, 0.8]
    assert sequential_p_value(null, 0.5, 100, 3) == (3 / 5, 5)
    # Not settled yet: 2 reached of 4 drawn, 100 allowed.
    assert sequential_p_value(null[:4], 0.5, 100, 3) == (None, 4)
    # Never 3 reaching it in the 4 allowed: the fixed-size p-value (1 + 2) / (1 + 4).
    assert sequential_p_value(null, 0.5, 4, 3) == (3 / 5, 4)
    assert sequential_p_value(null, 0.95, 7, 3) == (1 / 8, 7)
    # None: every allowed permutation, whatever the exceedances.
    assert sequential_p_value(null, 0.5, 7, None) == (6 / 8, 7)


def _null_p_values(rng, n_tests, n_permutations, h):
    """P-values of tests whose observed statistic is one more null draw."""
    draws = rng.random((n_tests, 1 + n_permutations))
    return np.array(
        [sequential_p_value(row[1:], row[0], n_permutations, h)[0] for row in draws]
    )


@pytest.mark.parametrize("h", [1, 5, 10])
def test_p_values_are_exact_under_the_null(rng, h):
    """P(p <= a) = a at the values p takes (h / L, or (1 + g) / 100), within
    3 Monte-Carlo SEs; a p-value of h / (L + 1) would be 15-50% too small."""
    p = _null_p_values(rng, 20_000, 99, h)
    for a in sorted({h / 50, 0.05, 0.1, h / 20, 0.5} & set(np.unique(p))):
        rate = np.mean(p <= a + 1e-12)
        assert abs(rate - a) < 3 * np.sqrt(a * (1 - a) / len(p)), (a, rate)
    # Away from the values it takes, still valid: never more than a.
    for a in (0.04, 0.07, 0.3):
        assert np.mean(p <= a) < a + 3 * np.sqrt(a * (1 - a) / len(p))


def test_a_significant_result_is_the_fixed_size_tests(rng):
    null = rng.random(999) * 0.9
    null[[10, 500]] = 0.95  # two of 999 reach the observed 0.93
    assert sequential_p_value(null, 0.93, 999, 10) == (3 / 1000, 999)
    assert sequential_p_value(null, 0.93, 999, None) == (3 / 1000, 999)


@pytest.mark.parametrize("bad", [0, -1, 2.5, "10", True])
def test_bad_exceedances_are_refused_by_name(bad):
    with pytest.raises(TxpredictError, match="n_exceedances must be a positive"):
        check_exceedances(bad)
