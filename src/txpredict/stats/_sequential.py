"""Sequential Monte-Carlo p-values: a permutation test stops once p is settled.

A permutation test whose observed statistic sits in the middle of its null
distribution needs a few dozen permutations to say so, not a thousand. Besag
& Clifford (1991, Biometrika 78:301) draw permuted statistics one at a time
and stop at the ``h``-th that reaches the observed one: after ``L`` draws the
p-value is ``h / L``. If fewer than ``h`` of the ``n`` allowed draws reach
it, the test ends as a fixed-size one, with ``(1 + g) / (1 + n)`` for ``g``
such draws (Phipson & Smyth 2010). Either way the p-value is valid:
``P(p <= a) <= a`` under the null, with equality at each value it can take,
and it differs from the fixed-size test only where the evidence is weak
(p > h / n): a significant result always runs all ``n`` permutations.

The rule is applied to the null statistics in the order they were drawn, so
the p-value does not depend on how many were computed in parallel beyond the
stopping point.
"""

from __future__ import annotations

import numpy as np

from txpredict.errors import TxpredictError

#: Besag & Clifford's h: a test stops at the h-th permuted statistic that
#: reaches the observed one (they suggest 10 or 20). With h = 10 the p-value's
#: Monte-Carlo relative error is about 1 / sqrt(h) = 32% where it stops early,
#: i.e. only above h / n_permutations (0.01 for 1,000 permutations).
DEFAULT_EXCEEDANCES = 10


def check_n_permutations(n_permutations) -> None:
    """Refuse an ``n_permutations`` that is not a positive integer.

    Parameters
    ----------
    n_permutations : int
        The most permutations a test may run.
    """
    if not isinstance(n_permutations, int | np.integer) or n_permutations < 1:
        raise TxpredictError(
            f"n_permutations must be a positive integer; got {n_permutations!r}."
        )


def check_exceedances(n_exceedances) -> None:
    """Refuse an ``n_exceedances`` that is neither None nor a positive integer.

    Parameters
    ----------
    n_exceedances : int or None
        The h of Besag & Clifford's sequential test; None: a fixed-size test.
    """
    if n_exceedances is None:
        return
    if (
        not isinstance(n_exceedances, int | np.integer)
        or isinstance(n_exceedances, bool)
        or n_exceedances < 1
    ):
        raise TxpredictError(
            "n_exceedances must be a positive integer (Besag & Clifford's h: stop "
            "once that many permuted statistics reach the observed one) or None "
            f"(run every permutation); got {n_exceedances!r}."
        )


def sequential_p_value(null, observed, n_permutations, n_exceedances):
    """Besag & Clifford's p-value of the null statistics drawn so far, in order.

    Parameters
    ----------
    null : array-like of shape (n_drawn,)
        Permuted statistics, in the order they were drawn (larger is more
        extreme). Draws beyond the stopping point are ignored.
    observed : float
        The statistic on the data.
    n_permutations : int
        The most draws the test may take.
    n_exceedances : int or None
        The h of the test: stop at the h-th draw reaching ``observed``. None: a
        fixed-size test of ``n_permutations`` draws.

    Returns
    -------
    p_value : float or None
        None while the test is not settled (fewer than ``n_permutations``
        draws and fewer than h reaching ``observed``).
    n_used : int
        The draws the p-value rests on (its stopping point).

    Examples
    --------
    >>> sequential_p_value([0.9, 0.2, 0.8, 0.1], 0.5, 1000, 2)
    (0.6666666666666666, 3)
    >>> sequential_p_value([0.9, 0.2, 0.8, 0.1], 0.5, 4, None)
    (0.6, 4)
    """
    null = np.asarray(null, dtype=np.float64)
    reached = np.cumsum(null >= observed)
    if n_exceedances is not None:
        hit = np.flatnonzero(reached >= n_exceedances)
        if hit.size and hit[0] < n_permutations:
            n_used = int(hit[0]) + 1
            return n_exceedances / n_used, n_used
    if len(null) < n_permutations:
        return None, len(null)
    return (1 + int(reached[n_permutations - 1])) / (1 + n_permutations), n_permutations


def monte_carlo_error(p_value, n_used, stopped_at=None) -> float:
    """Standard error of a (sequential) Monte-Carlo p-value.

    A fixed-size test's count is binomial: sqrt(p (1 - p) / n). A test stopped
    at its h-th exceedance (``stopped_at=h``) estimates p by h / L with L
    negative binomial, whose relative error is about sqrt((1 - p) / h).

    Parameters
    ----------
    p_value : float
        The Monte-Carlo p-value.
    n_used : int
        The permutations it rests on.
    stopped_at : int or None, default=None
        The h of a test stopped at its h-th exceedance; None: a fixed-size test.
    """
    if stopped_at is not None:
        return p_value * np.sqrt((1 - p_value) / stopped_at)
    return np.sqrt(p_value * (1 - p_value) / n_used)
