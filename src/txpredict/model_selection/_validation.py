"""Checks of the inputs of nested cross-validation, before any work."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid

from txpredict._inputs import check_group_labels, check_n_jobs, check_X_y
from txpredict.errors import TxpredictError
from txpredict.model_selection._schemes import (
    LEAVE_SITE_OUT,
    check_class_sizes,
    check_groups,
    check_inner_groups,
    check_outer_cv,
    n_folds,
)
from txpredict.models import ResponseModel


def prepare_inputs(
    estimator, X, y, *, outer_cv, inner_cv, n_repeats, groups, allow_loo,
    continuous=False, n_jobs=None,
):  # fmt: skip
    """Check everything before any work; the estimator with ``inner_cv`` set.

    Returns
    -------
    (estimator, index, y, outer_cv, groups)
    """
    index, y = check_X_y(X, y, continuous=continuous)
    check_n_jobs(n_jobs)
    n = len(y)
    groups = check_group_labels(groups, X, index)
    outer_cv = check_outer_cv(outer_cv, n, allow_loo=allow_loo, groups=groups)
    k = n_folds(outer_cv, n, groups)
    if continuous:
        if outer_cv != LEAVE_SITE_OUT and n < 2 * k:
            raise TxpredictError(
                f"{n} subjects cannot fill {k} outer folds with 2 each; use fewer "
                "folds or more subjects."
            )
    elif outer_cv == LEAVE_SITE_OUT:
        check_sites(y, groups)
    elif outer_cv != "loo":
        check_class_sizes(y, k)
    if groups is not None and outer_cv not in ("loo", LEAVE_SITE_OUT):
        check_groups(groups, k)
    if inner_cv is not None:
        if not hasattr(estimator, "inner_cv"):
            raise TxpredictError(
                f"inner_cv={inner_cv!r} was given but {type(estimator).__name__} has "
                "no inner_cv parameter; set the inner CV on the estimator itself."
            )
        estimator = clone(estimator).set_params(inner_cv=inner_cv)
    if continuous:
        pass  # k-fold inner splits need no class counts
    elif hasattr(estimator, "inner_cv") and isinstance(estimator.inner_cv, int):
        if outer_cv == LEAVE_SITE_OUT:  # sites differ in size: each training part
            for site in pd.unique(groups):
                check_class_sizes(
                    y[groups != site], estimator.inner_cv, what="inner_cv"
                )
        else:
            check_class_sizes(
                y,
                estimator.inner_cv,
                what="inner_cv",
                fraction=(k - 1) / k if outer_cv != "loo" else 1.0,
            )
    if not isinstance(n_repeats, int | np.integer) or n_repeats < 1:
        raise TxpredictError(
            f"n_repeats must be a positive integer; got {n_repeats!r}."
        )
    return estimator, index, y, outer_cv, groups


#: Fewest patients a site needs to be held out on its own (leave-site-out).
MIN_SITE_SIZE = 2


def check_sites(y, groups):
    """Leave-site-out needs two sites, and both classes in every training part."""
    sites = pd.unique(groups)
    if len(sites) < 2:
        raise TxpredictError(
            f"outer_cv='leave-site-out' needs at least two sites; groups has "
            f"{len(sites)} ({list(sites)})."
        )
    sizes = pd.Series(groups).value_counts()
    lone = sizes[sizes < MIN_SITE_SIZE]
    if len(lone):
        raise TxpredictError(
            f"outer_cv='leave-site-out': site(s) {lone.index.tolist()} have "
            f"{lone.tolist()} patient(s); held out alone, a site needs at "
            f"least {MIN_SITE_SIZE} to be scored (its row of per_site() would be "
            "empty). Merge it with the site it is closest to (same scanner), "
            "leave its patients out, or use grouped k-fold (outer_cv=k with groups)."
        )
    for site in sites:
        rest = y[groups != site]
        if rest.min() == rest.max():
            raise TxpredictError(
                f"Without site {site!r} the training patients are all of one class: "
                "the model cannot be trained when that site is held out. Use "
                "grouped k-fold (outer_cv=k with groups) or gather more patients."
            )


def inner_groups_of(estimator, groups, splits, inner_groups, probabilities=True):
    """The groups the inner CV keeps whole (None: none), checked before any work.

    A group-aware inner CV needs ``inner_cv`` groups in every outer-training
    part; an estimator that neither tunes nor recalibrates its probabilities
    (``probabilities=False``: none are made, as in permutation tests) runs no
    inner CV and needs none.
    """
    labels = groups if inner_groups else None
    if labels is not None and _runs_inner_cv(estimator, probabilities):
        check_inner_groups(groups, splits, estimator.inner_cv)
    return labels


def _runs_inner_cv(estimator, probabilities=True) -> bool:
    """Whether the estimator runs an inner CV.

    It does to tune a grid of several candidates, and to recalibrate
    probabilities on the inner out-of-fold decision values.
    """
    if not isinstance(getattr(estimator, "inner_cv", None), int):
        return False
    if not isinstance(estimator, ResponseModel):
        return True
    if probabilities and getattr(estimator, "recalibrates", lambda: False)():
        return True
    grid = estimator.param_grid
    if grid is None:
        grid = estimator.final_estimator()[1]
    return len(ParameterGrid(grid)) > 1
