"""Confidence intervals of a patient's difference in response probability.

A per-patient interval of the PAI needs an estimator whose sampling
distribution is known. The tuned (L2-shrunk) response models are biased
towards no difference by design, so intervals around them undercover exactly
the patients with the largest predicted advantage. Here each arm gets an
unshrunk logistic model on the same features, fitted with Firth's bias
reduction (:func:`firth_logistic`): its log-odds at x have the Wald interval
``x'b +- z sqrt(x' I(b)^-1 x)``, with ``I(b) = X'WX`` the Fisher information;
the interval of each arm's probability is its ``expit``, and the two are
combined into an interval of the difference by the MOVER (Zou & Donner 2008,
Stat Med 27:1693), which keeps the asymmetry of each arm's interval near 0
and 1 that a delta-method interval loses.

What the interval covers: the patient's *expected* difference given the
features, E[P(response | arm b) - P(response | arm a) | x], not the response
difference of their unmeasured biology (which no interval from these
features can pin down). Measured coverage: ``benchmarks/pai_intervals.py``.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats
from scipy.special import expit

from txpredict.errors import TxpredictError


def firth_logistic(X, y) -> tuple[np.ndarray, np.ndarray]:
    """Firth's bias-reduced logistic regression and its coefficient covariance.

    Firth's penalty (Jeffreys' prior; Firth 1993, Biometrika 80:27) removes
    the O(1/n) bias of the maximum-likelihood estimate, which at a few events
    per feature (50 patients per arm, 9 ROI features) pushes probabilities
    towards 0 and 1, and keeps the estimate finite when the features separate
    the outcomes, where the maximum-likelihood one does not exist (Heinze &
    Schemper 2002, Stat Med 21:2409). The fit is ``firthmodels``'; the
    covariance is the inverse Fisher information ``(X'WX)^-1`` at the estimate,
    that of its Wald standard errors.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Numeric features (no intercept column: it is added).
    y : ndarray of 0/1

    Returns
    -------
    coef : ndarray of shape (n_features + 1,)
        Intercept first.
    covariance : ndarray of shape (n_features + 1, n_features + 1)

    Raises
    ------
    TxpredictError
        With no more patients than parameters, a single outcome, or when the
        solver does not converge.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 2))
    >>> y = (rng.random(200) < expit(X[:, 0])).astype(int)
    >>> coef, covariance = firth_logistic(X, y)
    >>> coef.shape, covariance.shape
    ((3,), (3, 3))
    """
    from firthmodels import FirthLogisticRegression

    X = np.asarray(X, dtype=float)
    y = np.asarray(y).astype(int)
    n, p = X.shape
    counts = np.bincount(y, minlength=2)
    if n <= p + 1 or counts.min() == 0:
        raise TxpredictError(
            f"A logistic model of {p} feature(s) needs more than {p + 1} patients "
            f"and both outcomes; got {counts[1]} responder(s) and {counts[0]} "
            "non-responder(s)."
        )
    with warnings.catch_warnings():
        # Its warnings (a Fisher information not positive definite) mean no
        # covariance: an error, below.
        warnings.simplefilter("error", RuntimeWarning)
        try:
            # The numpy backend: numba's first-call compilation costs ~14 s.
            model = FirthLogisticRegression(backend="numpy", max_iter=100).fit(X, y)
        except RuntimeWarning:
            model = None
    if model is None or not model.converged_:
        raise TxpredictError(
            "The logistic model of response did not converge (features nearly "
            "collinear, or too many for the patients). Use fewer features."
        )
    coef = np.r_[model.intercept_, model.coef_]
    design = np.column_stack([np.ones(n), X])
    fitted = expit(design @ coef)
    information = design.T @ (design * (fitted * (1 - fitted))[:, None])
    return coef, np.linalg.inv(information)


def logit_interval(X, coef, covariance, confidence=0.95):
    """Probability and its Wald interval (on the log-odds scale) at rows ``X``.

    Parameters
    ----------
    X : ndarray of shape (n, p)
        Rows at which the probability is wanted (intercept column included).
    coef : ndarray of shape (p,)
        The logistic coefficients.
    covariance : ndarray of shape (p, p)
        Their covariance matrix.
    confidence : float, default=0.95
        Level of the interval.

    Returns
    -------
    (p, low, high) : tuple of ndarray
    """
    design = np.column_stack([np.ones(len(X)), np.asarray(X, dtype=float)])
    eta = design @ coef
    se = np.sqrt(np.einsum("ij,jk,ik->i", design, covariance, design))
    z = stats.norm.ppf(0.5 + confidence / 2)
    return expit(eta), expit(eta - z * se), expit(eta + z * se)


def mover_difference(second, first):
    """MOVER interval of ``p_second - p_first`` from each one's own interval.

    Parameters
    ----------
    second, first : tuple of (p, low, high) arrays
        Independent estimates (e.g. two arms' models fitted to different
        patients) and their intervals.

    Returns
    -------
    (difference, low, high) : tuple of ndarray
        Clipped to [-1, 1].

    Examples
    --------
    >>> d, low, high = mover_difference((0.6, 0.5, 0.7), (0.4, 0.3, 0.5))
    >>> round(float(d), 3), round(float(low), 3), round(float(high), 3)
    (0.2, 0.059, 0.341)
    """
    p2, l2, u2 = (np.asarray(v, dtype=float) for v in second)
    p1, l1, u1 = (np.asarray(v, dtype=float) for v in first)
    difference = p2 - p1
    low = difference - np.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    high = difference + np.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return difference, np.clip(low, -1, 1), np.clip(high, -1, 1)
