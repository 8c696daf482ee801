import numpy as np
import pandas as pd
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


def test_permutation_p_values_are_uniform_on_null_data():
    """Null labels (independent of the images): p-values spread over [0, 1].

    60 replicates, 19 permutations: the mean p-value of a valid test is 0.525
    (SE 0.037) and at most 5% of p-values are 0.05; a test that permuted only
    the outer test labels, or reused the tuned model, would fail.
    """
    null = tp.make_synthetic_cohort(30, effect="none", grid="fsl6", random_state=7)
    model = tp.ResponseClassifier("roi", param_grid={"C": [0.1, 1.0]})
    rng = np.random.default_rng(0)
    p_values = []
    for seed in range(60):
        y = rng.permutation(null.y.to_numpy())
        p_values.append(
            tp.permutation_test(
                model, null.X, y, n_permutations=19, random_state=seed
            ).p_value
        )
    p_values = np.array(p_values)
    assert abs(p_values.mean() - 0.525) < 3 * 0.037
    assert np.mean(p_values <= 0.05) <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 60)
    assert stats.kstest(p_values, "uniform").pvalue > 0.01


def _site_confounded(seed=0, n=120):
    """Three sites with different response rates; the 'ROI' values carry the
    site (a scanner offset) and nothing about the patient's response."""
    rng = np.random.default_rng(seed)
    site = np.repeat(["a", "b", "c"], n // 3)
    rate = {"a": 0.1, "b": 0.5, "c": 0.9}
    y = (rng.random(n) < np.vectorize(rate.get)(site)).astype(int)
    offset = {"a": -2.0, "b": 0.0, "c": 2.0}
    roi = np.vectorize(offset.get)(site)[:, None] + rng.normal(size=(n, 3))
    X = pd.DataFrame(roi, columns=["r1", "r2", "r3"])
    X.index = [f"sub-{i:03d}" for i in range(n)]
    X["site"] = site
    return X, pd.Series(y, index=X.index)


def test_permuting_within_sites_does_not_reward_learning_the_site():
    X, y = _site_confounded()
    model = tp.ResponseClassifier(
        tp.PrecomputedFeatures(["r1", "r2", "r3"]), param_grid={"C": [1.0]}
    )
    options = {"n_permutations": 49, "scoring": "balanced_accuracy", "random_state": 1}
    free = tp.permutation_test(model, X, y, **options)
    assert free.p_value <= 0.04  # the site's response rate looks like a signal
    within = tp.permutation_test(
        model, X, y, groups=X["site"], outer_cv=3, inner_groups=False, **options
    )
    assert within.within_groups and "within groups" in repr(within)
    # The permuted labels keep each site's response rate: learning the site
    # is no better than the null, and the observed score is not exceptional.
    assert within.p_value > 0.1
    assert within.null_distribution.mean() > 0.6


def test_permutation_needs_arrangements_that_respect_the_groups():
    X, y = _site_confounded(n=30)
    y[:] = (X["site"] == "c").astype(int)  # every site a single class
    model = tp.ResponseClassifier(tp.PrecomputedFeatures(["r1"]), param_grid={})
    with pytest.raises(TxpredictError, match=r"only 1 distinct arrangement.*within"):
        tp.permutation_test(
            model, X, y, groups=X["site"], outer_cv=3, inner_groups=False
        )
    with pytest.raises(TxpredictError, match="only 1 distinct arrangement"):
        tp.nested_cross_validate(
            model,
            X,
            y,
            groups=X["site"],
            outer_cv=3,
            inner_groups=False,
            n_permutations=9,
        )


def test_nested_cv_reports_the_permutation_p_values(cohort, tmp_path):
    model = tp.ResponseClassifier("roi", param_grid={"C": [0.01, 1.0]})
    result = tp.nested_cross_validate(
        model, cohort.X, cohort.y, n_repeats=2, n_permutations=19, random_state=3
    )
    s = result.summary()
    assert s.at["auc", "p_value"] == pytest.approx(1 / 20)  # a planted effect
    assert np.isnan(s.at["sensitivity", "p_value"])
    # The same test as permutation_test with the same settings.
    alone = tp.permutation_test(
        model,
        cohort.X,
        cohort.y,
        n_repeats=2,
        n_permutations=19,
        random_state=3,
        scoring="balanced_accuracy",
    )
    assert alone.statistic == pytest.approx(s.at["balanced_accuracy", "estimate"])
    np.testing.assert_allclose(
        alone.null_distribution,
        result.permutation["balanced_accuracy"].null_distribution,
    )
    result.save(tmp_path / "r.json")
    loaded = tp.NestedCVResult.load(tmp_path / "r.json")
    pd.testing.assert_frame_equal(loaded.summary(), s)


def test_a_test_stops_once_its_p_value_is_settled():
    """On a cohort without signal the test stops at its 10th permutation
    reaching the observed AUC: the same permutations, in the same order, as the
    fixed-size test, cut there; whatever n_jobs."""
    null_cohort = tp.make_synthetic_cohort(
        40, effect="none", grid="fsl6", random_state=2
    )
    model = tp.ResponseClassifier("roi", param_grid={"C": [1.0]})
    options = {"n_permutations": 199, "n_repeats": 1, "random_state": 5}
    full = tp.permutation_test(
        model, null_cohort.X, null_cohort.y, n_exceedances=None, **options
    )
    assert len(full.null_distribution) == 199 and not full.stopped_early
    assert full.p_value > 0.1  # nothing to find: the sequential test may stop
    runs = [
        tp.permutation_test(model, null_cohort.X, null_cohort.y, n_jobs=n, **options)
        for n in (1, 2)
    ]
    for sequential in runs:
        used = len(sequential.null_distribution)
        assert sequential.stopped_early and used < 199
        np.testing.assert_array_equal(
            sequential.null_distribution, full.null_distribution[:used]
        )
        reached = full.null_distribution[:used] >= full.statistic
        assert reached.sum() == 10 and reached[-1]  # stopped at the 10th
        assert sequential.p_value == pytest.approx(10 / used)
        assert sequential.max_permutations == 199
        assert f"{used} permutations: stopped at the 10th" in repr(sequential)
    assert runs[0].p_value == runs[1].p_value


def test_sequential_tests_survive_saving(cohort, tmp_path):
    null_cohort = tp.make_synthetic_cohort(
        40, effect="none", grid="fsl6", random_state=2
    )
    model = tp.ResponseClassifier("roi", param_grid={"C": [1.0]})
    result = tp.nested_cross_validate(
        model, null_cohort.X, null_cohort.y, n_repeats=1, n_permutations=99
    )
    result.save(tmp_path / "r.json")
    loaded = tp.NestedCVResult.load(tmp_path / "r.json")
    for name, test in result.permutation.items():
        again = loaded.permutation[name]
        assert (again.max_permutations, again.n_exceedances) == (99, 10)
        assert again.stopped_early == test.stopped_early
        assert again.rule() == test.rule()
