"""Tests comparing two sets of predictions or fold scores.

- DeLong's test for two correlated ROC curves (same patients, two models):
  valid for frozen models scored on an independent test set, not for
  cross-validated predictions (see :func:`txpredict.stats.cv_paired_test`).
- Nadeau & Bengio's (2003, Mach Learn 52:239) corrected resampled t-test: the
  folds of repeated CV share training subjects, so the naive t-test across
  folds is far too liberal; the correction inflates the variance by
  ``n_test / n_train``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from txpredict.stats._intervals import delong_components


def delong_test(y_true, scores_a, scores_b) -> dict:
    """DeLong's test of two correlated ROC curves (same subjects, two models).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 outcomes (1: responder).
    scores_a, scores_b : array-like of shape (n,)
        Two models' decision values on the same patients.

    Returns
    -------
    dict
        ``auc_a``, ``auc_b``, ``difference`` (a - b), ``z`` and two-sided
        ``p_value``.
    """
    aucs, covariance = delong_components(y_true, np.vstack([scores_a, scores_b]))
    difference = aucs[0] - aucs[1]
    variance = covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1]
    if variance <= 0:
        z, p = (0.0, 1.0) if difference == 0 else (np.inf * np.sign(difference), 0.0)
    else:
        z = difference / np.sqrt(variance)
        p = 2 * stats.norm.sf(abs(z))
    return {
        "auc_a": float(aucs[0]),
        "auc_b": float(aucs[1]),
        "difference": float(difference),
        "z": float(z),
        "p_value": float(p),
    }


def corrected_resampled_ttest(differences, n_train, n_test) -> dict:
    """Nadeau-Bengio corrected t-test of per-fold score differences.

    Parameters
    ----------
    differences : array-like of shape (n_repeats * n_folds,)
        Score of model a minus score of model b on each outer test fold.
    n_train, n_test : float
        (Mean) sizes of the training and test parts of a fold.

    Returns
    -------
    dict
        ``mean_difference``, ``t``, ``df`` and two-sided ``p_value``.
    """
    d = np.asarray(differences, dtype=float)
    J = len(d)
    if J < 2:
        raise ValueError("The corrected t-test needs at least 2 folds.")
    variance = d.var(ddof=1)
    mean = d.mean()
    if variance == 0:
        t, p = (0.0, 1.0) if mean == 0 else (np.inf * np.sign(mean), 0.0)
    else:
        t = mean / np.sqrt((1 / J + n_test / n_train) * variance)
        p = 2 * stats.t.sf(abs(t), df=J - 1)
    return {
        "mean_difference": float(mean),
        "t": float(t),
        "df": J - 1,
        "p_value": float(p),
    }


def corrected_resampled_interval(values, n_train, n_test, confidence=0.95):
    """Mean of per-fold values and its Nadeau-Bengio corrected t interval.

    The variance of the mean of J fold values is (1/J + n_test/n_train) s^2
    (Nadeau & Bengio 2003): the folds share training patients, so their
    spread alone understates it.

    Parameters
    ----------
    values : array-like
        One value per fold (J of them).
    n_train, n_test : int
        Patients in a fold's training and test parts.
    confidence : float, default=0.95
        Level of the interval.

    Returns
    -------
    (mean, low, high) : tuple of float
        ``low`` and ``high`` are NaN with fewer than 2 folds.

    Examples
    --------
    >>> mean, low, high = corrected_resampled_interval([0.1, 0.2, 0.3], 80, 20)
    >>> round(mean, 3), round(low, 3) < 0.2 < round(high, 3)
    (0.2, True)
    """
    v = np.asarray(values, dtype=float)
    mean = float(v.mean())
    if len(v) < 2:
        return mean, np.nan, np.nan
    se = np.sqrt((1 / len(v) + n_test / n_train) * v.var(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, df=len(v) - 1) * se)
    return mean, mean - half, mean + half
