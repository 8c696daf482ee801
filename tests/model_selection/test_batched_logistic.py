import numpy as np
import pytest
from scipy.special import expit
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

import txpredict as tp
from txpredict.model_selection import _batched_logistic
from txpredict.model_selection._batched_logistic import (
    BatchedLogisticSearch,
    LogisticFastPath,
    balanced_weights,
    batched_logistic_regression,
)
from txpredict.model_selection._runner import Runner
from txpredict.model_selection._tuning import best_candidate
from txpredict.stats import apply_recalibration, fit_recalibration

EXACT = {"solver": "newton-cholesky", "tol": 1e-12, "max_iter": 1000}


def _problems(rng, sizes, p):
    X = np.zeros((len(sizes), max(sizes), p))
    y = np.zeros((len(sizes), max(sizes)))
    w = np.zeros((len(sizes), max(sizes)))
    for b, m in enumerate(sizes):
        X[b, :m] = rng.normal(size=(m, p)) * rng.uniform(0.1, 10, size=p)
        y[b, :m] = (X[b, :m, 0] + rng.normal(size=m) * 3 > 0).astype(float)
        y[b, :2] = 0, 1  # both classes
        w[b, :m] = balanced_weights(y[b, :m])
        X[b, m:] = rng.normal(size=(max(sizes) - m, p))  # padding must not matter
    return X, y, w


def test_balanced_weights_equal_scikit_learn(rng):
    for y in (rng.integers(0, 2, 37), np.r_[np.zeros(30), np.ones(7)].astype(int)):
        np.testing.assert_allclose(
            balanced_weights(y), compute_sample_weight("balanced", y)
        )


def test_batched_fits_equal_scikit_learn_at_tight_tolerance(rng):
    sizes = [17, 40, 40, 63, 25, 30]
    X, y, w = _problems(rng, sizes, p=4)
    C = np.array([1e-3, 1e-2, 0.1, 1.0, 10.0, 1e4])  # 1e4: nearly unpenalised
    coef, intercept = batched_logistic_regression(X, y, w, C)
    for b, m in enumerate(sizes):
        reference = LogisticRegression(C=C[b], class_weight="balanced", **EXACT)
        reference.fit(X[b, :m], y[b, :m])
        np.testing.assert_allclose(coef[b], reference.coef_[0], rtol=1e-7, atol=1e-9)
        assert intercept[b] == pytest.approx(reference.intercept_[0], abs=1e-8)


def test_batched_fit_converges_on_separable_data(rng):
    """Weak penalty + separable classes: the line search keeps Newton stable."""
    X = rng.normal(size=(1, 30, 2)) * 20
    y = (X[0, :, 0] > 0).astype(float)[None]
    coef, intercept = batched_logistic_regression(X, y, np.ones((1, 30)), [1e3])
    assert np.all(np.isfinite(coef))
    reference = LogisticRegression(C=1e3, **EXACT).fit(X[0], y[0])
    np.testing.assert_allclose(coef[0], reference.coef_[0], rtol=1e-6)
    assert intercept[0] == pytest.approx(reference.intercept_[0], rel=1e-6, abs=1e-8)


@pytest.mark.parametrize(
    "scaling, scoring",
    [
        ("standard", "roc_auc"),
        ("center", "roc_auc"),
        (None, "roc_auc"),
        ("standard", "neg_log_loss"),
    ],
)
def test_search_equals_grid_search_cv(rng, scaling, scoring):
    Cs = [1e-3, 1e-2, 1e-1, 1.0, 10.0]
    splitter = StratifiedKFold(4, shuffle=True, random_state=3)
    tasks = []
    for m in (36, 50, 44):
        A = rng.normal(size=(m, 5)) * [1, 2, 5, 0.1, 1]
        y = (A[:, 0] + A[:, 2] / 5 + rng.normal(size=m) > 0).astype(int)
        tasks.append((A, y, rng.normal(size=(7, 5))))
    results = BatchedLogisticSearch(
        Cs, splitter, scaling, scoring=scoring
    ).fit_decision(tasks)
    for (A, y, rows), (decision, best) in zip(tasks, results, strict=True):
        scaler = (
            "passthrough"
            if scaling is None
            else StandardScaler(with_std=scaling == "standard")
        )
        pipeline = make_pipeline(
            scaler,
            LogisticRegression(class_weight="balanced", **EXACT),
        )
        search = GridSearchCV(
            pipeline, {"logisticregression__C": Cs}, scoring=scoring, cv=splitter
        ).fit(A, y)
        assert Cs[best] == search.best_params_["logisticregression__C"]
        np.testing.assert_allclose(decision, search.decision_function(rows), atol=1e-8)


def test_near_ties_resolve_to_the_first_candidate():
    # Fold AUCs (2/3, 1/2, 7/9, 1/9, 5/9) and (2/3, 1/2, 7/9, 0, 2/3) have the
    # same mean; computed as sums their floats may differ in the last bit.
    assert best_candidate([0.5222222222222222, 0.5222222222222223, 0.41]) == 0
    assert best_candidate([0.3, 0.5, 0.5 - 1e-9]) == 1


def test_nested_cv_of_roi_logistic_takes_the_batched_path_and_equals_sklearn():
    """Fold by fold against GridSearchCV: same C (or a tie), same decisions."""
    cohort = tp.make_synthetic_cohort(40, grid="fsl6", random_state=0)
    grid = {"C": [1e-3, 1e-2, 0.1, 1.0]}
    model = tp.ResponseClassifier(
        "roi", LogisticRegression(class_weight="balanced", **EXACT), param_grid=grid
    )
    result = tp.nested_cross_validate(model, cohort.X, cohort.y, n_repeats=2)
    design = tp.RoiFeatures(verbose=0).fit_transform(cohort.X)
    y = cohort.y.to_numpy()
    runner = Runner(model, cohort.X)
    assert isinstance(runner.fast, LogisticFastPath)
    n_ties = 0
    for (_, fold), (_, row) in zip(
        result.predictions.groupby(["repeat", "fold"], sort=True),
        result.best_params().iterrows(),
        strict=True,
    ):
        test = cohort.X.index.get_indexer(fold["participant_id"])
        train = np.setdiff1d(np.arange(len(y)), test)
        search = model.build_search(design[train]).fit(design[train], y[train])
        chosen = search.best_params_["classifier__C"]
        if row["C"] != chosen:  # only a tie may differ
            means = search.cv_results_["mean_test_score"]
            picked = grid["C"].index(row["C"])
            assert means[picked] == pytest.approx(means.max(), abs=1e-12)
            n_ties += 1
            continue
        np.testing.assert_allclose(
            fold["score"], search.decision_function(design[test]), atol=1e-7
        )
        # Recalibrated on the chosen C's inner out-of-fold decision values.
        inner = cross_val_predict(
            clone(search.best_estimator_),
            design[train],
            y[train],
            cv=model.inner_splitter(),
            method="decision_function",
        )
        recalibration = fit_recalibration(inner, y[train])
        np.testing.assert_allclose(
            fold["probability"],
            apply_recalibration(fold["score"], recalibration),
            atol=1e-6,
        )
        np.testing.assert_array_equal(fold["y_pred"], search.predict(design[test]))
    assert n_ties <= 2


@pytest.mark.parametrize("n_splits", [2, 3, 5, 10])
@pytest.mark.parametrize("labels", [(0, 1), ("b", "a"), (0, 1, 2)])
def test_fast_stratified_splits_equal_scikit_learn(rng, n_splits, labels):
    from txpredict.model_selection._schemes import split

    for seed in (0, 7, 2**31 - 1):
        extra = rng.choice(labels, size=int(rng.integers(0, 60)))
        y = rng.permutation(np.concatenate([np.repeat(labels, n_splits), extra]))
        for shuffle in (True, False):
            splitter = StratifiedKFold(
                n_splits, shuffle=shuffle, random_state=seed if shuffle else None
            )
            expected = list(splitter.split(np.zeros((len(y), 1)), y))
            got = split(splitter, y)
            assert len(got) == len(expected)
            for (a, b), (c, d) in zip(got, expected, strict=True):
                np.testing.assert_array_equal(a, c)
                np.testing.assert_array_equal(b, d)


@pytest.mark.parametrize("pairs_at_once", [2**24, 10])
@pytest.mark.parametrize("scoring", ["roc_auc", "neg_log_loss"])
def test_padded_scores_equal_scikit_learn_per_set(
    rng, monkeypatch, scoring, pairs_at_once
):
    from sklearn.metrics import log_loss, roc_auc_score

    # Small budgets take the set-by-set way; both must agree with sklearn.
    monkeypatch.setattr(_batched_logistic, "_PAIRS_AT_ONCE", pairs_at_once)
    lengths = [7, 12, 9]
    y = np.zeros((3, 12), dtype=int)
    mask = np.zeros((3, 12), dtype=bool)
    decisions = rng.normal(size=(3, 12, 4)).round(1)  # ties within a set
    for s, n in enumerate(lengths):
        decisions[s, n:] = 9.0  # padding that would change the score if counted
        mask[s, :n] = True
        y[s, :n] = np.arange(n) % 2
    got = _batched_logistic._padded_scores(scoring, y, decisions, mask)
    for s, n in enumerate(lengths):
        for c in range(4):
            d = decisions[s, :n, c]
            expected = (
                roc_auc_score(y[s, :n], d)
                if scoring == "roc_auc"
                else -log_loss(y[s, :n], expit(d))
            )
            assert got[s, c] == pytest.approx(expected, rel=1e-12)
