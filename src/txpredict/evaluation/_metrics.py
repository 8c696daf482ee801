"""Classification metrics with scikit-learn's signature."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import recall_score


def sensitivity_score(y_true, y_pred, *, pos_label=1, sample_weight=None) -> float:
    """Proportion of responders predicted as responders (true positive rate).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_subjects,)
    pos_label : int or str, default=1
        The responder label.
    sample_weight : array-like or None, default=None

    Returns
    -------
    float

    Examples
    --------
    >>> from txpredict import sensitivity_score
    >>> sensitivity_score([1, 1, 0, 0], [1, 0, 0, 0])
    0.5
    """
    return float(
        recall_score(
            y_true,
            y_pred,
            pos_label=pos_label,
            sample_weight=sample_weight,
            zero_division=np.nan,
        )
    )


def specificity_score(y_true, y_pred, *, pos_label=1, sample_weight=None) -> float:
    """Proportion of non-responders predicted as non-responders (true negative rate).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_subjects,)
    pos_label : int or str, default=1
        The responder label; every other label counts as negative.
    sample_weight : array-like or None, default=None

    Returns
    -------
    float

    Examples
    --------
    >>> from txpredict import specificity_score
    >>> specificity_score([1, 1, 0, 0], [1, 0, 1, 0])
    0.5
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    # Specificity is the sensitivity of "non-responder".
    return sensitivity_score(
        (y_true != pos_label).astype(int),
        (y_pred != pos_label).astype(int),
        pos_label=1,
        sample_weight=sample_weight,
    )
