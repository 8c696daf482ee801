import json
import os
import shutil
import subprocess

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

import txpredict as tp
from txpredict._io import MANIFEST, written_by_txpredict
from txpredict.cli import main
from txpredict.errors import TxpredictError
from txpredict.persistence import load_model
from txpredict.run import MAP_FILES, read_config, run_analysis
from txpredict.stats import detectable_auc_gain

PATTERN = "{participant_id}/func/{participant_id}_task-faces_stat-effect_statmap.nii.gz"


def write_config(tmp_path, dataset, folder="results", extra=""):
    config = tmp_path / "analysis.toml"
    config.write_text(f"""
[data]
dataset = "{dataset}"
image_pattern = "{PATTERN}"

[model]
features = "roi"
classifier = "logistic"
param_grid = {{C = [0.1, 1.0]}}

[cv]
outer_cv = 3
inner_cv = 3
n_repeats = 2
random_state = 1
n_permutations = 19
added_value_permutations = 19

[output]
folder = "{folder}"
{extra}
""")
    return config


@pytest.fixture(scope="module")
def analysis(tmp_path_factory, small_cohort_dir):
    tmp = tmp_path_factory.mktemp("run")
    config = write_config(tmp, small_cohort_dir)
    assert main(["run", str(config)]) == 0
    return tmp / "results"


def test_run_writes_every_output(analysis):
    names = {p.name for p in analysis.iterdir()} - {MANIFEST}
    assert (
        names
        == written_by_txpredict(analysis)
        == {
            "summary.csv",
            "predictions.csv",
            "folds.csv",
            "calibration.csv",
            "decision_curve.csv",
            "fold_weights.csv",
            "result.json",
            "summaries.csv",
            "comparison.csv",
            "model.skops",
            "report.html",
            "config.toml",
            "leakage_checks.csv",
            "tripod_ai.csv",
            "tripod_ai.md",
        }  # an ROI model: its fold weights, no maps
    )
    predictions = pd.read_csv(analysis / "predictions.csv")
    assert len(predictions) == 24 * 2
    comparison = pd.read_csv(analysis / "comparison.csv", index_col=[0, 1])
    assert ("model vs demographics only", "auc") in comparison.index
    assert ("model + demographics vs demographics only", "auc") in comparison.index
    # Whether the scan adds to demographics: the permutation test of the scan
    # given the demographic columns, at most 19 permutations (p >= 1/20).
    added = comparison.loc[("model + demographics vs demographics only", "auc")]
    assert 1 / 20 <= added["permutation_p_value"] <= 1
    assert pd.isna(
        comparison.loc[("model vs demographics only", "auc")].get("permutation_p_value")
    )
    summary = pd.read_csv(analysis / "summary.csv", index_col=0)
    result = tp.NestedCVResult.load(analysis / "result.json")
    assert summary.at["auc", "estimate"] == pytest.approx(
        result.summary().at["auc", "estimate"]
    )
    calibration = pd.read_csv(analysis / "calibration.csv", index_col=0)
    assert calibration.at["mean_predicted", "estimate"] == pytest.approx(
        result.calibration().at["mean_predicted", "estimate"]
    )
    curve = pd.read_csv(analysis / "decision_curve.csv", index_col=0)
    assert curve.index[0] == pytest.approx(0.05) and "net_benefit" in curve
    assert read_config(analysis / "config.toml")["cv"]["n_repeats"] == 2
    assert not [p for p in analysis.parent.iterdir() if p.name.startswith(".")]


def test_report_content(analysis):
    html = (analysis / "report.html").read_text()
    for needed in (
        "Performance on the next patient",
        "Does the scan add anything",
        "dummy_prior",
        "data:image/png;base64,",
        "dACC_R",
        "design effect",
        "measured coverage",
        "measured false-positive rate",
        "Probabilities of response: calibration and decision curve",
        'alt="Calibration plot"',
        'alt="Decision curve"',
        "net_benefit",
    ):
        assert needed in html
    # the measured coverage of each shipped interval is printed beside it
    from txpredict.stats._calibration import coverage_note

    assert coverage_note("auc") in html
    # Under the added-value permutation test, what it could have detected at
    # this n (24 patients: below the measured sizes, so extrapolated).
    detectable = detectable_auc_gain(24).sentence()
    assert html.count(detectable) == 1 and "extrapolated" in detectable
    assert html.count("<img") >= 5
    # The answer first, in sentences with the run's own numbers; then the
    # figures; the tables after.
    assert html.index("In short") < html.index("<img") < html.index("<table")
    summary = pd.read_csv(analysis / "summary.csv", index_col=0)
    ba = summary.loc["balanced_accuracy"]
    assert (
        f"On the next patient like these 24, the model is expected to reach a "
        f"balanced accuracy of {ba['estimate']:.2f} (95% interval "
        f"{ba['ci_low']:.2f} to {ba['ci_high']:.2f}"
    ) in html
    assert "Does the scan add to demographics? Model + demographics" in html
    assert html.index("Leakage checks: ") < html.index("At a glance")
    assert "http://" not in html and "https://" not in html  # self-contained, offline


def test_report_renders_in_headless_chromium(analysis, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: .ci/run should install it")
        pytest.skip(
            "THE REPORT WAS NOT CHECKED IN A BROWSER: chromium is not installed. "
            "Install Debian's package (apt-get install chromium) to run this check; "
            "CI installs it."
        )
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
    ]
    url = (analysis / "report.html").as_uri()
    dom = subprocess.run(
        [browser, *flags, "--window-size=1100,2000", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert 'data-figures="ok"' in dom.stdout  # every figure decoded
    assert 'data-fits="ok"' in dom.stdout  # no table wider than the page
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert console == []
    shot = tmp_path / "report.png"
    subprocess.run(
        [browser, *flags, "--window-size=1100,2000", f"--screenshot={shot}", url],
        capture_output=True,
        timeout=120,
    )
    assert shot.stat().st_size > 50_000  # a page with figures, not a blank one


def test_existing_folder_is_never_overwritten(tmp_path, small_cohort_dir, capsys):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "keep.txt").write_text("precious")
    config = write_config(tmp_path, small_cohort_dir)
    assert main(["run", str(config)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (tmp_path / "results" / "keep.txt").read_text() == "precious"


def test_overwrite_keeps_the_users_own_files(analysis, tmp_path, small_cohort_dir):
    """The data-loss bug: overwrite = true deleted a user's file in the folder."""
    folder = tmp_path / "results"
    shutil.copytree(analysis, folder)
    (folder / "notes.txt").write_text("my own notes")
    (folder / "summary.csv").write_text("stale")
    config = write_config(tmp_path, small_cohort_dir, extra="overwrite = true")
    messages = []
    run_analysis(read_config(config), progress=messages.append)
    assert (folder / "notes.txt").read_text() == "my own notes"
    assert (folder / "summary.csv").read_text() != "stale"
    assert any(
        "replaced 15 file(s)" in m and "kept 1 it did not write (notes.txt)" in m
        for m in messages
    )


def test_a_users_file_named_like_an_output_is_refused_before_any_work(
    tmp_path, small_cohort_dir, capsys
):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "report.html").write_text("the user's own page")
    config = write_config(tmp_path, small_cohort_dir, extra="overwrite = true")
    assert main(["run", str(config)]) == 2
    err = capsys.readouterr()
    assert "['report.html']" in err.err and "never replaces" in err.err
    assert "Loaded" not in err.out  # refused before reading the cohort
    assert (tmp_path / "results" / "report.html").read_text() == "the user's own page"


def test_config_errors_are_explained(tmp_path, small_cohort_dir):
    config = write_config(tmp_path, small_cohort_dir, extra="colour = 'blue'")
    with pytest.raises(
        TxpredictError, match=r"unknown key\(s\) \['colour'\] in \[output\]"
    ):
        read_config(config)
    (tmp_path / "bad.toml").write_text("[data\n")
    with pytest.raises(TxpredictError, match="invalid TOML"):
        read_config(tmp_path / "bad.toml")
    with pytest.raises(TxpredictError, match="No configuration file"):
        read_config(tmp_path / "missing.toml")
    for (line, changed), message in {
        (
            "added_value_permutations = 19",
            "added_value_permutations = -5",
        ): r"\[cv\] added_value_permutations must",
        (
            'classifier = "logistic"',
            'classifier = "logistic"\ncalibration = "platt"',
        ): r"\[model\] calibration must be one of",
    }.items():
        config = write_config(tmp_path, small_cohort_dir)
        config.write_text(config.read_text().replace(line, changed))
        with pytest.raises(TxpredictError, match=message):
            read_config(config)


def test_predict_from_a_saved_model(analysis, small_cohort_dir, capsys, tmp_path):
    images = sorted(small_cohort_dir.glob("sub-0[1-3]/func/*.nii.gz"))
    csv = tmp_path / "predictions.csv"
    argv = ["predict", str(analysis / "model.skops"), *map(str, images)]
    assert main([*argv, "--out", str(csv)]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "p_response" in out and "sub-01 " in out
    # The run's own nested CV decides whether predict warns (24 patients).
    cv = tp.NestedCVResult.load(analysis / "result.json").summary()
    at_chance = cv.at["balanced_accuracy", "ci_low"] <= 0.5
    assert ("includes chance (0.5)" in captured.err) == at_chance
    # These three are training patients: their predictions are not out of sample.
    assert "3 image(s) are scans the model was trained on" in captured.err
    assert "sub-01 and sub-01 (identical)" in captured.err
    written = pd.read_csv(csv, index_col="participant_id")
    assert list(written.index) == ["sub-01", "sub-02", "sub-03"]
    # A file already there is not replaced (once, the user's own table was).
    csv.write_text("my own notes")
    assert main([*argv, "--out", str(csv)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert csv.read_text() == "my own notes"
    assert main([*argv, "--out", str(csv), "--overwrite"]) == 0
    assert "p_response" in csv.read_text()
    model, _ = tp.load_model(analysis / "model.skops")
    assert model.inner_cv == 3  # the configured inner CV, as in the nested runs
    X = pd.DataFrame({"image": [str(p) for p in images]})
    probabilities = model.predict_proba(X)[:, 1]
    printed = [float(line.split()[1]) for line in out.splitlines()[2:5]]
    np.testing.assert_allclose(printed, probabilities, atol=1e-3)
    np.testing.assert_allclose(written["p_response"], probabilities)


def test_predict_labels_spm_layouts_by_subject(tmp_path):
    from txpredict.run import subject_labels

    spm = [tmp_path / f"derivatives/spm/sub-{i:02d}/con_0001.nii" for i in (1, 2)]
    assert subject_labels(spm) == ["sub-01", "sub-02"]
    prep = [tmp_path / f"sub-{s}/func/sub-{s}_desc-z.nii.gz" for s in ("a1", "b2")]
    assert subject_labels(prep) == ["sub-a1", "sub-b2"]
    # No subject in the paths and one file name for all: the distinct paths.
    plain = [tmp_path / "p01/con_0001.nii", tmp_path / "p02/con_0001.nii"]
    assert subject_labels(plain) == ["p01/con_0001.nii", "p02/con_0001.nii"]
    # The same subject twice (two sessions): not a unique label, so the file names.
    twice = [tmp_path / "sub-01/ses-1/a.nii", tmp_path / "sub-01/ses-2/b.nii"]
    assert subject_labels(twice) == ["a.nii", "b.nii"]


def test_result_json_is_plain_json(analysis):
    payload = json.loads((analysis / "result.json").read_text())
    assert payload["format"] == "txpredict.NestedCVResult/1"


def test_modality_task_writes_selection_results_and_report(tmp_path):
    dataset = tmp_path / "study"
    tp.make_synthetic_cohort(80, grid="fsl6", random_state=2, out_dir=dataset)
    config = write_config(tmp_path, dataset, extra="")
    text = config.read_text().replace("[data]", 'task = "modality"\n\n[data]')
    text += '\n[modality]\nstrategy = "interaction"\n'
    config.write_text(text)
    assert main(["run", str(config)]) == 0
    folder = tmp_path / "results"
    names = {p.name for p in folder.iterdir()} - {MANIFEST}
    assert (
        names
        == written_by_txpredict(folder)
        == {
            "selection_summary.csv",
            "selection_predictions.csv",
            "selection_calibration.csv",
            "pai_correlations.csv",
            "selector_coefficients.csv",
            "pai_intervals.csv",
            "selection_comparison.csv",
            "selector.skops",
            "report.html",
            "config.toml",
            "leakage_checks.csv",
            "tripod_ai.csv",
            "tripod_ai.md",
        }
    )
    # Every file it wrote is declared before the run, so that a user's file of
    # that name is refused instead of replaced.
    from txpredict.run import OUTPUTS

    assert names <= set(OUTPUTS["modality"])
    summary = pd.read_csv(folder / "selection_summary.csv", index_col=0)
    assert {"policy_value_ipw", "agreement_with_better_arm", "qini_coefficient"} <= set(
        summary.index
    )
    html = (folder / "report.html").read_text()
    assert "Qini curve" in html and "data:image/png;base64," in html
    # the answer first: the policy gain against the better single arm
    assert html.index("In short") < html.index("Recommending each patient the arm")
    assert html.index("Recommending each patient the arm") < html.index("<table")
    assert "Calibration of each arm" in html and "PAI vs each ROI" in html
    # The TRIPOD+AI checklist of a selection study: its own measures and counts.
    checklist = pd.read_csv(folder / "tripod_ai.csv", index_col="item", dtype=str)
    gain = summary.loc["policy_gain"]
    assert (
        f"policy_gain {gain['estimate']:.3f} (95% CI {gain['ci_low']:.3f} to "
        f"{gain['ci_high']:.3f})" in checklist.at["23a", "text"]
    )
    arms = pd.read_csv(dataset / "participants.tsv", sep="\t")["treatment"]
    assert f"CBT: {(arms == 'CBT').sum()} (" in checklist.at["10", "text"]
    assert checklist.at["22", "text"].startswith("The final model") and (
        "selector.skops" in checklist.at["22", "text"]
    )
    assert "dACC" in checklist.at["9b", "text"]  # the ROIs, defined
    assert "TRIPOD+AI checklist</h2>" in html
    assert 'alt="PAI intervals"' in html
    intervals = pd.read_csv(folder / "pai_intervals.csv", index_col=0)
    assert (intervals["ci_low"] < intervals["ci_high"]).all()
    coefficients = pd.read_csv(folder / "selector_coefficients.csv")
    assert set(coefficients["term"]) == {"prognostic", "SSRI+CBT x feature"}
    correlations = pd.read_csv(folder / "pai_correlations.csv", index_col=0)
    assert correlations.index[0] == "dACC_L_mean" and correlations["mean"].notna().all()
    calibration = pd.read_csv(folder / "selection_calibration.csv", index_col=[0, 1])
    assert set(calibration.index.unique("arm")) == {"CBT", "SSRI+CBT"}
    selector, _ = tp.load_model(folder / "selector.skops")
    assert list(
        selector.predict_response_proba(tp.load_cohort(dataset, PATTERN).X).columns
    ) == ["CBT", "SSRI+CBT"]
    assert read_config(folder / "config.toml")["task"] == "modality"
    # txpredict predict on new images from the saved selector: each arm's
    # probability, the PAI with its interval, the recommendation.
    images = sorted(dataset.glob("sub-*/**/*.nii.gz"))[:3]
    csv = tmp_path / "recommendations.csv"
    assert (
        main(
            [
                "predict",
                str(folder / "selector.skops"),
                *map(str, images),
                "--out",
                str(csv),
            ]
        )
        == 0
    )
    written = pd.read_csv(csv, index_col="participant_id")
    assert list(written.columns) == [
        "p_CBT",
        "p_SSRI+CBT",
        "pai",
        "pai_unshrunk",
        "pai_ci_low",
        "pai_ci_high",
        "favoured",
        "recommended",
    ]
    X = pd.DataFrame({"image": [str(p) for p in images]})
    expected = selector.pai_interval(X)
    np.testing.assert_allclose(written["pai_ci_low"], expected["ci_low"])
    np.testing.assert_allclose(written["pai"], written["p_SSRI+CBT"] - written["p_CBT"])
    assert set(written["favoured"]) <= {"CBT", "SSRI+CBT"}
    # A patient whose PAI interval includes 0 gets no recommendation.
    undecided = (written["pai_ci_low"] <= 0) & (written["pai_ci_high"] >= 0)
    assert (written.loc[undecided, "recommended"] == "no preference").all()
    decided = written[~undecided]
    assert (decided["recommended"] == decided["favoured"]).all()


def test_regression_task_predicts_the_symptom_change(tmp_path, capsys):
    dataset = tmp_path / "study"
    tp.make_synthetic_cohort(60, grid="fsl6", random_state=3, out_dir=dataset)
    table = pd.read_csv(dataset / "participants.tsv", sep="\t")
    truth = pd.read_csv(dataset / "ground_truth.tsv", sep="\t")
    table["lsas_pre"] = table["baseline_severity"]
    table["lsas_post"] = table["lsas_pre"] * (1 - truth["symptom_reduction"] / 100)
    table.to_csv(dataset / "participants.tsv", sep="\t", index=False)
    config = write_config(tmp_path, dataset)
    text = config.read_text().replace("[data]", 'task = "regression"\n\n[data]')
    text = text.replace("[model]\n", "[model]\nthreshold = 50\n").replace(
        "param_grid = {C = [0.1, 1.0]}", "param_grid = {alpha = [1.0, 100.0]}"
    )
    text = text.replace(
        "[data]\n", '[data]\noutcome = {pre = "lsas_pre", post = "lsas_post"}\n'
    )
    text = text.replace('classifier = "logistic"\n', "")
    config.write_text(text)
    # The synthetic table's responder flag is derived from the outcome: the
    # leakage screen refuses to let it into the regression's baseline.
    assert main(["run", str(config)]) == 2
    assert "'responder': its name says 'response'" in capsys.readouterr().err
    text = text.replace("[data]\n", '[data]\npost_treatment = ["responder"]\n')
    config.write_text(text)
    assert main(["run", str(config)]) == 0
    folder = tmp_path / "results"
    summary = pd.read_csv(folder / "summary.csv", index_col=0)
    assert list(summary.index) == ["r", "r_fold_mean", "r2", "mae"]
    # The run ends with the whole summary and comparison, not cut at 80 columns.
    printed = capsys.readouterr().out.split(f"Wrote {folder}")[-1]
    assert "Summary (model):" in printed and "..." not in printed
    assert all(metric in printed for metric in ("r2", "mae", "ci_method", "p_value"))
    responders = pd.read_csv(folder / "responders.csv", index_col=0)
    assert "balanced_accuracy" in responders.index
    html = (folder / "report.html").read_text()
    assert "Predicted vs observed" in html and "change &ge; 50" in html
    assert "TRIPOD+AI checklist</h2>" in html
    # The answer first: r, the error in the outcome's units, the comparison.
    opening = html[html.index("In short") : html.index("<table")]
    mae = summary.loc["mae"]
    assert f"r = {summary.at['r', 'estimate']:.2f}" in opening
    assert f"miss it by {mae['estimate']:.1f} on average" in opening
    assert "Model against demographics" in opening
    checklist = pd.read_csv(folder / "tripod_ai.csv", index_col="item", dtype=str)
    assert (
        f"mae {mae['estimate']:.3f} (95% CI {mae['ci_low']:.3f} to "
        f"{mae['ci_high']:.3f})" in checklist.at["23a", "text"]
    )
    assert "a responder where it reaches 50" in checklist.at["15", "text"]
    assert "60 analysed" in checklist.at["20a", "text"]
    result = tp.RegressionCVResult.load(folder / "result.json")
    assert summary.at["r", "estimate"] == pytest.approx(
        result.summary().at["r", "estimate"]
    )


def test_validate_external_from_the_shell(analysis, tmp_path, capsys):
    new = tmp_path / "new"
    tp.make_synthetic_cohort(
        30, grid="fsl6", site_names=["clinic_b"], random_state=8, out_dir=new
    )
    out = tmp_path / "external.csv"
    argv = ["validate-external", str(analysis / "model.skops"), str(new)]
    argv += ["--image-pattern", PATTERN, "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "balanced_accuracy" in text and "calibration: observed" in text
    assert pd.read_csv(out, index_col=0).shape[0] == 30
    assert main([*argv[:3], "--pre", "x"]) == 2
    assert "--pre and --post go together" in capsys.readouterr().err


def test_ctrl_c_while_writing_leaves_nothing(
    tmp_path, small_cohort_dir, monkeypatch, capsys
):
    config = write_config(tmp_path, small_cohort_dir)
    config.write_text(
        config.read_text().replace("n_permutations = 19", "n_permutations = 0")
    )

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    # Half of the outputs are in the temporary folder when the user presses Ctrl-C.
    monkeypatch.setattr("txpredict.run._steps.save_model", interrupted)
    assert main(["run", str(config)]) == 130
    assert "interrupted; no output was written" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["analysis.toml"]


def test_features_section_reaches_the_extractor(tmp_path, small_cohort_dir, capsys):
    root = tmp_path / "spm_like"
    shutil.copytree(small_cohort_dir, root)
    image = root / "sub-03/func/sub-03_task-faces_stat-effect_statmap.nii.gz"
    img = nib.load(image)
    data = img.get_fdata()
    data[: data.shape[0] // 2] = np.nan  # NaN over half the brain, as SPM masks
    nib.Nifti1Image(data.astype("float32"), img.affine).to_filename(image)
    config = write_config(tmp_path, root)
    text = config.read_text().replace("n_permutations = 19", "n_permutations = 0")
    config.write_text(text)
    assert main(["run", str(config)]) == 2
    assert "sub-03" in capsys.readouterr().err  # refused by default, named
    rois = (
        'rois = [{name = "dACC_R", center = [5, 19, 24], radius = 8}, '
        '{name = "my_cuneus", center = [6, -80, 20]}]'
    )
    config.write_text(text + f'\n[features]\nnonfinite = "ignore"\n{rois}\n')
    assert main(["run", str(config)]) == 0
    model, _ = tp.load_model(tmp_path / "results" / "model.skops")
    assert model.feature_options["nonfinite"] == "ignore"
    assert [r.name for r in model.feature_options["rois"]] == ["dACC_R", "my_cuneus"]
    assert "my_cuneus" in (tmp_path / "results" / "report.html").read_text()
    config.write_text(text + '\n[features]\nrois = [{name = "x"}]\n')
    with pytest.raises(TxpredictError, match=r"\[features\] rois must be"):
        read_config(config)
    other = text.replace('folder = "results"', 'folder = "other"')
    config.write_text(other + "\n[features]\nsmoothing_fwhm = 6\n")
    assert main(["run", str(config)]) == 2
    err = capsys.readouterr().err
    assert "not parameters of RoiFeatures" in err and "smoothing_fwhm" in err
    assert not (tmp_path / "other").exists()


@pytest.mark.parametrize("signal", [False, True])
def test_predict_warns_when_the_model_was_at_chance(tmp_path, signal):
    from txpredict.run import chance_warning

    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {"age": rng.normal(40, 10, 120)},
        index=pd.Index([f"sub-{i:03d}" for i in range(120)], name="participant_id"),
    )
    y = (
        (X["age"] > X["age"].median()).astype(int)
        if signal
        else pd.Series(rng.integers(0, 2, 120), index=X.index)
    )
    model = tp.ResponseClassifier("demographics", demographic_columns=["age"])
    tp.nested_cross_validate(model, X, y, n_repeats=2).save(tmp_path / "result.json")
    warning = chance_warning(tmp_path / "model.skops")
    assert (warning is None) == signal
    if not signal:
        assert "includes chance" in warning and "result.json" in warning
    assert chance_warning(tmp_path / "elsewhere" / "model.skops") is None


def test_columns_the_configuration_names_are_checked_before_any_work(
    tmp_path, small_cohort_dir, capsys
):
    config = write_config(tmp_path, small_cohort_dir)
    text = config.read_text().replace(
        'classifier = "logistic"',
        'classifier = "logistic"\ndemographic_columns = ["age", "lsas_pre"]',
    )
    config.write_text(text.replace("n_permutations = 19", 'groups = "scanner"'))
    assert main(["run", str(config)]) == 2
    captured = capsys.readouterr()
    assert "[model] demographic_columns: ['lsas_pre']" in captured.err
    assert "[cv] groups: ['scanner']" in captured.err
    assert "Nested cross-validation" not in captured.out  # refused before the work
    assert not (tmp_path / "results").exists()


def test_a_mask_outside_the_images_is_refused_before_any_work(
    tmp_path, small_cohort_dir, capsys
):
    """A mask on another grid is resampled once onto the data's; one that
    covers none of the images' voxels is refused after one header is read."""
    mask = tmp_path / "mask.nii.gz"
    far = np.eye(4)
    far[:3, 3] = 5000.0  # mm: nowhere near the brain
    nib.save(nib.Nifti1Image(np.ones((5, 6, 7), np.uint8), far), mask)
    config = write_config(tmp_path, small_cohort_dir)
    text = config.read_text().replace('features = "roi"', 'features = "wholebrain"')
    config.write_text(text + f'\n[features]\nmask = "{mask}"\n')
    assert main(["run", str(config)]) == 2
    captured = capsys.readouterr()
    assert "covers none of the images" in captured.err and str(mask) in captured.err
    assert "Nested cross-validation" not in captured.out


def test_a_voxel_model_writes_its_maps(tmp_path, small_cohort_dir):
    """Weights and pattern of the final model, and the outer-fold models'
    stability maps, as NIfTI on the data grid; an ROI model writes none."""
    config = write_config(tmp_path, small_cohort_dir)
    text = config.read_text().replace('features = "roi"', 'features = "wholebrain"')
    config.write_text(text.replace("n_permutations = 19", "n_permutations = 0"))
    assert main(["run", str(config)]) == 0
    folder = tmp_path / "results"
    final, _ = load_model(folder / "model.skops")
    for name in MAP_FILES:
        image = nib.load(folder / f"{name}.nii.gz")
        assert image.shape == final.coef_img_.shape
        np.testing.assert_allclose(image.affine, final.coef_img_.affine)
    np.testing.assert_allclose(
        nib.load(folder / "pattern.nii.gz").get_fdata(),
        final.pattern_img_.get_fdata(),
    )
    report = (folder / "report.html").read_text()
    assert "pattern maps" in report and 'alt="Pattern maps"' in report
    agreement = nib.load(folder / "fold_pattern_sign_consistency.nii.gz").get_fdata()
    inside = final.extractor_.mask_img_.get_fdata() > 0
    assert agreement[inside].min() >= 0.5 and agreement[~inside].max() == 0


def test_importance_section_writes_the_table_and_the_report_plot(
    tmp_path, small_cohort_dir
):
    extra = (
        "\n[importance]\nn_permutations = 3\n"
        'features = {cuneus = ["cuneus_L_mean", "cuneus_R_mean"], '
        'dACC = ["dACC_L_mean", "dACC_R_mean"]}\n'
    )
    config = write_config(tmp_path, small_cohort_dir, extra=extra)
    text = config.read_text().replace("n_permutations = 19", "n_permutations = 0")
    config.write_text(text)
    assert main(["run", str(config)]) == 0
    folder = tmp_path / "results"
    table = pd.read_csv(folder / "permutation_importance.csv", index_col=0)
    assert list(table.index) == ["cuneus", "dACC"]
    # The same splits and models as the library call.
    cohort = tp.load_cohort(small_cohort_dir, PATTERN)
    expected = tp.permutation_importance(
        tp.ResponseClassifier(
            "roi", param_grid={"C": [0.1, 1.0]}, inner_cv=3, random_state=1
        ),
        cohort.X,
        cohort.y,
        groups_of_features={
            "cuneus": ["cuneus_L_mean", "cuneus_R_mean"],
            "dACC": ["dACC_L_mean", "dACC_R_mean"],
        },
        n_permutations=3,
        outer_cv=3,
        n_repeats=2,
        random_state=1,
    )
    np.testing.assert_allclose(table["auc_drop"], expected["auc_drop"])
    html = (folder / "report.html").read_text()
    assert "permutation importance" in html and 'alt="Permutation importance"' in html


@pytest.mark.parametrize(
    ("model", "importance", "message"),
    [
        ('features = "wholebrain"', "n_permutations = 5", "a column per voxel"),
        ('features = "roi"', "n_permutations = -1", "non-negative integer"),
        ('features = "roi"', 'features = {dACC = "dACC_L_mean"}', "list of feature"),
    ],
)
def test_importance_section_errors_before_any_work(
    tmp_path, small_cohort_dir, model, importance, message
):
    config = write_config(
        tmp_path, small_cohort_dir, extra=f"\n[importance]\n{importance}\n"
    )
    config.write_text(config.read_text().replace('features = "roi"', model))
    with pytest.raises(TxpredictError, match=message):
        read_config(config)


def test_modality_run_on_voxels_writes_the_moderation_maps(tmp_path):
    dataset = tmp_path / "study"
    tp.make_synthetic_cohort(40, grid="fsl6", random_state=3, out_dir=dataset)
    config = write_config(tmp_path, dataset, extra="")
    text = config.read_text().replace("[data]", 'task = "modality"\n\n[data]')
    text = text.replace('features = "roi"', 'features = "wholebrain"')
    text = text.replace("C = [0.1, 1.0]", "C = [0.1]")
    text = text.replace("n_permutations = 19", "n_permutations = 0")
    config.write_text(text.replace("n_repeats = 2", "n_repeats = 1"))
    assert main(["run", str(config)]) == 0
    folder = tmp_path / "results"
    names = {p.name for p in folder.iterdir()}
    assert {"moderation_pattern.nii.gz", "moderation_weights.nii.gz"} <= names
    # Voxel features: no unshrunk per-arm models, so no PAI intervals.
    assert "pai_intervals.csv" not in names
    selector, _ = tp.load_model(folder / "selector.skops")
    written = nib.load(folder / "moderation_pattern.nii.gz")
    np.testing.assert_allclose(
        written.get_fdata(), selector.map_img(kind="pattern").get_fdata()
    )
    # The outer-fold selectors' moderation maps: their mean is close to the
    # final selector's pattern (same model, 4/5 of the patients each).
    fold_mean = nib.load(folder / "fold_moderation_pattern_mean.nii.gz").get_fdata()
    mask = selector.extractor_.mask_img_.get_fdata() > 0
    final = written.get_fdata()[mask]
    assert np.corrcoef(fold_mean[mask], final)[0, 1] > 0.8
    z = nib.load(folder / "fold_moderation_pattern_jackknife_z.nii.gz").get_fdata()
    assert np.isfinite(z).all() and np.any(z[mask] != 0) and not z[~mask].any()
    agree = nib.load(folder / "fold_moderation_pattern_sign_consistency.nii.gz")
    assert 0.5 <= agree.get_fdata()[mask].min() and agree.get_fdata().max() <= 1
    html = (folder / "report.html").read_text()
    assert 'alt="Moderation map"' in html


def test_a_task_writes_only_the_files_it_declares(tmp_path):
    """The overwrite check and the writer read one table: an undeclared file is
    refused while writing, so a user's file of that name could not be replaced."""
    from txpredict._io import INCOMPLETE
    from txpredict.run import OUTPUTS
    from txpredict.run._outputs import outputs_of, will_write

    assert set(will_write("regression")) == {*OUTPUTS["regression"], INCOMPLETE}
    with pytest.raises(RuntimeError, match="not among the files"):
        with outputs_of(
            "regression", tmp_path / "out", overwrite=False, report=None
        ) as out:
            out.table("summary.csv", pd.DataFrame({"a": [1]}))
            out.table("selection_summary.csv", pd.DataFrame({"a": [1]}))
    assert not (tmp_path / "out").exists()  # nothing half-written is left


def test_a_roi_run_reads_each_image_twice_and_keeps_no_scratch_cache(
    tmp_path, small_cohort_dir, monkeypatch
):
    # The site check and both nested CVs share one reading (a scratch cache for
    # the run); the final model reads again, keeping the user's cache setting.
    import tempfile

    from txpredict.features import _extract

    reads = []
    real_load = _extract.load_image
    monkeypatch.setattr(
        _extract,
        "load_image",
        lambda image, *a: reads.append(image) or real_load(image, *a),
    )
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    config = read_config(write_config(tmp_path, small_cohort_dir))
    folder = run_analysis(config, progress=lambda *a: None)
    counts = pd.Series(reads).value_counts()
    assert len(counts) == 24 and (counts == 2).all()
    assert list(scratch.iterdir()) == []  # removed when the run ended
    model, _ = load_model(folder / "model.skops")
    assert model.memory is None and model.extractor_.memory is None


def test_a_voxel_model_too_large_for_memory_keeps_its_results(
    tmp_path, small_cohort_dir, monkeypatch, capsys
):
    # 24 patients x 8,700 voxels: 0.8 MB of design, more than 1/8 of 4 MB, so
    # the nested CV streams it from disk; the final fit (3 copies, 2.5 MB in
    # scikit-learn) is refused before reading an image, not killed by the
    # system: the tables stay, and INCOMPLETE.txt says why.
    from txpredict.features import _store

    monkeypatch.setattr(_store, "available_memory", lambda: 2 * 2**20)
    config = write_config(tmp_path, small_cohort_dir)
    text = config.read_text().replace('features = "roi"', 'features = "wholebrain"')
    config.write_text(text.replace("n_permutations = 19", "n_permutations = 0"))
    assert main(["run", str(config)]) == 2
    error = capsys.readouterr().err
    assert "needs about" in error and "on_disk=True" in error
    written = {p.name for p in (tmp_path / "results").iterdir()}
    assert {
        "summary.csv",
        "predictions.csv",
        "result.json",
        "INCOMPLETE.txt",
    } <= written
    assert "model.skops" not in written


def test_the_tripod_ai_checklist_is_filled_with_the_runs_numbers(analysis):
    checklist = pd.read_csv(analysis / "tripod_ai.csv", index_col="item", dtype=str)
    summary = pd.read_csv(analysis / "summary.csv", index_col=0)
    predictions = pd.read_csv(analysis / "predictions.csv")
    first = predictions[predictions["repeat"] == 0]
    n, events = len(first), int(first["y_true"].sum())
    filled = checklist[checklist["filled_by"] == "txpredict"]["text"]
    assert (
        f"{n} participants, {events} responders and {n - events} non-" in (filled["10"])
    )
    auc = summary.loc["auc"]
    assert (
        f"auc {auc['estimate']:.3f} (95% CI {auc['ci_low']:.3f} to "
        f"{auc['ci_high']:.3f})"
    ) in filled["23a"]
    assert (
        "model + demographics vs demographics only: AUC difference" in (filled["23a"])
    )
    assert "Leakage checks run before any analysis: 3" in filled["9a"]
    assert "responders" in filled["20b"] and "non-responders" in filled["20b"]
    # What a run cannot know is left to the author, not invented.
    for item in ("1", "5b", "14", "17", "26"):
        assert checklist.at[item, "filled_by"] == "author"
        assert checklist.at[item, "text"] == "for the author"
    markdown = (analysis / "tripod_ai.md").read_text(encoding="utf-8")
    assert markdown.startswith("# TRIPOD+AI checklist")
    assert markdown.count("\n| ") == len(checklist) + 1  # header and each item
    html = (analysis / "report.html").read_text()
    assert f"{len(filled)} of\n{len(checklist)} items filled" in html


def test_a_failed_checklist_keeps_the_results_and_the_report(
    tmp_path, small_cohort_dir, monkeypatch, capsys
):
    from txpredict.run import _steps

    def broken(**content):
        raise ValueError("no checklist today")

    monkeypatch.setattr(_steps, "tripod_ai_checklist", broken)
    config = write_config(tmp_path, small_cohort_dir)
    config.write_text(
        config.read_text().replace("n_permutations = 19", "n_permutations = 0")
    )
    assert main(["run", str(config)]) == 2
    folder = tmp_path / "results"
    written = {p.name for p in folder.iterdir()}
    assert {"summary.csv", "report.html", "model.skops", "INCOMPLETE.txt"} <= written
    assert "tripod_ai.csv" not in written and "tripod_ai.md" not in written
    incomplete = (folder / "INCOMPLETE.txt").read_text()
    assert "TRIPOD+AI checklist" in incomplete and "no checklist today" in incomplete
    assert "TRIPOD+AI checklist</h2>" not in (folder / "report.html").read_text()


def test_learning_curve_section_writes_its_tables_and_report_section(tmp_path):
    dataset = tmp_path / "study"
    tp.make_synthetic_cohort(
        60, effect="prognostic", grid="fsl6", random_state=4, out_dir=dataset
    )
    section = (
        "\n[learning_curve]\nfractions = [0.6, 0.8, 1.0]\nn_subsamples = 2\n"
        "n_repeats = 1\nhalf_width = 0.1\n"
    )
    config = write_config(tmp_path, dataset, extra=section)
    text = config.read_text().replace("n_permutations = 19", "n_permutations = 0")
    config.write_text(text.replace("n_repeats = 2\n", "n_repeats = 1\n", 1))
    assert main(["run", str(config)]) == 0
    folder = tmp_path / "results"
    points = pd.read_csv(folder / "learning_curve.csv")
    assert points.groupby("n").size().to_dict() == {36: 2, 48: 2, 60: 1}
    assert {"gain", "baseline_auc", "half_width"} <= set(points.columns)
    curves = pd.read_csv(folder / "learning_curve_extrapolated.csv", index_col="n")
    assert curves.index.tolist() == [60, 90, 120, 180, 240, 360, 480]
    html = (folder / "report.html").read_text()
    assert "How many patients? The learning curve" in html
    assert "An AUC interval of +-0.1 needs about" in html
    assert 'alt="Learning curve"' in html
    # Subsamples too small to cross-validate: the curve fails, the results stay.
    text = config.read_text().replace("[0.6, 0.8, 1.0]", "[0.05, 0.1, 1.0]")
    config.write_text(text.replace('folder = "results"', 'folder = "small"'))
    assert main(["run", str(config)]) == 2
    folder = tmp_path / "small"
    written = {p.name for p in folder.iterdir()}
    assert {"summary.csv", "report.html", "model.skops", "INCOMPLETE.txt"} <= written
    assert "learning_curve.csv" not in written
    assert "the learning curve" in (folder / "INCOMPLETE.txt").read_text()
    assert "How many patients? The learning curve" not in (
        (folder / "report.html").read_text()
    )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("fractions = [0.5, 1.0]", "at least three shares"),
        ("n_subsamples = 1", "n_subsamples must be an integer >= 2"),
        ("half_width = 0.6", "half_width is the AUC interval"),
    ],
)
def test_learning_curve_section_errors_before_any_work(
    tmp_path, small_cohort_dir, section, message
):
    extra = f"\n[learning_curve]\n{section}\n"
    config = write_config(tmp_path, small_cohort_dir, extra=extra)
    with pytest.raises(TxpredictError, match=message):
        read_config(config)
    config.write_text(
        config.read_text()
        .replace("[data]", 'task = "modality"\n\n[data]')
        .replace(section, "")
    )
    with pytest.raises(TxpredictError, match="applies to task = 'response' only"):
        read_config(config)
