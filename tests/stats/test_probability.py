"""Prior correction of class-balanced probabilities, calibration, decision curves."""

import numpy as np
import pandas as pd
import pytest
from scipy import optimize
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

import txpredict as tp
from txpredict.errors import TxpredictError
from txpredict.stats import (
    apply_recalibration,
    calibration_measures,
    decision_curve,
    fit_recalibration,
    prior_shift,
)


@pytest.fixture(scope="module")
def imbalanced():
    """A prognostic cohort with about 3 responders in 4 (the shift matters)."""
    rng = np.random.default_rng(0)
    n = 400
    x = rng.integers(0, 2, n)  # one binary predictor: the model is saturated
    y = (rng.random(n) < np.where(x == 1, 0.9, 0.6)).astype(int)
    return x.reshape(-1, 1).astype(float), y


def test_prior_shift_of_a_balanced_fit_is_the_unweighted_fit(imbalanced):
    """For a saturated logistic model the correction is exact (Bayes' rule)."""
    X, y = imbalanced
    # The unweighted maximum-likelihood fit of a saturated model: cell rates.
    cell_rates = pd.Series(y).groupby(X[:, 0]).mean().loc[X[:, 0]].to_numpy()
    balanced = LogisticRegression(
        C=np.inf, class_weight="balanced", tol=1e-12, max_iter=10_000
    ).fit(X, y)
    shifted = prior_shift(balanced.predict_proba(X)[:, 1], y.mean())
    np.testing.assert_allclose(shifted, cell_rates, atol=1e-6)
    # Without the shift the balanced probabilities are far off (mean near 0.5).
    assert abs(balanced.predict_proba(X)[:, 1].mean() - y.mean()) > 0.1


def test_prior_shift_refuses_a_single_class():
    with pytest.raises(TxpredictError, match="single class"):
        prior_shift([0.3], 1.0)


def _log_likelihood(decision, y, recalibration):
    p = apply_recalibration(decision, recalibration)
    return np.sum(y * np.log(p) + (1 - y) * np.log1p(-p))


def test_recalibration_is_scikit_learns_unpenalised_fit_clipped_to_0_1(rng):
    """Interior slopes: the maximum-likelihood fit; outside [0, 1]: the bound,
    intercept refitted, and no (slope, intercept) in the box does better."""
    clipped = 0
    for _ in range(60):
        n = int(rng.integers(20, 150))
        truth = rng.normal(size=n)
        y = (rng.random(n) < expit(truth + rng.normal(scale=0.5))).astype(int)
        if y.min() == y.max():
            continue
        decision = truth * rng.uniform(-1.0, 5.0) + rng.normal()
        intercept, slope = fit_recalibration(decision, y)
        assert 0.0 <= slope <= 1.0
        reference = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000)
        reference.fit(decision[:, None], y)
        best = reference.coef_[0, 0]
        if 0.0 <= best <= 1.0:
            assert slope == pytest.approx(best, abs=1e-6)
            assert intercept == pytest.approx(reference.intercept_[0], abs=1e-6)
            continue
        clipped += 1
        assert slope == np.clip(best, 0.0, 1.0)
        # The intercept makes the mean probability the observed rate.
        fitted = apply_recalibration(decision, (intercept, slope))
        assert fitted.mean() == pytest.approx(y.mean(), abs=1e-9)
        for other in np.linspace(0, 1, 11):
            refit = optimize.brentq(
                lambda c, s=other, d=decision, y=y: np.sum(y - expit(c + s * d)),
                -50,
                50,
            )
            assert _log_likelihood(decision, y, (intercept, slope)) >= (
                _log_likelihood(decision, y, (refit, other)) - 1e-9
            )
    assert clipped >= 10  # both cases were exercised


def test_recalibration_of_separated_or_constant_decisions():
    decision = np.arange(-5.0, 5.0)
    y = (decision > 0).astype(int)  # separated: the unclipped slope is infinite
    intercept, slope = fit_recalibration(decision, y)
    assert slope == 1.0
    assert apply_recalibration(decision, (intercept, slope)).mean() == pytest.approx(
        0.4
    )
    # Constant decisions carry no ranking: every patient gets the observed rate.
    assert fit_recalibration(np.zeros(10), y) == (pytest.approx(np.log(4 / 6)), 0.0)
    with pytest.raises(TxpredictError, match="0 of 10 responders"):
        fit_recalibration(decision, np.zeros(10))


def test_calibration_measures_by_hand():
    y = np.array([0, 0, 1, 1, 1, 0, 1, 0])
    p = np.array([0.2, 0.3, 0.7, 0.8, 0.6, 0.4, 0.9, 0.1])
    measures = calibration_measures(y, p)
    assert measures["brier"] == pytest.approx(np.mean((p - y) ** 2))
    assert measures["observed"] == 0.5 and measures["mean_predicted"] == 0.5


def test_decision_curve_by_hand():
    y = np.array([1, 1, 0, 0, 1])
    p = np.array([0.9, 0.4, 0.6, 0.1, 0.7])
    curve = decision_curve(y, p, [0.5])
    # Acting at p >= 0.5: patients 1, 3, 5 -> TP 2, FP 1; odds 1.
    assert curve.at[0.5, "net_benefit"] == pytest.approx(2 / 5 - 1 / 5)
    assert curve.at[0.5, "treat_all"] == pytest.approx(3 / 5 - 2 / 5)
    assert curve.at[0.5, "sensitivity"] == pytest.approx(2 / 3)
    assert curve.at[0.5, "specificity"] == pytest.approx(1 / 2)


@pytest.fixture(scope="module")
def skewed_cohort():
    cohort = tp.make_synthetic_cohort(
        160, effect="prognostic", grid="fsl6", random_state=4
    )
    # Keep 3 responders for 1 non-responder.
    keep = cohort.y.index[cohort.y == 1].tolist()
    keep += cohort.y.index[cohort.y == 0][: len(keep) // 3].tolist()
    return cohort.X.loc[keep], cohort.y.loc[keep]


@pytest.mark.parametrize("calibration", ["inner_platt", "prior_shift"])
def test_probabilities_estimate_the_response_rate(skewed_cohort, calibration):
    X, y = skewed_cohort
    model = tp.ResponseClassifier("roi", calibration=calibration).fit(X, y)
    probability = model.predict_proba(X)[:, 1]
    assert abs(probability.mean() - y.mean()) < 0.03
    # The decision stays the balanced one, and the probabilities rank as it does.
    decision = model.decision_function(X)
    np.testing.assert_array_equal(model.predict(X), (decision > 0).astype(int))
    order = np.argsort(decision)
    assert np.all(np.diff(probability[order]) >= 0)
    if calibration == "prior_shift":  # responder iff p > training prevalence
        np.testing.assert_array_equal(
            model.predict(X), (probability > model.training_prevalence_).astype(int)
        )
        assert model.recalibration_ is None
    else:
        _, slope = model.recalibration_
        assert 0.0 < slope <= 1.0


def test_recalibration_is_fitted_on_the_inner_out_of_fold_decisions(skewed_cohort):
    """The chosen C's decision values on the inner splits, each patient scored
    by a model that did not see them; nothing else."""
    X, y = skewed_cohort
    model = tp.ResponseClassifier("roi", param_grid={"C": [0.01, 1.0]}).fit(X, y)
    design = tp.RoiFeatures(verbose=0).fit_transform(X)
    inner = np.empty(len(y))
    for train, test in model.inner_splitter().split(design, y):
        part = tp.ResponseClassifier(
            "roi", param_grid={"C": [model.best_params_["C"]]}
        ).fit(X.iloc[train], y.iloc[train])
        inner[test] = part.decision_function(X.iloc[test])
    expected = fit_recalibration(inner, y.to_numpy())
    np.testing.assert_allclose(model.recalibration_, expected, rtol=1e-5)


def test_calibration_must_be_named(skewed_cohort):
    X, y = skewed_cohort
    with pytest.raises(TxpredictError, match="'calibration' parameter"):
        tp.ResponseClassifier("roi", calibration="isotonic").fit(X, y)


@pytest.mark.parametrize(
    ("features", "grid", "fast_path", "route"),
    [
        ("roi", [0.1], "auto", "batched"),
        ("roi", [0.01, 1.0], "auto", "batched"),
        ("roi", [0.1], False, "fold_by_fold"),
        ("wholebrain", [1e-4, 1e-2], "auto", "gram"),
        ("roi+demographics", [0.1], "auto", "batched"),
    ],
)
def test_out_of_fold_probabilities_are_each_fold_models(
    skewed_cohort, features, grid, fast_path, route
):
    """Each fold's probability is the fitted training model's predict_proba,
    recalibrated on its own inner CV, whatever the route."""
    X, y = skewed_cohort
    model = tp.ResponseClassifier(features, param_grid={"C": grid})
    result = tp.nested_cross_validate(
        model, X, y, n_repeats=1, outer_cv=3, fast_path=fast_path
    )
    assert result.info["route"] == route
    for _, fold in result.predictions.groupby("fold"):
        test = X.index.isin(fold["participant_id"])
        fitted = tp.ResponseClassifier(**model.get_params()).fit(X[~test], y[~test])
        expected = fitted.predict_proba(X.loc[fold["participant_id"]])[:, 1]
        # lbfgs (fit) vs the batched exact optimum: float tolerance of lbfgs.
        np.testing.assert_allclose(fold["probability"], expected, atol=1e-3)
    calibration = result.calibration()
    assert abs(calibration.at["mean_predicted", "estimate"] - y.mean()) < 0.05


def test_decision_curve_of_a_result_and_its_errors(skewed_cohort):
    X, y = skewed_cohort
    result = tp.nested_cross_validate(
        tp.ResponseClassifier("roi", param_grid={"C": [0.1]}), X, y, n_repeats=2
    )
    curve = result.decision_curve()
    assert list(curve.index[:2]) == [0.05, 0.1] and len(curve) == 19
    # Treating everyone at threshold 0 would be the prevalence; at 0.05 nearly.
    assert curve.at[0.05, "treat_all"] == pytest.approx(
        y.mean() - (1 - y.mean()) * 0.05 / 0.95
    )
    per_repeat = [
        decision_curve(part["y_true"], part["probability"], [0.5])
        for _, part in result.predictions.groupby("repeat")
    ]
    assert curve.at[0.5, "net_benefit"] == pytest.approx(
        pd.concat(per_repeat)["net_benefit"].mean()
    )
    with pytest.raises(TxpredictError, match="strictly between 0 and 1"):
        result.decision_curve([0.0, 0.5])
    svm = tp.nested_cross_validate(
        tp.ResponseClassifier("roi", "linear_svm", param_grid={"C": [0.1]}),
        X,
        y,
        n_repeats=1,
    )
    with pytest.raises(TxpredictError, match="needs probabilities"):
        svm.decision_curve()
    assert svm.calibration().empty
