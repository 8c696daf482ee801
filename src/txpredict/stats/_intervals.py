"""Confidence intervals of classification metrics on one test set.

- Wilson score interval for proportions (sensitivity, specificity, PPV, NPV).
- DeLong's variance of the AUC (pairwise for small test sets, otherwise the
  fast O(n log n) form of Sun & Xu 2014).

These treat their predictions as an independent test set of fixed models:
right for a frozen model scored on new patients, not for cross-validated
predictions (see :mod:`txpredict.stats._cv`).
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.stats import rankdata


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


def delong_components(y_true, scores):
    """AUCs (one per row of ``scores``) and DeLong's covariance matrix.

    From the placement values (DeLong et al. 1988): for each responder the
    share of non-responders it outscores (ties count half), and for each
    non-responder the share of responders that outscore it.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 outcomes (1: responder).
    scores : array-like of shape (n_models, n)
        Each model's decision values on the same patients.
    """
    y_true = np.asarray(y_true).astype(bool)
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    positives, negatives = scores[:, y_true], scores[:, ~y_true]
    m, n = positives.shape[1], negatives.shape[1]
    if m == 0 or n == 0:
        raise ValueError("DeLong's AUC needs both responders and non-responders.")
    if m * n <= 65536:
        # Small test sets (outer folds): comparing every pair beats ranking.
        wins = (positives[:, :, None] > negatives[:, None, :]) + 0.5 * (
            positives[:, :, None] == negatives[:, None, :]
        )
        v10 = wins.mean(axis=2)  # per responder
        v01 = wins.mean(axis=1)  # per non-responder
    else:
        # The fast O(n log n) form of Sun & Xu (2014, IEEE Signal Process Lett
        # 21:1389), from midranks.
        tx = rankdata(positives, axis=1)
        ty = rankdata(negatives, axis=1)
        tz = rankdata(np.concatenate([positives, negatives], axis=1), axis=1)
        v10 = (tz[:, :m] - tx) / n
        v01 = 1.0 - (tz[:, m:] - ty) / m
    aucs = v10.mean(axis=1)
    covariance = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return aucs, covariance


def delong_auc_ci(y_true, scores, confidence=0.95) -> tuple[float, float, float]:
    """AUC with DeLong's confidence interval.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 outcomes (1: responder).
    scores : array-like of shape (n,)
        Decision values (higher: responder).
    confidence : float, default=0.95
        Level of the interval.

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
    aucs, covariance = delong_components(y_true, scores)
    auc, se = float(aucs[0]), float(np.sqrt(max(covariance[0, 0], 0.0)))
    z = stats.norm.ppf(0.5 + confidence / 2)
    return auc, max(0.0, auc - z * se), min(1.0, auc + z * se)


def difference_se(pa, pb, na, nb) -> float:
    """Standard error of a difference of two independent proportions (Wald).

    Parameters
    ----------
    pa, pb : float
        Two proportions.
    na, nb : float
        Their numbers of patients.
    """
    return float(np.sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb))


def cohens_h(pa, pb) -> float:
    """Cohen's h, the effect size of a difference of two proportions.

    Parameters
    ----------
    pa, pb : float
        Two proportions.
    """
    return float(2 * np.arcsin(np.sqrt(pa)) - 2 * np.arcsin(np.sqrt(pb)))
