"""scikit-learn's own estimator checks on every public txpredict estimator.

DemographicFeatures takes a table of ordinary columns and passes the whole
suite. The nine others take a cohort table (image paths, named columns such as
the site, the confounds or the treatment arm), not a numeric matrix: their input
tags say so and scikit-learn then declines to run its data checks on them
(which feed unnamed numeric arrays, and for classifiers three classes where a
responder flag has two). They get every API check that needs no data, here,
and table-based equivalents of the data checks below: fit returns self; a
clone, a refit and a pickle predict or transform identically; row order and
subsets do not change a patient's output; an unfitted estimator refuses.
"""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks as sk
from sklearn.utils.estimator_checks import parametrize_with_checks

import txpredict as tp
from txpredict.errors import TxpredictError


@parametrize_with_checks([tp.DemographicFeatures()])
def test_sklearn_compatible(estimator, check):
    check(estimator)


ROIS = [f"{r.name}_mean" for r in tp.default_rois()]

#: Every public estimator but DemographicFeatures, unfitted.
TABLE_ESTIMATORS = [
    tp.RoiFeatures(verbose=0),
    tp.WholeBrainFeatures(verbose=0),
    tp.ImageFeatures([tp.RoiFeatures(), tp.WholeBrainFeatures()], verbose=0),
    tp.PrecomputedFeatures(ROIS),
    tp.ComBat(ROIS, site="site", covariates=["age"]),
    tp.ConfoundRemover(ROIS, confounds=["age", "sex"]),
    tp.ResponseClassifier("roi", param_grid={"C": [0.1, 1.0]}, inner_cv=3),
    tp.ResponseRegressor("roi", param_grid={"alpha": [1.0, 10.0]}, inner_cv=3),
    tp.ModalitySelector("roi", param_grid={"C": [0.1, 1.0]}, inner_cv=3),
]
API_CHECKS = [
    sk.check_no_attributes_set_in_init,
    sk.check_parameters_default_constructible,
    sk.check_get_params_invariance,
    sk.check_set_params,
    sk.check_estimator_cloneable,
    sk.check_estimator_repr,
    sk.check_estimator_tags_renamed,
    sk.check_valid_tag_types,
    sk.check_do_not_raise_errors_in_init_or_set_params,
]


def _name(estimator):
    return type(estimator).__name__


@pytest.mark.parametrize("estimator", TABLE_ESTIMATORS, ids=_name)
@pytest.mark.parametrize("check", API_CHECKS, ids=lambda c: c.__name__)
def test_table_estimator_api(estimator, check):
    check(_name(estimator), clone(estimator))


def test_every_public_estimator_is_checked():
    """A new public estimator must join the checks (or say why it cannot)."""
    from sklearn.base import BaseEstimator

    public = {
        name
        for name in tp.__all__
        if isinstance(getattr(tp, name), type)
        and issubclass(getattr(tp, name), BaseEstimator)
    }
    checked = {_name(e) for e in TABLE_ESTIMATORS} | {"DemographicFeatures"}
    assert public == checked


@pytest.fixture(scope="module")
def table(small_cohort_dir):
    """The cohort's table with ROI means as columns (for the table steps)."""
    small_cohort = tp.load_cohort(small_cohort_dir)
    X = small_cohort.X.copy()
    roi = tp.RoiFeatures(verbose=0).set_output(transform="pandas").fit_transform(X)
    return pd.concat([X, roi], axis=1), small_cohort.y


def _fit(estimator, X, y):
    if isinstance(estimator, tp.ModalitySelector):
        return estimator.fit(X, y, treatment="treatment")
    if isinstance(estimator, tp.ResponseRegressor):
        # A continuous outcome: a score that depends on the patient's ROIs.
        change = X["cuneus_L_mean"] * 10 + np.arange(len(X)) % 3
        return estimator.fit(X, change)
    return estimator.fit(X, y)


def _output(estimator, X):
    if isinstance(estimator, tp.ModalitySelector):
        return estimator.predict_response_proba(X).to_numpy()
    if isinstance(estimator, tp.ResponseClassifier):
        return estimator.predict_proba(X)
    if isinstance(estimator, tp.ResponseRegressor):
        return estimator.predict(X)
    return np.asarray(estimator.transform(X))


@pytest.mark.parametrize("estimator", TABLE_ESTIMATORS, ids=_name)
def test_table_estimator_data_behaviour(estimator, table):
    X, y = table
    est = clone(estimator)
    assert _fit(est, X, y) is est
    first = _output(est, X)
    assert len(first) == len(X)
    np.testing.assert_allclose(_output(_fit(est, X, y), X), first)  # refit
    np.testing.assert_allclose(_output(_fit(clone(estimator), X, y), X), first)
    np.testing.assert_allclose(_output(pickle.loads(pickle.dumps(est)), X), first)
    # A patient's output depends on that patient's row only.
    np.testing.assert_allclose(_output(est, X.iloc[::-1]), first[::-1])
    np.testing.assert_allclose(_output(est, X.iloc[[2, 5]]), first[[2, 5]])
    with pytest.raises((NotFittedError, TxpredictError, AttributeError)):
        _output(clone(estimator), X)
