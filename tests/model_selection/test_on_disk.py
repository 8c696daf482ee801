"""A whole-brain design on disk: the in-memory route's results, in less memory."""

import numpy as np
import pytest

import txpredict as tp
from txpredict.errors import TxpredictError
from txpredict.features import StoredDesign, VoxelStore
from txpredict.features import _store as store_module
from txpredict.model_selection._runner import Runner


@pytest.fixture(autouse=True)
def several_chunks(monkeypatch):
    # 24 patients x ~8,700 voxels: chunks of 256 columns, some 34 of them.
    monkeypatch.setattr(store_module, "CHUNK_BYTES", 24 * 1024)


OPTIONS = {"outer_cv": 3, "n_repeats": 2, "random_state": 0}


@pytest.mark.parametrize(
    "classifier, scaling", [("linear_svm", "center"), ("logistic", None)]
)
def test_nested_cv_on_disk_equals_in_memory(small_cohort, classifier, scaling):
    X, y = small_cohort.X, small_cohort.y
    model = tp.ResponseClassifier(
        "wholebrain", classifier, scaling=scaling, param_grid={"C": [1e-3, 1.0]}
    )
    kept = {}
    for on_disk in (False, True):
        kept[on_disk] = tp.nested_cross_validate(
            model,
            X,
            y,
            **OPTIONS,
            on_disk=on_disk,
            return_maps=True,
            n_permutations=9,
            n_exceedances=None,
        )
    memory, disk = kept[False], kept[True]
    np.testing.assert_allclose(
        disk.predictions["score"], memory.predictions["score"], rtol=1e-6, atol=1e-9
    )
    scale = np.abs(memory.maps.weights).max()
    np.testing.assert_allclose(
        disk.maps.weights, memory.maps.weights, atol=1e-6 * scale
    )
    scale = np.abs(memory.maps.patterns).max()
    np.testing.assert_allclose(
        disk.maps.patterns, memory.maps.patterns, atol=1e-6 * scale
    )
    for metric, test in memory.permutation.items():
        np.testing.assert_allclose(
            disk.permutation[metric].null_distribution, test.null_distribution
        )


def test_the_runner_holds_a_store_only_when_asked_or_needed(small_cohort, monkeypatch):
    X = small_cohort.X
    model = tp.ResponseClassifier("wholebrain", "linear_svm")
    assert isinstance(Runner(model, X, on_disk=True).design, VoxelStore)
    assert isinstance(Runner(model, X, on_disk="auto").design, np.ndarray)
    # 24 x 8,700 float32 is 0.8 MB: more than 1/8 of 4 MB available.
    monkeypatch.setattr(store_module, "available_memory", lambda: 4 * 2**20)
    runner = Runner(model, X, on_disk="auto")
    assert isinstance(runner.design, VoxelStore) and runner.route.name == "gram"
    # A model the store cannot serve stays in memory under "auto".
    standard = tp.ResponseClassifier("wholebrain", "linear_svm", scaling="standard")
    assert isinstance(Runner(standard, X, on_disk="auto").design, np.ndarray)


@pytest.fixture(scope="module")
def three_sites(tmp_path_factory):
    out = tmp_path_factory.mktemp("sites") / "study"
    tp.make_synthetic_cohort(
        36, effect="prognostic", n_sites=3, grid="fsl6", random_state=2, out_dir=out
    )
    return tp.load_cohort(out)


@pytest.mark.parametrize(
    "options, groups",
    [
        # ComBat with protected covariates; leave-site-out: every test site is
        # unseen, estimated from its own patients' voxels.
        ({"harmonize": "combat", "protected": ["age", "sex"]}, "site"),
        # ComBat then confound regression, voxels standardised, demographics
        # beside them; sites shared across folds.
        (
            {
                "features": "wholebrain+demographics",
                "demographic_columns": ["age", "sex"],
                "harmonize": "combat",
                "confounds": ["baseline_severity"],
                "scaling": "standard",
            },
            None,
        ),
    ],
)
def test_combat_and_confounds_on_disk_equal_in_memory(three_sites, options, groups):
    """The label-free steps fitted per training set from per-voxel statistics
    streamed over the store's ~34 chunks: predictions and every fold's maps
    equal the in-memory route's."""
    X, y = three_sites.X, three_sites.y
    model = tp.ResponseClassifier(
        classifier="ridge", param_grid={"alpha": [1.0, 100.0]}, **options
    )
    kept = {
        on_disk: tp.nested_cross_validate(
            model,
            X,
            y,
            outer_cv=3,
            n_repeats=1,
            groups=None if groups is None else X[groups],
            inner_groups=False,
            random_state=0,
            on_disk=on_disk,
            return_maps=True,
        )
        for on_disk in (False, True)
    }
    memory, disk = kept[False], kept[True]
    expected = memory.predictions["score"]
    # To 1e-6 of the scores' scale (the EB iterations run on sums taken in
    # another order: they differ in the last digits).
    np.testing.assert_allclose(
        disk.predictions["score"], expected, atol=1e-6 * np.abs(expected).max()
    )
    for kind in ("weights", "patterns"):
        expected = getattr(memory.maps, kind)
        np.testing.assert_allclose(
            getattr(disk.maps, kind), expected, atol=1e-6 * np.abs(expected).max()
        )


def test_a_store_with_table_columns_is_a_stored_design(three_sites):
    model = tp.ResponseClassifier("wholebrain", "linear_svm", harmonize="combat")
    runner = Runner(model, three_sites.X, on_disk=True)
    assert isinstance(runner.design, StoredDesign)
    assert list(runner.design.table.columns) == ["site"]
    assert runner.route.name == "gram"


@pytest.mark.parametrize(
    "options, why",
    [
        ({"scaling": "standard"}, "scaling='standard' needs one Gram matrix"),
        ({"classifier": "random_forest"}, "only linear classifiers"),
        ({"select_percentile": 10}, "only linear classifiers"),
    ],
)
def test_on_disk_true_refuses_what_it_cannot_serve(small_cohort, options, why):
    model = tp.ResponseClassifier(**{"features": "wholebrain", **options})
    with pytest.raises(TxpredictError, match=f"on_disk=True: .*{why}"):
        tp.nested_cross_validate(
            model, small_cohort.X, small_cohort.y, **OPTIONS, on_disk=True
        )
    with pytest.raises(TxpredictError, match="on_disk must be"):
        tp.nested_cross_validate(
            model, small_cohort.X, small_cohort.y, **OPTIONS, on_disk="yes"
        )


def test_a_store_in_the_models_cache_is_reused(small_cohort, tmp_path):
    model = tp.ResponseClassifier("wholebrain", "linear_svm", memory=tmp_path)
    first = Runner(model, small_cohort.X, on_disk=True).design
    second = Runner(model, small_cohort.X, on_disk=True).design
    assert first.folder == second.folder and first.folder.is_relative_to(tmp_path)


def test_one_scan_under_two_ids_is_found_on_disk(small_cohort):
    X = small_cohort.X.copy()
    X.loc[X.index[5], "image"] = X.loc[X.index[2], "image"]
    model = tp.ResponseClassifier("wholebrain", "linear_svm")
    with pytest.raises(TxpredictError, match="same scan appears under two"):
        Runner(model, X, on_disk=True)


def test_permutation_test_on_disk_draws_the_same_null(small_cohort):
    model = tp.ResponseClassifier("wholebrain", "linear_svm", param_grid={"C": [1.0]})
    tests = [
        tp.permutation_test(
            model,
            small_cohort.X,
            small_cohort.y,
            outer_cv=3,
            n_permutations=6,
            n_exceedances=None,
            on_disk=on_disk,
        )
        for on_disk in (False, True)
    ]
    np.testing.assert_allclose(
        tests[1].null_distribution, tests[0].null_distribution, rtol=1e-9
    )
    assert tests[1].statistic == pytest.approx(tests[0].statistic, rel=1e-9)


def test_bootstrap_maps_on_disk_equal_in_memory(small_cohort):
    model = tp.ResponseClassifier("wholebrain", "ridge", param_grid={})
    maps = [
        tp.bootstrap_maps(
            model, small_cohort.X, small_cohort.y, n_bootstraps=3, on_disk=on_disk
        )
        for on_disk in (False, True)
    ]
    for kind in ("weights", "patterns"):
        expected = getattr(maps[0], kind)
        scale = np.abs(expected).max()
        np.testing.assert_allclose(getattr(maps[1], kind), expected, atol=1e-6 * scale)


def test_a_design_on_disk_with_nan_voxels_is_refused_clearly(small_cohort, tmp_path):
    import nibabel as nib

    X = small_cohort.X.copy()
    source = nib.load(X["image"].iloc[4])
    data = np.asarray(source.dataobj, dtype=np.float32)
    data[15, 18, 15] = np.nan  # inside the brain mask
    holed = tmp_path / "holed.nii.gz"
    nib.save(nib.Nifti1Image(data, source.affine), holed)
    X.loc[X.index[4], "image"] = str(holed)
    model = tp.ResponseClassifier(
        "wholebrain", "linear_svm", feature_options={"nonfinite": "ignore"}
    )
    with pytest.raises(TxpredictError, match="design on disk .* NaN.*on_disk=False"):
        Runner(model, X, on_disk=True)
