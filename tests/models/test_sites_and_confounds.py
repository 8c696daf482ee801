"""Confounds and harmonisation inside the folds of a ResponseClassifier."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import txpredict as tp
from txpredict.errors import TxpredictError
from txpredict.features import _confounds, _harmonize


@pytest.fixture(scope="module")
def study():
    return tp.make_synthetic_cohort(
        80, effect="prognostic", n_sites=3, grid="fsl6", random_state=3
    )


@pytest.mark.parametrize(
    "options",
    [
        {"harmonize": "combat", "protected": ["age"]},
        {"confounds": ["age", "sex", "site"]},
    ],
    ids=["combat", "residualize"],
)
def test_each_step_learns_only_from_training_patients(study, options, monkeypatch):
    """Every fit of ComBat / the confound regression, instrumented: none sees a
    patient of the outer test fold it serves, and each outer fold's refit
    sees exactly its training part."""
    fits = []
    cls = _harmonize.ComBat if "harmonize" in options else _confounds.ConfoundRemover
    original = cls._fit_arrays  # where either learns, whatever the route
    monkeypatch.setattr(
        cls, "_fit_arrays", lambda self, data, table: fits.append(
            frozenset(table.index)) or original(self, data, table)
    )  # fmt: skip
    model = tp.ResponseClassifier("roi", param_grid={"C": [0.1, 1.0]}, **options)
    result = tp.nested_cross_validate(model, study.X, study.y, n_repeats=1)
    assert result.info["fast_path"]
    everyone = frozenset(study.X.index)
    tests = [
        frozenset(fold["participant_id"])
        for _, fold in result.predictions.groupby("fold")
    ]
    assert len(fits) == len(tests) * (5 + 1)  # inner folds, then the refit
    for fit in fits:
        assert fit != everyone
        assert any(not (fit & test) for test in tests)
    for test in tests:
        assert everyone - test in fits  # the outer refit


def test_fast_route_equals_the_fold_by_fold_route(study):
    model = tp.ResponseClassifier(
        "roi", "logistic", param_grid={"C": [0.1]}, harmonize="combat",
        confounds=["age"],
    )  # fmt: skip
    fast = tp.nested_cross_validate(model, study.X, study.y, n_repeats=1)
    slow = tp.nested_cross_validate(
        model, study.X, study.y, n_repeats=1, fast_path=False
    )
    assert fast.info["fast_path"] and not slow.info["fast_path"]
    np.testing.assert_allclose(
        fast.predictions["score"], slow.predictions["score"], atol=1e-3
    )


@pytest.mark.parametrize(
    "options",
    [
        {"harmonize": "combat", "protected": ["age"]},
        {"confounds": ["age", "site"]},
        {"harmonize": "combat", "confounds": ["age"], "deconfound": "augment"},
    ],
    ids=["combat", "residualize", "combat+augment"],
)
def test_wholebrain_gram_route_equals_the_fold_by_fold_route(study, options):
    """Voxels with ComBat / confound regression: the Gram route fits the
    preparation once per training set (not once per candidate) and predicts
    what the scikit-learn pipeline predicts."""
    model = tp.ResponseClassifier(
        "wholebrain", "ridge", param_grid={"alpha": [1e3, 1e5]}, **options
    )
    fast = tp.nested_cross_validate(model, study.X, study.y, n_repeats=1)
    slow = tp.nested_cross_validate(
        model, study.X, study.y, n_repeats=1, fast_path=False
    )
    assert fast.info["fast_path"] and not slow.info["fast_path"]
    pd.testing.assert_frame_equal(fast.best_params(), slow.best_params())
    np.testing.assert_allclose(
        fast.predictions["score"], slow.predictions["score"], atol=1e-4
    )


def test_wholebrain_combat_logistic_equals_the_fold_by_fold_route(study):
    """The default classifier, at a tolerance where lbfgs reaches the optimum
    (at its default, 1e-4, it stops short on thousands of voxels and the two
    routes may tune to different C: see test_gram_fast_path_equals_generic_route)."""
    tight = LogisticRegression(tol=1e-10, max_iter=100_000, class_weight="balanced")
    model = tp.ResponseClassifier(
        "wholebrain", tight, param_grid={"C": [1e-3, 1e-1]}, harmonize="combat"
    )
    fast = tp.nested_cross_validate(model, study.X, study.y, n_repeats=1, outer_cv=3)
    slow = tp.nested_cross_validate(
        model, study.X, study.y, n_repeats=1, outer_cv=3, fast_path=False
    )
    assert fast.info["fast_path"] and not slow.info["fast_path"]
    pd.testing.assert_frame_equal(fast.best_params(), slow.best_params())
    np.testing.assert_allclose(
        fast.predictions["score"], slow.predictions["score"], atol=1e-3
    )


def test_wholebrain_combat_is_fitted_once_per_training_set(study, monkeypatch):
    fits = []
    original = _harmonize.ComBat._fit_arrays
    monkeypatch.setattr(
        _harmonize.ComBat, "_fit_arrays", lambda self, data, table: fits.append(
            frozenset(table.index)) or original(self, data, table)
    )  # fmt: skip
    model = tp.ResponseClassifier(
        "wholebrain", param_grid={"C": [0.01, 0.1, 1.0]}, harmonize="combat"
    )
    result = tp.nested_cross_validate(model, study.X, study.y, n_repeats=1)
    tests = [
        frozenset(fold["participant_id"])
        for _, fold in result.predictions.groupby("fold")
    ]
    assert len(fits) == len(set(fits)) == len(tests) * (5 + 1)
    for test in tests:
        assert frozenset(study.X.index) - test in fits
        # Its 5 inner fits and its refit avoid it; every other fold's fits touch it.
        assert sum(not (fit & test) for fit in fits) == 6


def test_augment_adds_the_confounds_as_covariates(study):
    model = tp.ResponseClassifier(
        "roi", confounds=["age", "site"], deconfound="augment"
    ).fit(study.X, study.y)
    names = model.search_.best_estimator_[:-1].get_feature_names_out()
    assert any("site_site1" in str(n) for n in names)
    assert sum("image" in str(n) for n in names) == 9


def test_bad_confounds_and_sites_are_explained(study):
    X, y = study.X, study.y
    with pytest.raises(TxpredictError, match=r"\['motion'\] are not in X"):
        tp.ResponseClassifier("roi", confounds=["motion"]).fit(X, y)
    with pytest.raises(TxpredictError, match="'deconfound' parameter"):
        tp.ResponseClassifier("roi", confounds=["age"], deconfound="regress").fit(X, y)
    with pytest.raises(TxpredictError, match="'harmonize' parameter"):
        tp.ResponseClassifier("roi", harmonize="neurocombat").fit(X, y)
    with pytest.raises(TxpredictError, match="demographic_columns instead"):
        tp.ResponseClassifier("demographics", confounds=["age"]).fit(X, y)
    one_site = X.assign(site="only")
    with pytest.raises(TxpredictError, match=r"\['site'\] take a single value"):
        tp.ResponseClassifier("roi", confounds=["site"]).fit(one_site, y)


def test_multisite_cohorts_plant_what_sites_do():
    study = tp.make_synthetic_cohort(
        200, effect="none", n_sites=4, grid="fsl6", random_state=0
    )
    assert sorted(study.X["site"].unique()) == ["site1", "site2", "site3", "site4"]
    assert study.X["site"].value_counts().min() >= 2
    assert study.info["brain_balanced_accuracy"] == 0.5  # no brain signal at all
    assert (study.ground_truth["brain_logit"] == 0).all()
    # The scanners shift the ROI values: the sites' means differ beyond noise.
    roi = tp.RoiFeatures(verbose=0).set_output(transform="pandas")
    values = roi.fit_transform(study.X)
    spread = values.groupby(study.X["site"].to_numpy()).mean().std().mean()
    assert spread > 0.2
    # Each site's scanner is its own: the same site name, the same scanner.
    profile = tp.datasets.site_profile("site2")
    assert study.info["sites"]["site2"]["noise_scale"] == profile.noise_scale
    # Recruitment and response rates differ by site (site confounded with outcome).
    rates = study.y.groupby(study.X["site"]).mean()
    assert rates.max() - rates.min() > 0.15
    # An external cohort from other sites has other scanners.
    other = tp.make_synthetic_cohort(
        40, effect="none", site_names=["site5", "site6"], grid="fsl6", random_state=9
    )
    assert set(other.X["site"]) == {"site5", "site6"}


def test_single_site_cohorts_are_unchanged_by_the_new_options():
    a = tp.make_synthetic_cohort(20, grid="fsl6", random_state=5)
    b = tp.make_synthetic_cohort(
        20, grid="fsl6", random_state=5, site_effect=3.0, age_effect=0.0
    )
    pd.testing.assert_frame_equal(a.X.drop(columns="image"), b.X.drop(columns="image"))
    np.testing.assert_array_equal(
        a.X["image"].iloc[0].get_fdata(), b.X["image"].iloc[0].get_fdata()
    )
