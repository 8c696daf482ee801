"""Confidence intervals and tests for cross-validated classifiers.

- Wilson score interval for proportions (sensitivity, specificity, PPV, NPV).
- DeLong's variance of the AUC and test for two correlated ROC curves, in the
  fast O(n log n) form of Sun & Xu (2014, IEEE Signal Process Lett 21:1389).
- Nadeau & Bengio's (2003, Mach Learn 52:239) corrected resampled t-test: the
  folds of repeated CV share training subjects, so the naive t-test across
  folds is far too liberal; the correction inflates the variance by
  ``n_test / n_train``.
- Exact McNemar test on paired predictions.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def wilson_interval(successes, n, confidence=0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion.

    Parameters
    ----------
    successes : float
        Number of successes (may be fractional: a mean over CV repeats).
    n : int
        Number of trials.
    confidence : float, default=0.95

    Returns
    -------
    (low, high) : tuple of float
        NaN when ``n`` is 0.

    Examples
    --------
    >>> low, high = wilson_interval(10, 20)
    >>> round(low, 3), round(high, 3)
    (0.299, 0.701)
    """
    if n <= 0:
        return (np.nan, np.nan)
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = successes / n
    denominator = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denominator
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
    return (float(max(0.0, centre - half)), float(min(1.0, centre + half)))


def _midranks(x):
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    n = len(x)
    ranks_sorted = np.empty(n)
    i = 0
    while i < n:
        j = i
        while j < n and sorted_x[j] == sorted_x[i]:
            j += 1
        ranks_sorted[i:j] = 0.5 * (i + j - 1) + 1
        i = j
    ranks = np.empty(n)
    ranks[order] = ranks_sorted
    return ranks


def _delong_components(y_true, scores):
    """AUCs (one per row of ``scores``) and DeLong's covariance matrix."""
    y_true = np.asarray(y_true).astype(bool)
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    positives, negatives = scores[:, y_true], scores[:, ~y_true]
    m, n = positives.shape[1], negatives.shape[1]
    if m == 0 or n == 0:
        raise ValueError("DeLong's AUC needs both responders and non-responders.")
    k = scores.shape[0]
    tx = np.empty((k, m))
    ty = np.empty((k, n))
    tz = np.empty((k, m + n))
    for r in range(k):
        tx[r] = _midranks(positives[r])
        ty[r] = _midranks(negatives[r])
        tz[r] = _midranks(np.concatenate([positives[r], negatives[r]]))
    aucs = tz[:, :m].sum(axis=1) / (m * n) - (m + 1.0) / (2.0 * n)
    v01 = (tz[:, :m] - tx) / n
    v10 = 1.0 - (tz[:, m:] - ty) / m
    covariance = np.atleast_2d(np.cov(v01)) / m + np.atleast_2d(np.cov(v10)) / n
    return aucs, covariance


def delong_auc_ci(y_true, scores, confidence=0.95) -> tuple[float, float, float]:
    """AUC with DeLong's confidence interval.

    Returns
    -------
    (auc, low, high) : tuple of float

    Examples
    --------
    >>> y, scores = [0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9]
    >>> auc, low, high = delong_auc_ci(y, scores)
    >>> round(auc, 3)
    0.889
    """
    aucs, covariance = _delong_components(y_true, scores)
    auc, se = float(aucs[0]), float(np.sqrt(max(covariance[0, 0], 0.0)))
    z = stats.norm.ppf(0.5 + confidence / 2)
    return auc, max(0.0, auc - z * se), min(1.0, auc + z * se)


def delong_test(y_true, scores_a, scores_b) -> dict:
    """DeLong's test of two correlated ROC curves (same subjects, two models).

    Returns
    -------
    dict
        ``auc_a``, ``auc_b``, ``difference`` (a - b), ``z`` and two-sided
        ``p_value``.
    """
    aucs, covariance = _delong_components(y_true, np.vstack([scores_a, scores_b]))
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


def mcnemar_test(correct_a, correct_b) -> dict:
    """Exact McNemar test on paired correct/incorrect predictions.

    Returns
    -------
    dict
        ``a_only`` (a right, b wrong), ``b_only`` and two-sided ``p_value``.
    """
    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    a_only, b_only = int((a & ~b).sum()), int((~a & b).sum())
    n = a_only + b_only
    p = 1.0 if n == 0 else float(stats.binomtest(a_only, n, 0.5).pvalue)
    return {"a_only": a_only, "b_only": b_only, "p_value": p}
