"""How an inner search picks its candidate, on every route: GridSearchCV's rule."""

from __future__ import annotations

import numpy as np


def best_candidate(mean_scores) -> int:
    """The first of the best candidates, as ``GridSearchCV`` intends.

    Means equal up to float rounding count as tied: different inner-fold AUCs
    can sum to the same mean, and whether the float sums then differ in the last
    bit depends on how each AUC was computed, so GridSearchCV's own pick among
    such ties is rounding noise. The first candidate (the strongest
    regularisation in the default grids) is the stable choice.
    """
    mean_scores = np.asarray(mean_scores, dtype=float)
    return int(np.flatnonzero(mean_scores >= mean_scores.max() - 1e-12)[0])
