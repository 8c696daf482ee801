"""The permutation test of what the scan adds: residuals shuffled, outcome kept."""

import numpy as np
import pandas as pd
import pytest

import txpredict as tp
from txpredict.errors import TxpredictError
from txpredict.evaluation import scan_permutation_test
from txpredict.evaluation._scan_permutation import _residualised
from txpredict.model_selection import Runner, outer_splits, split_scores

SCAN = ["roi_a", "roi_b", "roi_c"]


def _table(n, seed, *, scan_effect=0.0, age_on_scan=1.5, age_effect=1.5):
    """Patients whose scan carries their age; the outcome follows age and maybe scan."""
    rng = np.random.default_rng(seed)
    age = rng.normal(size=n)
    site = rng.choice([f"s{k}" for k in range(6)], n)
    scan = age_on_scan * age[:, None] + rng.normal(size=(n, len(SCAN)))
    logit = age_effect * age + scan_effect * (scan[:, 0] - age_on_scan * age)
    y = pd.Series(
        (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
        index=pd.Index([f"sub-{i:03d}" for i in range(n)], name="participant_id"),
    )
    X = pd.DataFrame(scan, columns=SCAN, index=y.index).assign(age=age, site=site)
    return X, y


def _models(with_age=True):
    scan = tp.PrecomputedFeatures(SCAN)
    model = (
        tp.ResponseClassifier(scan, confounds=["age"], deconfound="augment")
        if with_age
        else tp.ResponseClassifier(scan)
    )
    return model, tp.ResponseClassifier("demographics", demographic_columns=["age"])


OPTIONS = {"n_repeats": 2, "random_state": 1}


def test_the_null_keeps_what_the_baseline_explains_of_the_scan():
    """A scan that only carries age predicts the outcome through age: the test
    conditions on age, so the scan-only model is not declared better than the
    age model for it. Shuffling the whole scan instead (dropping the part age
    explains) would reject; this catches it."""
    X, y = _table(120, 0)
    model, baseline = _models(with_age=False)
    scan_only = tp.nested_cross_validate(model, X, y, **OPTIONS)
    assert scan_only.summary().at["auc", "estimate"] > 0.7  # it predicts, via age
    tests = scan_permutation_test(
        model, baseline, X, y, baseline_columns=["age"], n_permutations=39, **OPTIONS
    )
    assert tests["auc"].p_value > 0.2
    # Its null is centred near the observed difference, not far below it.
    assert abs(np.median(tests["auc"].null_distribution) - tests["auc"].statistic) < 0.1


def test_a_scan_that_adds_is_found_and_the_first_draw_is_reproduced():
    X, y = _table(120, 1, scan_effect=2.5)
    model, baseline = _models()
    tests = scan_permutation_test(
        model, baseline, X, y, baseline_columns=["age"], n_permutations=19, **OPTIONS
    )
    assert tests["auc"].p_value == pytest.approx(1 / 20)  # none of 19 reach it
    assert tests["auc"].statistic > 0.05
    # The first null draw by hand: scan = fitted + residuals in the first
    # permuted order, the model's nested CV on the same splits, minus the
    # baseline's score.
    rng = np.random.default_rng(np.random.SeedSequence(1).spawn(2)[1])
    order = rng.permutation(len(y))
    scan = X[SCAN].to_numpy(dtype=float)
    fitted, residuals = _residualised(scan, X, ["age"])
    shuffled = X.copy()
    shuffled[SCAN] = fitted + residuals[order]
    splits = outer_splits(
        y.to_numpy(),
        outer_cv=5,
        n_repeats=2,
        groups=None,
        stratify=True,
        random_state=1,
    )
    y_array = y.to_numpy()

    def auc(estimator, table):
        runner = Runner(estimator.set_params(inner_cv=5), table)
        return split_scores(y_array, splits, runner.run(y_array, splits, None))["auc"]

    expected = auc(model, shuffled) - auc(baseline, X)
    assert tests["auc"].null_distribution[0] == pytest.approx(expected, abs=1e-12)


def test_residuals_are_shuffled_within_sites_and_answers_do_not_depend_on_n_jobs():
    X, y = _table(80, 2, scan_effect=1.0)
    model, baseline = _models()
    runs = [
        scan_permutation_test(
            model,
            baseline,
            X,
            y,
            baseline_columns=["age"],
            n_permutations=15,
            n_exceedances=None,
            groups=X["site"],
            inner_groups=False,
            n_jobs=n_jobs,
            **OPTIONS,
        )
        for n_jobs in (1, 2)
    ]
    np.testing.assert_array_equal(
        runs[0]["auc"].null_distribution, runs[1]["auc"].null_distribution
    )
    assert runs[0]["auc"].within_groups


def test_residualising_keeps_the_scan_and_removes_the_baseline_from_the_rest():
    X, _ = _table(60, 3)
    scan = X[SCAN].to_numpy(dtype=float)
    fitted, residuals = _residualised(scan, X, ["age", "site"])
    np.testing.assert_allclose(fitted + residuals, scan)
    for column in residuals.T:
        assert abs(np.corrcoef(column, X["age"])[0, 1]) < 1e-10
    gaps = scan.copy()
    gaps[4, 1] = np.nan
    with pytest.raises(TxpredictError, match="without missing values"):
        _residualised(gaps, X, ["age"])


def test_added_value_reports_the_permutation_test_and_decides_with_it():
    X, y = _table(100, 4, scan_effect=2.5)
    model, _ = _models()
    result = tp.added_value(
        model, X, y, baseline_columns=["age"], n_permutations=39, **OPTIONS
    )
    table = result.comparison.table
    assert table.at["auc", "permutation_p_value"] == result.permutation["auc"].p_value
    assert result.permutation["auc"].statistic == pytest.approx(
        table.at["auc", "difference"]
    )
    assert result.permutation["auc"].p_value == pytest.approx(1 / 40)
    assert result.scan_adds
    # What the test could detect at this n, quoted where the result is shown.
    assert result.detectable.n == 100
    assert result.detectable.sentence() in repr(result)
    # The decision follows the permutation test, not compare()'s own p-value.
    shown = result.comparison.table.copy()
    shown["permutation_p_value"] = 0.5
    assert not tp.Comparison(shown, ("a", "b")).a_is_better


@pytest.mark.parametrize(
    "option, message",
    [({"n_permutations": 0}, "n_permutations must"), ({"n_exceedances": 0}, "h: stop")],
)
def test_bad_counts_are_refused_before_any_work(option, message):
    X, y = _table(40, 5)
    model, baseline = _models()
    with pytest.raises(TxpredictError, match=message):
        scan_permutation_test(
            model,
            baseline,
            X,
            y,
            baseline_columns=["age"],
            **{"n_permutations": 9, **option},
        )


def test_sites_kept_whole_in_the_inner_cv_follow_nested_cross_validate():
    """Six sites in five outer folds leave four in some training parts: too few
    for a 5-fold inner CV that keeps sites whole, refused as nested CV refuses
    it; models with one candidate run no inner CV and are not refused."""
    X, y = _table(90, 6)
    model, baseline = _models()
    options = {"baseline_columns": ["age"], "groups": X["site"], **OPTIONS}
    with pytest.raises(TxpredictError, match="distinct group"):
        tp.nested_cross_validate(model, X, y, groups=X["site"], **OPTIONS)
    with pytest.raises(TxpredictError, match="distinct group"):
        scan_permutation_test(model, baseline, X, y, n_permutations=3, **options)
    # The baseline's inner CV is checked too (it failed inside scikit-learn).
    single = model.set_params(param_grid={"C": [1.0]})
    with pytest.raises(TxpredictError, match="distinct group"):
        scan_permutation_test(single, baseline, X, y, n_permutations=3, **options)
    one = baseline.set_params(param_grid={"C": [1.0]})
    tests = scan_permutation_test(single, one, X, y, n_permutations=3, **options)
    assert len(tests["auc"].null_distribution) <= 3
