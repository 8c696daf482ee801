"""The route dispatcher: which route each model takes, and why.

The routes' results are tested against scikit-learn in test_nested.py and
test_batched_logistic.py; here, that each rule sends a model where its
docstring says, so that a change of a rule shows up as a changed row.
"""

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedKFold

import txpredict as tp
from txpredict.errors import TxpredictError
from txpredict.model_selection import (
    MAX_BATCHED_FEATURES,
    LogisticTuning,
    Runner,
    batched_route,
    choose_route,
)


@pytest.fixture(scope="module")
def cohort():
    return tp.make_synthetic_cohort(40, grid="fsl6", random_state=0)


def _route(model, X, **kwargs):
    return Runner(model, X, **kwargs).route


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (tp.ResponseClassifier("roi"), "batched"),
        (tp.ResponseClassifier("demographics"), "batched"),
        (tp.ResponseClassifier("roi+demographics"), "batched"),
        (tp.ResponseClassifier("roi", select_percentile=50), "batched"),
        (tp.ResponseClassifier("roi", "linear_svm"), "gram"),
        (tp.ResponseClassifier("roi", "random_forest"), "fold_by_fold"),
        # Logistic on 2,000+ voxels: wider than the batched route takes.
        (tp.ResponseClassifier("wholebrain"), "gram"),
        (tp.ResponseClassifier("wholebrain", "ridge"), "gram"),
        (tp.ResponseClassifier("wholebrain+demographics", "linear_svm"), "gram"),
        # Selection before a wide model: fitted per fold by scikit-learn.
        (tp.ResponseClassifier("wholebrain", select_percentile=10), "fold_by_fold"),
        # Tuned over more than C: not batched; the Gram route takes any grid
        # of the classifier's parameters.
        (
            tp.ResponseClassifier(
                "roi", param_grid={"C": [0.1, 1], "fit_intercept": [True, False]}
            ),
            "gram",
        ),
        (
            tp.ResponseClassifier(
                "roi",
                "random_forest",
                param_grid={"max_depth": [2]},
            ),
            "fold_by_fold",
        ),
        (tp.ResponseClassifier("roi", RandomForestClassifier()), "fold_by_fold"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_each_model_takes_the_route_its_rules_say(cohort, model, expected):
    assert _route(model, cohort.X).name == expected


def test_fast_path_false_goes_fold_by_fold_and_true_refuses(cohort):
    model = tp.ResponseClassifier("roi")
    assert _route(model, cohort.X, fast_path=False).name == "fold_by_fold"
    with pytest.raises(TxpredictError, match="no fast path applies"):
        _route(tp.ResponseClassifier("roi", "random_forest"), cohort.X, fast_path=True)


def test_maps_come_from_the_fast_routes_or_fold_by_fold(cohort):
    """Gram and batched routes form their folds' maps, but not from ComBat's
    scikit-learn steps (maps then come fold by fold)."""
    gram = _route(tp.ResponseClassifier("wholebrain", "linear_svm"), cohort.X)
    assert gram.maps_fitter is gram.fitter is not None
    for features in ("roi", "roi+demographics"):
        batched = _route(tp.ResponseClassifier(features), cohort.X)
        assert batched.name == "batched"
        assert batched.maps_fitter is batched.fitter is not None
    harmonised = _route(tp.ResponseClassifier("roi", harmonize="combat"), cohort.X)
    assert harmonised.name == "batched" and harmonised.maps_fitter is None


def test_a_caller_can_forbid_a_route(cohort):
    """A selector's arms take the batched route only; a wide model then none."""
    model = tp.ResponseClassifier("wholebrain")
    runner = Runner(model, cohort.X)
    assert choose_route(model, runner.design, routes=("batched",)).name == (
        "fold_by_fold"
    )


def test_same_columns_refuses_an_encoded_design(cohort):
    """Permutation importance shuffles the design's columns: no encoding allowed."""
    model = tp.ResponseClassifier("roi+demographics")
    runner = Runner(model, cohort.X)
    assert runner.route.name == "batched"  # on its own numeric encoding
    assert choose_route(model, runner.design, same_columns=True).name != "batched"
    roi = tp.ResponseClassifier("roi")
    design = Runner(roi, cohort.X).design
    assert choose_route(roi, design, same_columns=True).name == "batched"


def test_batched_route_applies_the_width_and_missing_value_rules():
    rng = np.random.default_rng(0)
    design = rng.normal(size=(30, 4))
    splitter = StratifiedKFold(3)
    tuning = LogisticTuning((0.1, 1.0), splitter, "roc_auc", width=4)
    assert batched_route(tuning, design).name == "batched"
    wide = LogisticTuning((0.1, 1.0), splitter, "roc_auc", MAX_BATCHED_FEATURES + 1)
    assert batched_route(wide, design).name == "fold_by_fold"
    design[3, 2] = np.nan  # scaled in numpy: no imputer to fill it
    assert batched_route(tuning, design).name == "fold_by_fold"
