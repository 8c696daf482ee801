"""Preregistered plans: made blind, checked by the run, deviations reported."""

import json
import shutil

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from txpredict.cli import main
from txpredict.errors import TxpredictError
from txpredict.persistence import load_model
from txpredict.run import check_plan, make_plan, read_config
from txpredict.run._plan import plan_digest

PATTERN = "derivatives/spm/{participant_id}/con_0001.nii"
CONFIG = f"""
[data]
dataset = "study"
image_pattern = "{PATTERN}"
outcome = {{pre = "lsas_pre", post = "lsas_post"}}
treatment = "group"

[model]
features = "roi"
param_grid = {{C = [0.1, 1.0]}}

[cv]
outer_cv = 3
inner_cv = 3
n_repeats = 1
n_permutations = 0
added_value_permutations = 0

[output]
folder = "results"
"""


@pytest.fixture
def study(tmp_path, spm_study_dir):
    """A copy of the SPM-layout study (the tests edit it) and its configuration."""
    shutil.copytree(spm_study_dir, tmp_path / "study")
    config = tmp_path / "analysis.toml"
    config.write_text(CONFIG)
    return config


def edit_table(config, change):
    path = config.parent / "study" / "participants.tsv"
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    change(table).to_csv(path, sep="\t", index=False)


def test_a_plan_made_before_the_outcomes_exist_then_run(study):
    original = (study.parent / "study" / "participants.tsv").read_text()
    edit_table(study, lambda t: t.drop(columns="lsas_post"))
    plan_file = study.parent / "plan.json"
    assert main(["plan", str(study), "--out", str(plan_file)]) == 0
    plan = json.loads(plan_file.read_text())
    assert plan["data"]["outcome_when_planned"] == "absent"
    assert "lsas_post" in plan["data"]["blinded"]
    assert "lsas_post" not in plan["data"]["columns"]
    assert (study.parent / "plan.md").read_text().count(plan["sha256"]) == 1
    # Unblinded: the post scores are in; the run is still the plan.
    (study.parent / "study" / "participants.tsv").write_text(original)
    assert main(["run", str(study), "--plan", str(plan_file)]) == 0
    results = study.parent / "results"
    assert (results / "plan.json").read_bytes() == plan_file.read_bytes()
    checks = pd.read_csv(results / "leakage_checks.csv", index_col="name")
    assert checks.loc["preregistered plan", "status"] == "ok"
    assert plan["sha256"] in (results / "report.html").read_text()
    checklist = pd.read_csv(results / "tripod_ai.csv", index_col="item")
    assert checklist.loc["18c", "filled_by"] == "txpredict"
    assert plan["sha256"] in checklist.loc["18c", "text"]
    # The baseline the plan fixed is the one the run derived and used.
    model, _ = load_model(results / "model.skops")
    planned = plan["configuration"]["learner"]["parameters"]["demographic_columns"]
    assert (
        list(model.demographic_columns)
        == planned
        == [
            "age",
            "gender",
            "scanner",
            "lsas_pre",
        ]
    )


def test_outcomes_and_post_treatment_columns_are_not_fingerprinted(study):
    config = read_config(study)
    plan = make_plan(config)
    assert plan["data"]["outcome_when_planned"] == "present"
    original = (study.parent / "study" / "participants.tsv").read_text()

    def empty(table):
        table["lsas_post"] = "n/a"  # the column is there, not filled in yet
        return table

    edit_table(study, empty)
    blind = make_plan(read_config(study))
    assert blind["data"]["outcome_when_planned"] == "empty"
    assert blind["data"]["rows_sha256"] == plan["data"]["rows_sha256"]
    (study.parent / "study" / "participants.tsv").write_text(original)

    def unblind(table):
        table["lsas_post"] = "1"  # every outcome changed
        table["lsas_week12"] = "2"  # its name says after treatment
        return table

    edit_table(study, unblind)
    check = check_plan(plan, read_config(study))
    assert check.status == "ok" and not check.items
    assert (
        make_plan(read_config(study))["data"]["rows_sha256"]
        == (plan["data"]["rows_sha256"])
    )


def test_baseline_values_images_and_columns_that_changed_are_named(study):
    plan = make_plan(read_config(study))

    def change(table):
        table.loc[table["participant_id"] == "sub-03", "age"] = "99"
        table["handedness"] = "R"
        return table

    edit_table(study, change)
    image = study.parent / "study" / PATTERN.format(participant_id="sub-05")
    img = nib.load(image)
    data = np.asarray(img.dataobj).copy()
    data.flat[0] += 1.0
    nib.Nifti1Image(data, img.affine).to_filename(image)
    with pytest.raises(TxpredictError) as caught:
        check_plan(plan, read_config(study))
    message = str(caught.value)
    assert "baseline values differ from the plan" in message and "sub-03" in message
    assert "'image' image file(s) differ" in message and "sub-05" in message
    assert "['handedness']" in message and "--deviation" in message


def test_a_different_software_version_is_refused_unless_explained(study):
    plan = make_plan(read_config(study))
    plan["software"]["scikit-learn"] = "0.24.2"
    plan["sha256"] = plan_digest(plan)  # a valid plan made with another version
    with pytest.raises(TxpredictError, match="scikit-learn 0.24.2 in the plan"):
        check_plan(plan, read_config(study))
    check = check_plan(plan, read_config(study), ["a security update"])
    assert check.status == "declared"
    assert check.items[0].startswith("scikit-learn 0.24.2 in the plan")
    assert check.items[-1] == "reason given: a security update"


def test_a_tampered_plan_is_refused_and_nothing_is_written(study, capsys):
    plan_file = study.parent / "plan.json"
    assert main(["plan", str(study), "--out", str(plan_file)]) == 0
    plan = json.loads(plan_file.read_text())
    plan["configuration"]["cv"]["n_repeats"] = 50
    plan_file.write_text(json.dumps(plan))
    capsys.readouterr()
    assert main(["run", str(study), "--plan", str(plan_file)]) == 2
    assert "changed after it was made" in capsys.readouterr().err
    assert not (study.parent / "results").exists()


def test_a_plan_of_another_dataset_is_refused(study, small_cohort_dir, tmp_path):
    plan = make_plan(read_config(study))
    other = tmp_path / "other.toml"
    other.write_text(
        CONFIG.replace('dataset = "study"', f'dataset = "{small_cohort_dir}"')
        .replace(
            PATTERN,
            "{participant_id}/func/{participant_id}_task-faces_"
            "stat-effect_statmap.nii.gz",
        )
        .replace('outcome = {pre = "lsas_pre", post = "lsas_post"}', "")
        .replace('treatment = "group"', "")
    )
    with pytest.raises(TxpredictError, match="fingerprints another dataset"):
        check_plan(plan, read_config(other))


def test_a_deviation_is_listed_in_the_report(study, capsys):
    plan_file = study.parent / "plan.json"
    assert main(["plan", str(study), "--out", str(plan_file)]) == 0
    study.write_text(CONFIG.replace("C = [0.1, 1.0]", "C = [0.1, 1.0, 10.0]"))
    capsys.readouterr()
    assert main(["run", str(study), "--plan", str(plan_file)]) == 2
    err = capsys.readouterr().err
    assert "param_grid.C: [0.1, 1.0] in the plan, [0.1, 1.0, 10.0] now" in err
    assert "tuning_grid" not in err  # one change, said once
    why = "the pilot's tuning hit the grid's edge"
    argv = ["run", str(study), "--plan", str(plan_file), "--deviation", why]
    assert main(argv) == 0
    report = (study.parent / "results" / "report.html").read_text()
    listed = report[report.index('id="plan"') :].split("</ul>")[0]
    assert "[0.1, 1.0, 10.0] now" in listed and "the pilot&#39;s tuning" in listed
    checks = pd.read_csv(study.parent / "results" / "leakage_checks.csv")
    assert (checks["name"] == "preregistered plan").sum() == 1
    # A deviation is no leakage check handled as declared.
    assert "Leakage checks: none of the 3 run found a problem." in report


def test_the_cli_keeps_a_plan_and_wants_a_plan_for_a_deviation(study, capsys):
    plan_file = study.parent / "plan.json"
    assert main(["plan", str(study), "--out", str(plan_file)]) == 0
    deposited = plan_file.read_bytes()
    assert main(["plan", str(study), "--out", str(plan_file)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert plan_file.read_bytes() == deposited
    assert main(["run", str(study), "--deviation", "why"]) == 2
    assert "give both" in capsys.readouterr().err


def test_every_task_has_a_plan_with_its_learner(study):
    study.write_text(CONFIG.replace("[data]", 'task = "modality"\n\n[data]'))
    modality = make_plan(read_config(study))["configuration"]
    assert modality["learner"]["class"] == "ModalitySelector"
    assert modality["learner"]["tuning_grid"] == {"C": [0.1, 1.0]}
    assert modality["primary_metric"] == "policy_gain"
    regression = (
        CONFIG.replace("[data]", 'task = "regression"\n\n[data]')
        .replace("param_grid = {C = [0.1, 1.0]}", "threshold = 40")
        .replace("outcome = {pre", 'outcome = {scale = "percent", pre')
    )
    study.write_text(regression)
    configuration = make_plan(read_config(study))["configuration"]
    assert configuration["learner"]["class"] == "ResponseRegressor"
    assert list(configuration["learner"]["tuning_grid"]) == ["alpha"]  # the default
    assert configuration["model"] == {"threshold": 40}
    assert configuration["primary_metric"] == "r"


def test_the_plan_writes_out_the_default_rois_and_fingerprints_a_mask(study):
    image = study.parent / "study" / PATTERN.format(participant_id="sub-01")
    reference = nib.load(image)
    mask = study.parent / "mask.nii.gz"
    ones = np.ones(reference.shape[:3], dtype=np.uint8)
    nib.Nifti1Image(ones, reference.affine).to_filename(mask)
    study.write_text(CONFIG + '\n[features]\nmask = "mask.nii.gz"\n')
    plan = make_plan(read_config(study))
    extractor = plan["configuration"]["extractor"]["parameters"]
    assert extractor["rois"][1] == {
        "name": "dACC_R",
        "center": [5.0, 19.0, 24.0],
        "radius": 8.0,
    }
    ones[0, 0, 0] = 0  # the mask edited after the plan
    nib.Nifti1Image(ones, reference.affine).to_filename(mask)
    with pytest.raises(TxpredictError, match="extractor.parameters.mask_sha256"):
        check_plan(plan, read_config(study))
