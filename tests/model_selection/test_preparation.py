"""The numpy fold preparation equals the scikit-learn steps it stands in for."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

import txpredict as tp
from txpredict.errors import TxpredictError
from txpredict.model_selection._batched_logistic import LogisticFastPath
from txpredict.model_selection._preparation import (
    BlockPreparation,
    FoldPreparation,
    encode_design,
)
from txpredict.model_selection._runner import Runner

EXACT = LogisticRegression(
    class_weight="balanced", solver="newton-cholesky", tol=1e-12, max_iter=1000
)


def _table(rng, n=60):
    """Demographics as a user has them: gaps, a rare site, codes and text."""
    table = pd.DataFrame(
        {
            "age": rng.integers(18, 66, n).astype(float),
            "sex": rng.choice(["F", "M"], n),
            "lsas_pre": rng.normal(70, 15, n),
            "site": rng.choice(
                ["Uppsala", "Stockholm", "Lund", "rare"], n, p=[0.4, 0.35, 0.22, 0.03]
            ),
            "constant": np.ones(n),
            "smoker": rng.choice([True, False], n),
        },
        index=[f"sub-{i:02d}" for i in range(n)],
    )
    table.loc[table.index[::7], "age"] = np.nan
    table.loc[table.index[3::11], "sex"] = np.nan
    table.loc[table.index[5::13], "site"] = np.nan
    return table


@pytest.mark.parametrize("features", ["demographics", "roi+demographics"])
@pytest.mark.parametrize("scaling", ["auto", "center", None])
def test_fold_preparation_equals_the_sklearn_steps(rng, features, scaling):
    table = _table(rng)
    columns = ["age", "sex", "lsas_pre", "site", "constant", "smoker"]
    model = tp.ResponseClassifier(
        features, demographic_columns=columns, scaling=scaling
    )
    if features == "demographics":
        design = table[columns]
    else:
        roi = pd.DataFrame(rng.normal(size=(60, 3)), index=table.index)
        roi.iloc[::9, 1] = np.nan  # missing ROI values (nonfinite="ignore")
        roi.iloc[:, 2] = np.nan  # a ROI missing for everyone: imputed as 0
        design = pd.concat(
            [roi.set_axis(["image_0", "image_1", "image_2"], axis=1), table[columns]],
            axis=1,
        )
    steps = model.build_search(design).estimator[:-1]
    encoded, preparation = encode_design(design, steps)
    for seed in range(8):
        train = np.random.default_rng(seed).permutation(60)[:35]
        rows = np.setdiff1d(np.arange(60), train)
        expected = clone(steps).fit(design.iloc[train]).transform(design.iloc[rows])
        got = clone(preparation).fit(encoded[train]).transform(encoded[rows])
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def _voxel_design(rng, table, n_voxels=40):
    """Voxels with a site offset and scale, before the table columns."""
    sites = table["site"].fillna("Uppsala")
    offset = sites.map({"Uppsala": 0.0, "Stockholm": 2.0, "Lund": -1.0, "rare": 1.0})
    voxels = rng.normal(size=(len(table), n_voxels)) * (
        1 + (sites == "Lund").to_numpy()[:, None]
    )
    voxels += offset.to_numpy()[:, None] + 0.05 * table["lsas_pre"].to_numpy()[:, None]
    table = table.assign(site=sites)
    image = pd.DataFrame(voxels.astype(np.float32), index=table.index)
    return pd.concat(
        [image.set_axis([f"image_{i}" for i in range(n_voxels)], axis=1), table], axis=1
    )


@pytest.mark.parametrize(
    "options",
    [
        {"harmonize": "combat", "protected": ["age", "sex"]},
        {"harmonize": "combat", "scaling": "standard"},
        {"confounds": ["age", "site"], "scaling": None},
        {
            "harmonize": "combat",
            "confounds": ["lsas_pre"],
            "demographic_columns": ["age", "sex"],
        },
        {"confounds": ["age", "sex"], "deconfound": "augment"},
    ],
    ids=["combat", "combat-standard", "residualize-unscaled", "combat+both", "augment"],
)
def test_block_preparation_equals_the_pipeline(rng, options):
    """The Gram route's array form of the preparation: the pipeline's output,
    split into the voxel block and the demographic block, on the same rows
    (a rare site may be absent from training: estimated from the test rows)."""
    table = _table(rng)
    features = (
        "wholebrain+demographics" if "demographic_columns" in options else "wholebrain"
    )
    model = tp.ResponseClassifier(features, **options)
    design = _voxel_design(rng, table)[
        [f"image_{i}" for i in range(40)] + model.table_columns()
    ]
    steps = model.build_search(design).estimator[:-1]
    blocks = BlockPreparation.of(steps, design)
    for seed in range(5):
        train = np.sort(np.random.default_rng(seed).permutation(60)[:40])
        rows = np.setdiff1d(np.arange(60), train)
        expected = clone(steps).fit(design.iloc[train]).transform(design.iloc[rows])
        fitted_on_train = clone(steps).fit_transform(design.iloc[train])
        (a_train, d_train), (a_rows, d_rows), _ = blocks.prepare(train, rows)
        np.testing.assert_allclose(np.hstack([a_rows, d_rows]), expected, atol=1e-10)
        np.testing.assert_allclose(
            np.hstack([a_train, d_train]), fitted_on_train, atol=1e-10
        )


def test_block_preparation_leaves_voxels_with_gaps_to_the_pipeline(rng):
    table = _table(rng)
    model = tp.ResponseClassifier("wholebrain", confounds=["age"], deconfound="augment")
    design = _voxel_design(rng, table)[[f"image_{i}" for i in range(40)] + ["age"]]
    design.iloc[3, 5] = np.nan  # imputed in the folds: the pipeline's job
    steps = model.build_search(design).estimator[:-1]
    assert BlockPreparation.of(steps, design) is None
    assert BlockPreparation.of(steps, design.fillna(0.0)) is not None


def test_a_column_empty_in_training_is_refused_as_by_sklearn(rng):
    table = _table(rng)
    table.loc[table.index[:30], "lsas_pre"] = np.nan
    model = tp.ResponseClassifier("demographics", demographic_columns=["lsas_pre"])
    steps = model.build_search(table[["lsas_pre"]]).estimator[:-1]
    encoded, preparation = encode_design(table[["lsas_pre"]], steps)
    with pytest.raises(TxpredictError, match="'lsas_pre' has no value"):
        clone(preparation).fit(encoded[:30])
    with pytest.raises(TxpredictError, match="'lsas_pre' has no value"):
        clone(steps).fit(table[["lsas_pre"]].iloc[:30])


def test_other_preparations_are_not_encoded():
    model = tp.ResponseClassifier("roi", select_percentile=50)
    design = np.zeros((10, 4))
    assert encode_design(design, model.build_search(design).estimator[:-1]) is None
    assert isinstance(FoldPreparation(), FoldPreparation)


def test_demographics_baseline_takes_the_batched_route_and_equals_sklearn(rng):
    """Fold by fold against GridSearchCV (exact solver): same C, same decisions."""
    cohort = tp.make_synthetic_cohort(60, grid="fsl6", random_state=3)
    X = cohort.X.copy()
    X.loc[X.index[::8], "age"] = np.nan
    grid = {"C": [1e-2, 1.0]}
    model = tp.ResponseClassifier(
        "demographics",
        EXACT,
        param_grid=grid,
        demographic_columns=["age", "sex", "baseline_severity", "site"],
    )
    runner = Runner(model, X)
    assert isinstance(runner.fast, LogisticFastPath)
    result = tp.nested_cross_validate(model, X, cohort.y, n_repeats=2)
    design = model.design(X, None)
    y = cohort.y.to_numpy()
    checked = 0
    for (_, fold), (_, row) in zip(
        result.predictions.groupby(["repeat", "fold"], sort=True),
        result.best_params().iterrows(),
        strict=True,
    ):
        test = X.index.get_indexer(fold["participant_id"])
        train = np.setdiff1d(np.arange(len(y)), test)
        search = model.build_search(design).fit(design.iloc[train], y[train])
        means = search.cv_results_["mean_test_score"]
        if row["C"] != search.best_params_["classifier__C"]:  # only a tie may differ
            assert means[grid["C"].index(row["C"])] == pytest.approx(means.max())
            continue
        np.testing.assert_allclose(
            fold["score"], search.decision_function(design.iloc[test]), atol=1e-7
        )
        checked += 1
    assert checked >= 8


@pytest.mark.parametrize("options", [{}, {"select_percentile": 50}])
def test_roi_values_with_gaps_take_the_batched_route(rng, options):
    """Missing ROI values (nonfinite='ignore') are imputed per training set."""
    cohort = tp.make_synthetic_cohort(50, grid="fsl6", random_state=5)
    roi = tp.RoiFeatures(verbose=0).set_output(transform="pandas")
    X = pd.concat([cohort.X, roi.fit_transform(cohort.X)], axis=1)
    X.iloc[::6, -2] = np.nan
    model = tp.ResponseClassifier(
        tp.PrecomputedFeatures(list(roi.get_feature_names_out())),
        EXACT,
        param_grid={"C": [0.1]},
        **options,
    )
    fast = tp.nested_cross_validate(model, X, cohort.y, n_repeats=1)
    slow = tp.nested_cross_validate(model, X, cohort.y, n_repeats=1, fast_path=False)
    assert fast.info["fast_path"] and not slow.info["fast_path"]
    np.testing.assert_allclose(
        fast.predictions["score"], slow.predictions["score"], atol=1e-7
    )
