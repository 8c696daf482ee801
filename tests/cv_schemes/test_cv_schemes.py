import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import txpredict as tp
from txpredict.cv_schemes import QUICK, SCHEMES
from txpredict.cv_schemes._schemes import (
    C_GRID,
    N_REPETITIONS,
    confidence_and_p,
    estimate_schemes,
)
from txpredict.errors import TxpredictError

EXACT = {"solver": "newton-cholesky", "tol": 1e-12, "max_iter": 1000}


@pytest.fixture(scope="module")
def quick():
    """The --quick benchmark (n = 20, 40; 10 replicates; null and planted)."""
    return tp.compare_cv_schemes(**QUICK, n_jobs=1, progress=False)


def _data(rng, n, signal=0.0):
    y = np.repeat([0, 1], n // 2)
    A = rng.normal(size=(n, 6)) * [1, 3, 0.5, 1, 2, 1]
    A[:, 0] += signal * (y - 0.5)
    return A, y


def test_kfold_estimates_equal_scikit_learn_on_the_same_folds(rng):
    A, y = _data(rng, 40, signal=1.0)
    estimates = estimate_schemes(A, y, fixed_C=0.1, seed=7)
    seed = np.random.SeedSequence(7).generate_state(N_REPETITIONS)[0]
    model = make_pipeline(
        StandardScaler(), LogisticRegression(C=0.1, class_weight="balanced", **EXACT)
    )
    folds = StratifiedKFold(5, shuffle=True, random_state=int(seed))
    decision = cross_val_predict(model, A, y, cv=folds, method="decision_function")
    ba, auc = estimates["kfold5"]
    assert ba == pytest.approx(balanced_accuracy_score(y, decision > 0))
    assert auc == pytest.approx(roc_auc_score(y, decision))


def test_leave_one_out_references_reproduce_the_literature(rng):
    """Prior-only under LOO scores 0; so does a strongly regularised unweighted
    logistic model on null data (SCIENCE.md: ~1% at n = 20)."""
    A, y = _data(rng, 20)
    estimates = estimate_schemes(A, y, fixed_C=1e-3, seed=0)
    assert estimates["loo_prior_only"] == (0.0, 0.0)
    assert estimates["loo_unweighted"][0] <= 0.05
    # "Tuned on the scored folds" reports, per metric, the best of the LOO
    # estimates of the grid values, each computed on its own.
    per_C = [estimate_schemes(A, y, fixed_C=C, seed=0)["loo"] for C in C_GRID]
    assert estimates["loo_tuned"] == pytest.approx(tuple(np.max(per_C, axis=0)))
    assert set(estimates) == set(SCHEMES)


def test_confidence_intervals_and_p_values():
    at_chance = confidence_and_p(0.5, 0.5, 50, 50)
    assert at_chance["p_value"] == pytest.approx(0.5)
    # Binomial half-width at 50% with n = 100: +-9.8% (SCIENCE.md).
    assert at_chance["ba_ci_high"] - 0.5 == pytest.approx(0.098, abs=0.002)
    strong = confidence_and_p(0.8, 0.85, 50, 50)
    assert strong["p_value"] < 1e-6
    assert strong["auc_ci_low"] < 0.85 < strong["auc_ci_high"] < 1


def test_quick_benchmark_shows_what_the_literature_reports(quick):
    s = quick.summary().set_index(["effect", "n", "scheme"])
    assert len(s) == 2 * 2 * len(SCHEMES)
    assert (s["replicates"] == 10).all()
    null = s.loc["none"]
    # The truth on null data is chance, for every reported model.
    assert np.allclose(null["ba_true"], 0.5, atol=0.05)
    # LOO references: all wrong, never significant.
    for scheme in ("loo_prior_only", "loo_unweighted"):
        assert (null.xs(scheme, level="scheme")["ba_mean"] < 0.1).all()
        assert (null.xs(scheme, level="scheme")["significant_rate"] == 0).all()
    # On planted-effect data the model is above chance, and the estimates see it.
    planted = s.loc["prognostic"]
    models = planted.xs(40, level="n").drop(index="loo_prior_only")
    assert (models["ba_true"] > 0.55).all()
    assert planted.loc[(40, "nested"), "ba_mean"] > 0.55
    columns = {"ba_bias", "ba_sd", "ba_rmse", "ba_coverage", "auc_bias", "ba_max"}
    assert columns <= set(s.columns)
    assert (s["ba_rmse"] >= s["ba_bias"].abs() - 1e-12).all()


def test_results_do_not_depend_on_n_jobs():
    options = {
        "sample_sizes": (20,),
        "effects": ("none",),
        "n_replicates": 3,
        "n_true": 200,
        "pool_size": 200,
        "progress": False,
    }
    a = tp.compare_cv_schemes(**options, n_jobs=1)
    b = tp.compare_cv_schemes(**options, n_jobs=2)
    pd.testing.assert_frame_equal(a.estimates, b.estimates)
    c = tp.compare_cv_schemes(**options, n_jobs=1, random_state=1)
    assert not a.estimates["balanced_accuracy"].equals(c.estimates["balanced_accuracy"])


def test_save_writes_tables_figures_and_page(quick, tmp_path):
    out = quick.save(tmp_path / "cv")
    names = {p.name for p in out.iterdir()}
    assert {
        "estimates.csv",
        "summary.csv",
        "summary.json",
        "report.html",
        "bias_and_spread.png",
        "estimates_none.png",
        "estimates_prognostic.png",
    } <= names
    assert pd.read_csv(out / "estimates.csv").shape == quick.estimates.shape
    info = json.loads((out / "summary.json").read_text())["info"]
    assert info["wall_seconds"] > 0 and info["n_replicates"] == 10
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and "nested" in html
    with pytest.raises(FileExistsError, match="not empty"):
        quick.save(out)
    assert not list(tmp_path.glob(".cv.*"))  # no partial output left behind


def test_bad_settings_are_explained():
    with pytest.raises(TxpredictError, match="Unknown effect"):
        tp.compare_cv_schemes(effects=("huge",), progress=False)
    with pytest.raises(TxpredictError, match="at least 20"):
        tp.compare_cv_schemes(sample_sizes=(10,), progress=False)
    with pytest.raises(TxpredictError, match="pool_size"):
        tp.compare_cv_schemes(sample_sizes=(200,), pool_size=300, progress=False)
