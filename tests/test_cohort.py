import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

import txpredict as tp
from txpredict.errors import (
    CohortError,
    DimensionError,
    GridMismatchError,
    ImageError,
    TxpredictError,
)

from .conftest import write_nifti


def copy_cohort(src, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(src, dst)
    return dst


def edit_participants(root, edit):
    table = pd.read_csv(
        root / "participants.tsv", sep="\t", dtype={"participant_id": str}
    )
    table = edit(table)
    table.to_csv(root / "participants.tsv", sep="\t", index=False)


def image_path(root, pid):
    return root / pid / "func" / f"{pid}_task-faces_stat-effect_statmap.nii.gz"


def test_round_trip_reads_back_what_was_written(small_cohort_dir):
    cohort = tp.load_cohort(small_cohort_dir)
    table = pd.read_csv(small_cohort_dir / "participants.tsv", sep="\t")
    assert cohort.n_subjects == 24
    assert cohort.X.index.name == "participant_id"
    assert list(cohort.X.index) == list(table["participant_id"])
    np.testing.assert_array_equal(cohort.y.to_numpy(), table["responder"].to_numpy())
    assert "responder" not in cohort.X.columns
    assert cohort.arms == ("CBT", "SSRI+CBT")
    assert set(cohort.treatment) == {"CBT", "SSRI+CBT"}
    assert cohort.ground_truth is not None
    assert list(cohort.ground_truth.index) == list(cohort.X.index)
    assert cohort.info["effect"] == "interaction"
    assert all(str(p).endswith(".nii.gz") for p in cohort.X["image"])


def test_bids_subject_placeholder(small_cohort_dir):
    pattern = "sub-{subject}/func/sub-{subject}_task-faces_stat-effect_statmap.nii.gz"
    cohort = tp.load_cohort(small_cohort_dir, pattern)
    assert (
        cohort.X["image"]
        .iloc[0]
        .endswith("sub-01_task-faces_stat-effect_statmap.nii.gz")
    )


def test_unknown_placeholder(small_cohort_dir):
    with pytest.raises(CohortError, match="unknown placeholder"):
        tp.load_cohort(small_cohort_dir, "{sub}/x.nii.gz")


def test_missing_image_names_subject_and_path(small_cohort_dir, tmp_path):
    root = copy_cohort(small_cohort_dir, tmp_path)
    image_path(root, "sub-03").unlink()
    with pytest.raises(
        CohortError, match=r"sub-03: .*sub-03_task-faces.*image_pattern"
    ):
        tp.load_cohort(root)


def test_unreadable_image_names_subject(small_cohort_dir, tmp_path):
    root = copy_cohort(small_cohort_dir, tmp_path)
    image_path(root, "sub-05").write_bytes(b"this is not a nifti file")
    with pytest.raises(ImageError, match="Cannot read the image of subject .sub-05"):
        tp.load_cohort(root)


def test_truncated_image_is_caught_at_extraction(small_cohort_dir, tmp_path):
    root = copy_cohort(small_cohort_dir, tmp_path)
    path = image_path(root, "sub-07")
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])  # header intact, voxels cut off
    cohort = tp.load_cohort(root)  # headers only: passes
    with pytest.raises(ImageError, match=r"sub-07.*truncated or corrupt"):
        tp.RoiFeatures(verbose=0).fit_transform(cohort.X)


def test_image_not_3d_or_4d(small_cohort_dir, tmp_path):
    root = copy_cohort(small_cohort_dir, tmp_path)
    img = nib.load(image_path(root, "sub-02"))
    write_nifti(image_path(root, "sub-02"), np.zeros(img.shape[:2]), img.affine)
    with pytest.raises(DimensionError, match=r"sub-02.*2D.*expected 3D or 4D"):
        tp.load_cohort(root)


def test_images_on_different_grids_are_refused(small_cohort_dir, tmp_path):
    root = copy_cohort(small_cohort_dir, tmp_path)
    img = nib.load(image_path(root, "sub-04"))
    write_nifti(image_path(root, "sub-04"), np.zeros((10, 11, 12)), img.affine)
    with pytest.raises(GridMismatchError, match=r"sub-04.*resample_to_img"):
        tp.load_cohort(root)


def test_duplicate_participant_id(small_cohort_dir, tmp_path):
    root = copy_cohort(small_cohort_dir, tmp_path)
    edit_participants(root, lambda t: pd.concat([t, t.iloc[[2]]]))
    with pytest.raises(CohortError, match=r"unique.*sub-03"):
        tp.load_cohort(root)


def test_missing_outcome_column(small_cohort_dir, tmp_path):
    root = copy_cohort(small_cohort_dir, tmp_path)
    edit_participants(root, lambda t: t.drop(columns="responder"))
    with pytest.raises(
        CohortError, match=r"outcome column 'responder'.*SymptomReduction"
    ):
        tp.load_cohort(root)


def test_outcome_not_binary(small_cohort_dir, tmp_path):
    root = copy_cohort(small_cohort_dir, tmp_path)

    def edit(t):
        t.loc[t.participant_id == "sub-06", "responder"] = 2
        return t

    edit_participants(root, edit)
    with pytest.raises(CohortError, match=r"binary.*'sub-06': 2"):
        tp.load_cohort(root)


def test_missing_outcome_value_names_subject(small_cohort_dir, tmp_path):
    root = copy_cohort(small_cohort_dir, tmp_path)

    def edit(t):
        t["responder"] = t["responder"].astype(object)
        t.loc[t.participant_id == "sub-09", "responder"] = "n/a"
        return t

    edit_participants(root, edit)
    with pytest.raises(CohortError, match=r"missing for 1 participant.*sub-09"):
        tp.load_cohort(root)


def test_arm_not_declared(small_cohort_dir, tmp_path):
    root = copy_cohort(small_cohort_dir, tmp_path)

    def edit(t):
        t.loc[t.participant_id == "sub-10", "treatment"] = "placebo"
        return t

    edit_participants(root, edit)
    with pytest.raises(
        CohortError, match=r"not among the declared arms.*sub-10.*placebo"
    ):
        tp.load_cohort(root)  # arms come from participants.json "Levels"


def test_fewer_than_two_per_class(small_cohort_dir, tmp_path):
    root = copy_cohort(small_cohort_dir, tmp_path)

    def edit(t):
        t["responder"] = 0
        t.loc[0, "responder"] = 1
        return t

    edit_participants(root, edit)
    with pytest.raises(CohortError, match="1 responders.*at least 2"):
        tp.load_cohort(root)


def test_missing_treatment_for_a_subject(small_cohort_dir, tmp_path):
    root = copy_cohort(small_cohort_dir, tmp_path)

    def edit(t):
        t.loc[t.participant_id == "sub-11", "treatment"] = np.nan
        return t

    edit_participants(root, edit)
    with pytest.raises(CohortError, match=r"missing for participant.*sub-11"):
        tp.load_cohort(root)


def test_single_arm_study_without_treatment_column(small_cohort_dir, tmp_path):
    root = copy_cohort(small_cohort_dir, tmp_path)
    edit_participants(root, lambda t: t.drop(columns="treatment"))
    cohort = tp.load_cohort(root)
    assert cohort.treatment is None and cohort.arms is None


def test_symptom_reduction_rule_and_no_leak_of_post_scores(small_cohort_dir, tmp_path):
    root = copy_cohort(small_cohort_dir, tmp_path)

    def edit(t):
        t = t.drop(columns="responder")
        t["pre"] = 60.0
        t["post"] = np.where(np.arange(len(t)) % 3 == 0, 20.0, 45.0)  # 67% vs 25%
        t.loc[1, "post"] = 30.0  # exactly 50%: a responder
        return t

    edit_participants(root, edit)
    cohort = tp.load_cohort(root, outcome=tp.SymptomReduction("pre", "post"))
    expected = (np.arange(24) % 3 == 0).astype(int)
    expected[1] = 1
    np.testing.assert_array_equal(cohort.y.to_numpy(), expected)
    assert "post" not in cohort.X.columns  # post-treatment scores would leak
    assert "pre" in cohort.X.columns
    assert "50% symptom reduction" in cohort.outcome_rule


def test_symptom_reduction_missing_column():
    with pytest.raises(CohortError, match="'post'"):
        tp.SymptomReduction("pre", "post")(pd.DataFrame({"pre": [1.0]}))


def test_no_participants_tsv(tmp_path):
    with pytest.raises(CohortError, match="No participants.tsv"):
        tp.load_cohort(tmp_path)


def test_cohort_from_dataframe_validates_too():
    table = pd.DataFrame(
        {
            "participant_id": ["a", "b", "c", "d"],
            "responder": [1, 0, 1, 0],
            "treatment": ["x", "y", "x", "y"],
        }
    )
    cohort = tp.Cohort(table)
    assert cohort.arms == ("x", "y")
    with pytest.raises(CohortError, match="declared arms"):
        tp.Cohort(table, arms=("x",))


def test_generator_parameters_are_read_back(small_cohort_dir):
    meta = json.loads((small_cohort_dir / "dataset_description.json").read_text())
    assert meta["GeneratedBy"][0]["Name"] == "txpredict"
    cohort = tp.load_cohort(small_cohort_dir)
    assert cohort.info["coefficients"]["b_interaction"] == 1.5
    assert 0.5 < cohort.info["bayes_balanced_accuracy"] < 1.0


def test_subset_keeps_rows_and_ground_truth_aligned(small_cohort):
    ids = list(small_cohort.X.index[:12][::-1])  # both classes, reordered
    part = small_cohort.subset(ids)
    assert list(part.X.index) == ids and list(part.ground_truth.index) == ids
    assert part.y.tolist() == small_cohort.y.loc[ids].tolist()
    assert part.arms == small_cohort.arms


def test_missing_images_can_be_dropped_with_a_warning(tmp_path):
    folder = tmp_path / "study"
    tp.make_synthetic_cohort(16, grid="fsl6", random_state=0, out_dir=folder)
    victim = next(folder.glob("sub-03/func/*.nii.gz"))
    victim.unlink()
    with pytest.raises(CohortError, match=r"sub-03.*missing_images='drop'"):
        tp.load_cohort(folder)
    with pytest.warns(
        UserWarning, match=r"1 participant\(s\) without an image.*sub-03"
    ):
        cohort = tp.load_cohort(folder, missing_images="drop")
    assert "sub-03" not in cohort.X.index and len(cohort) == 15
    assert cohort.info["dropped_missing_images"] == ["sub-03"]
    assert cohort.ground_truth.index.equals(cohort.X.index)


def test_image_paths_are_absolute_and_survive_a_change_of_directory(
    tmp_path, monkeypatch
):
    tp.make_synthetic_cohort(12, grid="fsl6", random_state=0, out_dir=tmp_path / "s")
    monkeypatch.chdir(tmp_path)
    cohort = tp.load_cohort("s")  # a relative folder
    assert all(Path(p).is_absolute() for p in cohort.X["image"])
    monkeypatch.chdir(tmp_path.parent)
    features = tp.RoiFeatures(verbose=0).fit_transform(cohort.X)
    assert features.shape == (12, 9)


def test_comma_separated_participants_file_is_named(small_cohort_dir, tmp_path):
    root = copy_cohort(small_cohort_dir, tmp_path)
    table = pd.read_csv(root / "participants.tsv", sep="\t")
    table.to_csv(root / "participants.tsv", index=False)  # a CSV under a .tsv name
    with pytest.raises(CohortError, match="looks comma-separated.*tab-separated"):
        tp.load_cohort(root)


def test_sex_spelt_two_ways_is_refused_and_a_misspelt_arm_flagged(
    small_cohort_dir, tmp_path
):
    root = copy_cohort(small_cohort_dir, tmp_path)
    (root / "participants.json").unlink()  # no declared Levels

    def edit(t):
        t.loc[0, "sex"] = t.loc[0, "sex"].lower()
        t.loc[1, "treatment"] = "SSRI"
        return t

    edit_participants(root, edit)
    # One sex in two spellings would be two categories of the baseline.
    with pytest.raises(CohortError, match=r"Column 'sex' .* one sex in 2 ways"):
        tp.load_cohort(root)
    edit_participants(root, lambda t: t.assign(sex=t["sex"].str.upper()))
    with pytest.warns(UserWarning) as notes:
        cohort = tp.load_cohort(root)
    text = " ".join(str(n.message) for n in notes)
    assert "has 3 arms" in text and "'SSRI': 1" in text
    assert cohort.n_subjects == 24  # warned, not refused: the user decides


def test_arm_column_under_another_name_is_pointed_out(small_cohort_dir, tmp_path):
    root = copy_cohort(small_cohort_dir, tmp_path)
    edit_participants(root, lambda t: t.rename(columns={"treatment": "group"}))
    with pytest.warns(UserWarning, match=r"No 'treatment' column.*treatment='group'"):
        cohort = tp.load_cohort(root)
    assert cohort.treatment is None
    assert tp.load_cohort(root, treatment="group").arms == ("CBT", "SSRI+CBT")


def test_derived_outcome_errors_name_the_score_columns(small_cohort_dir, tmp_path):
    root = copy_cohort(small_cohort_dir, tmp_path)

    def edit(t):
        t = t.drop(columns="responder")
        t["lsas_pre"] = 60.0
        t["lsas_post"] = np.where(np.arange(len(t)) % 2 == 0, 20.0, 45.0)
        t.loc[3, "lsas_post"] = np.nan
        return t

    edit_participants(root, edit)
    rule = tp.SymptomReduction("lsas_pre", "lsas_post")
    with pytest.raises(CohortError, match=r"sub-04.*'lsas_pre' and 'lsas_post'"):
        tp.load_cohort(root, outcome=rule)


def test_a_ground_truth_that_no_longer_matches_the_table_is_ignored(tmp_path):
    """A synthetic cohort whose arms were renamed in participants.tsv kept its old
    ground_truth.tsv: the modality run crashed at its end (KeyError
    'p_response_CBT') after all its permutations."""
    folder = tmp_path / "study"
    tp.make_synthetic_cohort(40, grid="fsl6", random_state=0, out_dir=folder)
    table = pd.read_csv(folder / "participants.tsv", sep="\t")
    table["treatment"] = table["treatment"].map({"CBT": "A", "SSRI+CBT": "B"})
    table.to_csv(folder / "participants.tsv", sep="\t", index=False)
    (folder / "participants.json").unlink()  # its Levels name the old arms
    with pytest.warns(UserWarning, match=r"ground_truth.tsv.*lacks \['p_response_A'"):
        cohort = tp.load_cohort(folder)
    assert cohort.ground_truth is None
    with pytest.raises(TxpredictError, match="lacks the column"):
        tp.evaluate_selection(
            tp.ModalitySelector("roi", param_grid={"C": [1.0]}, inner_cv=2),
            cohort.X,
            cohort.y,
            outer_cv=2,
            truth=tp.make_synthetic_cohort(
                40, grid="fsl6", random_state=0
            ).ground_truth,
        )
