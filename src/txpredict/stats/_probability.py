"""Probabilities of response: prior correction of class-balanced fits, calibration.

txpredict's classifiers are fitted with balanced class weights, so that their
decisions do not favour the majority class (the balanced accuracy is what is
tuned and reported). Weighting makes the fit see a cohort of prevalence 0.5:
its probabilities are pulled towards 0.5 whatever the response rate. By
Bayes' rule the odds of the weighted fit times the training odds,
pi / (1 - pi), are the odds in the training population ("prior correction",
King & Zeng 2001, Political Analysis 9:137; exact for a well-specified
logistic model). The decision stays the balanced one: a patient is predicted
a responder when the corrected probability exceeds the training prevalence.

Calibration (TRIPOD+AI 2024; Van Calster et al. 2019, BMC Med 17:230): the
calibration intercept (calibration-in-the-large on the log-odds scale, 0 when
perfect), the calibration slope (1 when perfect; below 1: predictions too
extreme, the overfitting signature) and the Brier score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import expit, logit
from sklearn.linear_model import LogisticRegression

from txpredict.errors import TxpredictError


def prior_shift(probability, prevalence):
    """Probabilities of a class-balanced fit, in a population of ``prevalence``.

    Parameters
    ----------
    probability : array-like
        P(response) of a model fitted with balanced class weights.
    prevalence : float
        The training cohort's response rate.

    Returns
    -------
    ndarray
        ``expit(logit(probability) + logit(prevalence))``.

    Examples
    --------
    >>> float(prior_shift(0.5, 0.25))  # the balanced boundary is the prevalence
    0.25
    """
    if not 0 < prevalence < 1:
        raise TxpredictError(
            f"prior_shift needs a prevalence strictly between 0 and 1, got "
            f"{prevalence!r}: the training part has a single class."
        )
    p = np.asarray(probability, dtype=float)
    return expit(logit(p) + logit(prevalence))


def calibration_measures(y, probability) -> dict:
    """Calibration of probabilities against observed outcomes (TRIPOD).

    ``intercept``: a in logit P(y) = a + logit(p), the slope fixed at 1
    (calibration-in-the-large on the log-odds scale; 0 when perfect).
    ``slope``: b in logit P(y) = a' + b logit(p) (1 when perfect; below 1:
    predictions too extreme, the overfitting signature). ``recalibration``:
    (a', b), to map the probabilities onto the observed risks. ``brier``:
    the mean squared difference between probability and outcome.
    """
    y = np.asarray(y, dtype=float)
    p = np.clip(np.asarray(probability, dtype=float), 1e-12, 1 - 1e-12)
    lp = logit(p)
    # The score equation of the intercept with offset lp is monotone in a.
    intercept = optimize.brentq(lambda a: np.sum(y - expit(a + lp)), -30.0, 30.0)
    fit = LogisticRegression(C=np.inf).fit(lp.reshape(-1, 1), y)
    return {
        "observed": float(y.mean()),
        "mean_predicted": float(p.mean()),
        "in_the_large": float(y.mean() - p.mean()),
        "intercept": float(intercept),
        "slope": float(fit.coef_[0, 0]),
        "recalibration": (float(fit.intercept_[0]), float(fit.coef_[0, 0])),
        "brier": float(np.mean((p - y) ** 2)),
    }


#: The calibration measures a CV result reports, in order.
CALIBRATION_MEASURES = ("observed", "mean_predicted", "intercept", "slope", "brier")


def calibration_over_repeats(parts) -> pd.DataFrame:
    """:func:`calibration_measures` of each repeat's (y, probability), averaged.

    Parameters
    ----------
    parts : iterable of (y, probability)
        One pair per repeat of a cross-validation (every patient once).

    Returns
    -------
    DataFrame
        Indexed by measure (:data:`CALIBRATION_MEASURES`): ``estimate`` (mean
        over repeats) and ``sd_across_repeats``.
    """
    table = pd.DataFrame([calibration_measures(y, p) for y, p in parts])
    table = table[list(CALIBRATION_MEASURES)]
    return pd.DataFrame(
        {
            "estimate": table.mean(),
            "sd_across_repeats": table.std(ddof=1) if len(table) > 1 else np.nan,
        }
    ).rename_axis("measure")


def decision_curve(y, probability, thresholds):
    """Net benefit at each threshold probability (Vickers & Elkin 2006).

    Returns
    -------
    DataFrame
        Indexed by threshold: ``net_benefit`` of acting on
        ``probability >= threshold``, ``treat_all``, ``treat_none``,
        ``sensitivity`` and ``specificity`` of that rule.
    """
    y = np.asarray(y, dtype=bool)
    p = np.asarray(probability, dtype=float)
    t = np.asarray(thresholds, dtype=float)
    act = p[None, :] >= t[:, None]
    tp = (act & y).sum(axis=1)
    fp = (act & ~y).sum(axis=1)
    n, prevalence = len(y), y.mean()
    odds = t / (1 - t)
    return pd.DataFrame(
        {
            "net_benefit": tp / n - fp / n * odds,
            "treat_all": prevalence - (1 - prevalence) * odds,
            "treat_none": 0.0,
            "sensitivity": tp / max(y.sum(), 1),
            "specificity": 1 - fp / max((~y).sum(), 1),
        },
        index=pd.Index(t, name="threshold"),
    )
