"""How many patients a prediction model of a binary outcome needs: Riley et al.

Riley et al. (BMJ 2020;368:m441; Stat Med 2019;38:1276) set the minimum sample
size for developing a model of a binary outcome as the largest of three:

1. expected uniform shrinkage of the coefficients >= 0.9 (little overfitting):
   n = p / ((S - 1) ln(1 - R2_cs / S));
2. a small optimism in the apparent Nagelkerke R^2 (0.05): the same formula
   with S = R2_cs / (R2_cs + 0.05 max R2_cs);
3. the overall risk estimated to within +- 0.05: n = (1.96 / 0.05)^2 phi (1 - phi),

from p candidate parameters, the outcome prevalence phi and an anticipated
Cox-Snell R^2 (R2_cs). A C statistic (AUC) is turned into R2_cs as Riley, Van
Calster & Collins (Stat Med 2021;40:859) do: linear predictors normal with unit
variance in events and non-events, means sqrt(2) Phi^-1(C) apart, and the
large-sample R2_cs of a logistic regression on them; they simulate a million
patients, here the expectation is integrated (Gauss-Hermite), so the answer is
exact and the same on every call. The tests check both against the published
examples and the ``pmsampsize`` package.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from txpredict.errors import TxpredictError

#: Riley et al.'s defaults: shrinkage target, optimism in the Nagelkerke R^2,
#: margin of error of the overall risk.
SHRINKAGE = 0.9
OPTIMISM = 0.05
MARGIN = 0.05
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(101)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


@dataclass(frozen=True)
class SampleSize:
    """The minimum sample size and what each criterion asked.

    Attributes
    ----------
    n : int
        The minimum number of patients (the largest criterion).
    events : float
        Expected events (responders) among them, ``n * prevalence``.
    events_per_parameter : float
    shrinkage : float
        The expected uniform shrinkage at ``n``.
    r2_cs, max_r2_cs : float
        The anticipated Cox-Snell R^2 and its maximum at this prevalence.
    criteria : DataFrame
        One row per criterion: ``n``, ``shrinkage``, ``events``,
        ``events_per_parameter``.
    n_parameters : int
    prevalence : float
    c_statistic : float or None
        The C statistic the R^2 came from, if given.
    """

    n: int
    events: float
    events_per_parameter: float
    shrinkage: float
    r2_cs: float
    max_r2_cs: float
    criteria: pd.DataFrame
    n_parameters: int
    prevalence: float
    c_statistic: float | None = None

    def __repr__(self) -> str:
        given = (
            f"C statistic {self.c_statistic:g} -> " if self.c_statistic else ""
        ) + f"Cox-Snell R^2 {self.r2_cs:.3f} (max {self.max_r2_cs:.3f})"
        lines = [
            f"SampleSize: at least {self.n} patients ({math.ceil(self.events)} "
            f"events, {self.events_per_parameter:.1f} per parameter) for "
            f"{self.n_parameters} candidate parameters, prevalence "
            f"{self.prevalence:g}, {given}; expected shrinkage {self.shrinkage:.3f}"
        ]
        for name, row in self.criteria.iterrows():
            lines.append(
                f"  {name:<26} n={int(row['n']):>6}  shrinkage={row['shrinkage']:.3f}"
            )
        return "\n".join(lines)


def max_cox_snell_r2(prevalence: float) -> float:
    """The largest Cox-Snell R^2 a model of an outcome of this prevalence reaches.

    Parameters
    ----------
    prevalence : float
        The outcome rate.
    """
    phi = prevalence
    log_null = phi * math.log(phi) + (1 - phi) * math.log(1 - phi)
    return 1.0 - math.exp(2.0 * log_null)


def cox_snell_r2_from_c(c_statistic: float, prevalence: float) -> float:
    """The Cox-Snell R^2 that goes with a C statistic (Riley et al. 2021).

    Events' and non-events' linear predictors are N(mu, 1) and N(0, 1), with
    mu = sqrt(2) Phi^-1(C) (so that their AUC is C); a logistic regression of
    the outcome on them, fitted to the whole population, has the mean
    log-likelihood l1, the null model l0, and R2_cs = 1 - exp(2 (l0 - l1)).

    Parameters
    ----------
    c_statistic : float
        The anticipated C statistic (AUC).
    prevalence : float
        The anticipated outcome rate.
    """
    phi = prevalence
    mu = math.sqrt(2.0) * stats.norm.ppf(c_statistic)
    events, others = _NODES + mu, _NODES

    def negative_loglik(theta):
        a, b = theta
        return -(
            phi * np.sum(_WEIGHTS * special.log_expit(a + b * events))
            + (1 - phi) * np.sum(_WEIGHTS * special.log_expit(-(a + b * others)))
        )

    # The exact optimum when both groups are normal with equal variance:
    # slope mu, intercept logit(phi) - mu^2 / 2 (a start, polished below).
    start = np.array([special.logit(phi) - mu * mu / 2.0, mu])
    fit = optimize.minimize(negative_loglik, start, method="BFGS", tol=1e-12)
    log_null = phi * math.log(phi) + (1 - phi) * math.log(1 - phi)
    return float(1.0 - math.exp(2.0 * (log_null + fit.fun)))


def _n_for_shrinkage(n_parameters, r2_cs, shrinkage) -> int:
    return math.ceil(n_parameters / ((shrinkage - 1) * math.log(1 - r2_cs / shrinkage)))


def _shrinkage_at(n, n_parameters, r2_cs) -> float:
    """The S that criterion 1's formula gives for n patients (its inverse)."""

    def gap(s):
        return n_parameters / ((s - 1) * math.log(1 - r2_cs / s)) - n

    return float(optimize.brentq(gap, r2_cs * (1 + 1e-9) + 1e-12, 1 - 1e-12))


def _check(name, value, low, high, what):
    if isinstance(value, bool) or not isinstance(value, Real) or not low < value < high:
        raise TxpredictError(f"{name} must be {what}, got {value!r}.")
    return float(value)


def minimum_sample_size(
    n_parameters,
    prevalence,
    *,
    r2_cs=None,
    c_statistic=None,
    shrinkage=SHRINKAGE,
) -> SampleSize:
    """Patients needed to develop a model of a binary outcome (Riley et al. 2020).

    Parameters
    ----------
    n_parameters : int
        Candidate predictor parameters (every coefficient the model may
        estimate: a categorical column with k levels counts k - 1; an image
        model's ROI features each count one).
    prevalence : float
        The anticipated proportion of responders, in (0, 1).
    r2_cs : float, optional
        The anticipated Cox-Snell R^2 of the model (e.g. of a published model
        in a similar population, adjusted for optimism).
    c_statistic : float, optional
        Instead of ``r2_cs``: the anticipated C statistic (AUC), in (0.5, 1).
    shrinkage : float, default=0.9
        The target expected uniform shrinkage (criterion 1).

    Returns
    -------
    SampleSize

    Examples
    --------
    Riley et al.'s worked example (BMJ 2020, 24 parameters, prevalence 0.174,
    R2_cs 0.288):

    >>> import txpredict as tp
    >>> tp.minimum_sample_size(24, 0.174, r2_cs=0.288).n
    662

    Nine ROI means, half the patients respond, an anticipated AUC of 0.7:

    >>> tp.minimum_sample_size(9, 0.5, c_statistic=0.7).n
    625
    """
    if (
        isinstance(n_parameters, bool)
        or not isinstance(n_parameters, Integral)
        or n_parameters < 1
    ):
        raise TxpredictError(
            f"n_parameters must be a positive integer (the candidate predictor "
            f"parameters), got {n_parameters!r}."
        )
    n_parameters = int(n_parameters)
    prevalence = _check("prevalence", prevalence, 0.0, 1.0, "a proportion in (0, 1)")
    if (r2_cs is None) == (c_statistic is None):
        raise TxpredictError(
            "Give exactly one of r2_cs (the anticipated Cox-Snell R^2) and "
            "c_statistic (the anticipated AUC)."
        )
    top = max_cox_snell_r2(prevalence)
    if c_statistic is not None:
        c_statistic = _check("c_statistic", c_statistic, 0.5, 1.0, "an AUC in (0.5, 1)")
        r2_cs = cox_snell_r2_from_c(c_statistic, prevalence)
    r2_cs = _check(
        "r2_cs",
        r2_cs,
        0.0,
        top,
        f"a Cox-Snell R^2 in (0, {top:.3f}), the largest possible at prevalence "
        f"{prevalence:g}",
    )
    shrinkage = _check(
        "shrinkage", shrinkage, r2_cs, 1.0, f"in ({r2_cs:.3f}, 1), above r2_cs"
    )
    optimism = r2_cs / (r2_cs + OPTIMISM * top)
    sizes = {
        "1: shrinkage": _n_for_shrinkage(n_parameters, r2_cs, shrinkage),
        "2: optimism in R^2": _n_for_shrinkage(n_parameters, r2_cs, optimism),
        "3: overall risk +- 0.05": math.ceil(
            (1.96 / MARGIN) ** 2 * prevalence * (1 - prevalence)
        ),
    }
    n = max(sizes.values())
    criteria = pd.DataFrame(
        {
            "n": list(sizes.values()),
            "shrinkage": [
                _shrinkage_at(size, n_parameters, r2_cs) for size in sizes.values()
            ],
        },
        index=pd.Index(list(sizes), name="criterion"),
    )
    criteria["events"] = criteria["n"] * prevalence
    criteria["events_per_parameter"] = criteria["events"] / n_parameters
    return SampleSize(
        n=n,
        events=n * prevalence,
        events_per_parameter=n * prevalence / n_parameters,
        shrinkage=_shrinkage_at(n, n_parameters, r2_cs),
        r2_cs=r2_cs,
        max_r2_cs=top,
        criteria=criteria,
        n_parameters=n_parameters,
        prevalence=prevalence,
        c_statistic=c_statistic,
    )
