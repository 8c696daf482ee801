"""Treatment-selection measures with their influence values, and their intervals.

Every measure is a (self-normalised, Hajek) inverse-probability-weighted
response rate or a difference of two, so each has a per-patient influence
value psi_i whose mean square over n gives its "test-set" variance, as for the
classification metrics in :mod:`txpredict.stats._cv`:

- ``policy_value``: the response rate had everyone received the recommended
  arm, V(pi) = sum w m y / sum w m, with m = [received == recommended] and
  w = 1 / P(received arm | patient);
- ``everyone_<arm>``: the same for the policy "everyone gets <arm>";
- ``policy_gain``: V(pi) minus the best single arm's value (the arm chosen
  on the same data: an honest comparison must not pick it on other data);
- ``matched_minus_unmatched``: the response rate of patients who received the
  recommended arm minus that of the others (DeRubeis et al. 2014, Webb et al.
  2019): plain rates, as the literature reports them; an analysis of
  randomised trials (in a 1:1 trial the matched rate equals the policy value).

With known assignment probabilities (a randomised trial) the weights are
exact; in a non-randomised study they must come from a propensity model, and
the measures are only as good as it is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from txpredict.stats._cv import design_effect

MEASURES = ("matched_minus_unmatched", "policy_value", "policy_gain")

#: The interval each measure gets in ``SelectionResult.summary()``: the
#: narrowest method whose coverage in benchmarks/calibration.py (randomised
#: Frick-like trials) was at least 93% and at most 97% + 2 Monte-Carlo SE.
DEFAULT_POLICY_METHODS = {
    "matched_minus_unmatched": "test_set",
    "policy_value": "test_set",
    "policy_gain": "test_set",
}


def hajek(y, weights, mask) -> tuple[float, np.ndarray]:
    """Weighted response rate of the ``mask`` rows and its influence values.

    Parameters
    ----------
    y : ndarray of shape (n,)
        0/1 outcomes.
    weights : ndarray of shape (n,)
        1 / P(received arm) of each patient.
    mask : ndarray of bool, shape (n,)
        The patients whose weighted response rate is wanted.
    """
    w = np.where(mask, weights, 0.0)
    total = w.sum()
    if total == 0:
        return np.nan, np.full(len(y), np.nan)
    value = float((w * y).sum() / total)
    return value, len(y) * w * (y - value) / total


def policy_measures(y, received, recommended, weights, arms) -> dict:
    """Estimate and influence values of every measure on one set of patients.

    Parameters
    ----------
    y : ndarray of shape (n,)
        0/1 outcomes.
    received : ndarray of shape (n,)
        The arm each patient received.
    recommended : ndarray of shape (n,)
        The arm recommended to each.
    weights : ndarray of shape (n,)
        1 / P(received arm) of each patient.
    arms : sequence of str
        The arm names, in order.

    Returns
    -------
    dict of str to (float, ndarray)
        :data:`MEASURES` and ``everyone_<arm>`` for each arm.
    """
    y = np.asarray(y, dtype=float)
    received = np.asarray(received)
    matched = received == np.asarray(recommended)
    ones = np.ones(len(y))
    matched_rate, psi_matched = hajek(y, ones, matched)
    unmatched_rate, psi_unmatched = hajek(y, ones, ~matched)
    value, psi_value = hajek(y, weights, matched)
    out = {
        "matched_minus_unmatched": (
            matched_rate - unmatched_rate,
            psi_matched - psi_unmatched,
        ),
        "policy_value": (value, psi_value),
    }
    singles = {arm: hajek(y, weights, received == arm) for arm in arms}
    best = max(arms, key=lambda arm: singles[arm][0])
    out["policy_gain"] = (value - singles[best][0], psi_value - singles[best][1])
    for arm in arms:
        out[f"everyone_{arm}"] = singles[arm]
    return out


def policy_intervals(
    predictions: pd.DataFrame, weights, arms, method: str, confidence=0.95
) -> pd.DataFrame:
    """Estimates and intervals of :data:`MEASURES` from out-of-fold recommendations.

    Parameters
    ----------
    predictions : DataFrame
        One row per patient and repeat with ``repeat``, ``fold``, ``y_true``,
        ``received`` and ``recommended`` (``SelectionResult.predictions``).
    weights : ndarray
        1 / P(received arm) of each row.
    arms : sequence of str
        The arm names, in order.
    method : {"test_set", "corrected_folds", "corrected_test_set"}
        As in :func:`txpredict.stats.cv_intervals`: each patient counted once;
        Nadeau-Bengio corrected variance of the outer folds' values; the
        test-set variance times the design effect 1/R + K/(K - 1).
    confidence : float, default=0.95
        Level of the intervals.

    Returns
    -------
    DataFrame
        Index: the measures; ``estimate`` (mean over repeats), ``ci_low``,
        ``ci_high``.
    """
    p = predictions.reset_index(drop=True)
    weights = np.asarray(weights, dtype=float)
    z = stats.norm.ppf(0.5 + confidence / 2)
    per_repeat = []
    for _, frame in p.groupby("repeat"):
        rows = frame.index.to_numpy()
        m = policy_measures(
            frame["y_true"],
            frame["received"],
            frame["recommended"],
            weights[rows],
            arms,
        )
        per_repeat.append(
            {k: (m[k][0], np.mean(m[k][1] ** 2) / len(rows)) for k in MEASURES}
        )
    n_repeats = len(per_repeat)
    n_folds = p.groupby(["repeat", "fold"]).ngroups / n_repeats
    out = []
    for name in MEASURES:
        estimate = float(np.mean([r[name][0] for r in per_repeat]))
        if method == "corrected_folds":
            values = []
            for _, frame in p.groupby(["repeat", "fold"]):
                rows = frame.index.to_numpy()
                values.append(
                    policy_measures(
                        frame["y_true"],
                        frame["received"],
                        frame["recommended"],
                        weights[rows],
                        arms,
                    )[name][0]
                )
            values = np.asarray(values)
            values = values[np.isfinite(values)]
            factor = 1.0 / len(values) + 1.0 / (n_folds - 1.0)
            half = stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * np.sqrt(
                factor * values.var(ddof=1)
            )
        else:
            variance = np.mean([r[name][1] for r in per_repeat])
            quantile = z
            if method == "corrected_test_set":
                variance *= design_effect(n_repeats, n_folds)
                n_fold_values = p.groupby(["repeat", "fold"]).ngroups
                quantile = stats.t.ppf(0.5 + confidence / 2, n_fold_values - 1)
            half = quantile * np.sqrt(variance)
        out.append((name, estimate, estimate - half, estimate + half))
    return pd.DataFrame(
        out, columns=["measure", "estimate", "ci_low", "ci_high"]
    ).set_index("measure")
