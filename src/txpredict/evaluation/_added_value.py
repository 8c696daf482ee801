"""Does the scan add anything beyond the confounds (or demographics)? One call.

The question a reviewer asks of a brain-based model, and the one Dinga et
al. (2020) recommend over confound regression: evaluate the model with the
scan and a model of the confounds (or demographics) alone, by nested CV on
the same splits, and compare them: the difference with its interval
(:func:`compare`), and the permutation test of the scan's residuals given
the baseline columns (:func:`scan_permutation_test`), whose level and power
``benchmarks/calibration.py`` measures beside compare()'s test.
"""

from __future__ import annotations

from dataclasses import dataclass

from sklearn.base import clone

from txpredict.errors import TxpredictError
from txpredict.evaluation._compare import Comparison, compare
from txpredict.evaluation._scan_permutation import (
    SPLIT_OPTIONS,
    scan_permutation_test,
)
from txpredict.model_selection import (
    NestedCVResult,
    PermutationTestResult,
    nested_cross_validate,
)
from txpredict.models import ResponseClassifier
from txpredict.stats import DEFAULT_EXCEEDANCES, DetectableGain, detectable_auc_gain


@dataclass
class AddedValue:
    """The model, the baseline without the scan, and their comparison.

    Attributes
    ----------
    model : NestedCVResult
    baseline : NestedCVResult
        The same classifier on ``baseline_columns`` alone.
    comparison : Comparison
        ``model`` vs ``baseline`` on the same splits (:func:`compare`); with
        a permutation test, its table's ``permutation_p_value`` column.
    baseline_columns : list of str
    permutation : dict of str to PermutationTestResult or None
        The permutation test of the scan given the baseline columns, per
        metric (``"auc"``, ``"balanced_accuracy"``); None without one.
    """

    model: NestedCVResult
    baseline: NestedCVResult
    comparison: Comparison
    baseline_columns: list
    permutation: dict[str, PermutationTestResult] | None = None

    @property
    def scan_adds(self) -> bool:
        """Whether the scan significantly raises the AUC above the baseline's.

        The model's AUC is higher (difference > 0) and the permutation test
        rejects at ``comparison.alpha`` (without a permutation test:
        :attr:`Comparison.a_is_better`).
        """
        return self.comparison.a_is_better

    @property
    def detectable(self) -> DetectableGain | None:
        """The AUC gain the permutation test detects at this n with 80% power.

        What a non-significant result can rule out, as measured by
        ``benchmarks/detectable_effect.py``; None without a permutation test
        (compare()'s test is less powerful, and was not measured so).
        """
        if self.permutation is None:
            return None
        return detectable_auc_gain(self.model.predictions["participant_id"].nunique())

    def __repr__(self) -> str:
        text = (
            f"AddedValue(baseline: {self.baseline_columns})\n"
            f"  model:    {self.model!r}\n  baseline: {self.baseline!r}\n"
            + repr(self.comparison)
        )
        if self.permutation is not None:
            text += "\n  permutation test: " + repr(self.permutation["auc"])
            text += "\n  " + self.detectable.sentence()
        return text


def added_value(
    model,
    X,
    y,
    *,
    baseline_columns=None,
    names=("scan", "baseline"),
    n_permutations=1000,
    n_exceedances=DEFAULT_EXCEEDANCES,
    **cv_options,
) -> AddedValue:
    """Test whether the scan adds to a model of the confounds (or demographics).

    Parameters
    ----------
    model : ResponseClassifier
        The model with the scan (e.g. ``confounds=[...],
        deconfound="augment"``: scan features and confounds as covariates).
    X, y
        As in :func:`nested_cross_validate`.
    baseline_columns : sequence of str or None, default=None
        The baseline's columns. None: the model's ``confounds`` if it has any,
        else its ``demographic_columns``.
    names : tuple of two str, default=("scan", "baseline")
    n_permutations : int, default=1000
        The most permutations of the test of the scan given the baseline
        columns (:func:`scan_permutation_test`; it stops once settled). 0:
        compare()'s variance-based test only.
    n_exceedances : int or None, default=10
        The permutation test's stopping rule (Besag & Clifford's h).
    **cv_options
        Passed to both :func:`nested_cross_validate` runs (outer_cv,
        n_repeats, groups, random_state, ...) and to the permutation test:
        the same splits.

    Returns
    -------
    AddedValue

    Examples
    --------
    >>> import txpredict as tp
    >>> study = tp.make_synthetic_cohort(60, effect="prognostic", n_sites=3,
    ...                                   grid="fsl6", random_state=0)
    >>> model = tp.ResponseClassifier("roi", confounds=["age", "site"],
    ...                               deconfound="augment")
    >>> result = tp.added_value(model, study.X, study.y, n_repeats=2,
    ...                         n_permutations=19)
    >>> result.baseline_columns
    ['age', 'site']
    >>> list(result.permutation)
    ['auc', 'balanced_accuracy']
    """
    if not isinstance(model, ResponseClassifier):
        raise TxpredictError(
            "added_value needs a ResponseClassifier (its classifier and inner CV "
            "are reused for the baseline)."
        )
    if baseline_columns is None:
        baseline_columns = model.confounds or model.demographic_columns
    baseline_columns = list(baseline_columns)
    baseline = baseline_model(model, baseline_columns)
    a = nested_cross_validate(clone(model), X, y, **cv_options)
    b = nested_cross_validate(clone(baseline), X, y, **cv_options)
    comparison = compare(a, b, names=names)
    permutation = None
    if n_permutations:
        permutation = scan_permutation_test(
            clone(model),
            baseline,
            X,
            y,
            baseline_columns=baseline_columns,
            n_permutations=n_permutations,
            n_exceedances=n_exceedances,
            **{k: v for k, v in cv_options.items() if k in SPLIT_OPTIONS},
        )
        comparison = comparison.with_permutation(permutation)
    return AddedValue(a, b, comparison, baseline_columns, permutation)


def baseline_model(model, baseline_columns) -> ResponseClassifier:
    """``model``'s classifier, grid and inner CV on ``baseline_columns`` alone."""
    return ResponseClassifier(
        "demographics",
        model.classifier,
        param_grid=model.param_grid,
        inner_cv=model.inner_cv,
        scoring=model.scoring,
        demographic_columns=list(baseline_columns),
        random_state=model.random_state,
    )
