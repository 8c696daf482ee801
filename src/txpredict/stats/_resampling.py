"""Label permutations that respect exchangeability blocks (sites, families)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from txpredict.errors import TxpredictError

#: Fewest distinct label arrangements a permutation test needs: with fewer,
#: p < 0.05 cannot be reached whatever the data.
MIN_ARRANGEMENTS = 20


def n_arrangements(y, groups=None) -> float:
    """Number of distinct label vectors reachable by permuting within ``groups``.

    Parameters
    ----------
    y : array-like
        The labels to permute.
    groups : array-like or None, default=None
        Labels are permuted within each group.
    """
    y = np.asarray(y)
    blocks = [y] if groups is None else [y[groups == g] for g in pd.unique(groups)]
    count = 1.0
    for block in blocks:
        _, counts = np.unique(block, return_counts=True)
        ways = math.factorial(len(block))
        for c in counts:
            ways //= math.factorial(int(c))
        count *= ways
        if count > 1e18:
            return math.inf
    return count


def check_permutable(y, groups=None) -> None:
    """Refuse a permutation test whose null distribution cannot reach p < 0.05.

    With ``groups``, labels are permuted within each group (the group is an
    exchangeability block, Winkler et al. 2014), so groups of a single outcome
    class cannot change at all.

    Parameters
    ----------
    y : array-like
        The labels to permute.
    groups : array-like or None, default=None
        Labels are permuted within each group.
    """
    count = n_arrangements(y, groups)
    if count >= MIN_ARRANGEMENTS:
        return
    where = "" if groups is None else " within groups"
    hint = (
        "Most groups hold a single outcome class (e.g. every patient of a site "
        "responded), so permuting within them changes nothing. Use fewer, larger "
        "groups, or groups=None if the sites do not differ."
        if groups is not None
        else "Gather more patients of the smaller class."
    )
    raise TxpredictError(
        f"Permuting the outcome{where} gives only {count:.0f} distinct "
        f"arrangement(s), fewer than {MIN_ARRANGEMENTS}: a permutation test could "
        f"not reach p < 0.05. {hint}"
    )


def permute(y, rng, groups=None) -> np.ndarray:
    """A random permutation of ``y``, within each group when ``groups`` is given.

    Parameters
    ----------
    y : array-like
        The labels to permute.
    rng : numpy.random.Generator
        The source of randomness.
    groups : array-like or None, default=None
        Labels are permuted within each group.
    """
    y = np.asarray(y)
    if groups is None:
        return rng.permutation(y)
    out = y.copy()
    for g in pd.unique(groups):
        rows = np.flatnonzero(groups == g)
        out[rows] = rng.permutation(y[rows])
    return out
