import typing
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, LeaveOneOut, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import txpredict as tp
from txpredict.errors import TxpredictError
from txpredict.model_selection._gram import GramFastPath, center_kernel, gram_matrix


@pytest.fixture(scope="module")
def cohort():
    return tp.make_synthetic_cohort(40, grid="fsl6", random_state=0)


@pytest.fixture(scope="module")
def wholebrain(cohort):
    return tp.WholeBrainFeatures(verbose=0).fit_transform(cohort.X)


class FitRecorder(TransformerMixin, BaseEstimator):
    """Pass-through of the ROI columns that records which subjects it was fit on."""

    fits: typing.ClassVar[list] = []

    def fit(self, X, y=None):
        FitRecorder.fits.append(frozenset(X.index))
        return self

    def transform(self, X):
        return X[["age", "baseline_severity"]].to_numpy(float)


def test_no_outer_test_subject_ever_reaches_a_fit(cohort):
    FitRecorder.fits = []
    model = tp.ResponseClassifier(
        features=FitRecorder(), param_grid={"C": [0.1, 1.0]}, inner_cv=3
    )
    result = tp.nested_cross_validate(model, cohort.X, cohort.y, n_repeats=2, n_jobs=1)
    # Candidates x inner folds, the refit, then the chosen candidate on the
    # inner folds again (its out-of-fold decisions recalibrate the probabilities).
    per_fold = 2 * 3 + 1 + 3
    assert len(FitRecorder.fits) == len(result.folds) * per_fold
    for k, (_, fold) in enumerate(result.predictions.groupby(["repeat", "fold"])):
        test = set(fold["participant_id"])
        fits = FitRecorder.fits[k * per_fold : (k + 1) * per_fold]
        assert all(not (f & test) for f in fits)
        refit = fits[6]
        assert refit == frozenset(cohort.X.index) - test  # refit on all training
        inner = fits[:6] + fits[7:]
        assert all(len(f) < len(refit) for f in inner)  # inner fits: a part
        assert set(fits[7:]) == set(fits[:3])  # the search's inner training parts


def test_each_subject_predicted_once_per_repeat(cohort):
    result = tp.nested_cross_validate(
        tp.ResponseClassifier("roi"), cohort.X, cohort.y, n_repeats=3
    )
    counts = result.predictions.groupby("participant_id").size()
    assert (counts == 3).all() and len(counts) == 40
    assert set(result.predictions["y_true"]) == {0, 1}
    truth = cohort.y.reindex(result.predictions["participant_id"]).to_numpy()
    np.testing.assert_array_equal(result.predictions["y_true"], truth)


@pytest.mark.parametrize("scaling", ["center", "standard"])
def test_gram_fast_path_equals_plain_sklearn_svm(cohort, wholebrain, scaling):
    """Identical out-of-fold predictions: GridSearchCV inside cross_val_predict."""
    y = cohort.y.to_numpy()
    model = tp.ResponseClassifier(
        "wholebrain",
        "linear_svm",
        scaling=scaling,
        param_grid={"C": [1e-4, 1e-3, 1e-2]},
        random_state=3,
    )
    result = tp.nested_cross_validate(model, cohort.X, y, n_repeats=1, random_state=5)
    assert result.info["fast_path"]
    outer = StratifiedKFold(
        5,
        shuffle=True,
        random_state=int(np.random.SeedSequence(5).generate_state(1)[0]),
    )
    plain = GridSearchCV(
        make_pipeline(
            StandardScaler(with_std=scaling == "standard"),
            SVC(kernel="linear", class_weight="balanced"),
        ),
        {"svc__C": [1e-4, 1e-3, 1e-2]},
        scoring="roc_auc",
        cv=StratifiedKFold(5, shuffle=True, random_state=3),
    )
    expected = np.empty(len(y))
    for train, test in outer.split(wholebrain, y):
        expected[test] = plain.fit(wholebrain[train], y[train]).decision_function(
            wholebrain[test]
        )
    got = result.predictions.set_index("participant_id").loc[cohort.X.index, "score"]
    np.testing.assert_allclose(got.to_numpy(), expected, rtol=1e-6, atol=1e-8)


TIGHT_LOGISTIC = LogisticRegression(
    tol=1e-10, max_iter=100_000, class_weight="balanced"
)


@pytest.mark.parametrize(
    "classifier", [TIGHT_LOGISTIC, "ridge"], ids=["logistic", "ridge"]
)
def test_gram_fast_path_equals_generic_route(cohort, classifier):
    """Same model, same splits: the fast path changes nothing but the speed.

    Logistic regression is compared at a tight tolerance: at lbfgs's default
    (1e-4) the 8,700-voxel problem stops short of the optimum that the
    n-dimensional fast path reaches, and the two may tune to different C.
    """
    grid = {"C": [1e-3, 1e-2, 1e-1]} if classifier is TIGHT_LOGISTIC else None
    model = tp.ResponseClassifier("wholebrain", classifier, param_grid=grid)
    fast = tp.nested_cross_validate(model, cohort.X, cohort.y, n_repeats=1)
    slow = tp.nested_cross_validate(
        model, cohort.X, cohort.y, n_repeats=1, fast_path=False
    )
    assert fast.info["fast_path"] and not slow.info["fast_path"]
    assert fast.splits_hash == slow.splits_hash
    np.testing.assert_array_equal(
        fast.predictions["y_pred"], slow.predictions["y_pred"]
    )
    pd.testing.assert_frame_equal(fast.best_params(), slow.best_params())
    # The plain route keeps float32 voxels in float32 (StandardScaler, lbfgs); the
    # fast path forms its kernel in float64: they agree to float32 precision.
    np.testing.assert_allclose(
        fast.predictions["score"], slow.predictions["score"], atol=1e-3
    )


def test_kernel_centring_uses_training_subjects_only(rng):
    A = rng.standard_normal((12, 50))
    train, rows = np.arange(8), np.arange(8, 12)
    K = gram_matrix(A)
    mean = A[train].mean(axis=0)
    expected = (A[rows] - mean) @ (A[train] - mean).T
    np.testing.assert_allclose(center_kernel(K, train, rows), expected, atol=1e-10)
    # Changing subjects outside train and rows changes nothing.
    B = A.copy()
    B[10:] += 100.0
    np.testing.assert_allclose(
        center_kernel(gram_matrix(B), train, rows[:2]), expected[:2], atol=1e-8
    )


@pytest.mark.parametrize("scaling", ["center", "standard"])
def test_fast_path_outer_test_data_never_change_the_model(cohort, wholebrain, scaling):
    """The test rows themselves are altered: predictions of the other rows must
    not move (a fast path that centred or scaled on training plus test rows,
    or tuned with them, would fail)."""
    model = tp.ResponseClassifier("wholebrain", "linear_svm", scaling=scaling)
    y = cohort.y.to_numpy()
    train, probe, other = np.arange(0, 30), np.arange(30, 35), np.arange(35, 40)
    rows = np.concatenate([probe, other])
    altered = wholebrain.copy()
    altered[probe] = altered[probe] * 20.0 + 50.0
    a = GramFastPath(model, wholebrain, "svm").fit_predict(train, rows, y)
    b = GramFastPath(model, altered, "svm").fit_predict(train, rows, y)
    assert a["best_params"] == b["best_params"]
    np.testing.assert_allclose(a["score"][5:], b["score"][5:], rtol=1e-7)
    assert not np.allclose(a["score"][:5], b["score"][:5])  # the probe did change


def test_results_do_not_depend_on_n_jobs(cohort):
    model = tp.ResponseClassifier("roi", "linear_svm")
    one = tp.nested_cross_validate(model, cohort.X, cohort.y, n_repeats=2, n_jobs=1)
    two = tp.nested_cross_validate(model, cohort.X, cohort.y, n_repeats=2, n_jobs=2)
    pd.testing.assert_frame_equal(one.predictions, two.predictions)
    assert one.splits_hash == two.splits_hash


def test_seeds_change_the_splits(cohort):
    model = tp.ResponseClassifier("demographics")
    a = tp.nested_cross_validate(model, cohort.X, cohort.y, n_repeats=1, random_state=0)
    b = tp.nested_cross_validate(model, cohort.X, cohort.y, n_repeats=1, random_state=1)
    assert a.splits_hash != b.splits_hash


def test_groups_are_never_split(cohort):
    groups = pd.Series(np.arange(40) % 10, index=cohort.X.index, name="family")
    result = tp.nested_cross_validate(
        tp.ResponseClassifier("roi", inner_cv=3),
        cohort.X,
        cohort.y,
        n_repeats=2,
        groups=groups,
    )
    merged = result.predictions.join(groups, on="participant_id")
    assert (merged.groupby(["repeat", "family"])["fold"].nunique() == 1).all()
    assert result.info["inner_groups"]


def test_few_sites_group_the_outer_loop_only(cohort):
    sites = cohort.X["site"]
    model = tp.ResponseClassifier("roi")
    with pytest.raises(
        TxpredictError, match=r"only 2 distinct group.*inner_groups=False"
    ):
        tp.nested_cross_validate(model, cohort.X, cohort.y, outer_cv=3, groups=sites)
    result = tp.nested_cross_validate(
        model,
        cohort.X,
        cohort.y,
        outer_cv=3,
        n_repeats=1,
        groups=sites,
        inner_groups=False,
    )
    merged = result.predictions.join(sites, on="participant_id")
    assert (merged.groupby("site")["fold"].nunique() == 1).all()


def test_leave_one_out_is_refused_unless_allowed(cohort):
    model = tp.ResponseClassifier("demographics", param_grid={})
    for outer in ("loo", LeaveOneOut(), 40):
        with pytest.raises(TxpredictError, match=r"Varoquaux.*allow_loo=True"):
            tp.nested_cross_validate(model, cohort.X, cohort.y, outer_cv=outer)
    with pytest.warns(tp.LeaveOneOutWarning, match="unstable and biased"):
        result = tp.nested_cross_validate(
            model, cohort.X, cohort.y, outer_cv="loo", allow_loo=True, inner_cv=3
        )
    assert len(result.predictions) == 40
    # The distributional bias: the prior-only dummy's pooled AUC under LOO is 0.
    assert result.summary().at["auc", "dummy_prior"] == 0.0


def _delong_variance(y, score):
    """DeLong et al. (1988)'s variance of one AUC, from its definition.

    V10 of each responder: the share of non-responders it outscores (ties
    half); V01 of each non-responder: the share of responders outscoring it;
    Var = S10 / m + S01 / n with the sample variances S of the two lists.
    """
    positives, negatives = score[y == 1], score[y == 0]

    def psi(a, b):
        return 1.0 if a > b else 0.5 if a == b else 0.0

    v10 = [np.mean([psi(p, q) for q in negatives]) for p in positives]
    v01 = [np.mean([psi(p, q) for p in positives]) for q in negatives]
    return np.var(v10, ddof=1) / len(positives) + np.var(v01, ddof=1) / len(negatives)


def test_summary_estimates_and_intervals_by_hand(cohort):
    """Every number of the summary recomputed independently (scikit-learn's
    metrics on the predictions table, the interval formulas written out)."""
    from scipy import stats
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    result = tp.nested_cross_validate(
        tp.ResponseClassifier("roi"), cohort.X, cohort.y, n_repeats=3
    )
    s = result.summary()
    assert list(s.index) == list(tp.stats.METRICS)
    p = result.predictions
    repeats = [g for _, g in p.groupby("repeat")]
    folds = [g for _, g in p.groupby(["repeat", "fold"])]
    ba = np.mean([balanced_accuracy_score(g.y_true, g.y_pred) for g in repeats])
    auc = np.mean([roc_auc_score(g.y_true, g.score) for g in folds])
    sens = np.mean([(g.y_pred[g.y_true == 1] == 1).mean() for g in repeats])
    assert s.at["balanced_accuracy", "estimate"] == pytest.approx(ba)
    assert s.at["auc", "estimate"] == pytest.approx(auc)  # fold-wise, not pooled
    assert s.at["sensitivity", "estimate"] == pytest.approx(sens)
    # Balanced accuracy: the binomial variances of the 40 patients (each
    # counted once per repeat) times the design effect 1/R + K/(K-1), t on 14 df.
    spec = np.mean([(g.y_pred[g.y_true == 0] == 0).mean() for g in repeats])
    n_pos, n_neg = int(cohort.y.sum()), int((1 - cohort.y).sum())
    test_set = (sens * (1 - sens) / n_pos + spec * (1 - spec) / n_neg) / 4
    half = stats.t.ppf(0.975, 14) * np.sqrt(test_set * (1 / 3 + 5 / 4))
    assert s.at["balanced_accuracy", "ci_method"] == "corrected_test_set"
    assert s.at["balanced_accuracy", "ci_high"] == pytest.approx(min(1.0, ba + half))
    # ... and the alternative, Nadeau-Bengio on the 15 fold values (t, 14 df).
    fold_ba = [balanced_accuracy_score(g.y_true, g.y_pred) for g in folds]
    half = stats.t.ppf(0.975, 14) * np.sqrt((1 / 15 + 1 / 4) * np.var(fold_ba, ddof=1))
    by_folds = result.intervals("corrected_folds").loc["balanced_accuracy"]
    assert by_folds["ci_high"].item() == pytest.approx(min(1.0, ba + half))
    # Sensitivity: Wilson on the responders, each counted once (n = 40, not 120);
    # statsmodels' Wilson interval is the reference.
    from statsmodels.stats.proportion import proportion_confint

    n_pos = int(cohort.y.sum())
    low, _ = proportion_confint(sens * n_pos, n_pos, alpha=0.05, method="wilson")
    assert s.at["sensitivity", "ci_low"] == pytest.approx(low)
    # AUC: fold DeLong variances / K^2 per repeat, times 1/R + K/(K-1); each
    # fold's variance from DeLong's structural components, pair by pair.
    variances = [
        _delong_variance(g.y_true.to_numpy(), g.score.to_numpy()) for g in folds
    ]
    per_repeat = np.mean(np.reshape(variances, (3, 5)).sum(axis=1)) / 25
    half = stats.t.ppf(0.975, 14) * np.sqrt(per_repeat * (1 / 3 + 5 / 4))
    assert s.at["auc", "ci_high"] == pytest.approx(min(1.0, auc + half))
    # The chance levels and the prior-only dummy, beside the model.
    prevalence = cohort.y.mean()
    assert s.at["ppv", "chance"] == pytest.approx(prevalence)
    assert s.at["npv", "dummy_prior"] == pytest.approx(
        np.mean([(g.y_true[g.dummy_pred == 0] == 0).mean() for g in repeats])
    ) or np.isnan(s.at["npv", "dummy_prior"])


def test_save_and_load_round_trip(cohort, tmp_path):
    result = tp.nested_cross_validate(
        tp.ResponseClassifier("roi"), cohort.X, cohort.y, n_repeats=1
    )
    result.save(tmp_path / "result.json")
    loaded = tp.NestedCVResult.load(tmp_path / "result.json")
    pd.testing.assert_frame_equal(
        loaded.predictions, result.predictions, check_dtype=False
    )
    assert loaded.splits_hash == result.splits_hash
    pd.testing.assert_frame_equal(loaded.summary(), result.summary())
    (tmp_path / "other.json").write_text('{"format": "something else"}')
    with pytest.raises(TxpredictError, match="not a saved txpredict"):
        tp.NestedCVResult.load(tmp_path / "other.json")


def test_bad_inputs_are_explained(cohort):
    model = tp.ResponseClassifier("demographics")
    X, y = cohort.X, cohort.y
    with pytest.raises(TxpredictError, match="single class"):
        tp.nested_cross_validate(model, X, pd.Series(1, index=X.index))
    small = y.copy()
    small[small == 1] = [1, 1, 1] + [0] * (int(y.sum()) - 3)
    with pytest.raises(
        TxpredictError, match=r"Class 1 \(responders\) has 3.*outer_cv=3"
    ):
        tp.nested_cross_validate(model, X, small)
    with pytest.raises(TxpredictError, match=r"groups has 3 distinct.*outer_cv=3"):
        tp.nested_cross_validate(model, X, y, groups=X["site"])
    with pytest.raises(TxpredictError, match="40 subjects but y has 39"):
        tp.nested_cross_validate(model, X, y.iloc[:39])
    shifted = y.copy()
    shifted.index = [f"x{i}" for i in range(40)]
    with pytest.raises(TxpredictError, match="name different subjects"):
        tp.nested_cross_validate(model, X, shifted)
    missing = y.astype(float)
    missing.iloc[4] = np.nan
    with pytest.raises(TxpredictError, match=r"missing for 1 subject.*sub-05"):
        tp.nested_cross_validate(model, X, missing)
    with pytest.raises(
        TxpredictError, match=r"param_grid key 'gamma'.*Classifier parameters"
    ):
        tp.nested_cross_validate(
            tp.ResponseClassifier("roi", param_grid={"gamma": [1]}), X, y, n_repeats=1
        )
    with pytest.raises(TxpredictError, match="no fast path applies"):
        tp.nested_cross_validate(
            tp.ResponseClassifier("roi", "random_forest"), X, y, fast_path=True
        )


def test_y_series_in_another_order_is_aligned(cohort):
    model = tp.ResponseClassifier("demographics")
    a = tp.nested_cross_validate(model, cohort.X, cohort.y, n_repeats=1)
    b = tp.nested_cross_validate(model, cohort.X, cohort.y.iloc[::-1], n_repeats=1)
    pd.testing.assert_frame_equal(a.predictions, b.predictions)


def test_plain_sklearn_estimators_work_too(cohort):
    features = tp.RoiFeatures(verbose=0).fit_transform(cohort.X)
    X = pd.DataFrame(features, index=cohort.X.index)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), SVC(kernel="linear")),
        {"svc__C": [0.1, 1]},
        cv=3,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = tp.nested_cross_validate(search, X, cohort.y, n_repeats=1)
    assert result.best_params()["svc__C"].notna().all()


@pytest.mark.parametrize(
    "options",
    [
        {
            "classifier": "random_forest",
            "param_grid": {"n_estimators": [50], "max_depth": [None, 3]},
        },
        {"classifier": "logistic_l1", "select_percentile": 50},
        {
            "classifier": "logistic_elasticnet",
            "pca_components": 3,
            "param_grid": {"C": [1.0], "l1_ratio": [0.5]},
        },
        {"features": "roi+demographics", "classifier": "ridge"},
    ],
    ids=["forest", "l1+anova", "elasticnet+pca", "roi+demographics"],
)
def test_other_models_equal_the_model_fitted_on_each_training_part(cohort, options):
    """Fold by fold, the generic route (and the Gram route on a design with
    table columns, ROI + demographics) is the model fitted on the training
    part."""
    model = tp.ResponseClassifier(**{"features": "roi", **options})
    result = tp.nested_cross_validate(
        model, cohort.X, cohort.y, outer_cv=3, inner_cv=3, n_repeats=1
    )
    assert result.info["fast_path"] == (options.get("features") == "roi+demographics")
    for _, fold in result.predictions.groupby("fold"):
        test = cohort.X.index.isin(fold["participant_id"])
        fitted = clone(model).set_params(inner_cv=3)
        fitted.fit(cohort.X[~test], cohort.y[~test])
        X_test = cohort.X.loc[fold["participant_id"]]
        expected = (
            fitted.decision_function(X_test)
            if hasattr(fitted.search_, "decision_function")
            # The score is the forest's own probability (before the prior shift).
            else fitted.search_.predict_proba(fitted._design_for(X_test))[:, 1]
        )
        np.testing.assert_allclose(fold["score"], expected, rtol=1e-6, atol=1e-9)
        np.testing.assert_array_equal(fold["y_pred"], fitted.predict(X_test))


def test_progress_shows_folds_and_permutations(cohort, capsys):
    model = tp.ResponseClassifier("roi", "linear_svm", param_grid={"C": [0.1]})
    plain = tp.nested_cross_validate(
        model, cohort.X, cohort.y, n_repeats=1, n_permutations=3
    )
    shown = tp.nested_cross_validate(
        model, cohort.X, cohort.y, n_repeats=1, n_permutations=3, progress=True
    )
    err = capsys.readouterr().err
    assert "outer folds" in err and "5/5" in err and "permutations" in err
    pd.testing.assert_frame_equal(plain.predictions, shown.predictions)
    np.testing.assert_array_equal(
        plain.permutation["auc"].null_distribution,
        shown.permutation["auc"].null_distribution,
    )
