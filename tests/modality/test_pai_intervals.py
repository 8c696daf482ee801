"""Per-patient PAI intervals: the likelihood models, the MOVER, the selector's API."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from firthmodels import FirthLogisticRegression
from scipy.special import expit

import txpredict as tp
from txpredict.errors import TxpredictError
from txpredict.stats._effects import firth_logistic, mover_difference
from txpredict.stats._intervals import wilson_interval

ARMS = ("CBT", "SSRI+CBT")
FEATURES = ["f1", "f2", "f3"]
#: Log-odds of response: prognostic f1, f2 moderates the arm effect.
BASE, SLOPES = -0.2, {"CBT": [0.8, -0.6, 0.0], "SSRI+CBT": [0.8, 0.7, 0.3]}


def trial(n, seed):
    """A randomised trial whose response is exactly logistic in the features."""
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(rng.standard_normal((n, 3)), columns=FEATURES)
    table["treatment"] = rng.permutation(np.resize(ARMS, n))
    truth = pd.DataFrame(
        {a: expit(BASE + table[FEATURES].to_numpy() @ SLOPES[a]) for a in ARMS}
    )
    chosen = truth.to_numpy()[np.arange(n), (table["treatment"] == ARMS[1]).astype(int)]
    return table, (rng.random(n) < chosen).astype(int), truth


def selector(**options):
    return tp.ModalitySelector(tp.PrecomputedFeatures(FEATURES), **options)


@pytest.fixture(scope="module")
def frick_like_small():
    cohort = tp.make_synthetic_cohort(
        120, effect="interaction", grid="fsl6", random_state=3
    )
    return cohort.X, cohort.y


def test_firth_fit_and_covariance_match_the_references():
    table, y, _ = trial(300, 0)
    X = table[FEATURES].to_numpy()
    coef, covariance = firth_logistic(X, y)
    reference = FirthLogisticRegression(backend="numpy").fit(X, y)
    np.testing.assert_allclose(coef, np.r_[reference.intercept_, reference.coef_])
    # The covariance is the inverse of the log-likelihood's curvature at the
    # estimate (statsmodels' Hessian, computed independently). firthmodels'
    # own bse_ are ~1% smaller here and are not this at its own estimate,
    # hence the covariance computed in txpredict.
    logit = sm.Logit(y, sm.add_constant(X))
    np.testing.assert_allclose(covariance, -np.linalg.inv(logit.hessian(coef)))
    # Firth shrinks the maximum-likelihood estimate a little towards zero.
    mle = logit.fit(disp=0).params
    assert np.all(np.abs(coef[1:]) < np.abs(mle[1:]))
    np.testing.assert_allclose(coef, mle, rtol=0.05, atol=0.02)


def test_mover_reproduces_newcombes_published_interval():
    # Newcombe 1998 (Stat Med 17:873), method 10 (Wilson intervals combined
    # as the MOVER): 56/70 - 48/80 = 0.2000, 95% CI 0.0524 to 0.3339.
    first = (48 / 80, *wilson_interval(48, 80))
    second = (56 / 70, *wilson_interval(56, 70))
    difference, low, high = mover_difference(second, first)
    assert float(difference) == pytest.approx(0.2)
    assert (float(low), float(high)) == pytest.approx((0.0524, 0.3339), abs=1e-4)


def test_separated_outcomes_still_get_finite_estimates():
    # Where the maximum-likelihood estimate does not exist (a feature splits
    # responders from non-responders), Firth's stays finite.
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 2))
    coef, covariance = firth_logistic(X, (X[:, 0] > 0).astype(int))
    assert np.isfinite(coef).all() and np.isfinite(covariance).all()
    with pytest.raises(TxpredictError, match="needs more than 3 patients"):
        firth_logistic(X[:3], np.array([0, 1, 1]))
    with pytest.raises(TxpredictError, match="0 non-responder"):
        firth_logistic(X, np.ones(40, dtype=int))


def test_intervals_cover_the_true_pai_of_a_logistic_trial():
    # Well-specified: each arm's response is logistic in the features, so the
    # expected PAI is the true one and 95% intervals must cover about 95% of
    # patients. A wrong z, a missing square root or the arms swapped fail.
    test, _, truth = trial(500, 99)
    true_pai = (truth[ARMS[1]] - truth[ARMS[0]]).to_numpy()
    coverage, widths = [], []
    for seed in range(40):
        table, y, _ = trial(400, seed)
        fitted = selector(param_grid={"C": [1.0]}).fit(table, y)
        iv = fitted.pai_interval(test)
        covered = (iv["ci_low"] <= true_pai) & (true_pai <= iv["ci_high"])
        coverage.append(covered.mean())
        widths.append(np.median(iv["ci_high"] - iv["ci_low"]))
    assert 0.92 <= np.mean(coverage) <= 0.98
    # Not covering by being uninformative.
    assert np.median(widths) < 0.45
    # 80% intervals are narrower and cover less.
    iv80 = fitted.pai_interval(test, confidence=0.8)
    assert ((iv80["ci_high"] - iv80["ci_low"]) < (iv["ci_high"] - iv["ci_low"])).all()


def test_interval_columns_and_centre(frick_like_small):
    X, y = frick_like_small
    fitted = tp.ModalitySelector("roi", param_grid={"C": [0.1]}).fit(X, y)
    iv = fitted.pai_interval(X)
    assert list(iv.columns) == ["pai", "pai_unshrunk", "ci_low", "ci_high"]
    assert list(iv.index) == list(X.index)
    np.testing.assert_allclose(iv["pai"], fitted.pai(X))
    centre = iv["pai_unshrunk"]
    assert ((iv["ci_low"] < centre) & (centre < iv["ci_high"])).all()
    # The centre is the per-arm unshrunk models' PAI, not the
    # shrunk selector's: its spread is larger.
    assert iv["pai_unshrunk"].std() > iv["pai"].std()
    # Reversing the arms reverses the interval.
    back = fitted.pai_interval(X, arms=ARMS[::-1])
    np.testing.assert_allclose(back["ci_low"], -iv["ci_high"])


def test_demographics_one_hot_is_handled(frick_like_small):
    # A one-hot encoding plus the intercept is collinear: one level is dropped
    # rather than leaving a singular information matrix.
    X, y = frick_like_small
    fitted = tp.ModalitySelector("roi+demographics", param_grid={"C": [0.1]})
    fitted.fit(X, y)
    models = fitted.interval_models_
    n_prepared = models.preparation.transform(
        fitted.base_model().design(X.iloc[:2], fitted.extractor_)
    ).shape[1]
    assert len(models.columns) < n_prepared
    iv = fitted.pai_interval(X)
    assert np.isfinite(iv.to_numpy()).all()


def test_unavailable_intervals_are_explained(frick_like_small):
    X, y = frick_like_small
    # Whole-brain voxels: more features than patients in an arm.
    voxels = tp.ModalitySelector("wholebrain", param_grid={"C": [0.1]}).fit(X, y)
    with pytest.raises(TxpredictError, match="smallest arm.*'roi' features"):
        voxels.pai_interval(X)
    fitted = tp.ModalitySelector("roi", param_grid={"C": [0.1]}).fit(X, y)
    with pytest.raises(TxpredictError, match="strictly between 0 and 1"):
        fitted.pai_interval(X, confidence=95)
    with pytest.raises(TxpredictError, match="compares two arms"):
        fitted.pai_interval(X, arms=["CBT"])


def test_saved_selector_gives_the_same_intervals(frick_like_small, tmp_path):
    X, y = frick_like_small
    fitted = tp.ModalitySelector("roi", param_grid={"C": [0.1]}).fit(X, y)
    tp.save_model(fitted, tmp_path / "selector.skops")
    loaded, _ = tp.load_model(tmp_path / "selector.skops")
    pd.testing.assert_frame_equal(loaded.pai_interval(X), fitted.pai_interval(X))
