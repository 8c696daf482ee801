"""The maps of every outer-fold model of a nested CV (return_maps=True)."""

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import txpredict as tp
from txpredict.errors import TxpredictError
from txpredict.features import _extract
from txpredict.model_selection import _gram
from txpredict.model_selection._model_maps import _resample
from txpredict.models._maps import image_weights_and_pattern


@pytest.fixture(scope="module")
def cohort():
    return tp.make_synthetic_cohort(
        50, effect="prognostic", n_sites=2, grid="fsl6", random_state=8
    )


@pytest.fixture(scope="module")
def voxels(cohort):
    return tp.WholeBrainFeatures(verbose=0).fit_transform(cohort.X)


def _training_parts(result, cohort):
    """The rows of each outer fold's training part, in the maps' order."""
    index = pd.Index(cohort.X.index.astype(str))
    for _, fold in result.predictions.groupby(["repeat", "fold"], sort=False):
        test = index.get_indexer(fold["participant_id"])
        yield np.setdiff1d(np.arange(len(index)), test)


def test_gram_route_maps_are_each_folds_own_model_fitted_on_its_training_part(
    cohort, voxels
):
    """Reference: scikit-learn's SVC at the fold's chosen C, fitted on the
    fold's training patients only (so no test patient can enter the map)."""
    model = tp.ResponseClassifier(
        "wholebrain", "linear_svm", param_grid={"C": [1e-4, 1e-2]}
    )
    result = tp.nested_cross_validate(
        model, cohort.X, cohort.y, n_repeats=1, return_maps=True
    )
    assert result.info["fast_path"]
    chosen = result.best_params()["C"].to_numpy()
    y = cohort.y.to_numpy()
    for row, train in enumerate(_training_parts(result, cohort)):
        reference = make_pipeline(
            StandardScaler(with_std=False),
            SVC(kernel="linear", C=chosen[row], class_weight="balanced"),
        ).fit(voxels[train], y[train])
        weights, pattern = image_weights_and_pattern(
            reference, voxels[train], voxels.shape[1]
        )
        scale = np.abs(weights).max()
        np.testing.assert_allclose(result.maps.weights[row], weights, atol=1e-4 * scale)
        scale = np.abs(pattern).max()
        np.testing.assert_allclose(
            result.maps.patterns[row], pattern, atol=1e-4 * scale
        )
    assert list(result.maps.models.columns) == ["repeat", "fold"]


@pytest.mark.parametrize(
    "options",
    [
        {"classifier": "linear_svm", "param_grid": {"C": [1e-4, 1e-2]}},
        {"param_grid": {"C": [1e-3, 1e-1]}, "scaling": "standard"},
        {"classifier": "ridge", "param_grid": {"alpha": [1e3]}, "harmonize": "combat"},
    ],
    ids=["svm-center", "logistic-standard", "ridge-combat"],
)
def test_no_test_patient_enters_its_folds_maps(cohort, options):
    """Instrumented by poisoning: the images of one outer fold's test patients
    are replaced by noise. That fold's maps do not move; the other folds',
    whose training parts hold those patients, do."""
    model = tp.ResponseClassifier("wholebrain", **options)
    result = tp.nested_cross_validate(
        model, cohort.X, cohort.y, n_repeats=1, return_maps=True
    )
    poisoned_fold = 2
    held_out = result.predictions.query(f"fold == {poisoned_fold}")["participant_id"]
    rows = np.flatnonzero(cohort.X.index.astype(str).isin(held_out))
    X = cohort.X.copy()
    rng = np.random.default_rng(0)
    for row in rows:
        image = X["image"].iloc[row]
        noise = rng.normal(size=image.shape).astype(np.float32) * 100
        X.iat[row, X.columns.get_loc("image")] = nib.Nifti1Image(noise, image.affine)
    again = tp.nested_cross_validate(model, X, cohort.y, n_repeats=1, return_maps=True)
    pd.testing.assert_frame_equal(
        again.folds[["repeat", "fold", "n_test"]],
        result.folds[["repeat", "fold", "n_test"]],
    )
    for kind in ("weights", "patterns"):
        before, after = getattr(result.maps, kind), getattr(again.maps, kind)
        scale = np.abs(before[poisoned_fold]).max()
        np.testing.assert_allclose(
            after[poisoned_fold], before[poisoned_fold], atol=1e-5 * scale
        )
        others = [k for k in range(len(before)) if k != poisoned_fold]
        assert not np.allclose(after[others], before[others], atol=1e-3 * scale)


@pytest.mark.parametrize(
    "options",
    [
        {"classifier": "ridge", "param_grid": {"alpha": [10.0, 1e3]}},
        {
            "classifier": LogisticRegression(
                class_weight="balanced", tol=1e-10, max_iter=100_000
            ),
            "param_grid": {"C": [1e-3, 1e-1]},
            "scaling": "standard",
        },
        {
            "classifier": "ridge",
            "param_grid": {"alpha": [10.0, 1e3]},
            "harmonize": "combat",
        },
    ],
    ids=["ridge-center", "logistic-standard", "ridge-combat"],
)
def test_gram_route_maps_equal_the_fold_by_fold_route(cohort, options):
    model = tp.ResponseClassifier("wholebrain", **options)
    fast, slow = (
        tp.nested_cross_validate(
            model, cohort.X, cohort.y, n_repeats=1, return_maps=True, fast_path=f
        )
        for f in ("auto", False)
    )
    assert fast.info["fast_path"] and not slow.info["fast_path"]
    pd.testing.assert_frame_equal(fast.best_params(), slow.best_params())
    for kind in ("weights", "patterns"):
        got, expected = getattr(fast.maps, kind), getattr(slow.maps, kind)
        np.testing.assert_allclose(got, expected, atol=1e-3 * np.abs(expected).max())


def test_stability_statistics_of_a_worked_example():
    """Four fold maps of three voxels, every statistic worked out by hand."""
    folds = np.array(
        [[1.0, -1.0, 0.0], [2.0, -1.0, 0.0], [3.0, 1.0, 0.0], [4.0, -1.0, 0.0]],
        dtype=np.float32,
    )
    models = pd.DataFrame({"repeat": [0, 0, 0, 0], "fold": [0, 1, 2, 3]})
    maps = tp.ModelMaps(folds, -folds, models, extractor=None)
    # Voxel 0: mean 2.5, SD sqrt(5/3) = 1.29099; voxel 1: mean -0.5, SD 1.
    np.testing.assert_allclose(maps.values("weights", "mean"), [2.5, -0.5, 0.0])
    np.testing.assert_allclose(
        maps.values("weights", "ratio"), [1.9364917, -0.5, 0.0], rtol=1e-6
    )
    # Signs: all four positive; three negative of four; no map (0).
    np.testing.assert_allclose(
        maps.values("weights", "sign_consistency"), [1.0, 0.75, 0.0]
    )
    np.testing.assert_allclose(maps.values("pattern", "mean"), [-2.5, 0.5, 0.0])
    # The grouped jackknife of 4 folds: Var = 3/4 * sum of squared deviations
    # (3.75 and 2.25), t = 2.5 / sqrt(3.75) = 1.2909944 and -0.5 / 1.5 =
    # -1/3 on 3 df, each p-value read back as a normal z.
    t = np.array([1.2909944, -1 / 3])
    z = np.sign(t) * stats.norm.isf(stats.t.sf(np.abs(t), 3))
    np.testing.assert_allclose(maps.values("weights", "jackknife_z")[:2], z, rtol=1e-6)
    with pytest.raises(TxpredictError, match="statistic must be one of"):
        maps.values("pattern", "median")


def test_stability_statistics_of_nested_cv_maps(cohort):
    """The maps of a nested CV: one row per fold model, images on the grid."""
    model = tp.ResponseClassifier("wholebrain", "ridge", param_grid={"alpha": [100.0]})
    maps = tp.nested_cross_validate(
        model, cohort.X, cohort.y, n_repeats=2, return_maps=True
    ).maps
    assert maps.values("pattern", "all").shape == (10, maps.patterns.shape[1])
    assert maps.to_img("pattern", "ratio").shape == (31, 37, 31)
    assert maps.to_img("weights", "all").shape == (31, 37, 31, 10)


def test_jackknife_z_groups_folds_by_repeat():
    """Two repeats, of 5 and 4 folds, each its own jackknife variance: worked
    by hand for one voxel whose folds are 1..5 and then 2, 2, 4, 4."""
    maps = np.array([[1], [2], [3], [4], [5], [2], [2], [4], [4]], dtype=np.float32)
    models = pd.DataFrame({"repeat": [0] * 5 + [1] * 4, "fold": [*range(5), *range(4)]})
    fold_maps = tp.ModelMaps(maps, maps, models, extractor=None)
    # Repeat 0: 4/5 * 10 = 8; repeat 1: 3/4 * 4 = 3; their mean 5.5. The
    # mean of all nine maps is 27/9 = 3, so t = 3 / sqrt(5.5) = 1.2792043,
    # on 4 - 1 = 3 df (the smaller repeat).
    z = stats.norm.isf(stats.t.sf(1.2792043, 3))
    np.testing.assert_allclose(
        fold_maps.values("weights", "jackknife_z"), [z], rtol=1e-6
    )
    boot = tp.ModelMaps(maps, maps, pd.DataFrame({"bootstrap": range(9)}), None)
    with pytest.raises(TxpredictError, match="bootstrap ratio"):
        boot.values("pattern", "jackknife_z")


def test_jackknife_z_is_calibrated_on_null_data_where_the_cv_ratio_is_not(cohort):
    """Null replicates: the cohort's images, fresh coin-flip labels (as in
    test_honesty.py). The share of voxels with |z| > 1.96 is near 5% (the
    benchmark: the same with tuned models is conservative); the CV ratio
    passes a third of them."""
    model = tp.ResponseClassifier("wholebrain", "ridge", param_grid={"alpha": [1e3]})
    z_shares, ratio_shares = [], []
    for seed in range(6):
        y = np.random.default_rng(seed).permutation(np.arange(len(cohort.y)) % 2)
        maps = tp.nested_cross_validate(
            model, cohort.X, y, n_repeats=1, return_maps=True, random_state=seed
        ).maps
        z_shares.append(np.mean(np.abs(maps.values("pattern", "jackknife_z")) > 1.96))
        ratio_shares.append(np.mean(np.abs(maps.values("pattern", "ratio")) > 1.96))
    assert 0.03 < np.mean(z_shares) < 0.07
    assert np.mean(ratio_shares) > 0.2


def test_bootstrap_maps_are_refits_on_each_resample(cohort, voxels):
    """Each row: the model at the hyperparameters it chose on the whole cohort,
    refitted on one resample (as scikit-learn fits it on those rows)."""
    model = tp.ResponseClassifier(
        "wholebrain", "linear_svm", param_grid={"C": [1e-4, 1e-2]}
    )
    maps = tp.bootstrap_maps(model, cohort.X, cohort.y, n_bootstraps=4, n_jobs=2)
    chosen = clone(model).fit(cohort.X, cohort.y).best_params_["C"]  # as fit does
    rng = np.random.default_rng(0)  # bootstrap_maps' default random_state
    y = cohort.y.to_numpy()
    for row in range(4):
        rows = _resample(rng, y)
        reference = make_pipeline(
            StandardScaler(with_std=False),
            SVC(kernel="linear", C=chosen, class_weight="balanced"),
        ).fit(voxels[rows], y[rows])
        weights, pattern = image_weights_and_pattern(
            reference, voxels[rows], voxels.shape[1]
        )
        np.testing.assert_allclose(
            maps.weights[row], weights, atol=1e-4 * np.abs(weights).max()
        )
        np.testing.assert_allclose(
            maps.patterns[row], pattern, atol=1e-4 * np.abs(pattern).max()
        )
    assert list(maps.models["bootstrap"]) == [0, 1, 2, 3]
    again = tp.bootstrap_maps(model, cohort.X, cohort.y, n_bootstraps=4)
    np.testing.assert_array_equal(again.patterns, maps.patterns)  # any n_jobs


def test_nested_cv_bootstraps_are_bootstrap_maps_on_images_read_once(
    cohort, monkeypatch
):
    reads = []
    original = _extract._extract_one
    monkeypatch.setattr(
        _extract, "_extract_one", lambda image, subject, *rest: reads.append(
            subject) or original(image, subject, *rest)
    )  # fmt: skip
    grid = {"alpha": [1e2, 1e4]}
    model = tp.ResponseClassifier("wholebrain", "ridge", param_grid=grid)
    options = {"n_bootstraps": 6, "random_state": 4}
    result = tp.nested_cross_validate(
        model, cohort.X, cohort.y, n_repeats=1, return_maps=True, **options
    )
    assert sorted(reads) == sorted(map(str, cohort.X.index))  # each image once
    alone = tp.bootstrap_maps(model, cohort.X, cohort.y, **options)
    np.testing.assert_array_equal(result.bootstrap_maps.weights, alone.weights)
    np.testing.assert_array_equal(result.bootstrap_maps.patterns, alone.patterns)
    assert len(result.bootstrap_maps.models) == 6 and len(result.maps.models) == 5


def test_stacked_maps_are_each_models_product_with_the_design(rng, monkeypatch):
    """Deferred (DesignMaps) and ready maps, stacked in order, across several
    matrix products."""
    monkeypatch.setattr(_gram, "_MAPS_PER_PRODUCT", 2)
    design = rng.normal(size=(6, 11)).astype(np.float32)
    ready = [rng.normal(size=(2, 11)).astype(np.float32) for _ in range(2)]
    deferred = [_gram.DesignMaps(rng.normal(size=(2, 6))) for _ in range(5)]
    maps = [deferred[0], ready[0], *deferred[1:4], ready[1], deferred[4]]
    weights, patterns = _gram.stack_maps(maps, design)
    for row, m in enumerate(maps):
        expected = m.coefficients @ design if row not in (1, 5) else m
        np.testing.assert_allclose(weights[row], expected[0], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(patterns[row], expected[1], rtol=1e-5, atol=1e-5)


def test_roi_models_give_a_table_of_fold_weights(cohort):
    """Each outer-fold model's ROI weights (per SD of the ROI value) are its
    scikit-learn pipeline's, fitted on that fold's training patients (to the
    exact optimum, which the batched route finds)."""
    model = tp.ResponseClassifier("roi", param_grid={"C": [0.1, 1.0]})
    result = tp.nested_cross_validate(
        model, cohort.X, cohort.y, n_repeats=2, return_maps=True
    )
    roi = tp.RoiFeatures(verbose=0).fit_transform(cohort.X)
    chosen = result.best_params()["C"].to_numpy()
    y = cohort.y.to_numpy()
    for row, train in enumerate(_training_parts(result, cohort)):
        scaler = StandardScaler().fit(roi[train])
        reference = LogisticRegression(
            C=chosen[row], class_weight="balanced", tol=1e-12, max_iter=100_000
        )
        reference.fit(scaler.transform(roi[train]), y[train])
        np.testing.assert_allclose(
            result.maps.weights[row], reference.coef_[0] / scaler.scale_, rtol=1e-5
        )
    table = result.maps.table("weights")
    names = [f"{r.name}_mean" for r in tp.default_rois()]
    assert list(table.index) == names
    np.testing.assert_allclose(
        table["mean"], result.maps.weights.mean(axis=0), rtol=1e-6
    )
    assert (table["low"] <= table["mean"]).all() and (
        table["mean"] <= table["high"]
    ).all()
    with pytest.raises(TxpredictError, match="use table"):
        result.maps.to_img()


def test_models_without_maps_are_refused_before_any_work(cohort):
    for model, message in [
        (tp.ResponseClassifier("demographics"), "no voxel features"),
        (
            tp.ResponseClassifier("wholebrain", "random_forest"),
            "permutation importance",
        ),
    ]:
        with pytest.raises(TxpredictError, match=message):
            tp.nested_cross_validate(model, cohort.X, cohort.y, return_maps=True)
        with pytest.raises(TxpredictError, match=message):
            tp.nested_cross_validate(model, cohort.X, cohort.y, n_bootstraps=5)
    voxels = tp.ResponseClassifier("wholebrain", "ridge")
    for count in (-1, 2.5, True):
        with pytest.raises(TxpredictError, match="n_bootstraps must be an integer"):
            tp.nested_cross_validate(voxels, cohort.X, cohort.y, n_bootstraps=count)
    with pytest.raises(TxpredictError, match="n_bootstraps must be an integer >= 1"):
        tp.bootstrap_maps(voxels, cohort.X, cohort.y, n_bootstraps=0)


def test_fold_maps_of_a_model_with_pca(cohort):
    model = tp.ResponseClassifier(
        "wholebrain", pca_components=3, param_grid={"C": [0.1]}
    )
    result = tp.nested_cross_validate(
        model, cohort.X, cohort.y, n_repeats=1, return_maps=True
    )
    weights = result.maps.values("weights", "mean")
    assert np.isfinite(weights).all() and np.count_nonzero(weights) > 0
    # A fold's weights reproduce its model's test scores up to a constant.
    fold = result.folds.iloc[0]
    test = result.predictions.query("repeat == 0 and fold == 0")
    voxels = tp.WholeBrainFeatures(verbose=0).fit_transform(
        cohort.X.loc[test["participant_id"]]
    )
    offset = test["score"].to_numpy() - voxels @ result.maps.weights[0].astype(float)
    assert fold["fold"] == 0
    np.testing.assert_allclose(offset, offset[0], atol=1e-3 * np.ptp(test["score"]))


@pytest.mark.parametrize("features", ["roi", "roi+demographics"])
def test_batched_route_maps_equal_the_fold_by_fold_route(cohort, features):
    """The batched route's fold maps (from its exact optima) are scikit-learn's
    maps of the same fold models, fitted to a tolerance that makes them exact."""
    model = tp.ResponseClassifier(
        features,
        LogisticRegression(class_weight="balanced", tol=1e-12, max_iter=100_000),
        param_grid={"C": [1e-2, 1.0]},
        demographic_columns=["age", "sex", "baseline_severity"],
    )
    fast, slow = (
        tp.nested_cross_validate(
            model, cohort.X, cohort.y, n_repeats=1, return_maps=True, fast_path=f
        )
        for f in ("auto", False)
    )
    assert fast.info["fast_path"] and not slow.info["fast_path"]
    pd.testing.assert_frame_equal(fast.best_params(), slow.best_params())
    assert fast.maps.weights.shape == (5, 9)  # the 9 ROIs, demographics apart
    for kind in ("weights", "patterns"):
        got, expected = getattr(fast.maps, kind), getattr(slow.maps, kind)
        np.testing.assert_allclose(got, expected, atol=1e-5 * np.abs(expected).max())
    np.testing.assert_allclose(
        fast.predictions["score"], slow.predictions["score"], atol=1e-5
    )
