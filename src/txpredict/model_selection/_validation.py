"""Checks of the inputs of nested cross-validation, before any work."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone

from txpredict.errors import TxpredictError
from txpredict.model_selection._schemes import (
    LEAVE_SITE_OUT,
    check_class_sizes,
    check_groups,
    check_outer_cv,
    n_folds,
)


def check_X_y(X, y, *, continuous=False):
    """Align y to X; refuse NaN, mismatched lengths or indices, non-binary y.

    With ``continuous=True`` (a regressor), y must be numbers instead.
    """
    if not hasattr(X, "__len__"):
        raise TxpredictError("X must be a DataFrame (or array) of subjects.")
    index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(len(X))
    if isinstance(y, pd.Series):
        if len(y) != len(index):
            raise TxpredictError(
                f"X has {len(index)} subjects but y has {len(y)} values; pass the "
                "outcome of exactly the subjects in X (e.g. cohort.X, cohort.y)."
            )
        if isinstance(X, pd.DataFrame) and not y.index.equals(index):
            if set(y.index) != set(index):
                only_x = sorted(map(str, set(index) - set(y.index)))[:5]
                only_y = sorted(map(str, set(y.index) - set(index)))[:5]
                raise TxpredictError(
                    "The indices of X and y name different subjects (only in X: "
                    f"{only_x}; only in y: {only_y}). Use y from the same cohort."
                )
            y = y.reindex(index)
        values = y.to_numpy()
    else:
        values = np.asarray(y)
        if len(values) != len(index):
            raise TxpredictError(
                f"X has {len(index)} subjects but y has {len(values)} values."
            )
    missing = pd.isna(values)
    if missing.any():
        raise TxpredictError(
            f"y is missing for {int(missing.sum())} subject(s): "
            f"{list(map(str, index[missing]))[:10]}. Remove them or fill the outcome."
        )
    if continuous:
        numbers = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(float)
        bad = ~np.isfinite(numbers)
        if bad.any():
            shown = {str(index[i]): values[i] for i in np.flatnonzero(bad)[:5]}
            raise TxpredictError(
                f"y must be numbers for a regressor (a symptom change); subject(s) "
                f"have other values: {shown}. Fix the outcome column."
            )
        return index, numbers
    labels = np.unique(values)
    if not set(labels.tolist()) <= {0, 1}:
        raise TxpredictError(
            f"y must be binary (1 = responder, 0 = non-responder); got values "
            f"{labels.tolist()[:10]}."
        )
    return index, values.astype(int)


def prepare_inputs(
    estimator, X, y, *, outer_cv, inner_cv, n_repeats, groups, allow_loo,
    continuous=False,
):  # fmt: skip
    """Check everything before any work; the estimator with ``inner_cv`` set.

    Returns
    -------
    (estimator, index, y, outer_cv, groups)
    """
    index, y = check_X_y(X, y, continuous=continuous)
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


def check_group_labels(groups, X, index):
    """Groups as an array aligned to X: a column name, a Series or an array."""
    if groups is None:
        return None
    if isinstance(groups, str):
        if not isinstance(X, pd.DataFrame) or groups not in X.columns:
            raise TxpredictError(
                f"groups={groups!r} is not a column of X; pass the column holding "
                "each patient's site (or family), or an array."
            )
        groups = X[groups]
    values = np.asarray(
        groups.reindex(index)
        if isinstance(groups, pd.Series) and isinstance(X, pd.DataFrame)
        else groups
    )
    if len(values) != len(index):
        raise TxpredictError(
            f"groups has {len(values)} values for {len(index)} subjects."
        )
    missing = pd.isna(values)
    if missing.any():
        raise TxpredictError(
            f"groups is missing for {int(missing.sum())} subject(s): "
            f"{list(map(str, np.asarray(index)[missing]))[:10]}. Fill in their site."
        )
    return values


def check_sites(y, groups):
    """Leave-site-out needs two sites, and both classes in every training part."""
    sites = pd.unique(groups)
    if len(sites) < 2:
        raise TxpredictError(
            f"outer_cv='leave-site-out' needs at least two sites; groups has "
            f"{len(sites)} ({list(sites)})."
        )
    for site in sites:
        rest = y[groups != site]
        if rest.min() == rest.max():
            raise TxpredictError(
                f"Without site {site!r} the training patients are all of one class: "
                "the model cannot be trained when that site is held out. Use "
                "grouped k-fold (outer_cv=k with groups) or gather more patients."
            )
