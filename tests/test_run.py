import json
import os
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

import txpredict as tp
from txpredict._io import MANIFEST, written_by_txpredict
from txpredict.cli import main
from txpredict.errors import TxpredictError
from txpredict.run import read_config, run_analysis

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
            "result.json",
            "summaries.csv",
            "comparison.csv",
            "model.skops",
            "report.html",
            "config.toml",
        }
    )
    predictions = pd.read_csv(analysis / "predictions.csv")
    assert len(predictions) == 24 * 2
    comparison = pd.read_csv(analysis / "comparison.csv", index_col=[0, 1])
    assert ("model vs demographics only", "auc") in comparison.index
    assert ("model + demographics vs demographics only", "auc") in comparison.index
    summary = pd.read_csv(analysis / "summary.csv", index_col=0)
    result = tp.NestedCVResult.load(analysis / "result.json")
    assert summary.at["auc", "estimate"] == pytest.approx(
        result.summary().at["auc", "estimate"]
    )
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
        "corrected t",
    ):
        assert needed in html
    assert html.count("<img") >= 5
    assert "http://" not in html and "https://" not in html  # self-contained, offline


def test_report_renders_in_headless_chromium(analysis, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: .ci/run should install it")
        pytest.skip("chromium not installed (CI installs it)")
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
        [browser, *flags, "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert 'data-figures="ok"' in dom.stdout  # every figure decoded
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
        "replaced 9 file(s)" in m and "kept 1 it did not write (notes.txt)" in m
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


def test_predict_from_a_saved_model(analysis, small_cohort_dir, capsys):
    images = sorted(small_cohort_dir.glob("sub-0[1-3]/func/*.nii.gz"))
    assert main(["predict", str(analysis / "model.skops"), *map(str, images)]) == 0
    out = capsys.readouterr().out
    assert "p_response" in out and "sub-01_task-faces" in out
    model, _ = tp.load_model(analysis / "model.skops")
    assert model.inner_cv == 3  # the configured inner CV, as in the nested runs
    X = pd.DataFrame({"image": [str(p) for p in images]})
    probabilities = model.predict_proba(X)[:, 1]
    printed = [float(line.split()[1]) for line in out.splitlines()[2:]]
    np.testing.assert_allclose(printed, probabilities, atol=1e-3)


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
            "selection_comparison.csv",
            "selector.skops",
            "report.html",
            "config.toml",
        }
    )
    summary = pd.read_csv(folder / "selection_summary.csv", index_col=0)
    assert {"policy_value_ipw", "agreement_with_better_arm", "qini_coefficient"} <= set(
        summary.index
    )
    html = (folder / "report.html").read_text()
    assert "Qini curve" in html and "data:image/png;base64," in html
    selector, _ = tp.load_model(folder / "selector.skops")
    assert list(
        selector.predict_response_proba(tp.load_cohort(dataset, PATTERN).X).columns
    ) == ["CBT", "SSRI+CBT"]
    assert read_config(folder / "config.toml")["task"] == "modality"
