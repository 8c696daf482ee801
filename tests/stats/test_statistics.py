import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from txpredict.stats import (
    corrected_resampled_ttest,
    delong_auc_ci,
    delong_test,
    fast_auc,
    fast_balanced_accuracy,
    mcnemar_test,
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


def test_delong_matches_known_example_and_mann_whitney_variance(rng):
    y = np.r_[np.zeros(30), np.ones(30)]
    score = np.r_[rng.normal(0, 1, 30), rng.normal(1, 1, 30)]
    auc, low, high = delong_auc_ci(y, score)
    assert auc == pytest.approx(roc_auc_score(y, score))
    assert low < auc < high
    # A model against itself: no difference.
    result = delong_test(y, score, score)
    assert result["difference"] == 0 and result["p_value"] == 1.0
    # Much better vs random scores: detected.
    better = delong_test(y, score + 3 * y, rng.standard_normal(60))
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


def test_mcnemar_counts_discordant_pairs():
    a = np.array([1, 1, 1, 1, 1, 1, 0, 0], bool)
    b = np.array([0, 0, 0, 0, 0, 1, 0, 1], bool)
    result = mcnemar_test(a, b)
    assert (result["a_only"], result["b_only"]) == (5, 1)
    assert result["p_value"] == pytest.approx(stats.binomtest(5, 6).pvalue)
