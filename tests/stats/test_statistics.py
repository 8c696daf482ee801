import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from txpredict.stats import (
    corrected_resampled_ttest,
    delong_auc_ci,
    delong_components,
    delong_test,
    fast_auc,
    fast_balanced_accuracy,
    sensitivity_score,
    specificity_score,
    wilson_interval,
)


def test_sensitivity_specificity_match_confusion_matrix(rng):
    y = rng.integers(0, 2, 50)
    pred = rng.integers(0, 2, 50)
    assert sensitivity_score(y, pred) == pytest.approx(
        ((pred == 1) & (y == 1)).sum() / (y == 1).sum()
    )
    assert specificity_score(y, pred) == pytest.approx(
        ((pred == 0) & (y == 0)).sum() / (y == 0).sum()
    )
    assert specificity_score(["r", "n", "n"], ["r", "r", "n"], pos_label="r") == 0.5


def test_wilson_interval_known_values():
    low, high = wilson_interval(0, 10)
    assert low == 0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson_interval(81, 100)
    assert (low, high) == pytest.approx((0.7222, 0.8749), abs=1e-3)


@pytest.mark.parametrize("n", [60, 600])  # pair counting, then ranks
@pytest.mark.parametrize("ties", [False, True])
def test_fast_scores_equal_sklearn(rng, ties, n):
    y = rng.integers(0, 2, n)
    score = rng.standard_normal(n)
    if ties:
        score = np.round(score)
    assert fast_auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    pred = score > 0
    assert fast_balanced_accuracy(y, pred) == pytest.approx(
        balanced_accuracy_score(y, pred)
    )


def test_delong_variance_is_the_placement_value_formula_on_both_paths(rng):
    """DeLong et al. (1988): Var = var(V10) / m + var(V01) / n, from placement
    values written out by hand; the pairwise (small) and rank (large) paths
    agree with it and with each other, ties included."""
    for m, n in ((30, 25), (300, 260)):  # pairwise path, then ranks
        y = np.r_[np.ones(m), np.zeros(n)].astype(int)
        score = np.round(np.r_[rng.normal(0.7, 1, m), rng.normal(0, 1, n)], 1)
        pos, neg = score[:m], score[m:]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
        expected = v10.var(ddof=1) / m + v01.var(ddof=1) / n
        aucs, covariance = delong_components(y, score)
        assert aucs[0] == pytest.approx(roc_auc_score(y, score), abs=1e-12)
        assert covariance[0, 0] == pytest.approx(expected, rel=1e-10)
        auc, low, high = delong_auc_ci(y, score)
        assert low == pytest.approx(2 * auc - high)
        assert high - auc == pytest.approx(1.959964 * np.sqrt(expected), rel=1e-5)


def test_delong_variance_matches_the_sampling_variance_of_the_auc(rng):
    """Binormal scores with a known AUC: DeLong's variance, averaged over many
    samples, equals the AUC's variance across samples (within 10%)."""
    aucs, variances = [], []
    for _ in range(2000):
        y = np.r_[np.ones(40), np.zeros(60)].astype(int)
        score = np.r_[rng.normal(1.0, 1, 40), rng.normal(0, 1, 60)]
        a, covariance = delong_components(y, score)
        aucs.append(a[0])
        variances.append(covariance[0, 0])
    assert np.mean(aucs) == pytest.approx(stats.norm.cdf(1 / np.sqrt(2)), abs=0.005)
    assert np.mean(variances) == pytest.approx(np.var(aucs), rel=0.1)
    # A model against itself: no difference; much better vs random: detected.
    result = delong_test(y, score, score)
    assert result["difference"] == 0 and result["p_value"] == 1.0
    better = delong_test(y, score + 3 * y, rng.standard_normal(100))
    assert better["p_value"] < 1e-4 and better["difference"] > 0.3


def test_delong_p_values_are_uniform_under_the_null(rng):
    p_values = []
    for _ in range(1000):
        y = rng.integers(0, 2, 80)
        p_values.append(
            delong_test(y, rng.standard_normal(80), rng.standard_normal(80))["p_value"]
        )
    assert stats.kstest(p_values, "uniform").pvalue > 0.01
    assert 0.02 < np.mean(np.array(p_values) < 0.05) < 0.09


def test_corrected_ttest_is_more_conservative_than_naive(rng):
    d = rng.normal(0.02, 0.05, 50)
    corrected = corrected_resampled_ttest(d, n_train=80, n_test=20)
    naive = stats.ttest_1samp(d, 0)
    assert corrected["p_value"] > naive.pvalue
    expected_t = d.mean() / np.sqrt((1 / 50 + 20 / 80) * d.var(ddof=1))
    assert corrected["t"] == pytest.approx(expected_t)
