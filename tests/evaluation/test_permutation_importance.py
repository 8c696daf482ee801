"""Permutation importance on the outer test folds."""

import numpy as np
import pandas as pd
import pytest
from sklearn.inspection import permutation_importance as sklearn_importance

import txpredict as tp
from txpredict.errors import TxpredictError

FEATURES = ["signal", "weak", "noise_1", "noise_2"]
FAST = {"param_grid": {"C": [1.0]}}


@pytest.fixture(scope="module")
def table():
    """A cohort table whose response depends on 'signal' (strongly) and 'weak'."""
    rng = np.random.default_rng(0)
    n = 160
    X = pd.DataFrame(rng.standard_normal((n, 4)), columns=FEATURES)
    X.index = pd.Index([f"sub-{i:03d}" for i in range(n)], name="participant_id")
    logit = 1.5 * X["signal"] + 0.5 * X["weak"]
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int), X.index)
    return X, y


def model():
    return tp.ResponseClassifier(tp.PrecomputedFeatures(FEATURES), **FAST)


def test_planted_features_matter_and_noise_does_not(table):
    X, y = table
    result = tp.permutation_importance(model(), X, y, n_repeats=3, random_state=1)
    assert list(result.index) == FEATURES
    assert result.at["signal", "ci_low"] > 0.1
    assert result.at["signal", "auc_drop"] > result.at["weak", "auc_drop"] > 0
    for noise in ("noise_1", "noise_2"):
        low, high = result.loc[noise, ["ci_low", "ci_high"]]
        assert low < 0 < high and abs(result.at[noise, "auc_drop"]) < 0.03
    folds = result.attrs["folds"]
    assert len(folds) == 15 and set(folds["repeat"]) == {0, 1, 2}
    np.testing.assert_allclose(folds["signal"].mean(), result.at["signal", "auc_drop"])


def test_one_fold_agrees_with_scikit_learns_permutation_importance(table):
    """Our fold drop is scikit-learn's, for the same fitted fold model."""
    X, y = table
    result = tp.permutation_importance(
        model(), X, y, outer_cv=2, n_repeats=1, n_permutations=300, random_state=3
    )
    # The first split of the same splits: refit its model, score with sklearn.
    from txpredict.model_selection._schemes import outer_splits

    ((_, _, train, test), _) = outer_splits(
        y.to_numpy(),
        outer_cv=2,
        n_repeats=1,
        groups=None,
        stratify=True,
        random_state=3,
    )
    fitted = model().fit(X.iloc[train], y.iloc[train])
    reference = sklearn_importance(
        fitted.search_,
        X.iloc[test].to_numpy(),
        y.iloc[test].to_numpy(),
        scoring="roc_auc",
        n_repeats=300,
        random_state=0,
    )
    ours = result.attrs["folds"].iloc[0][FEATURES].to_numpy(dtype=float)
    np.testing.assert_allclose(ours, reference.importances_mean, atol=0.01)


def test_groups_are_shuffled_together_and_results_do_not_depend_on_n_jobs(table):
    X, y = table
    groups = {"both": ["signal", "weak"], "noise": ["noise_1"]}
    options = {"groups_of_features": groups, "n_repeats": 2, "n_permutations": 5}
    serial = tp.permutation_importance(model(), X, y, **options, n_jobs=1)
    parallel = tp.permutation_importance(model(), X, y, **options, n_jobs=2)
    pd.testing.assert_frame_equal(serial, parallel)
    alone = tp.permutation_importance(model(), X, y, n_repeats=2, n_permutations=5)
    # Shuffling both informative features loses more than either alone.
    assert serial.at["both", "auc_drop"] > alone.at["signal", "auc_drop"]


def test_roi_and_demographic_columns_by_name():
    cohort = tp.make_synthetic_cohort(
        60, effect="prognostic", grid="fsl6", random_state=4
    )
    result = tp.permutation_importance(
        tp.ResponseClassifier("roi+demographics", **FAST),
        cohort.X,
        cohort.y,
        n_repeats=1,
        n_permutations=3,
        groups_of_features={
            "cuneus": ["cuneus_L_mean", "cuneus_R_mean"],
            "age": ["age"],
        },
    )
    assert list(result.index) == ["cuneus", "age"]
    assert np.isfinite(result["auc_drop"]).all()


def test_bad_requests_are_explained(table):
    X, y = table
    with pytest.raises(TxpredictError, match=r"\['dACC'\] of group 'x'"):
        tp.permutation_importance(model(), X, y, groups_of_features={"x": ["dACC"]})
    with pytest.raises(TxpredictError, match="positive integer"):
        tp.permutation_importance(model(), X, y, n_permutations=0)
    with pytest.raises(TxpredictError, match="needs a ResponseClassifier"):
        tp.permutation_importance(tp.ResponseRegressor("roi"), X, y)


def test_batched_route_equals_the_fold_by_fold_route(table):
    """Same splits, same shuffles, same tuning: only the solver differs."""
    X, y = table
    model = tp.ResponseClassifier(
        tp.PrecomputedFeatures(FEATURES), param_grid={"C": [0.01, 1.0]}
    )
    options = {"n_repeats": 2, "n_permutations": 5, "random_state": 4}
    fast = tp.permutation_importance(model, X, y, **options)
    slow = tp.permutation_importance(model, X, y, **options, fast_path=False)
    np.testing.assert_allclose(
        fast.attrs["folds"][FEATURES], slow.attrs["folds"][FEATURES], atol=2e-3
    )
