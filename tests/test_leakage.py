"""Leakage screens: a post-treatment column never reaches a baseline unannounced.

The traps are planted in tables laid out the user's way (the SPM-style study of
conftest: ``group``, ``gender``, ``lsas_pre``/``lsas_post``, ``scanner``).
"""

import shutil

import numpy as np
import pandas as pd
import pytest

import txpredict as tp
from txpredict.cli import main
from txpredict.errors import CohortError, TxpredictError
from txpredict.leakage import (
    LeakageWarning,
    post_treatment_name,
    refuse_duplicate_scans,
    screen_content,
)

PATTERN = "derivatives/spm/{participant_id}/con_0001.nii"


@pytest.mark.parametrize(
    "name, flagged",
    [
        ("lsas_post", True),
        ("HAMD_week12", True),
        ("hamd_w12", True),
        ("madrs_fu", True),
        ("visit3_total", True),
        ("bdi_t2", True),
        ("remission", True),
        ("hamd_change", True),
        ("pct_reduction", True),
        ("BDI_nach", True),
        ("follow_up_score", True),
        ("lsas_pre", False),
        ("HAMD_baseline", False),
        ("visit1_total", False),
        ("t1_score", False),
        ("age", False),
        ("scanner", False),
        ("education_years", False),
    ],
)
def test_names_that_say_post_treatment(name, flagged):
    assert (post_treatment_name(name) is not None) == flagged


def _study_with(spm_study_dir, tmp_path, edit):
    """The SPM-style study with its table edited; images shared."""
    root = tmp_path / "study"
    shutil.copytree(spm_study_dir, root, symlinks=True)
    table = pd.read_csv(root / "participants.tsv", sep="\t", dtype=str)
    edit(table).to_csv(root / "participants.tsv", sep="\t", index=False)
    return root


def _with_responder(table):
    pre, post = table["lsas_pre"].astype(float), table["lsas_post"].astype(float)
    table["responder"] = ((pre - post) / pre >= 0.5).astype(int)
    return table


def test_the_post_score_beside_a_responder_column_is_kept_out(
    spm_study_dir, tmp_path, capsys
):
    """Measured before the screen: the baseline took lsas_post, BA 0.99, and the
    scan looked far worse than demographics."""
    root = _study_with(spm_study_dir, tmp_path, _with_responder)
    with pytest.warns(LeakageWarning, match=r"'lsas_post': its name says 'post'"):
        cohort = tp.load_cohort(root, PATTERN, outcome="responder", treatment="group")
    assert "lsas_post" not in cohort.X
    assert cohort.roles["lsas_post"] == "suspected_post_treatment"
    with pytest.raises(CohortError, match=r"post_treatment=\['lsas_post'\]"):
        cohort.baseline_columns()
    declared = tp.load_cohort(
        root,
        PATTERN,
        outcome="responder",
        treatment="group",
        post_treatment=["lsas_post"],
    )
    assert "lsas_post" not in declared.baseline_columns()
    assert "lsas_pre" in declared.baseline_columns()
    assert {c.name: c.status for c in declared.checks}["declared roles"] == "declared"


def test_the_same_column_under_a_neutral_name_is_found_by_its_content(
    spm_study_dir, tmp_path
):
    def edit(table):
        return _with_responder(table).rename(columns={"lsas_post": "score_b"})

    root = _study_with(spm_study_dir, tmp_path, edit)
    with pytest.warns(LeakageWarning, match=r"'score_b': alone it predicts the out"):
        cohort = tp.load_cohort(root, PATTERN, outcome="responder", treatment="group")
    assert "score_b" not in cohort.X and "lsas_pre" in cohort.X
    # Declared baseline: a predictor after all, whatever the screens say.
    kept = tp.load_cohort(
        root, PATTERN, outcome="responder", treatment="group", baseline=["score_b"]
    )
    assert "score_b" in kept.baseline_columns()


def _config_text(root, data_lines=""):
    """A small run of the SPM-style study with a responder column."""
    return f"""
[data]
dataset = "{root}"
image_pattern = "{PATTERN}"
outcome = "responder"
treatment = "group"
{data_lines}

[model]
features = "roi"
param_grid = {{C = [0.1, 1.0]}}

[cv]
outer_cv = 3
inner_cv = 3
n_repeats = 1
n_permutations = 0

[output]
folder = "results"
"""


def test_a_run_refuses_to_derive_its_baseline_until_the_column_is_declared(
    spm_study_dir, tmp_path, capsys
):
    root = _study_with(spm_study_dir, tmp_path, _with_responder)
    config = tmp_path / "analysis.toml"
    text = _config_text(root)
    config.write_text(text)
    assert main(["run", str(config)]) == 2
    error = capsys.readouterr().err
    assert "'lsas_post': its name says 'post'" in error
    assert "post_treatment = [...] in [data]" in error and "baseline" in error
    assert not (tmp_path / "results").exists()
    config.write_text(
        text.replace("[model]", 'post_treatment = ["lsas_post"]\n\n[model]')
    )
    assert main(["run", str(config)]) == 0
    out = capsys.readouterr().out
    assert "'lsas_post'" not in out.split("Demographic columns:")[1].split("\n")[0]


@pytest.mark.parametrize(
    "roles, expected",
    [
        ({"post_treatment": ["lsas_later"]}, r"\['lsas_later'\] are not in"),
        (
            {"post_treatment": ["age"], "baseline": ["age"]},
            "declared both post_treatment and baseline",
        ),
        ({"baseline": ["responder"]}, "'responder' is the outcome"),
        ({"post_treatment": ["group"]}, "'group' is the treatment arm"),
    ],
)
def test_bad_declarations_are_refused_before_any_work(
    spm_study_dir, tmp_path, roles, expected
):
    root = _study_with(spm_study_dir, tmp_path, _with_responder)
    with pytest.raises(CohortError, match=expected):
        tp.load_cohort(
            root,
            PATTERN,
            outcome="responder",
            treatment="group",
            **{"post_treatment": ["lsas_post"], **roles},
        )


def test_a_clean_table_raises_no_alarm_and_an_id_column_is_no_proxy(rng):
    n = 120
    y = rng.integers(0, 2, n)
    table = pd.DataFrame(
        {
            "age": rng.uniform(18, 65, n),
            "severity": rng.normal(60, 10, n) - 8 * y,  # a real, modest predictor
            "record": [f"r{i}" for i in range(n)],  # a level per patient
            "site": rng.choice(["a", "b", "c"], n),
        }
    )
    assert screen_content(table, y, columns=list(table)) == {}
    table["outcome_copy"] = np.where(y == 1, "yes", "no")
    found = screen_content(table, y, columns=list(table))
    assert list(found) == ["outcome_copy"]


@pytest.mark.parametrize("continuous", [False, True])
def test_a_post_score_weak_alone_is_found_with_its_pre_score(rng, continuous):
    """Pre scores spread widely: the post score alone predicts little, its ratio
    to the pre score is the outcome itself (the responder rule)."""
    n = 80
    pre = rng.uniform(20, 140, n)
    post = pre * rng.uniform(0.2, 1.0, n)
    change = 100 * (pre - post) / pre
    outcome = change if continuous else (change >= 50).astype(int)
    table = pd.DataFrame({"pre": pre, "later": post, "age": rng.uniform(18, 65, n)})
    found = screen_content(
        table,
        outcome,
        columns=["later", "age", "pre"],
        baseline=["pre"],
        continuous=continuous,
    )
    assert list(found) == ["later"]
    assert found["later"].startswith("with 'pre' (their difference or ratio)")
    assert found["later"].endswith("1.00")


def test_a_tiny_cohort_cannot_be_flagged_by_content(rng):
    """Six patients: an AUC of 1 happens by chance; the name screen still works."""
    y = np.array([0, 1, 0, 1, 0, 1])
    table = pd.DataFrame({"age": [20.0, 50, 21, 52, 22, 55]})
    assert screen_content(table, y, columns=["age"]) == {}


@pytest.mark.parametrize("copy", ["exact", "resaved"])
@pytest.mark.parametrize("features", ["roi", "wholebrain"])
def test_one_scan_under_two_ids_is_named(spm_study_dir, tmp_path, copy, features):
    """sub-30's scan replaced by sub-05's: one patient in training and test."""
    import nibabel as nib

    root = tmp_path / "study"
    shutil.copytree(spm_study_dir, root)
    source = nib.load(root / PATTERN.format(participant_id="sub-05"))
    data = np.asarray(source.dataobj, dtype=np.float32)
    if copy == "resaved":  # re-saved with a little noise, as a resampling would
        noise = np.random.default_rng(0).normal(size=data.shape)
        data = data + 0.005 * data.std() * noise.astype(np.float32)
    target = root / PATTERN.format(participant_id="sub-30")
    nib.Nifti1Image(data, source.affine).to_filename(target)
    cohort = tp.load_cohort(
        root, PATTERN, outcome=tp.SymptomReduction("lsas_pre", "lsas_post"),
        treatment="group",
    )  # fmt: skip
    model = tp.ResponseClassifier(features, param_grid={"C": [1.0]}, inner_cv=3)
    with pytest.raises(tp.errors.TxpredictError, match=r"sub-05 and sub-30 \("):
        tp.nested_cross_validate(model, cohort.X, cohort.y, n_repeats=1)
    with pytest.raises(tp.errors.TxpredictError, match=r"sub-05 and sub-30"):
        tp.evaluate_selection(
            tp.ModalitySelector(features, param_grid={"C": [1.0]}, inner_cv=3),
            cohort.X,
            cohort.y,
            "group",
            outer_cv=3,
            n_repeats=1,
        )


def test_an_external_cohort_holding_training_scans_is_refused(spm_study_dir):
    """A patient validated on their own training scan."""
    cohort = tp.load_cohort(
        spm_study_dir,
        PATTERN,
        outcome=tp.SymptomReduction("lsas_pre", "lsas_post"),
        treatment="group",
    )
    first, second = (
        cohort.subset(cohort.X.index[:30]),
        cohort.subset(cohort.X.index[30:]),
    )
    model = tp.ResponseClassifier("roi", param_grid={"C": [1.0]}, inner_cv=3)
    model.fit(first.X, first.y)
    assert model.training_scans_in(second.X) == []
    shared = cohort.subset([*cohort.X.index[25:27], *cohort.X.index[30:]])
    with pytest.raises(
        tp.errors.TxpredictError, match=r"2 patient\(s\) .*sub-26 and sub-26"
    ):
        tp.validate_external(model, shared)
    renamed = shared.X.rename(index={"sub-26": "new-1"})
    pairs = model.training_scans_in(renamed)
    assert sorted((a, b) for a, b, _ in pairs) == [
        ("sub-26", "new-1"),
        ("sub-27", "sub-27"),
    ]


def test_a_site_that_recruits_responders_with_its_own_scanner_is_named(rng):
    """No brain signal: a model could still score by recognising the scanner."""
    from txpredict.leakage import site_confounding

    n = 160
    sites = np.repeat(["prisma", "skyra"], n // 2)
    y = np.where(sites == "prisma", rng.random(n) < 0.75, rng.random(n) < 0.3)
    features = rng.normal(size=(n, 9)) + (sites == "prisma")[:, None] * 1.0
    check = site_confounding(sites, y.astype(int), features, column="scanner")
    assert check.status == "found" and check.items == ["scanner"]
    assert "prisma 7" in check.finding and 'harmonize = "combat"' in check.finding
    handled = site_confounding(
        sites, y.astype(int), features, column="scanner", handled="ComBat in the folds"
    )
    assert handled.status == "declared"
    unseen = site_confounding(sites, y.astype(int), rng.normal(size=(n, 9)))
    assert unseen.status == "ok" and "not recognisable" in unseen.finding


def test_every_report_and_saved_result_carries_the_checks(
    spm_study_dir, tmp_path, capsys
):
    root = _study_with(spm_study_dir, tmp_path, _with_responder)
    config = tmp_path / "analysis.toml"
    config.write_text(_config_text(root, 'post_treatment = ["lsas_post"]'))
    assert main(["run", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().splitlines()[-5] == "Leakage and confounding checks:"
    assert "[declared] declared roles: post-treatment (never predictors)" in out
    html = (tmp_path / "results" / "report.html").read_text()
    assert "<h2>Leakage and confounding checks</h2>" in html
    assert "scanner" in html  # the site confounding check found the site column
    result = tp.NestedCVResult.load(tmp_path / "results" / "result.json")
    names = [c["name"] for c in result.info["checks"]]
    assert names == [
        "post-treatment names",
        "outcome proxies",
        "declared roles",
        "site confounding",
    ]
    table = pd.read_csv(tmp_path / "results" / "leakage_checks.csv")
    assert list(table["name"]) == names


def test_validate_names_the_leaks_and_takes_the_declarations(
    spm_study_dir, tmp_path, capsys
):
    root = _study_with(spm_study_dir, tmp_path, _with_responder)
    argv = ["validate", str(root), "--image-pattern", PATTERN, "--treatment", "group"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert out.startswith("Found possible leaks")
    assert "[found] post-treatment names" in out and "lsas_post" in out
    assert main([*argv, "--post-treatment", "lsas_post", "--full"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK (every image decompressed)")
    assert "[declared] declared roles" in out and "site confounding" in out


def test_the_duplicate_screen_reads_a_subset_of_the_voxels(rng):
    # A float64 copy of every voxel doubled a whole-brain run's peak memory:
    # the screen converts only the columns it compares.
    import tracemalloc

    voxels = rng.normal(size=(40, 100_000)).astype(np.float32)  # 16 MB
    voxels[7] = voxels[3]
    tracemalloc.start()
    with pytest.raises(TxpredictError, match="s03.*s07|s07.*s03"):
        refuse_duplicate_scans(voxels, [f"s{i:02d}" for i in range(40)])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < voxels.nbytes / 4
