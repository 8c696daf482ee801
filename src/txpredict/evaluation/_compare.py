"""Compare two models evaluated on the same splits (e.g. scan vs demographics)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from scipy import stats

from txpredict.errors import TxpredictError
from txpredict.model_selection import RegressionCVResult
from txpredict.stats import (
    DEFAULT_COMPARISON_METHODS,
    DESCRIPTIONS,
    CVPredictions,
    cv_estimates,
    cv_paired_test,
    regression_paired_test,
)


@dataclass
class Comparison:
    """Differences between two nested-CV results and their tests.

    Attributes
    ----------
    table : DataFrame
        One row per metric (``auc``, ``balanced_accuracy``): the estimate of
        each model, their ``difference`` (a - b) with its 95% interval, the
        statistic, the two-sided ``p_value`` and the ``test`` used. The
        difference, its interval and the p-value come from the same
        quantity, so their signs agree. After :meth:`with_permutation`, also
        ``permutation_p_value``: the permutation test of the scan given the
        baseline's columns (one-sided), which decides :attr:`a_is_better`.
    names : tuple of str
    alpha : float
    """

    table: pd.DataFrame
    names: tuple[str, str]
    alpha: float = 0.05

    @property
    def a_is_better(self) -> bool:
        """Whether a's AUC (r for regressors) is significantly higher.

        Difference > 0 and p < alpha: a one-sided claim at level alpha / 2
        from the two-sided test; with a permutation test, its one-sided
        p-value < alpha (and difference > 0).
        """
        row = self.table.iloc[0]
        p_value = row.get("permutation_p_value", row["p_value"])
        return bool(row["difference"] > 0 and p_value < self.alpha)

    def with_permutation(self, tests) -> Comparison:
        """A copy with the permutation tests' p-values beside its own.

        Parameters
        ----------
        tests : dict of str to PermutationTestResult
            Per metric of the table, the permutation test of the same
            difference (:func:`scan_permutation_test`).
        """
        table = self.table.copy()
        table["permutation_p_value"] = [tests[m].p_value for m in table.index]
        return Comparison(table, self.names, self.alpha)

    def summary(self) -> pd.DataFrame:
        """The comparison table."""
        return self.table.copy()

    def __repr__(self) -> str:
        a, b = self.names
        verdict = "higher" if self.a_is_better else "not significantly higher"
        primary = "AUC" if self.table.index[0] == "auc" else str(self.table.index[0])
        lines = [
            f"Comparison of {a!r} (a) with {b!r} (b), same splits: {primary} of a is "
            f"{verdict} (alpha={self.alpha:g})"
        ]
        for metric, row in self.table.iterrows():
            permuted = (
                f"  permutation p={row['permutation_p_value']:.3g}"
                if "permutation_p_value" in row
                else ""
            )
            lines.append(
                f"  {metric:<18} a={row['a']:.3f} b={row['b']:.3f} "
                f"diff={row['difference']:+.3f} [{row['ci_low']:+.3f}, "
                f"{row['ci_high']:+.3f}]  p={row['p_value']:.3g}{permuted}"
            )
        return "\n".join(lines)


def _aligned(result_a, result_b):
    """Both results' predictions as CVPredictions, row by row the same patients."""
    keys = ["repeat", "participant_id"]
    merged = result_a.predictions.merge(
        result_b.predictions, on=keys, suffixes=("_a", "_b"), validate="one_to_one"
    )
    return tuple(
        CVPredictions(
            merged[f"y_true{s}"],
            merged[f"y_pred{s}"],
            merged[f"score{s}"],
            merged["repeat"],
            merged[f"fold{s}"],
        )
        for s in ("_a", "_b")
    )


def compare(result_a, result_b, *, names=("a", "b"), alpha=0.05) -> Comparison:
    """Is model a better than model b? Tests on identical cross-validation splits.

    For each metric, the test whose false-positive rate stayed at or below
    alpha on null data in ``benchmarks/calibration.py`` (the documentation's
    benchmarks page has the measured rates;
    :data:`txpredict.stats.DEFAULT_COMPARISON_METHODS`):

    - AUC: the difference of the two fold-averaged AUCs, with DeLong's paired
      variance in each outer test fold times Nadeau & Bengio's design effect
      1/R + K/(K - 1) (folds share training patients; each fold trained its
      own models). Nadeau-Bengio's corrected t on the fold AUC differences
      and DeLong on cross-validated scores were measured liberal (about 10%
      and 17% false positives at alpha = 0.05) and are not used.
    - Balanced accuracy: Nadeau-Bengio's corrected resampled t-test of the
      fold differences.

    Parameters
    ----------
    result_a, result_b : NestedCVResult
        Computed on the same subjects with the same splits (same outer_cv,
        n_repeats, groups and random_state); refused otherwise.
    names : tuple of two str, default=("a", "b")
    alpha : float, default=0.05
        Level of :attr:`Comparison.a_is_better` (and of the intervals:
        1 - alpha).

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import txpredict as tp
    >>> cohort = tp.make_synthetic_cohort(40, grid="fsl6", random_state=0)
    >>> brain = tp.nested_cross_validate(tp.ResponseClassifier("roi"), cohort.X,
    ...                                  cohort.y, n_repeats=2)
    >>> demo = tp.nested_cross_validate(tp.ResponseClassifier("demographics"),
    ...                                 cohort.X, cohort.y, n_repeats=2)
    >>> list(tp.compare(brain, demo).table.index)
    ['auc', 'balanced_accuracy']
    """
    if result_a.splits_hash != result_b.splits_hash:
        raise TxpredictError(
            "The two results were computed on different splits (splits hash "
            f"{result_a.splits_hash} vs {result_b.splits_hash}); a comparison would "
            "mix model differences with split differences. Run both with the same X, "
            "y, outer_cv, n_repeats, groups and random_state."
        )
    if isinstance(result_a, RegressionCVResult):
        return _compare_regressions(result_a, result_b, names, alpha)
    cv_a, cv_b = _aligned(result_a, result_b)
    estimates_a, estimates_b = cv_estimates(cv_a), cv_estimates(cv_b)
    rows = []
    for metric, method in DEFAULT_COMPARISON_METHODS.items():
        test = cv_paired_test(cv_a, cv_b, metric, method)
        quantile = stats.t.ppf(1 - alpha / 2, test["df"])
        rows.append(
            {
                "metric": metric,
                "a": estimates_a[metric],
                "b": estimates_b[metric],
                "difference": test["difference"],
                "ci_low": test["difference"] - quantile * test["se"],
                "ci_high": test["difference"] + quantile * test["se"],
                "statistic": test["statistic"],
                "p_value": test["p_value"],
                "test": DESCRIPTIONS[method],
            }
        )
    return Comparison(pd.DataFrame(rows).set_index("metric"), tuple(names), alpha)


def _compare_regressions(result_a, result_b, names, alpha) -> Comparison:
    """R and mean absolute error of two regressors: Nadeau-Bengio corrected t.

    The test is of the outer folds' metrics, so ``a`` and ``b`` are each
    model's metric averaged over the outer test folds (``difference`` is
    ``a - b``), not the summaries' ``r``, which correlates each repeat's
    out-of-fold predictions pooled over its folds (``r_fold_mean`` there is
    this one).
    """
    keys = ["repeat", "participant_id"]
    merged = result_a.predictions.merge(
        result_b.predictions, on=keys, suffixes=("_a", "_b"), validate="one_to_one"
    )
    frames = [
        merged[["repeat", f"fold{s}", f"y_true{s}", f"y_pred{s}"]].set_axis(
            ["repeat", "fold", "y_true", "y_pred"], axis=1
        )
        for s in ("_a", "_b")
    ]
    rows = []
    for metric in ("r", "mae"):
        test = regression_paired_test(*frames, metric)
        quantile = stats.t.ppf(1 - alpha / 2, test["df"])
        rows.append(
            {
                "metric": metric,
                "a": test["mean_a"],
                "b": test["mean_b"],
                "difference": test["difference"],
                "ci_low": test["difference"] - quantile * test["se"],
                "ci_high": test["difference"] + quantile * test["se"],
                "statistic": test["statistic"],
                "p_value": test["p_value"],
                "test": DESCRIPTIONS["corrected_folds"],
            }
        )
    return Comparison(pd.DataFrame(rows).set_index("metric"), tuple(names), alpha)
