"""Probabilities of response: prior correction of class-balanced fits, calibration.

txpredict's classifiers are fitted with balanced class weights, so that their
decisions do not favour the majority class (the balanced accuracy is what is
tuned and reported). Weighting makes the fit see a cohort of prevalence 0.5:
its probabilities are pulled towards 0.5 whatever the response rate. By
Bayes' rule the odds of the weighted fit times the training odds,
pi / (1 - pi), are the odds in the training population ("prior correction",
King & Zeng 2001, Political Analysis 9:137; exact for a well-specified
logistic model).

Prior correction keeps the fit's slope, and a fit on 160 patients is too
confident: its mean out-of-fold calibration slope was 0.86 at n = 200, 0.74 at
a 30% response rate (``benchmarks/probability_calibration.py``; 0.96 and 0.88
recalibrated as below). The default therefore recalibrates
the decision values on the inner CV's out-of-fold decision values of the
chosen hyperparameters, which the tuning computed on patients each inner
model never saw (Platt 1999): :func:`fit_recalibration` fits
logit P(response) = intercept + slope * decision on them, with the slope
clipped to [0, 1] so that it only ever softens the fit, and
:func:`apply_recalibration` applies it. Both corrections leave the decision the
balanced one: a patient is predicted a responder when the decision value
is positive.

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


def _log_likelihood_steps(decision, y, slope, intercept):
    """Gradient and Hessian of the log-likelihood of logit P = intercept + slope d."""
    p = expit(intercept + slope * decision)
    residual = y - p
    weight = p * (1.0 - p)
    gradient = np.array([residual.sum(), residual @ decision])
    hessian = np.array(
        [
            [weight.sum(), weight @ decision],
            [weight @ decision, weight @ decision**2],
        ]
    )
    return gradient, hessian


def _intercept_given_slope(decision, y, slope) -> float:
    """The intercept whose mean probability is the observed rate, for ``slope``.

    The intercept's score equation is monotone: Newton from the observed
    log-odds, each step damped to at most 4 (logits beyond that are saturated).
    """
    offset = slope * decision
    intercept = float(logit(y.mean()) - offset.mean())
    for _ in range(100):
        p = expit(intercept + offset)
        step = (y - p).sum() / max((p * (1.0 - p)).sum(), 1e-300)
        intercept += float(np.clip(step, -4.0, 4.0))
        if abs(step) < 1e-10:
            break
    return intercept


def fit_recalibration(decision, y) -> tuple[float, float]:
    """Logistic recalibration of decision values, the slope clipped to [0, 1].

    Fits logit P(y = 1) = intercept + slope * decision by maximum likelihood
    with 0 <= slope <= 1 (Platt 1999, without his target smoothing). Fitted
    on decision values of patients the model never saw (txpredict: the inner
    CV's out-of-fold values), it shrinks an overconfident fit (slope < 1) and
    never sharpens one: a fit on decision values that separate the outcomes
    would make the slope infinite. The profile likelihood of the slope is
    concave, so the constrained optimum is the unconstrained one clipped to
    [0, 1], the intercept refitted.

    Parameters
    ----------
    decision : array-like of shape (n,)
        Decision values (log-odds of a class-balanced or plain fit).
    y : array-like of shape (n,)
        0/1 outcomes, both present.

    Returns
    -------
    (intercept, slope) : tuple of float
        For :func:`apply_recalibration` (the order of
        :func:`calibration_measures`' ``recalibration``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.normal(size=400)
    >>> y = (rng.random(400) < 1 / (1 + np.exp(-truth))).astype(int)
    >>> intercept, slope = fit_recalibration(3 * truth, y)  # three times too sharp
    >>> round(slope, 1)
    0.3
    """
    d = np.asarray(decision, dtype=float)
    y = np.asarray(y, dtype=float)
    if not 0 < y.mean() < 1:
        raise TxpredictError(
            "A recalibration needs responders and non-responders among the "
            f"patients it is fitted on; got {int(y.sum())} of {len(y)} responders."
        )
    if np.ptp(d) == 0:  # constant decisions: nothing to scale
        return float(logit(y.mean())), 0.0
    slope = 0.0
    intercept = float(logit(y.mean()))
    # Damped Newton on the (concave) log-likelihood. Separated outcomes have
    # no finite optimum: the slope grows without bound and is clipped below.
    for _ in range(100):
        gradient, hessian = _log_likelihood_steps(d, y, slope, intercept)
        step = np.linalg.solve(hessian + 1e-12 * np.eye(2), gradient)
        size = min(1.0, 10.0 / max(np.abs(step).max(), 1e-300))
        slope += size * step[1]
        intercept += size * step[0]
        if np.abs(step).max() < 1e-9 * (1.0 + abs(slope)) or slope > 1e3:
            break
    if 0.0 <= slope <= 1.0:
        return float(intercept), float(slope)
    slope = float(np.clip(slope, 0.0, 1.0))
    return _intercept_given_slope(d, y, slope), slope


def apply_recalibration(decision, recalibration):
    """P(response) of decision values: ``expit(intercept + slope * decision)``.

    Parameters
    ----------
    decision : array-like
    recalibration : (intercept, slope)
        As :func:`fit_recalibration` returns it.

    Examples
    --------
    >>> float(apply_recalibration(2.0, (-1.0, 0.5)))
    0.5
    """
    intercept, slope = recalibration
    return expit(intercept + slope * np.asarray(decision, dtype=float))


def calibration_measures(y, probability) -> dict:
    """Calibration of probabilities against observed outcomes (TRIPOD).

    ``intercept``: a in logit P(y) = a + logit(p), the slope fixed at 1
    (calibration-in-the-large on the log-odds scale; 0 when perfect).
    ``slope``: b in logit P(y) = a' + b logit(p) (1 when perfect; below 1:
    predictions too extreme, the overfitting signature). ``recalibration``:
    (a', b), to map the probabilities onto the observed risks. ``brier``:
    the mean squared difference between probability and outcome.

    Parameters
    ----------
    y : array-like of shape (n,)
        0/1 outcomes.
    probability : array-like of shape (n,)
        Predicted probabilities of the outcome.
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

    Parameters
    ----------
    y : array-like of shape (n,)
        0/1 outcomes.
    probability : array-like of shape (n,)
        Predicted probabilities of the outcome.
    thresholds : array-like
        Threshold probabilities, each strictly between 0 and 1.

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
