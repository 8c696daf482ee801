"""ResponseRegressor: a continuous outcome through the same nested machinery."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import txpredict as tp
from txpredict.errors import TxpredictError


@pytest.fixture(scope="module")
def cohort():
    return tp.make_synthetic_cohort(
        80, effect="prognostic", grid="fsl6", random_state=4
    )


@pytest.fixture(scope="module")
def change(cohort):
    return cohort.ground_truth["symptom_reduction"]


def test_nested_cv_of_a_regressor_equals_scikit_learn_fold_by_fold(cohort, change):
    grid = {"alpha": [1.0, 100.0]}
    result = tp.nested_cross_validate(
        tp.ResponseRegressor("roi", param_grid=grid),
        cohort.X,
        change,
        n_repeats=1,
        random_state=3,
    )
    assert isinstance(result, tp.RegressionCVResult)
    features = tp.RoiFeatures(verbose=0).fit_transform(cohort.X)
    y = change.to_numpy()
    for _, fold in result.predictions.groupby("fold"):
        test = cohort.X.index.get_indexer(fold["participant_id"])
        train = np.setdiff1d(np.arange(len(y)), test)
        search = GridSearchCV(
            make_pipeline(StandardScaler(), Ridge()),
            {"ridge__alpha": grid["alpha"]},
            scoring="neg_mean_squared_error",
            cv=KFold(5, shuffle=True, random_state=0),
        ).fit(features[train], y[train])
        np.testing.assert_allclose(
            fold["y_pred"], search.predict(features[test]), rtol=1e-6
        )
    # Summary by hand: r of each repeat's pooled predictions.
    r = np.corrcoef(result.predictions["y_true"], result.predictions["y_pred"])[0, 1]
    assert result.summary().at["r", "estimate"] == pytest.approx(r)


def test_regression_summary_responders_permutation_and_compare(
    cohort, change, tmp_path
):
    model = tp.ResponseRegressor("roi", param_grid={"alpha": [10.0, 100.0]})
    result = tp.nested_cross_validate(
        model, cohort.X, change, n_repeats=2, n_permutations=9, random_state=1
    )
    s = result.summary()
    assert list(s.index) == ["r", "r_fold_mean", "r2", "mae"]
    assert s.at["r_fold_mean", "estimate"] == pytest.approx(result.folds["r"].mean())
    assert s.at["r", "estimate"] > 0.1  # the cuneus signal, as a change score
    assert s.at["r", "p_value"] == pytest.approx(0.1)  # none of 9 permutations
    result.save(tmp_path / "result.json")  # the p-values survive a round trip
    loaded = tp.RegressionCVResult.load(tmp_path / "result.json")
    pd.testing.assert_frame_equal(loaded.summary(), s)
    assert s.at["mae", "ci_low"] < s.at["mae", "estimate"] < s.at["mae", "ci_high"]
    # Responders read off the predictions: the true responders are change >= 50.
    responders = result.responders(50)
    p = result.predictions
    sensitivity = np.mean(
        [(g["y_pred"][g["y_true"] >= 50] >= 50).mean() for _, g in p.groupby("repeat")]
    )
    assert responders.at["sensitivity", "estimate"] == pytest.approx(sensitivity)
    with pytest.raises(TxpredictError, match="threshold=500"):
        result.responders(500)
    demo = tp.nested_cross_validate(
        tp.ResponseRegressor("demographics", param_grid={"alpha": [10.0, 100.0]}),
        cohort.X,
        change,
        n_repeats=2,
        random_state=1,
    )
    table = tp.compare(result, demo).table
    assert list(table.index) == ["r", "mae"]
    assert table.at["r", "test"].startswith("Nadeau-Bengio")
    # The difference is a - b: once a and b were the pooled r's while the
    # difference was of the fold r's (0.049 - 0.138 reported as -0.029).
    np.testing.assert_allclose(table["difference"], table["a"] - table["b"])
    assert table.at["r", "a"] == pytest.approx(s.at["r_fold_mean", "estimate"])


def test_regression_bad_outcomes_are_explained(cohort, change):
    text = change.astype(object)
    text.iloc[2] = "n/a?"
    with pytest.raises(TxpredictError, match=r"must be numbers.*'sub-03'"):
        tp.nested_cross_validate(tp.ResponseRegressor("roi"), cohort.X, text)
    with pytest.raises(TxpredictError, match="'regressor' parameter"):
        tp.ResponseRegressor("roi", regressor="lasso").fit(cohort.X, change)


def test_symptom_change_cohorts(tmp_path):
    folder = tmp_path / "study"
    tp.make_synthetic_cohort(30, grid="fsl6", random_state=0, out_dir=folder)
    table = pd.read_csv(folder / "participants.tsv", sep="\t")
    table["lsas_pre"] = table["baseline_severity"]
    table["lsas_post"] = (table["lsas_pre"] * np.linspace(0.2, 1.1, 30)).round()
    table.to_csv(folder / "participants.tsv", sep="\t", index=False)
    # The synthetic responder flag is the outcome's own ingredient here.
    with pytest.warns(tp.leakage.LeakageWarning, match="'responder': its name"):
        cohort = tp.load_cohort(
            folder, outcome=tp.SymptomChange("lsas_pre", "lsas_post")
        )
    assert cohort.outcome_type == "continuous"
    assert "lsas_post" not in cohort.X and "symptom_change" not in cohort.X
    assert "responder" not in cohort.X
    expected = 100 * (table["lsas_pre"] - table["lsas_post"]) / table["lsas_pre"]
    np.testing.assert_allclose(cohort.y.to_numpy(), expected.to_numpy())
    assert "symptom_change" in repr(cohort) and "+-" in repr(cohort)
    post = tp.load_cohort(
        folder,
        outcome=tp.SymptomChange("lsas_pre", "lsas_post", "post"),
        post_treatment=["responder"],
    )
    assert "lsas_pre" in post.X and post.outcome == "lsas_post"
