"""Does the scan add anything beyond the confounds (or demographics)? One call.

The question a reviewer asks of a brain-based model, and the one Dinga et
al. (2020) recommend over confound regression: evaluate the model with the
scan and a model of the confounds (or demographics) alone, by nested CV on
the same splits, and compare them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sklearn.base import clone

from txpredict.errors import TxpredictError
from txpredict.evaluation._compare import Comparison, compare
from txpredict.model_selection import NestedCVResult, nested_cross_validate
from txpredict.models import ResponseClassifier


@dataclass
class AddedValue:
    """The model, the baseline without the scan, and their comparison.

    Attributes
    ----------
    model : NestedCVResult
    baseline : NestedCVResult
        The same classifier on ``baseline_columns`` alone.
    comparison : Comparison
        ``model`` vs ``baseline`` on the same splits (:func:`compare`).
    baseline_columns : list of str
    """

    model: NestedCVResult
    baseline: NestedCVResult
    comparison: Comparison
    baseline_columns: list

    def __repr__(self) -> str:
        return (
            f"AddedValue(baseline: {self.baseline_columns})\n"
            f"  model:    {self.model!r}\n  baseline: {self.baseline!r}\n"
            + repr(self.comparison)
        )


def added_value(
    model, X, y, *, baseline_columns=None, names=("scan", "baseline"), **cv_options
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
    **cv_options
        Passed to both :func:`nested_cross_validate` runs (outer_cv,
        n_repeats, groups, random_state, ...): the same splits.

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
    >>> result = tp.added_value(model, study.X, study.y, n_repeats=2)
    >>> result.baseline_columns
    ['age', 'site']
    """
    if not isinstance(model, ResponseClassifier):
        raise TxpredictError(
            "added_value needs a ResponseClassifier (its classifier and inner CV "
            "are reused for the baseline)."
        )
    if baseline_columns is None:
        baseline_columns = model.confounds or model.demographic_columns
    baseline_columns = list(baseline_columns)
    baseline = ResponseClassifier(
        "demographics",
        model.classifier,
        param_grid=model.param_grid,
        inner_cv=model.inner_cv,
        scoring=model.scoring,
        demographic_columns=baseline_columns,
        random_state=model.random_state,
    )
    a = nested_cross_validate(clone(model), X, y, **cv_options)
    b = nested_cross_validate(baseline, X, y, **cv_options)
    return AddedValue(a, b, compare(a, b, names=names), baseline_columns)
