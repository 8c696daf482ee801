import re

import pytest

from txpredict.cli import main


def test_demo_runs_the_whole_pipeline(tmp_path, capsys):
    out = tmp_path / "demo"
    argv = [
        "demo",
        "--n-subjects",
        "40",
        "--grid",
        "fsl6",
        "--n-repeats",
        "1",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "Cohort(40 participants" in text
    auc = re.search(r"^auc\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", text, re.MULTILINE)
    assert auc and float(auc[2]) <= float(auc[1]) <= float(auc[3])
    assert "model vs demographics only" in text and "Bayes" in text
    assert (out / "cohort" / "participants.tsv").is_file()
    assert (out / "results" / "report.html").is_file()
    # The copy of the configuration is valid TOML that runs again (the demo's
    # settings include None, which TOML cannot hold: left out as defaults).
    from txpredict.run import read_config

    again = read_config(out / "results" / "config.toml")
    assert again["cv"]["n_repeats"] == 1 and "n_jobs" not in again["output"]


def test_demo_overwrite_replaces_only_what_the_demo_wrote(tmp_path, capsys):
    out = tmp_path / "demo"
    (out / "results").mkdir(parents=True)
    (out / "results" / "notes.txt").write_text("precious")
    argv = ["demo", "--n-subjects", "40", "--grid", "fsl6", "--n-repeats", "1"]
    assert main([*argv, "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert not (out / "cohort").exists()
    assert main([*argv, "--out", str(out), "--overwrite"]) == 0
    assert (out / "results" / "notes.txt").read_text() == "precious"
    assert (out / "results" / "report.html").is_file()
    assert "kept 1 it did not write (notes.txt)" in capsys.readouterr().out


def test_demo_lists_the_grids_and_a_failed_demo_leaves_nothing(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--grid", "mni1", "--out", str(tmp_path / "d")])
    assert "fsl2" in capsys.readouterr().err  # argparse lists the valid grids
    # 12 patients cannot be split into 5 folds of each class: the analysis fails
    # after the cohort was generated, and the half-made demo is removed.
    for n, why in (("12", "fewer than outer_cv=5"), ("8", "1 responders")):
        assert main(["demo", "--n-subjects", n, "--grid", "fsl6", "--out",
                     str(tmp_path / "d")]) == 2  # fmt: skip
        assert why in capsys.readouterr().err
        assert not (tmp_path / "d" / "cohort").exists()


def test_validate_summarises_a_dataset(small_cohort_dir, capsys):
    pattern = (
        "{participant_id}/func/{participant_id}_task-faces_stat-effect_statmap.nii.gz"
    )
    assert main(["validate", str(small_cohort_dir), "--image-pattern", pattern]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK (headers only; --full reads every voxel): Cohort(24")
    assert "image: Grid(shape=(31, 37, 31)" in out


def test_validate_full_reads_voxels_and_takes_score_rules(
    small_cohort_dir, tmp_path, capsys
):
    import shutil

    import nibabel as nib
    import numpy as np
    import pandas as pd

    root = tmp_path / "study"
    shutil.copytree(small_cohort_dir, root)
    table = pd.read_csv(root / "participants.tsv", sep="\t")
    table["lsas_pre"], table["lsas_post"] = 60.0, np.where(table["responder"], 20, 50)
    table.drop(columns="responder").rename(columns={"treatment": "group"}).to_csv(
        root / "participants.tsv", sep="\t", index=False
    )
    image = root / "sub-02/func/sub-02_task-faces_stat-effect_statmap.nii.gz"
    img = nib.load(image)
    data = img.get_fdata()
    data[0, 0, 0] = np.nan  # SPM's NaN outside the brain
    nib.Nifti1Image(data.astype("float32"), img.affine).to_filename(image)
    argv = ["validate", str(root), "--pre", "lsas_pre", "--post", "lsas_post"]
    argv += ["--treatment", "group", "--full"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK (every image decompressed)")
    assert "arms CBT: 12, SSRI+CBT: 12" in out
    assert "1 image(s) hold NaN/inf voxels (['sub-02'])" in out
    truncated = root / "sub-07/func/sub-07_task-faces_stat-effect_statmap.nii.gz"
    truncated.write_bytes(truncated.read_bytes()[:2000])
    assert main(argv[:-1]) == 0  # headers only: not found
    capsys.readouterr()
    assert main(argv) == 2
    assert "sub-07" in capsys.readouterr().err
    assert main(argv[:4]) == 2
    assert "--pre and --post go together" in capsys.readouterr().err


def test_validate_reports_errors_with_exit_status_2(tmp_path, capsys):
    assert main(["validate", str(tmp_path)]) == 2
    assert "No participants.tsv" in capsys.readouterr().err


def test_usage_error_exits():
    with pytest.raises(SystemExit):
        main(["no-such-command"])


def test_benchmark_cv_schemes_quick(tmp_path, capsys):
    out = tmp_path / "cv"
    argv = ["benchmark", "cv-schemes", "--quick", "--n-replicates", "3"]
    assert main([*argv, "--sizes", "20", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert re.search(r"none\s+20\s+loo_prior_only\s+0\.0+\s", text)
    assert "wall time" in text and (out / "report.html").exists()
    # A second run refuses the folder before computing anything.
    assert main([*argv, "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main([*argv, "--sizes", "20,x", "--out", str(tmp_path / "b")]) == 2
    assert "--sizes" in capsys.readouterr().err


def test_samplesize_prints_each_criterion_and_refuses_bad_input(capsys):
    arguments = ["samplesize", "--parameters", "24", "--prevalence", "0.174"]
    assert main([*arguments, "--r2", "0.288"]) == 0
    out = capsys.readouterr().out
    assert "at least 662 patients" in out and "n=   623" in out
    assert main([*arguments, "--auc", "0.89"]) == 0
    assert "C statistic 0.89 -> Cox-Snell R^2 0.291" in capsys.readouterr().out
    assert main([*arguments, "--r2", "0.7"]) == 2  # above the maximum, 0.603
    assert "r2_cs must be a Cox-Snell R^2 in (0, 0.603)" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # one of --auc and --r2, not both
        main([*arguments, "--r2", "0.288", "--auc", "0.89"])
