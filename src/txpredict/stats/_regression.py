"""Estimates, intervals and tests of cross-validated predictions of a change score.

Metrics of predicted symptom change against the observed change: Pearson's
``r``, the out-of-sample ``r2`` (1 - sum of squared errors / sum of squares
around the patients' mean; negative when the predictions are worse than the
mean) and the mean absolute error ``mae`` (in the outcome's units). Each is
computed on each repeat's pooled out-of-fold predictions and averaged over
repeats. Intervals, side by side as for classification
(:mod:`txpredict.stats._cv`):

``"test_set"``
    Each patient counted once: Fisher's z for r, the standard error of the
    mean absolute error, and for r2 the delta method on the sums of squares.
``"corrected_folds"``
    Nadeau & Bengio's corrected variance of the outer folds' values (t on
    J - 1 degrees of freedom).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

REGRESSION_METRICS = ("r", "r2", "mae")
REGRESSION_METHODS = ("test_set", "corrected_folds")
#: The interval each metric gets in ``RegressionCVResult.summary()``: the
#: narrowest method whose coverage in benchmarks/calibration.py was at least 93%
#: and at most 97% + 2 Monte-Carlo SE. None: no method reached it (r and R^2:
#: 66-90% coverage, the cross-validated r is biased low at small n), so the
#: summary shows no interval for them; ``intervals()`` still computes them.
DEFAULT_REGRESSION_METHODS = {
    "r": None,
    "r2": None,
    "mae": "corrected_folds",
}


def regression_metrics(y_true, y_pred) -> dict[str, float]:
    """Pearson r, R^2 and the MAE of predictions of a continuous outcome.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Observed outcomes.
    y_pred : array-like of shape (n,)
        Predicted outcomes.

    Examples
    --------
    >>> m = regression_metrics([1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.5, 4.5])
    >>> round(m["r"], 3), round(m["mae"], 3)
    (0.933, 0.375)
    """
    y, p = np.asarray(y_true, float), np.asarray(y_pred, float)
    residual = ((y - p) ** 2).sum()
    total = ((y - y.mean()) ** 2).sum()
    r = (
        float(np.corrcoef(y, p)[0, 1])
        if len(y) > 2 and y.std() > 0 and p.std() > 0
        else np.nan
    )
    return {
        "r": r,
        "r2": float(1 - residual / total) if total > 0 else np.nan,
        "mae": float(np.abs(y - p).mean()),
    }


def _test_set_interval(metric, y, p, estimate, z):
    n = len(y)
    if metric == "r":
        if not np.isfinite(estimate) or n < 4:
            return np.nan, np.nan
        centre = np.arctanh(np.clip(estimate, -0.999999, 0.999999))
        half = z / np.sqrt(n - 3)
        return float(np.tanh(centre - half)), float(np.tanh(centre + half))
    if metric == "mae":
        se = np.abs(y - p).std(ddof=1) / np.sqrt(n)
        return estimate - z * se, estimate + z * se
    # r2 = 1 - A / B with A, B the means of squared errors and of squares
    # around the mean: delta method on (A, B).
    a, b = (y - p) ** 2, (y - y.mean()) ** 2
    ma, mb = a.mean(), b.mean()
    covariance = np.cov(np.vstack([a, b])) / n
    gradient = np.array([-1 / mb, ma / mb**2])
    se = float(np.sqrt(gradient @ covariance @ gradient))
    return estimate - z * se, estimate + z * se


def regression_intervals(
    y_true, y_pred, repeat, fold, method, confidence=0.95
) -> pd.DataFrame:
    """Estimate and ``confidence`` interval of r, r2 and mae by one ``method``.

    Parameters
    ----------
    y_true, y_pred, repeat, fold : array-like
        One entry per patient and repeat (out-of-fold predictions).
    method : {"test_set", "corrected_folds"}
        Each patient counted once, or the Nadeau-Bengio corrected variance
        of the outer folds' values.
    confidence : float, default=0.95
        Level of the intervals.

    Returns
    -------
    DataFrame
        Index: the metrics; ``estimate``, ``ci_low``, ``ci_high``.
    """
    if method not in REGRESSION_METHODS:
        raise ValueError(
            f"Unknown interval method {method!r}; use {REGRESSION_METHODS}."
        )
    frame = pd.DataFrame(
        {"y": y_true, "p": y_pred, "repeat": repeat, "fold": fold}
    ).astype({"y": float, "p": float})
    per_repeat = [
        (regression_metrics(g["y"], g["p"]), g) for _, g in frame.groupby("repeat")
    ]
    estimates = {
        m: float(np.mean([values[m] for values, _ in per_repeat]))
        for m in REGRESSION_METRICS
    }
    z = stats.norm.ppf(0.5 + confidence / 2)
    rows = []
    for metric in REGRESSION_METRICS:
        estimate = estimates[metric]
        if method == "test_set":
            bounds = [
                _test_set_interval(
                    metric, g["y"].to_numpy(), g["p"].to_numpy(), values[metric], z
                )
                for values, g in per_repeat
            ]
            half_widths = [(high - low) / 2 for low, high in bounds]
            half = float(np.nanmean(half_widths))
            low, high = estimate - half, estimate + half
            if metric == "r":  # keep Fisher's asymmetry: average the bounds
                low, high = np.nanmean(bounds, axis=0)
        else:
            values = np.array(
                [
                    regression_metrics(g["y"], g["p"])[metric]
                    for _, g in frame.groupby(["repeat", "fold"])
                ]
            )
            values = values[np.isfinite(values)]
            n_folds = (
                frame.groupby(["repeat", "fold"]).ngroups / frame["repeat"].nunique()
            )
            factor = 1 / len(values) + 1 / (n_folds - 1)
            half = stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * np.sqrt(
                factor * values.var(ddof=1)
            )
            low, high = estimate - half, estimate + half
        rows.append((metric, estimate, float(low), float(high)))
    return pd.DataFrame(
        rows, columns=["metric", "estimate", "ci_low", "ci_high"]
    ).set_index("metric")


def regression_paired_test(frame_a, frame_b, metric) -> dict:
    """Nadeau-Bengio corrected t-test of the fold differences of one metric.

    ``frame_a`` and ``frame_b``: out-of-fold predictions (``y_true``,
    ``y_pred``, ``repeat``, ``fold``) of two models on the same splits, row by
    row the same patients. The difference is the mean fold difference a - b,
    which is ``mean_a - mean_b``: each model's metric averaged over the same
    outer test folds (the folds where both are defined).

    Parameters
    ----------
    frame_a, frame_b : DataFrame
        Out-of-fold predictions (``y_true``, ``y_pred``, ``repeat``, ``fold``) of
        two models on the same splits, row by row the same patients.
    metric : {"r", "r2", "mae"}
        The metric compared.
    """
    pairs = np.array(
        [
            (
                regression_metrics(a["y_true"], a["y_pred"])[metric],
                regression_metrics(b["y_true"], b["y_pred"])[metric],
            )
            for (_, a), (_, b) in zip(
                frame_a.groupby(["repeat", "fold"]),
                frame_b.groupby(["repeat", "fold"]),
                strict=True,
            )
        ]
    )
    pairs = pairs[np.isfinite(pairs).all(axis=1)]
    d = pairs[:, 0] - pairs[:, 1]
    n_folds = frame_a.groupby(["repeat", "fold"]).ngroups / frame_a["repeat"].nunique()
    se = float(np.sqrt((1 / len(d) + 1 / (n_folds - 1)) * d.var(ddof=1)))
    statistic = d.mean() / se if se > 0 else 0.0
    return {
        "mean_a": float(pairs[:, 0].mean()),
        "mean_b": float(pairs[:, 1].mean()),
        "difference": float(d.mean()),
        "se": se,
        "statistic": float(statistic),
        "df": len(d) - 1,
        "p_value": float(2 * stats.t.sf(abs(statistic), len(d) - 1)),
    }
