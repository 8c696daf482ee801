"""The README's and the user guide's examples on a study laid out the way a user's is.

``spm_study_dir`` (conftest) is an SPM layout with the user's own column names;
every documented step must work on it with only the names changed.
"""

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

import txpredict as tp
from txpredict.cli import main

PATTERN = "derivatives/spm/{participant_id}/con_0001.nii"
DEMOGRAPHICS = ["age", "gender", "lsas_pre"]
FAST = {"param_grid": {"C": [0.1, 1.0]}, "inner_cv": 3}


@pytest.fixture(scope="module")
def cohort(spm_study_dir):
    return tp.load_cohort(
        spm_study_dir,
        image_pattern=PATTERN,
        outcome=tp.SymptomReduction(pre="lsas_pre", post="lsas_post"),
        treatment="group",
    )


def test_loading_keeps_the_users_names_and_hides_the_post_scores(cohort):
    assert cohort.n_subjects == 48 and cohort.arms == ("CBT", "SSRI+CBT")
    assert "lsas_post" not in cohort.X and "lsas_pre" in cohort.X
    assert cohort.X.index[0] == "sub-01"
    assert cohort.X["age"].isna().sum() == 1  # the n/a, imputed inside the folds


def test_readme_classifier_baseline_and_comparison(cohort):
    X, y = cohort.X, cohort.y
    result = tp.nested_cross_validate(
        tp.ResponseClassifier("roi", **FAST), X, y, n_repeats=2, random_state=0
    )
    baseline = tp.nested_cross_validate(
        tp.ResponseClassifier("demographics", demographic_columns=DEMOGRAPHICS),
        X,
        y,
        n_repeats=2,
        random_state=0,
    )
    table = tp.compare(result, baseline, names=("roi", "demographics")).table
    assert list(table.index) == ["auc", "balanced_accuracy"]
    assert result.summary()["ci_low"].notna().all()


def test_readme_opening_example(cohort):
    """The README's one example, as written (fewer repeats and permutations)."""
    splits = {"n_repeats": 1, "random_state": 0}
    roi = tp.nested_cross_validate(
        tp.ResponseClassifier("roi", **FAST), cohort.X, cohort.y, **splits
    )
    assert {"auc", "balanced_accuracy", "npv"} <= set(roi.summary().index)
    scan = tp.ResponseClassifier(
        "roi+demographics", demographic_columns=["age", "gender", "lsas_pre"], **FAST
    )
    added = tp.added_value(scan, cohort.X, cohort.y, n_permutations=9, **splits)
    # The baseline is the user's own columns, and the test was run.
    assert added.baseline_columns == ["age", "gender", "lsas_pre"]
    assert len(added.permutation["auc"].null_distribution) <= 9
    assert "80% power" in added.detectable.sentence()


def test_readme_multisite_example_with_the_users_site_column(cohort):
    model = tp.ResponseClassifier(
        "roi", harmonize="combat", sites="scanner", protected=["gender"], **FAST
    )
    by_site = tp.nested_cross_validate(
        model,
        cohort.X,
        cohort.y,
        outer_cv="leave-site-out",
        groups="scanner",
        inner_groups=False,
    )
    assert list(by_site.per_site().index) == ["prisma", "skyra"]


def test_readme_toml_on_the_users_layout(spm_study_dir, tmp_path, capsys):
    config = tmp_path / "analysis.toml"
    config.write_text(
        f"""
[data]
dataset = "{spm_study_dir}"
image_pattern = "{PATTERN}"
outcome = {{pre = "lsas_pre", post = "lsas_post"}}
treatment = "group"

[model]
features = "roi"
demographic_columns = {DEMOGRAPHICS!r}
param_grid = {{C = [0.1, 1.0]}}

[cv]
outer_cv = 3
inner_cv = 3
n_repeats = 1
n_permutations = 0

[output]
folder = "results"
"""
    )
    assert main(["run", str(config)]) == 0
    summary = pd.read_csv(tmp_path / "results" / "summaries.csv", index_col=[0, 1])
    assert ("demographics only", "auc") in summary.index
    modality = config.read_text().replace("[data]", 'task = "modality"\n\n[data]')
    config.write_text(modality.replace('folder = "results"', 'folder = "selection"'))
    assert main(["run", str(config)]) == 0
    argv = ["validate", str(spm_study_dir), "--image-pattern", PATTERN]
    argv += ["--pre", "lsas_pre", "--post", "lsas_post"]
    with pytest.warns(UserWarning, match="treatment='group'"):
        assert main(argv) == 0  # the arm column under its own name: pointed out
    assert main([*argv, "--treatment", "group", "--full"]) == 0
    images = sorted(spm_study_dir.glob("derivatives/spm/sub-0[12]/con_0001.nii"))
    capsys.readouterr()
    model = tmp_path / "results" / "model.skops"
    assert main(["predict", str(model), *map(str, images)]) == 0
    out = capsys.readouterr().out
    assert "sub-01" in out and "sub-02" in out
    # The modality run's selector recommends for the user's SPM maps.
    assert (
        main(
            [
                "predict",
                str(tmp_path / "selection" / "selector.skops"),
                *map(str, images),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "recommended" in out and "pai_ci_low" in out and "sub-02" in out


@pytest.mark.parametrize("strategy", ["x_learner", "t_learner"])
def test_readme_modality_example_with_the_users_arm_column(cohort, strategy):
    selector = tp.ModalitySelector(
        features="roi+demographics",
        strategy=strategy,
        **FAST,
        demographic_columns=DEMOGRAPHICS,
    )
    selector.fit(cohort.X, cohort.y, treatment="group")
    intervals = selector.pai_interval(cohort.X)
    assert list(intervals.index) == list(cohort.X.index)
    assert (intervals["ci_low"] <= intervals["ci_high"]).all()
    assert set(selector.recommend(cohort.X, arms=["CBT"])) == {"CBT"}
    result = tp.evaluate_selection(
        selector, cohort.X, cohort.y, "group", outer_cv=3, n_repeats=1
    )
    assert "policy_gain" in result.summary().index
    assert set(result.calibration().index.unique("arm")) == {"CBT", "SSRI+CBT"}
    roi = (
        tp.RoiFeatures(verbose=0).set_output(transform="pandas").fit_transform(cohort.X)
    )
    assert "dACC_R_mean" in result.pai_correlations(roi).index
    coefficients = tp.evaluate_selection(
        selector,
        cohort.X,
        cohort.y,
        "group",
        outer_cv=3,
        n_repeats=1,
        return_coefficients=True,
    ).coefficient_summary()
    # The user's own demographic names, as the model prepared them.
    assert {"lsas_pre", "dACC_R_mean"} <= set(coefficients.index.unique("feature"))


def test_readme_selector_fold_maps_with_the_users_arm_column(cohort):
    """The moderation map's fold stability, arms in the user's "group" column."""
    selector = tp.ModalitySelector("wholebrain", **FAST)
    result = tp.evaluate_selection(
        selector, cohort.X, cohort.y, "group", outer_cv=3, n_repeats=1, return_maps=True
    )
    term = f"{result.arms[1]} - {result.arms[0]}"
    assert set(result.maps) == {*result.arms, term}
    image = result.maps[term].to_img("pattern", "jackknife_z")
    assert image.shape == nib.load(cohort.X["image"].iloc[0]).shape
    assert np.isfinite(image.get_fdata()).all()


def test_readme_regression_and_external_validation(spm_study_dir, cohort):
    change = tp.load_cohort(
        spm_study_dir,
        image_pattern=PATTERN,
        outcome=tp.SymptomChange(pre="lsas_pre", post="lsas_post"),
        treatment="group",
    )
    regression = tp.nested_cross_validate(
        tp.ResponseRegressor("roi", param_grid={"alpha": [10.0]}),
        change.X,
        change.y,
        n_repeats=1,
    )
    assert list(regression.responders(50).index)[:2] == ["sensitivity", "specificity"]
    prisma = cohort.X["scanner"] == "prisma"
    model = tp.ResponseClassifier("roi", harmonize="combat", sites="scanner", **FAST)
    model.fit(cohort.X[prisma], cohort.y[prisma])
    with pytest.warns(UserWarning, match="skyra"):  # a new site, named
        check = tp.validate_external(model, cohort.X[~prisma], cohort.y[~prisma])
    assert check.table.at["auc", "ci_low"] < check.table.at["auc", "ci_high"]


def test_run_without_demographic_columns_takes_the_cohorts_own(
    spm_study_dir, tmp_path, capsys
):
    """No demographic_columns in the TOML: the baseline uses the user's columns
    (the pre-treatment score included, the post score, the arm and the images
    not), and says which."""
    config = tmp_path / "analysis.toml"
    config.write_text(
        f"""
[data]
dataset = "{spm_study_dir}"
image_pattern = "{PATTERN}"
outcome = {{pre = "lsas_pre", post = "lsas_post"}}
treatment = "group"

[model]
features = "roi"
param_grid = {{C = [0.1]}}

[cv]
outer_cv = 3
inner_cv = 3
n_repeats = 1
n_permutations = 0

[output]
folder = "results"
"""
    )
    assert main(["run", str(config)]) == 0
    out = capsys.readouterr().out
    cohort = tp.load_cohort(
        spm_study_dir,
        PATTERN,
        outcome=tp.SymptomReduction(pre="lsas_pre", post="lsas_post"),
        treatment="group",
    )
    columns = cohort.baseline_columns()
    assert "lsas_pre" in columns and "age" in columns and "scanner" in columns
    assert not {"lsas_post", "group", "image"} & set(columns)
    assert f"Demographic columns: {columns}" in out


def test_readme_maps_and_importance_examples_on_the_users_layout(cohort):
    """Maps of a voxel model (harmonised by the user's scanner column) and the
    drop-one-ROI importance, on the SPM layout."""
    model = tp.ResponseClassifier(
        "wholebrain", "linear_svm", harmonize="combat", sites="scanner", **FAST
    )
    result = tp.nested_cross_validate(
        model, cohort.X, cohort.y, n_repeats=1, return_maps=True, n_bootstraps=3
    )
    image = result.maps.to_img("pattern", "ratio")
    assert image.shape == nib.load(cohort.X["image"].iloc[0]).shape
    boot = result.bootstrap_maps.to_img("pattern", "ratio")
    assert boot.shape == image.shape and np.any(boot.get_fdata() != 0)
    fitted = model.fit(cohort.X, cohort.y)
    assert fitted.pattern_img_.shape == image.shape
    table = tp.drop_one_importance(
        tp.ResponseClassifier("roi", **FAST),
        cohort.X,
        cohort.y,
        n_repeats=2,
        groups_of_rois={"cuneus": ["cuneus_L", "cuneus_R"]},
    )
    assert list(table.index) == ["cuneus"] and table.notna().all(axis=None)
    # Permutation importance with the user's own demographic column names.
    importance = tp.permutation_importance(
        tp.ResponseClassifier(
            "roi+demographics", demographic_columns=DEMOGRAPHICS, **FAST
        ),
        cohort.X,
        cohort.y,
        outer_cv=3,
        n_repeats=1,
        n_permutations=3,
        groups_of_features={
            "dACC": ["dACC_L_mean", "dACC_R_mean"],
            "severity": ["lsas_pre"],
        },
    )
    assert list(importance.index) == ["dACC", "severity"]
    assert importance[["auc_drop", "ci_low", "ci_high"]].notna().all(axis=None)


def test_whole_brain_on_disk_on_the_users_layout(cohort, tmp_path):
    # The SPM layout's uncompressed .nii maps, rows shuffled against the
    # files, two scanners as the outer folds: the store keys by participant and file,
    # and its results are the in-memory route's.
    order = np.random.default_rng(3).permutation(len(cohort.X))
    X, y = cohort.X.iloc[order], cohort.y.iloc[order]
    model = tp.ResponseClassifier("wholebrain", "linear_svm", memory=tmp_path, **FAST)
    options = {"n_repeats": 1, "outer_cv": 2, "groups": X["scanner"]}
    options |= {"inner_groups": False, "return_maps": True}
    memory = tp.nested_cross_validate(model, X, y, **options, on_disk=False)
    disk = tp.nested_cross_validate(model, X, y, **options, on_disk=True)
    pd.testing.assert_frame_equal(disk.predictions, memory.predictions, rtol=1e-6)
    assert (tmp_path / "txpredict_store").is_dir()
    scale = np.abs(memory.maps.weights).max()
    np.testing.assert_allclose(
        disk.maps.weights, memory.maps.weights, atol=1e-6 * scale
    )
