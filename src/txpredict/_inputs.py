"""The one input check: every per-subject input aligned to ``X`` by index.

The outcome ``y``, the treatment arm, the groups (sites) and the propensities
may come as a column name of ``X``, a pandas Series or a plain array. A Series
is aligned to ``X`` by its index, never by its position: a table sorted
differently from ``X`` (same participant ids, another order) gives the same
analysis. A plain array has no index, so it is taken in ``X``'s row order.
Every entry point (nested CV, permutation tests, importances, the modality
evaluation and the estimators' ``fit``) goes through these functions, as every
scikit-learn CV helper goes through ``indexable`` / ``check_cv``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from txpredict.errors import TxpredictError


def _index_of(X) -> pd.Index:
    return X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(len(X))


def participant_ids(X) -> np.ndarray:
    """The participant id of each row of ``X`` (its row number for an array)."""
    return _index_of(X).astype(str).to_numpy()


def aligned_values(values, X, *, what: str, column_ok: bool = False) -> np.ndarray:
    """``values`` as an array in the row order of ``X``.

    Parameters
    ----------
    values : str, Series or array-like
        A column name of ``X`` (with ``column_ok``), a Series indexed by
        participant (aligned to ``X``'s index) or one value per row of ``X``.
    X : DataFrame or array-like
    what : str
        The parameter's name, for error messages (``"y"``, ``"treatment"``).

    Returns
    -------
    ndarray of shape (n_subjects,)

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"age": [30, 40]}, index=["sub-01", "sub-02"])
    >>> y = pd.Series([1, 0], index=["sub-02", "sub-01"])
    >>> aligned_values(y, X, what="y").tolist()
    [0, 1]
    """
    if not hasattr(X, "__len__"):
        raise TxpredictError("X must be a DataFrame (or array) of subjects.")
    index = _index_of(X)
    if isinstance(values, str) and column_ok:
        if not isinstance(X, pd.DataFrame) or values not in X.columns:
            raise TxpredictError(
                f"{what}={values!r} is not a column of X; pass the name of a column "
                f"of X, a Series indexed like X, or an array with one value per row."
            )
        return X[values].to_numpy()
    if isinstance(values, pd.Series):
        if len(values) != len(index):
            raise TxpredictError(
                f"X has {len(index)} subjects but {what} has {len(values)} values; "
                f"pass {what} for exactly the subjects in X (e.g. cohort.X with "
                "the same cohort's columns)."
            )
        if isinstance(X, pd.DataFrame) and not values.index.equals(index):
            if values.index.has_duplicates:
                raise TxpredictError(
                    f"The index of {what} repeats participant(s) "
                    f"{sorted(map(str, values.index[values.index.duplicated()]))[:5]}"
                    "; give one value per participant."
                )
            if set(values.index) != set(index):
                only_x = sorted(map(str, set(index) - set(values.index)))[:5]
                only_v = sorted(map(str, set(values.index) - set(index)))[:5]
                raise TxpredictError(
                    f"The indices of X and {what} name different subjects (only in "
                    f"X: {only_x}; only in {what}: {only_v}). Use {what} from the "
                    "same cohort, indexed by participant id."
                )
            values = values.reindex(index)  # by participant, not by position
        return values.to_numpy()
    array = np.asarray(values)
    if array.ndim != 1 or len(array) != len(index):
        raise TxpredictError(
            f"X has {len(index)} subjects but {what} has "
            f"{len(array) if array.ndim else 'a single'} value(s); pass one value "
            "per row of X."
        )
    return array


def check_X_y(X, y, *, continuous=False):
    """Align y to X; refuse NaN, mismatched lengths or indices, non-binary y.

    With ``continuous=True`` (a regressor), y must be finite numbers instead,
    and not all the same.

    Returns
    -------
    index : Index
        The subjects (``X``'s index, or a RangeIndex for an array).
    y : ndarray
        0/1 integers, or floats with ``continuous=True``.
    """
    values = aligned_values(y, X, what="y")
    index = _index_of(X)
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
        if len(numbers) and np.ptp(numbers) == 0:
            raise TxpredictError(
                f"y takes the single value {numbers[0]:g} for every subject: there "
                "is nothing to predict (and no correlation to score). Check the "
                "outcome column or rule."
            )
        return index, numbers
    labels = np.unique(values)
    if not set(labels.tolist()) <= {0, 1}:
        raise TxpredictError(
            f"y must be binary (1 = responder, 0 = non-responder); got values "
            f"{labels.tolist()[:10]}."
        )
    return index, values.astype(int)


def check_group_labels(groups, X, index=None):
    """Groups (sites) as an array aligned to X: a column name, a Series or an array."""
    if groups is None:
        return None
    values = aligned_values(groups, X, what="groups", column_ok=True)
    index = _index_of(X) if index is None else index
    missing = pd.isna(values)
    if missing.any():
        raise TxpredictError(
            f"groups is missing for {int(missing.sum())} subject(s): "
            f"{list(map(str, np.asarray(index)[missing]))[:10]}. Fill in their site "
            "(or remove them)."
        )
    return values


def check_treatment(X, treatment, arms=None):
    """Treatment arm per subject as a Series aligned to X; refuse missing arms.

    Returns
    -------
    arm : Series of str
        Indexed like ``X``.
    arms : tuple of str
        ``arms``, or the arms present (sorted).
    """
    values = aligned_values(treatment, X, what="treatment", column_ok=True)
    values = pd.Series(values, index=_index_of(X))
    missing = values.index[values.isna()].tolist()
    if missing:
        raise TxpredictError(
            f"Treatment arm missing for subject(s) {list(map(str, missing))[:10]}; a "
            "recommendation needs the arm each patient received. Remove them."
        )
    values = values.astype(str)
    present = sorted(values.unique())
    if arms is None:
        arms = tuple(present)
    unknown = sorted(set(present) - set(arms))
    if unknown:
        raise TxpredictError(
            f"Treatment values {unknown} are not among arms {list(arms)}."
        )
    if len(arms) < 2 or len(present) < 2:
        raise TxpredictError(
            f"Modality prediction needs at least two treatment arms; got {present}."
        )
    return values, tuple(arms)


def check_n_jobs(n_jobs):
    """``n_jobs`` as joblib takes it: None, or a non-zero integer (-1: every core)."""
    if n_jobs is None:
        return None
    if (
        isinstance(n_jobs, bool)
        or not isinstance(n_jobs, int | np.integer)
        or (n_jobs == 0)
    ):
        raise TxpredictError(
            f"n_jobs must be None, a positive number of parallel jobs, or -1 for "
            f"every core; got {n_jobs!r}."
        )
    return int(n_jobs)
