"""Second contact: a three-site depression trial laid out and coded as its users do.

``trial_study_dir`` (conftest): fitlins-named float64 maps, arms ``CBT`` and
``CBT+SSRI``, HAMD scores, ``Age``/``Sex`` (M/W) with ``n/a``, sites Berlin,
Dresden and Münster, rows in another order than the images. Each test here
failed before its fix (issue 22).
"""

import numpy as np
import pandas as pd
import pytest

import txpredict as tp
from txpredict._io import INCOMPLETE
from txpredict.cli import main

from .conftest import TRIAL_PATTERN

OUTCOME = '{pre = "HAMD_baseline", post = "HAMD_week12"}'


def trial_config(tmp_path, dataset, *, task="response", model="", cv="", folder="out"):
    """A run configuration of the trial, small enough for a test.

    ``cv`` lines replace the defaults of the same keys.
    """
    settings = {"outer_cv": "3", "inner_cv": "3", "n_repeats": "1"}
    settings["n_permutations"] = "0"
    for line in filter(None, cv.splitlines()):
        key, value = (part.strip() for part in line.split("=", 1))
        settings[key] = value
    cv = "\n".join(f"{key} = {value}" for key, value in settings.items())
    grid = "{alpha = [1.0, 10.0]}" if task == "regression" else "{C = [0.1, 1.0]}"
    config = tmp_path / f"{folder}.toml"
    config.write_text(
        f"""
task = "{task}"

[data]
dataset = "{dataset}"
image_pattern = "{TRIAL_PATTERN}"
outcome = {OUTCOME}
treatment = "arm"

[model]
features = "roi"
demographic_columns = ["Age", "Sex", "HAMD_baseline"]
param_grid = {grid}
{model}

[cv]
{cv}

[output]
folder = "{folder}"
""",
        encoding="utf-8",
    )
    return config


def test_the_trial_loads_with_the_users_names(trial):
    assert trial.arms == ("CBT", "CBT+SSRI")
    assert sorted(trial.X["site"].unique()) == ["Berlin", "Dresden", "Münster"]
    assert "HAMD_week12" not in trial.X
    assert list(trial.X.index[:3]) != ["sub-001", "sub-002", "sub-003"]


def test_multisite_run_with_combat_saves_its_model_for_predict_and_validation(
    trial_study_dir, tmp_path, capsys
):
    """The README's multi-site workflow reaches predict and validate-external."""
    config = trial_config(
        tmp_path,
        trial_study_dir,
        model='harmonize = "combat"\nsites = "site"\nconfounds = ["Age"]',
        cv='outer_cv = "leave-site-out"\ngroups = "site"\ninner_groups = false',
    )
    assert main(["run", str(config)]) == 0
    model = tmp_path / "out" / "model.skops"
    loaded, _ = tp.load_model(model)
    assert loaded.harmonize == "combat"
    report = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    # One repeat, not "10 repeats"; which interval to report, and a new site's.
    assert "leave-site-out outer (one site held out at a time)" in report
    assert "10 repeats" not in report
    assert "prediction_low" in report and "Which to report" in report
    # each site's estimate and interval in one cell: the table fits the page
    assert "<th>balanced_accuracy (95% interval)</th>" in report
    assert "<td>Münster</td>" in report
    assert "not measured under leave-site-out" in report
    assert "What the model learnt: each ROI's weight" in report
    argv = ["validate-external", str(model), str(trial_study_dir)]
    argv += ["--image-pattern", TRIAL_PATTERN, "--pre", "HAMD_baseline"]
    argv += ["--post", "HAMD_week12", "--treatment", "arm"]
    # The trial's own patients are the model's training patients: refused
    # as an external cohort, after saying what the model was trained on.
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "trained on 120 patients" in captured.out  # once a bare hash
    assert "120 patient(s) of the new cohort have a scan the model was trained on" in (
        captured.err
    )


def test_a_failure_after_the_analysis_keeps_its_results(
    trial_study_dir, tmp_path, monkeypatch, capsys
):
    """Saving the model fails: the analysis's tables and report are kept, and the
    user is told what is missing."""
    import txpredict.run._steps

    def broken(model, path):
        raise TypeError("no default __reduce__ due to non-trivial __cinit__")

    monkeypatch.setattr(txpredict.run._steps, "save_model", broken)
    for task in ("response", "modality", "regression"):
        folder = f"out_{task}"
        config = trial_config(tmp_path, trial_study_dir, task=task, folder=folder)
        assert main(["run", str(config)]) == 2
        error = capsys.readouterr().err
        assert "results are in" in error and "__cinit__" in error
        written = {p.name for p in (tmp_path / folder).iterdir()}
        assert {"report.html", "config.toml", INCOMPLETE} <= written
        assert not {"model.skops", "selector.skops"} & written
        assert "__cinit__" in (tmp_path / folder / INCOMPLETE).read_text()
    assert {"summary.csv", "predictions.csv", "result.json"} <= {
        p.name for p in (tmp_path / "out_response").iterdir()
    }
    summary = pd.read_csv(tmp_path / "out_modality" / "selection_summary.csv")
    assert "policy_gain" in set(summary.iloc[:, 0])


def test_modality_run_keeps_sites_whole_with_arms_cbt_and_cbt_ssri(
    trial_study_dir, tmp_path, capsys
):
    """[cv] groups reached the response runs only: a modality run split sites
    across its folds."""
    config = trial_config(
        tmp_path,
        trial_study_dir,
        task="modality",
        cv='groups = "site"\nn_permutations = 3\nn_repeats = 2',
    )
    assert main(["run", str(config)]) == 0
    folder = tmp_path / "out"
    predictions = pd.read_csv(folder / "selection_predictions.csv")
    sites = pd.read_csv(trial_study_dir / "participants.tsv", sep="\t")
    predictions = predictions.merge(
        sites[["participant_id", "site"]], on="participant_id"
    )
    assert (predictions.groupby(["repeat", "site"])["fold"].nunique() == 1).all()
    assert set(predictions["received"]) == {"CBT", "CBT+SSRI"}
    # The run prints its results (it once printed none).
    out = capsys.readouterr().out
    assert "Treatment selection (out of fold" in out and "policy_gain " in out
    assert "groups = site" in (folder / "report.html").read_text(encoding="utf-8")


def edited_trial(trial_study_dir, tmp_path, edit=None, sidecar=None):
    """The trial with its table edited (``edit(table) -> table``); images shared."""
    import shutil

    root = tmp_path / "edited_trial"
    root.mkdir()
    (root / "derivatives").symlink_to(trial_study_dir / "derivatives")
    table = pd.read_csv(
        trial_study_dir / "participants.tsv", sep="\t", dtype=str, keep_default_na=False
    )
    if edit is not None:
        table = edit(table)
    table.to_csv(root / "participants.tsv", sep="\t", index=False)
    if sidecar is None:
        shutil.copy(trial_study_dir / "participants.json", root)
    elif sidecar:
        (root / "participants.json").write_text(sidecar, encoding="utf-8")
    return root


def _set(table, row, column, value):
    table.loc[row, column] = value
    return table


@pytest.mark.parametrize(
    "case, expected",
    [
        ("n_jobs_zero", r"\[output\] n_jobs must be None, a positive number"),
        ("windows_path", r"forward slashes \(\"C:/Users/me/study\"\)"),
        ("cache_is_a_file", r"\[output\] cache .* is a file, not a folder"),
        ("output_not_writable", r"\[output\] folder .* cannot be written"),
        ("invalid_sidecar", r"participants.json is not valid JSON: .* line 1"),
        ("constant_outcome", r"single value 0 for every participant"),
        ("combat_site_missing", r"\[model\] sites = 'site'.*missing .*sub-0"),
        ("modality_with_combat", r"task = 'modality' does not use \[model\] \['harm"),
        ("regression_classifier", r"'regression' does not use \[model\] \['classif"),
    ],
)
def test_bad_input_gets_a_message_not_a_traceback(
    trial_study_dir, tmp_path, monkeypatch, capsys, case, expected
):
    """Each of these once ended in a raw traceback, some after the whole analysis."""
    dataset, task, model, cv, extra = trial_study_dir, "response", "", "", ""
    if case == "n_jobs_zero":
        extra = "n_jobs = 0"
    elif case == "cache_is_a_file":
        (tmp_path / "cache").write_text("mine")
        extra = 'cache = "cache"'
    elif case == "output_not_writable":
        import txpredict._io

        def refused(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(txpredict._io.tempfile, "mkstemp", refused)
    elif case == "invalid_sidecar":
        dataset = edited_trial(trial_study_dir, tmp_path, sidecar='{"arm": {"Lev')
    elif case == "constant_outcome":
        task = "regression"
        dataset = edited_trial(
            trial_study_dir,
            tmp_path,
            lambda t: t.assign(HAMD_week12=t["HAMD_baseline"]),
        )
    elif case == "combat_site_missing":
        dataset = edited_trial(
            trial_study_dir, tmp_path, lambda t: _set(t, 3, "site", "n/a")
        )
        model = 'harmonize = "combat"'
    elif case == "modality_with_combat":
        task, model = "modality", 'harmonize = "combat"'
    elif case == "regression_classifier":
        task, model = "regression", 'classifier = "linear_svm"'
    config = trial_config(tmp_path, dataset, task=task, model=model, cv=cv)
    text = config.read_text(encoding="utf-8")
    if extra:
        text = text.replace('folder = "out"', f'folder = "out"\n{extra}')
    if case == "windows_path":
        text = text.replace(f'dataset = "{dataset}"', r'dataset = "C:\Users\me\study"')
    config.write_text(text, encoding="utf-8")
    assert main(["run", str(config)]) == 2
    error = capsys.readouterr().err
    assert "Traceback" not in error
    assert error.startswith("txpredict: error: ")
    import re

    assert re.search(expected, error), error
    assert not (tmp_path / "out").exists()


def _age_typo(table):
    table.loc[table["participant_id"] == "sub-012", "Age"] = "forty"
    return table


def _decimal_commas(table):
    return table.assign(Age=[f"{a},5" if a != "n/a" else a for a in table["Age"]])


def _three_sexes(table):
    table.loc[table["participant_id"] == "sub-010", "Sex"] = "F"
    table.loc[table["participant_id"] == "sub-011", "Sex"] = "female"
    return table


def _post_score(value):
    def edit(table):
        table.loc[table["participant_id"] == "sub-020", "HAMD_week12"] = value
        return table

    return edit


def _arm_with_a_space(table):
    table.loc[table["participant_id"] == "sub-003", "arm"] += " "
    return table


@pytest.mark.parametrize(
    "edit, sidecar, expected",
    [
        (_age_typo, None, r"'Age' .* numbers except for 1 cell.*sub-012: 'forty'"),
        (_decimal_commas, None, r"'Age' .* decimal commas .*: '\d+,5'"),
        (
            _three_sexes,
            None,
            r"'Sex' .* not among its Levels \['M', 'W'\] .*sub-010: 'F'",
        ),
        (_three_sexes, False, r"'Sex' .* one sex in 3 ways \(\['F', 'W', 'female'\]"),
        (_post_score("60"), None, r"'HAMD_week12' .* HAMD-17's range \(0 to 52\)"),
        (_post_score("-3"), None, r"'HAMD_week12' .*sub-020: -3"),
        (_arm_with_a_space, False, r"arm values of 'arm' differ only in case or sp"),
    ],
    ids=["typo", "commas", "levels", "sexes", "hamd60", "negative", "arm-space"],
)
def test_slips_of_a_hand_typed_table_are_refused_not_absorbed(
    trial_study_dir, tmp_path, capsys, edit, sidecar, expected
):
    """Once silently absorbed: Age became a 60-level category, F/female/W three
    sexes, a HAMD of 60 a valid score; `validate` said OK."""
    import re

    dataset = edited_trial(trial_study_dir, tmp_path, edit, sidecar=sidecar)
    argv = ["validate", str(dataset), "--image-pattern", TRIAL_PATTERN]
    argv += ["--pre", "HAMD_baseline", "--post", "HAMD_week12", "--treatment", "arm"]
    assert main(argv) == 2
    assert re.search(expected, capsys.readouterr().err)


def test_a_column_named_twice_is_refused(trial_study_dir, tmp_path):
    dataset = edited_trial(trial_study_dir, tmp_path)
    tsv = dataset / "participants.tsv"
    lines = tsv.read_text(encoding="utf-8").splitlines()
    lines = [f"{line}\t{line.split(chr(9))[1]}" for line in lines]
    lines[0] = lines[0].rsplit("\t", 1)[0] + "\tAge"
    tsv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(tp.errors.CohortError, match=r"\['Age'\] more than once"):
        tp.load_cohort(dataset, TRIAL_PATTERN, treatment="arm", outcome="Age")


def test_a_site_of_one_patient_is_refused_under_leave_site_out(trial):
    X = trial.X.copy()
    X.loc[X.index[0], "site"] = "Leipzig"
    with pytest.raises(tp.errors.TxpredictError, match=r"\['Leipzig'\] have \[1\]"):
        tp.nested_cross_validate(
            tp.ResponseClassifier("roi", param_grid={}, inner_cv=3),
            X,
            trial.y,
            outer_cv="leave-site-out",
            groups="site",
            inner_groups=False,
        )


def test_an_empty_map_and_a_4d_image_among_3d_ones_are_refused(
    trial_study_dir, tmp_path, capsys
):
    import nibabel as nib
    import numpy as np

    dataset = edited_trial(trial_study_dir, tmp_path)
    (dataset / "derivatives").unlink()
    source = trial_study_dir / TRIAL_PATTERN.format(participant_id="sub-001")
    image = nib.load(source)
    for pid in [f"sub-{i:03d}" for i in range(1, 121)]:
        path = dataset / TRIAL_PATTERN.format(participant_id=pid)
        path.parent.mkdir(parents=True)
        path.symlink_to(trial_study_dir / TRIAL_PATTERN.format(participant_id=pid))
    empty = dataset / TRIAL_PATTERN.format(participant_id="sub-007")
    empty.unlink()
    nib.Nifti1Image(np.zeros(image.shape), image.affine).to_filename(empty)
    argv = ["validate", str(dataset), "--image-pattern", TRIAL_PATTERN]
    argv += ["--pre", "HAMD_baseline", "--post", "HAMD_week12", "--treatment", "arm"]
    assert main(argv) == 0  # headers only: they are fine
    assert main([*argv, "--full"]) == 2
    assert "sub-007" in capsys.readouterr().err
    cohort = tp.load_cohort(
        dataset,
        TRIAL_PATTERN,
        outcome=tp.SymptomReduction("HAMD_baseline", "HAMD_week12"),
        treatment="arm",
    )
    with pytest.raises(tp.errors.ImageError, match=r"'sub-007' .* is 0 everywhere"):
        tp.RoiFeatures(verbose=0).fit_transform(cohort.X)
    run = dataset / TRIAL_PATTERN.format(participant_id="sub-008")
    run.unlink()
    data = np.stack([image.get_fdata()] * 3, axis=-1)
    nib.Nifti1Image(data, image.affine).to_filename(run)
    assert main(argv) == 2
    assert "'sub-008'" in capsys.readouterr().err


def test_predict_with_a_selector_that_gained_nothing_says_so(
    trial_study_dir, tmp_path, capsys
):
    """All 12 new patients once got 'CBT+SSRI' with no caveat, though every PAI
    interval included 0 and the selector's policy gain was -0.018 [-0.064, 0.027]."""
    config = trial_config(
        tmp_path, trial_study_dir, task="modality", cv="n_repeats = 2"
    )
    assert main(["run", str(config)]) == 0
    gain = pd.read_csv(tmp_path / "out" / "selection_summary.csv", index_col=0).loc[
        "policy_gain"
    ]
    images = [
        trial_study_dir / TRIAL_PATTERN.format(participant_id=f"sub-{i:03d}")
        for i in range(1, 13)
    ]
    capsys.readouterr()
    argv = ["predict", str(tmp_path / "out" / "selector.skops"), *map(str, images)]
    assert main([*argv, "--out", str(tmp_path / "new.csv")]) == 0
    err = capsys.readouterr().err
    assert ("includes 0: following them is not shown to help" in err) == (
        gain["ci_low"] <= 0 <= gain["ci_high"]
    )
    table = pd.read_csv(tmp_path / "new.csv", index_col=0)
    undecided = (table["pai_ci_low"] <= 0) & (table["pai_ci_high"] >= 0)
    assert undecided.any()
    assert set(table.loc[undecided, "recommended"]) == {"no preference"}
    # The same selector beside an evaluation that found no gain: a warning.
    import shutil

    other = tmp_path / "null"
    other.mkdir()
    shutil.copy(tmp_path / "out" / "selector.skops", other)
    summary = pd.read_csv(tmp_path / "out" / "selection_summary.csv", index_col=0)
    summary.loc["policy_gain", ["estimate", "ci_low", "ci_high"]] = [
        -0.018,
        -0.064,
        0.027,
    ]
    summary.to_csv(other / "selection_summary.csv")
    assert main(["predict", str(other / "selector.skops"), *map(str, images)]) == 0
    err = capsys.readouterr().err
    assert "-0.018 [-0.064, +0.027]" in err and "not shown to help" in err


def test_regression_run_labels_its_rs_and_notes_grid_edges(
    trial_study_dir, tmp_path, capsys
):
    """r pooled (0.049) beside fold-wise r (0.18) with nothing saying which is
    which; ridge alpha at the top of its grid in 18 of 50 folds, unremarked."""
    config = trial_config(
        tmp_path,
        trial_study_dir,
        task="regression",
        cv="n_repeats = 2",
    )
    text = config.read_text(encoding="utf-8").replace(
        "{alpha = [1.0, 10.0]}", "{alpha = [0.0001, 0.001, 0.01]}"
    )
    config.write_text(text, encoding="utf-8")
    assert main(["run", str(config)]) == 0
    out = capsys.readouterr().out
    assert "Note (model): The inner CV chose alpha = 0.01, the highest" in out
    assert "Responders read off the predicted change (>= 50)" in out
    summary = pd.read_csv(tmp_path / "out" / "summary.csv", index_col=0)
    folds = pd.read_csv(tmp_path / "out" / "folds.csv")
    assert summary.at["r_fold_mean", "estimate"] == pytest.approx(folds["r"].mean())
    comparison = pd.read_csv(tmp_path / "out" / "comparison.csv", index_col=0)
    assert comparison.at["r", "difference"] == pytest.approx(
        comparison.at["r", "a"] - comparison.at["r", "b"]
    )


@pytest.fixture(scope="module")
def selection(trial):
    """The trial's selection with a permutation test (ROI selector)."""
    return tp.evaluate_selection(
        tp.ModalitySelector("roi", param_grid={"C": [0.1, 1.0]}, inner_cv=3),
        trial.X,
        trial.y,
        "arm",
        outer_cv=3,
        n_repeats=3,
        n_permutations=4,
    )


def _figure_of(monkeypatch, module, draw, *args):
    """The matplotlib Figure a report function draws (instead of its PNG)."""
    monkeypatch.setattr(module, "_png", lambda fig: fig)
    return draw(*args)


def test_modality_figures_count_patients_and_show_every_roi(
    trial, selection, monkeypatch
):
    """The PAI histogram counted > 200 'patients' for n = 150 (pooled repeats); the
    PAI-vs-ROI figure dropped 3 of 9 ROIs, its r (-0.82) not the table's (-0.64)."""
    from txpredict.report import _modality

    fig = _figure_of(monkeypatch, _modality, _modality._pai_figure, selection)
    counted = sum(patch.get_height() for patch in fig.axes[0].patches)
    assert counted == trial.n_subjects
    roi = (
        tp.RoiFeatures(verbose=0).set_output(transform="pandas").fit_transform(trial.X)
    )
    fig = _figure_of(monkeypatch, _modality, _modality._features_figure, selection, roi)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert len(titles) == roi.shape[1] == 9
    table = selection.pai_correlations(roi)["mean"]
    for title, (name, r) in zip(titles, table.items(), strict=True):
        assert title == f"{name}\nr = {r:.2f}"


def test_the_permutation_gain_and_the_nnt_are_labelled(selection):
    """Two policy gains on one page (-0.018 in the summary, -0.066 from the
    permutation test) and an NNT of -14381.9 where the text said none."""
    summary = selection.summary()
    row = summary.loc["policy_gain_first_repeat"]
    assert row["estimate"] == pytest.approx(selection.permutation["policy_gain"])
    assert row["p_value"] == pytest.approx(selection.permutation["p_value"])
    first = selection.predictions[selection.predictions["repeat"] == 0]
    assert "first repeat" in row["ci_method"] and len(first) == 120
    gain = summary.loc["policy_gain"]
    nnt = summary.loc["number_needed_to_treat"]
    assert np.isnan(nnt["estimate"]) == (gain["ci_low"] <= 0 <= gain["ci_high"])


def test_coverage_is_quoted_only_for_the_models_it_was_measured_on():
    """The measured coverage was shown for a whole-brain SVM it was never
    measured on."""
    from txpredict.report._html import coverage_was_measured_for

    assert coverage_was_measured_for(tp.ResponseClassifier("roi"))
    assert coverage_was_measured_for(tp.ResponseClassifier("roi+demographics"))
    assert not coverage_was_measured_for(
        tp.ResponseClassifier("wholebrain", "linear_svm")
    )
    assert not coverage_was_measured_for(
        tp.ResponseClassifier("roi", harmonize="combat")
    )


def test_a_test_and_an_interval_that_disagree_are_explained():
    """p = 0.046 beside a 95% interval that includes 0.5, unexplained."""
    from txpredict.report._html import test_and_interval_notes

    summary = pd.DataFrame(
        {
            "estimate": [0.60, 0.58],
            "ci_low": [0.48, 0.51],
            "ci_high": [0.72, 0.65],
            "p_value": [0.046, 0.01],
            "chance": [0.5, 0.5],
        },
        index=["auc", "balanced_accuracy"],
    )
    from txpredict.model_selection import PermutationTestResult

    # 46 of 999 permutations reach the observed AUC: run to the end.
    null = np.r_[np.full(46, 0.7), np.full(953, 0.5)]
    fixed = PermutationTestResult(0.60, null, 0.046, "auc", max_permutations=999)
    (note,) = test_and_interval_notes(summary, {"auc": fixed})
    assert note.startswith("auc: the permutation test (p = 0.046 +- 0.013")
    assert "of 999 permutations" in note
    assert "which includes chance (0.5)" in note and "Report the estimate" in note
    # Stopped at the 10th reaching it, after 217: error ~ p sqrt((1 - p) / 10).
    stopped = PermutationTestResult(
        0.60, np.r_[np.full(10, 0.7), np.full(207, 0.5)], 0.046, "auc", False, 999, 10
    )
    (note,) = test_and_interval_notes(summary, {"auc": stopped})
    assert "p = 0.046 +- 0.028" in note and "of 217 permutations" in note
    assert test_and_interval_notes(summary, {}) == []


def test_the_forest_legend_and_the_map_titles_cover_nothing(trial, monkeypatch):
    """The legend covered the forest plot's pooled row; titles covered brains."""
    from txpredict.report import _figures

    X = trial.X.copy()
    result = tp.nested_cross_validate(
        tp.ResponseClassifier("roi", param_grid={}, inner_cv=3),
        X,
        trial.y,
        outer_cv="leave-site-out",
        groups="site",
        inner_groups=False,
    )
    fig = _figure_of(
        monkeypatch,
        _figures,
        _figures.forest_figure,
        result.per_site(),
        result.heterogeneity(),
    )
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    (legend,) = fig.legends
    lowest_axis = min(ax.get_window_extent(renderer).y0 for ax in fig.axes)
    assert legend.get_window_extent(renderer).y1 <= lowest_axis
    assert not any(ax.get_legend() for ax in fig.axes)
    image = trial.X["image"].iloc[0]
    fig = _figure_of(
        monkeypatch, _figures, _figures.glass_brain_figure, [(image, "a long title")]
    )
    assert [t.get_text() for t in fig.texts] == ["a long title"]


def test_a_plan_and_a_learning_curve_on_the_trial(trial_study_dir, tmp_path):
    """The trial's own names: HAMD_week12 is blinded, sites stay whole."""
    config = trial_config(
        tmp_path, trial_study_dir, cv='groups = "site"\ninner_groups = false'
    )
    config.write_text(
        config.read_text(encoding="utf-8")
        + "\n[learning_curve]\nfractions = [0.6, 0.8, 1.0]\nn_subsamples = 2\n"
        "n_repeats = 1\n",
        encoding="utf-8",
    )
    plan_file = tmp_path / "plan.json"
    assert main(["plan", str(config), "--out", str(plan_file)]) == 0
    plan = pd.read_json(plan_file, typ="series")
    assert plan["data"]["blinded"] == {
        "HAMD_week12": "the outcome rule's post-treatment score"
    }
    assert plan["data"]["columns"] == ["Age", "HAMD_baseline", "Sex", "arm", "site"]
    assert plan["data"]["participants_json"] is not None  # the Levels are planned
    assert main(["run", str(config), "--plan", str(plan_file)]) == 0
    out = tmp_path / "out"
    checks = pd.read_csv(out / "leakage_checks.csv", index_col="name")
    assert checks.loc["preregistered plan", "status"] == "ok"
    points = pd.read_csv(out / "learning_curve.csv")
    assert points.groupby("n").size().to_dict() == {72: 2, 96: 2, 120: 1}
