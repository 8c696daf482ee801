import numpy as np
import pytest
from scipy import stats

import txpredict as tp
from txpredict.errors import TxpredictError


@pytest.fixture(scope="module")
def cohort():
    # 200 patients: the calibrated corrected t-test needs them to see dAUC ~0.15.
    return tp.make_synthetic_cohort(
        200, effect="prognostic", grid="fsl6", random_state=4
    )


def test_compare_detects_a_planted_brain_effect(cohort):
    brain = tp.nested_cross_validate(
        tp.ResponseClassifier("roi", "linear_svm"), cohort.X, cohort.y, n_repeats=3
    )
    demo = tp.nested_cross_validate(
        tp.ResponseClassifier("demographics", param_grid={}),
        cohort.X,
        cohort.y,
        n_repeats=3,
    )
    comparison = tp.compare(brain, demo, names=("roi", "demographics"))
    table = comparison.table
    assert table.at["auc", "difference"] > 0.1
    assert comparison.a_is_better
    assert table.at["auc", "a"] == pytest.approx(brain.summary().at["auc", "estimate"])
    assert "roi" in repr(comparison)


def test_compare_refuses_different_splits(cohort):
    model = tp.ResponseClassifier("demographics", param_grid={})
    a = tp.nested_cross_validate(model, cohort.X, cohort.y, n_repeats=1, random_state=0)
    b = tp.nested_cross_validate(model, cohort.X, cohort.y, n_repeats=1, random_state=1)
    with pytest.raises(TxpredictError, match="different splits"):
        tp.compare(a, b)


def test_permutation_test_finds_signal_and_is_reproducible(cohort):
    model = tp.ResponseClassifier("roi", "linear_svm", param_grid={"C": [0.01, 1.0]})
    a = tp.permutation_test(model, cohort.X, cohort.y, n_permutations=19, n_jobs=1)
    b = tp.permutation_test(model, cohort.X, cohort.y, n_permutations=19, n_jobs=2)
    np.testing.assert_array_equal(a.null_distribution, b.null_distribution)
    assert a.p_value == pytest.approx(1 / 20)  # no permutation beats the signal
    assert abs(a.null_distribution.mean() - 0.5) < 0.1


def test_permutation_reruns_the_tuning(cohort, monkeypatch):
    """Each permutation re-splits and re-tunes: the inner search runs every time."""
    from txpredict.model_selection import _gram

    calls = []
    original = _gram.GramFastPath.fit_predict
    monkeypatch.setattr(
        _gram.GramFastPath,
        "fit_predict",
        lambda self, *a, **k: calls.append(1) or original(self, *a, **k),
    )
    model = tp.ResponseClassifier("roi", "linear_svm", param_grid={"C": [0.01, 1.0]})
    tp.permutation_test(model, cohort.X, cohort.y, n_permutations=3, outer_cv=4)
    assert len(calls) == (1 + 3) * 4


def test_permutation_test_errors(cohort):
    model = tp.ResponseClassifier("roi")
    with pytest.raises(TxpredictError, match="'scoring' parameter of permutation_test"):
        tp.permutation_test(model, cohort.X, cohort.y, scoring="f1")
    with pytest.raises(TxpredictError, match="positive integer"):
        tp.permutation_test(model, cohort.X, cohort.y, n_permutations=0)


def test_permutation_p_values_are_roughly_uniform_on_null_data():
    """Null labels (independent of the images): p-values spread over [0, 1]."""
    null = tp.make_synthetic_cohort(30, effect="none", grid="fsl6", random_state=7)
    model = tp.ResponseClassifier("roi", "linear_svm", param_grid={"C": [0.1]})
    rng = np.random.default_rng(0)
    p_values = []
    for seed in range(30):
        y = rng.permutation(null.y.to_numpy())
        p_values.append(
            tp.permutation_test(
                model, null.X, y, n_permutations=19, random_state=seed, n_jobs=2
            ).p_value
        )
    p_values = np.array(p_values)
    assert stats.kstest(p_values, "uniform").pvalue > 0.01
    assert np.mean(p_values <= 0.05) <= 0.2
