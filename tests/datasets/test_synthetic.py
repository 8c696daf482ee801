import nibabel as nib
import numpy as np
import pytest
from scipy.special import expit

import txpredict as tp
from txpredict.datasets import EFFECTS, GRIDS, fsl_grid
from txpredict.errors import CohortError


def test_fsl_grid_is_the_standard_one():
    grid = fsl_grid(2)
    assert grid.shape == (91, 109, 91)
    np.testing.assert_array_equal(np.diag(grid.affine), [-2, 2, 2, 1])
    np.testing.assert_array_equal(grid.affine[:3, 3], [90, -126, -72])
    assert GRIDS["nilearn2"].shape == (99, 117, 95)  # not to be conflated


def test_same_seed_same_cohort_whatever_n_jobs():
    a = tp.make_synthetic_cohort(8, grid="fsl6", random_state=3, n_jobs=1)
    b = tp.make_synthetic_cohort(8, grid="fsl6", random_state=3, n_jobs=2)
    c = tp.make_synthetic_cohort(8, grid="fsl6", random_state=4)
    for img_a, img_b in zip(a.X["image"], b.X["image"], strict=True):
        np.testing.assert_array_equal(img_a.get_fdata(), img_b.get_fdata())
    assert a.X.drop(columns="image").equals(b.X.drop(columns="image"))
    assert not np.array_equal(
        a.X["image"].iloc[0].get_fdata(), c.X["image"].iloc[0].get_fdata()
    )


def test_written_and_in_memory_cohorts_agree(tmp_path):
    memory = tp.make_synthetic_cohort(6, grid="fsl6", random_state=5)
    disk = tp.make_synthetic_cohort(
        6, grid="fsl6", random_state=5, out_dir=tmp_path / "d"
    )
    np.testing.assert_array_equal(memory.y, disk.y)
    np.testing.assert_allclose(
        memory.X["image"].iloc[2].get_fdata(),
        nib.load(disk.X["image"].iloc[2]).get_fdata(),
    )
    assert (
        disk.info["bayes_balanced_accuracy"] == memory.info["bayes_balanced_accuracy"]
    )


def test_images_are_zero_outside_the_brain_and_smooth_inside():
    cohort = tp.make_synthetic_cohort(10, grid="fsl6", random_state=0)
    from txpredict._images import mni_brain_mask

    brain = mni_brain_mask(tp.Grid.of(cohort.X["image"].iloc[0]))
    data = cohort.X["image"].iloc[0].get_fdata()
    assert np.all(data[~brain] == 0)
    assert 0.5 < data[brain].std() < 2.0


def test_ground_truth_follows_the_documented_model():
    cohort = tp.make_synthetic_cohort(40, grid="fsl6", random_state=1)
    truth = cohort.ground_truth
    coef = EFFECTS["interaction"]
    age_z = (cohort.X["age"] - 41.5) / (47 / np.sqrt(12))
    sev_z = (cohort.X["baseline_severity"] - 70) / 15
    common = (
        coef["b_cuneus"] * truth["cuneus"]
        + coef["b_coupling"] * truth["coupling"]
        + coef["b_severity"] * sev_z
        + coef["b_age"] * age_z
    )
    ssri = expit(common + coef["b_arm"] + coef["b_interaction"] * truth["dACC"])
    np.testing.assert_allclose(truth["p_response_SSRI+CBT"], ssri)
    # Frick et al. 2018: high dACC -> SSRI + CBT is the better arm.
    high = truth["dACC"] > 0.5
    assert (truth.loc[high, "better_arm"] == "SSRI+CBT").all()
    assert (truth.loc[truth["dACC"] < -0.5, "better_arm"] == "CBT").all()


def test_null_cohort_has_no_signal_and_chance_bayes_accuracy():
    cohort = tp.make_synthetic_cohort(20, effect="none", grid="fsl6", random_state=2)
    assert cohort.ground_truth["p_response_CBT"].nunique() == 1
    assert cohort.info["bayes_balanced_accuracy"] == 0.5


def test_bayes_accuracy_orders_the_effects():
    bayes = {
        effect: tp.make_synthetic_cohort(
            10, effect=effect, grid="fsl6", random_state=0
        ).info["bayes_balanced_accuracy"]
        for effect in ("demographics", "prognostic", "interaction")
    }
    assert (
        0.5 < bayes["demographics"] < bayes["prognostic"] < bayes["interaction"] < 0.9
    )


def test_arms_are_balanced_by_permuted_blocks():
    cohort = tp.make_synthetic_cohort(22, grid="fsl6", random_state=0)
    counts = cohort.treatment.value_counts()
    assert abs(counts["CBT"] - counts["SSRI+CBT"]) <= 2


def test_out_dir_is_never_silently_overwritten_and_failure_leaves_nothing(tmp_path):
    out = tmp_path / "study"
    tp.make_synthetic_cohort(10, grid="fsl6", random_state=0, out_dir=out)
    with pytest.raises(FileExistsError, match="already exists"):
        tp.make_synthetic_cohort(10, grid="fsl6", random_state=0, out_dir=out)
    broken = tmp_path / "broken"
    with pytest.raises(ValueError, match="Unknown grid"):
        tp.make_synthetic_cohort(4, grid="fsl3", random_state=0, out_dir=broken)
    assert not broken.exists()
    # A cohort load_cohort would refuse (1 responder) is not left on disk either.
    with pytest.raises(CohortError, match="1 responders"):
        tp.make_synthetic_cohort(8, grid="fsl6", random_state=0, out_dir=broken)
    assert not broken.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_parameter_errors():
    with pytest.raises(ValueError, match="'effect' parameter"):
        tp.make_synthetic_cohort(8, effect="huge")
    with pytest.raises(ValueError, match="at least 4"):
        tp.make_synthetic_cohort(2)


def test_rest_runs_are_4d_with_repetition_time():
    cohort = tp.make_synthetic_cohort(
        10, grid="fsl6", rest=True, rest_grid="fsl6", n_timepoints=30, random_state=0
    )
    img = cohort.X["rest"].iloc[0]
    assert img.shape == (31, 37, 31, 30)
    assert img.header.get_zooms()[3] == pytest.approx(2.0)


def test_population_prevalence_matches_the_generated_patients():
    from txpredict.datasets._synthetic import population_prevalence

    assert population_prevalence("none") == 0.5
    cohort = tp.make_synthetic_cohort(
        300, effect="interaction", grid="fsl6", random_state=4
    )
    truth = cohort.ground_truth
    received = cohort.X["treatment"].to_numpy()
    p = np.where(
        received == "CBT", truth["p_response_CBT"], truth["p_response_SSRI+CBT"]
    )
    # 300 patients' mean response probability: SE about 0.01.
    assert abs(population_prevalence("interaction") - p.mean()) < 0.04
