"""Estimates and confidence intervals of cross-validated classification metrics.

Out-of-fold predictions are not an independent test set: every fold trained
its own model on patients the other folds test, so intervals that count each
patient once (Wilson, DeLong) ignore the variability of training (Varoquaux
2018, NeuroImage 180:68; Bates, Hastie & Tibshirani 2024, JASA 119:1434).
Three kinds of interval are computed side by side, and
``benchmarks/calibration.py`` measures how often each covers the truth on
synthetic cohorts (:data:`DEFAULT_METHODS` holds the narrowest that reached
93-97% coverage for every metric, size and setting tried):

``"test_set"``
    What a paper would compute, each patient counted once: Wilson for
    sensitivity, specificity, PPV and NPV (counts averaged over repeats),
    the two binomial variances for balanced accuracy, and for the AUC the
    DeLong variances of the outer test folds (the AUC is their mean).
``"corrected_folds"``
    Nadeau & Bengio's (2003, Mach Learn 52:239) corrected resampled variance
    of the J = repeats x folds fold values, (1/J + n_test/n_train) s^2, with
    a t quantile on J - 1 degrees of freedom.
``"corrected_test_set"``
    Nadeau & Bengio's corrected variance (1/J + n_test/n_train) s^2 with the
    fold variance s^2 replaced by its test-set value K x V (V the test-set
    variance of the estimate: binomial, or DeLong's for the AUC), which is
    less noisy than the empirical fold variance: V (1/R + K/(K - 1)) for R
    repeats of K-fold CV, with t on J - 1 degrees of freedom; Wilson with
    the effective number of patients n / (1/R + K/(K - 1)) for proportions.

Estimates: sensitivity, specificity, balanced accuracy, PPV and NPV pooled
over each repeat's out-of-fold predictions, then averaged over repeats; the
AUC computed in each outer test fold and averaged over all folds, because
decision values of different folds' models are on different scales (pooled,
they bias the AUC, below 0.5 on null data; Airola et al. 2011).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from scipy import stats

from txpredict.stats._intervals import delong_components, wilson_interval
from txpredict.stats._metrics import (
    METRICS,
    confusion_counts,
    fast_auc,
    metrics_from_counts,
)

METHODS = ("test_set", "corrected_folds", "corrected_test_set")

#: The interval each metric gets in ``NestedCVResult.summary()``: the narrowest
#: method whose coverage was at least 93% in every setting of
#: benchmarks/calibration.py and at most 97% + 2 Monte-Carlo SE (a test checks
#: these against the committed results).
DEFAULT_METHODS = {
    "sensitivity": "test_set",
    "specificity": "test_set",
    "balanced_accuracy": "corrected_test_set",
    "auc": "corrected_test_set",
    "ppv": "test_set",
    "npv": "corrected_test_set",
}

#: What each method's interval is about, in words for tables and reports.
DESCRIPTIONS = {
    "test_set": "test-set variance (patients counted once; ignores that each "
    "fold trained its own model)",
    "corrected_folds": "Nadeau-Bengio corrected variance of the fold values (t)",
    "corrected_test_set": "test-set variance x Nadeau-Bengio design effect",
}


class CVPredictions:
    """Out-of-fold predictions of repeated K-fold CV, grouped for inference.

    Parameters
    ----------
    y_true, y_pred : array of 0/1
        One entry per patient and repeat.
    score : array of float
        Decision values (any scale; compared within a fold only).
    repeat, fold : array of int
        The repeat and outer fold of each entry.
    """

    def __init__(self, y_true, y_pred, score, repeat, fold):
        self.y_true = np.asarray(y_true, dtype=int)
        self.y_pred = np.asarray(y_pred, dtype=int)
        self.score = np.asarray(score, dtype=float)
        self.repeat = np.asarray(repeat)
        self.fold = np.asarray(fold)
        self.repeats = np.unique(self.repeat)
        groups = (
            pd.DataFrame({"repeat": self.repeat, "fold": self.fold})
            .groupby(["repeat", "fold"], sort=True)
            .indices
        )
        self.folds = list(groups.values())  # row positions of each outer test fold
        self.fold_repeat = np.array([repeat for repeat, _ in groups])

    @property
    def n_repeats(self) -> int:
        """R, the number of repeats."""
        return len(self.repeats)

    @property
    def n_folds(self) -> float:
        """K, the (mean) number of outer folds per repeat."""
        return len(self.folds) / self.n_repeats

    @functools.cached_property
    def per_repeat_counts(self) -> pd.DataFrame:
        """tp, fn, tn, fp of each repeat's pooled predictions."""
        return pd.DataFrame(
            [
                confusion_counts(
                    self.y_true[self.repeat == r], self.y_pred[self.repeat == r]
                )
                for r in self.repeats
            ]
        )

    @functools.cached_property
    def fold_values(self) -> pd.DataFrame:
        """Every metric in every outer test fold (NaN where undefined)."""
        rows = []
        for rows_of in self.folds:
            y, pred = self.y_true[rows_of], self.y_pred[rows_of]
            row = metrics_from_counts(**confusion_counts(y, pred))
            both = 0 < y.sum() < len(y)
            row["auc"] = fast_auc(y, self.score[rows_of]) if both else np.nan
            rows.append(row)
        return pd.DataFrame(rows)[list(METRICS)]

    @functools.cached_property
    def fold_auc_variances(self) -> np.ndarray:
        """DeLong variance of each outer test fold's AUC (NaN if one class)."""
        out = np.full(len(self.folds), np.nan)
        for k, rows_of in enumerate(self.folds):
            y = self.y_true[rows_of]
            if 1 < y.sum() < len(y) - 1:
                out[k] = delong_components(y, self.score[rows_of])[1][0, 0]
        return out


def cv_estimates(cv: CVPredictions) -> dict[str, float]:
    """The point estimate of every metric (see the module docstring).

    Parameters
    ----------
    cv : CVPredictions
        Out-of-fold predictions (:meth:`NestedCVResult.cv_predictions`).
    """
    counts = cv.per_repeat_counts
    per_repeat = pd.DataFrame(
        [metrics_from_counts(**row) for row in counts.to_dict("records")]
    )
    out = {name: float(per_repeat[name].mean()) for name in METRICS if name != "auc"}
    fold_aucs = cv.fold_values["auc"]
    if fold_aucs.notna().any():
        out["auc"] = float(fold_aucs.mean())
    else:
        # Folds of one patient (leave-one-out): only a pooled AUC exists, with
        # the bias this scheme is refused for.
        out["auc"] = float(
            np.mean(
                [
                    fast_auc(cv.y_true[cv.repeat == r], cv.score[cv.repeat == r])
                    for r in cv.repeats
                ]
            )
        )
    return {name: out[name] for name in METRICS}


def _clip(estimate, half):
    return max(0.0, estimate - half), min(1.0, estimate + half)


def _test_set_variances(cv, estimates):
    """Variance of balanced accuracy and AUC counting each patient once."""
    counts = cv.per_repeat_counts.mean()
    n_pos = counts["tp"] + counts["fn"]
    n_neg = counts["tn"] + counts["fp"]
    sens, spec = estimates["sensitivity"], estimates["specificity"]
    ba = (sens * (1 - sens) / n_pos + spec * (1 - spec) / n_neg) / 4
    variances = cv.fold_auc_variances
    k = cv.n_folds
    # The mean of K disjoint folds' AUCs: sum of their variances / K^2 per
    # repeat, averaged over repeats (each repeat counts every patient once).
    auc = (
        np.nanmean([np.nansum(variances[cv.fold_repeat == r]) for r in cv.repeats])
        / k**2
    )
    return counts, ba, auc


def design_effect(n_repeats, n_folds) -> float:
    """Nadeau & Bengio's corrected variance over the test-set variance.

    K (1/J + n_test/n_train) = 1/R + K/(K - 1) for R repeats of K-fold CV.

    Parameters
    ----------
    n_repeats : int
        R, the repeats of the cross-validation.
    n_folds : int
        K, its folds.
    """
    return 1.0 / n_repeats + n_folds / (n_folds - 1.0)


def cv_intervals(cv: CVPredictions, method: str, confidence=0.95) -> pd.DataFrame:
    """Estimate and ``confidence`` interval of every metric by one ``method``.

    Parameters
    ----------
    cv : CVPredictions
        Out-of-fold predictions (:meth:`NestedCVResult.cv_predictions`).
    method : {"test_set", "corrected_folds", "corrected_test_set"}
        The interval method (module docstring).
    confidence : float, default=0.95
        Level of the interval.

    Returns
    -------
    DataFrame
        Index: the metrics; columns ``estimate``, ``ci_low``, ``ci_high``.
    """
    if method not in METHODS:
        raise ValueError(f"Unknown interval method {method!r}; use one of {METHODS}.")
    estimates = cv_estimates(cv)
    z = stats.norm.ppf(0.5 + confidence / 2)
    rows = {}
    if method == "corrected_folds":
        values = cv.fold_values
        for name in METRICS:
            v = values[name].dropna().to_numpy()
            if len(v) < 2:
                rows[name] = (np.nan, np.nan)
                continue
            factor = 1.0 / len(v) + 1.0 / (cv.n_folds - 1.0)
            t = stats.t.ppf(0.5 + confidence / 2, len(v) - 1)
            rows[name] = _clip(estimates[name], t * np.sqrt(factor * v.var(ddof=1)))
    else:
        effect = (
            1.0 if method == "test_set" else design_effect(cv.n_repeats, cv.n_folds)
        )
        counts, var_ba, var_auc = _test_set_variances(cv, estimates)
        proportions = {
            "sensitivity": ("tp", counts["tp"] + counts["fn"]),
            "specificity": ("tn", counts["tn"] + counts["fp"]),
            "ppv": ("tp", counts["tp"] + counts["fp"]),
            "npv": ("tn", counts["tn"] + counts["fn"]),
        }
        for name, (hits, n) in proportions.items():
            # Wilson with the effective number of patients n / design effect.
            rows[name] = wilson_interval(counts[hits] / effect, n / effect, confidence)
        # Nadeau & Bengio's reference distribution, t on J - 1 degrees of
        # freedom, goes with their variance; test-set intervals are normal.
        q = (
            z
            if method == "test_set"
            else stats.t.ppf(0.5 + confidence / 2, len(cv.folds) - 1)
        )
        rows["balanced_accuracy"] = _clip(
            estimates["balanced_accuracy"], q * np.sqrt(var_ba * effect)
        )
        rows["auc"] = _clip(estimates["auc"], q * np.sqrt(var_auc * effect))
    return pd.DataFrame(
        [(name, estimates[name], *rows[name]) for name in METRICS],
        columns=["metric", "estimate", "ci_low", "ci_high"],
    ).set_index("metric")


#: The test ``compare()`` runs for each metric: the most powerful whose
#: false-positive rate stayed at or below alpha in benchmarks/calibration.py.
DEFAULT_COMPARISON_METHODS = {
    "auc": "corrected_test_set",
    "balanced_accuracy": "corrected_test_set",
}


def _paired_auc_variance(cv_a, cv_b):
    """Test-set variance of the difference of two fold-averaged AUCs (DeLong)."""
    per_fold = np.full(len(cv_a.folds), np.nan)
    for k, rows in enumerate(cv_a.folds):
        y = cv_a.y_true[rows]
        if 1 < y.sum() < len(y) - 1:
            covariance = delong_components(
                y, np.vstack([cv_a.score[rows], cv_b.score[rows]])
            )[1]
            per_fold[k] = covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1]
    return (
        np.nanmean([np.nansum(per_fold[cv_a.fold_repeat == r]) for r in cv_a.repeats])
        / cv_a.n_folds**2
    )


def _paired_ba_variance(cv_a, cv_b):
    """Test-set variance of the difference of two pooled balanced accuracies."""
    variances = []
    for r in cv_a.repeats:
        rows = cv_a.repeat == r
        y = cv_a.y_true[rows]
        difference = (cv_a.y_pred[rows] == y).astype(float) - (
            cv_b.y_pred[rows] == y
        ).astype(float)
        variances.append(
            sum(
                difference[y == label].var(ddof=1) / (y == label).sum()
                for label in (0, 1)
            )
            / 4
        )
    return float(np.mean(variances))


def cv_paired_test(cv_a: CVPredictions, cv_b: CVPredictions, metric, method) -> dict:
    """Test of "a and b perform equally" from predictions on the same splits.

    Parameters
    ----------
    cv_a, cv_b : CVPredictions
        Row by row the same patients, repeats and folds.
    metric : {"auc", "balanced_accuracy"}
    method : {"test_set", "corrected_folds", "corrected_test_set"}
        As in :func:`cv_intervals`, for the paired difference: each patient
        counted once (DeLong's paired variance in each fold for the AUC, the
        paired variance of the per-class correctness for balanced accuracy);
        Nadeau-Bengio's corrected variance of the fold differences (t); the
        test-set variance times the design effect 1/R + K/(K - 1).

    Returns
    -------
    dict
        ``difference`` (a - b: the difference of the two estimates, or for
        "corrected_folds" the mean fold difference, so that its sign and the
        p-value come from the same quantity), ``se``, ``statistic``, ``df``
        (inf for a normal reference) and two-sided ``p_value``.
    """
    if method == "corrected_folds":
        d = (cv_a.fold_values[metric] - cv_b.fold_values[metric]).dropna()
        difference = float(d.mean())
        se = float(np.sqrt((1 / len(d) + 1 / (cv_a.n_folds - 1)) * d.var(ddof=1)))
        df = len(d) - 1
    else:
        difference = cv_estimates(cv_a)[metric] - cv_estimates(cv_b)[metric]
        variance = (
            _paired_auc_variance(cv_a, cv_b)
            if metric == "auc"
            else _paired_ba_variance(cv_a, cv_b)
        )
        se, df = float(np.sqrt(variance)), np.inf
        if method == "corrected_test_set":
            se *= np.sqrt(design_effect(cv_a.n_repeats, cv_a.n_folds))
            df = len(cv_a.folds) - 1
    if se == 0:
        statistic, p_value = (0.0, 1.0) if difference == 0 else (np.inf, 0.0)
    else:
        statistic = difference / se
        p_value = float(2 * stats.t.sf(abs(statistic), df))
    return {
        "difference": float(difference),
        "se": se,
        "statistic": float(statistic),
        "df": df,
        "p_value": p_value,
    }
