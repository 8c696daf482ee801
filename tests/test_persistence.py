import numpy as np
import pytest
import skops.io as sio

import txpredict as tp
from txpredict.errors import TxpredictError


@pytest.fixture(scope="module")
def cohort():
    return tp.make_synthetic_cohort(30, grid="fsl6", random_state=0)


@pytest.mark.parametrize("features", ["roi", "wholebrain", "roi+demographics"])
def test_round_trip_predicts_the_same(cohort, tmp_path, features):
    model = tp.ResponseClassifier(features).fit(cohort.X, cohort.y)
    tp.save_model(model, tmp_path / "model.skops")
    loaded, provenance = tp.load_model(tmp_path / "model.skops")
    np.testing.assert_array_equal(
        loaded.predict_proba(cohort.X), model.predict_proba(cohort.X)
    )
    assert provenance["training_hash"] == model.training_hash_
    assert provenance["scikit-learn"] and provenance["txpredict"]


def test_training_hash_identifies_the_cohort(cohort):
    a = tp.ResponseClassifier("demographics", param_grid={}).fit(cohort.X, cohort.y)
    b = tp.ResponseClassifier("demographics", param_grid={}).fit(
        cohort.X.iloc[1:], cohort.y.iloc[1:]
    )
    assert a.training_hash_ != b.training_hash_


def test_untrusted_types_are_refused_by_name(tmp_path):
    sio.dump(
        {"model": print, "provenance": {"format": "txpredict.model/1"}},
        tmp_path / "evil.skops",
    )
    with pytest.raises(TxpredictError, match=r"does not trust: \['builtins.print'\]"):
        tp.load_model(tmp_path / "evil.skops")


def test_not_a_model_file(tmp_path):
    (tmp_path / "x.skops").write_text("hello")
    with pytest.raises(TxpredictError, match="not a readable txpredict model file"):
        tp.load_model(tmp_path / "x.skops")
    sio.dump({"something": 1}, tmp_path / "other.skops")
    with pytest.raises(TxpredictError, match="not a txpredict model file"):
        tp.load_model(tmp_path / "other.skops")


# Every kind of model a ``txpredict run`` configuration can build: each feature
# set and learner, and each preparation step a [model] section can switch on.
_FAST = {"param_grid": {}, "inner_cv": 3}
_CLASSIFIERS = [
    *({"features": f} for f in ("roi", "roi_voxels", "wholebrain", "demographics")),
    {"features": "roi+demographics", "harmonize": "combat", "protected": ["sex"]},
    {"features": "wholebrain+demographics", "confounds": ["age"]},
    {"features": "roi", "confounds": ["age", "site"], "deconfound": "augment"},
    {"features": "roi", "harmonize": "combat", "confounds": ["age"]},
    {"features": "wholebrain", "harmonize": "combat", "classifier": "linear_svm"},
    {"features": "roi_voxels", "select_percentile": 50, "pca_components": 3},
    *({"classifier": c} for c in ("logistic_l1", "ridge", "random_forest")),
]
_REGRESSORS = [
    {"features": "roi", "harmonize": "combat", "confounds": ["age"]},
    {"features": "wholebrain", "regressor": "ridge", "harmonize": "combat"},
    {"features": "roi+demographics", "regressor": "random_forest"},
]
_SELECTORS = [
    {"features": "roi", "strategy": "t_learner"},
    {"features": "roi+demographics", "strategy": "x_learner"},
    {"features": "wholebrain", "strategy": "interaction"},
]


@pytest.fixture(scope="module")
def sites_cohort():
    return tp.make_synthetic_cohort(45, grid="fsl6", n_sites=3, random_state=2)


def _fast(options):
    grid = {"max_depth": [3]} if "random_forest" in options.values() else {}
    return {**_FAST, "param_grid": grid, **options}


def _predictions(model, X):
    if isinstance(model, tp.ModalitySelector):
        return model.predict_response_proba(X).to_numpy()
    if isinstance(model, tp.ResponseRegressor):
        return model.predict(X)
    try:
        return model.decision_function(X)
    except AttributeError:  # a random forest
        return model.predict_proba(X)


@pytest.mark.parametrize(
    "kind, options",
    [("classifier", o) for o in _CLASSIFIERS]
    + [("regressor", o) for o in _REGRESSORS]
    + [("selector", o) for o in _SELECTORS],
    ids=lambda v: v if isinstance(v, str) else "-".join(map(str, v.values())),
)
def test_every_configuration_a_run_can_build_is_saved_and_loaded(
    sites_cohort, tmp_path, kind, options
):
    """ComBat and confound removal once kept pandas objects that skops cannot
    save: a three-site run lost its whole analysis at the last step."""
    X = sites_cohort.X
    if kind == "selector":
        model = tp.ModalitySelector(**_fast(options), random_state=0)
        model.fit(X, sites_cohort.y, treatment="treatment")
    elif kind == "regressor":
        model = tp.ResponseRegressor(**_fast(options)).fit(
            X, sites_cohort.ground_truth["symptom_reduction"]
        )
    else:
        model = tp.ResponseClassifier(**_fast(options)).fit(X, sites_cohort.y)
    tp.save_model(model, tmp_path / "model.skops")
    loaded, _ = tp.load_model(tmp_path / "model.skops")
    np.testing.assert_allclose(_predictions(loaded, X), _predictions(model, X))
