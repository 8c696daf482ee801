"""The demo behind ``txpredict demo`` / ``make demo``: the whole pipeline."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pandas as pd

from txpredict._io import check_output_folder
from txpredict.datasets import make_synthetic_cohort
from txpredict.model_selection import NestedCVResult
from txpredict.run import run_analysis


def run_demo(
    out_dir,
    *,
    n_subjects=100,
    effect="interaction",
    grid="fsl2",
    n_repeats=5,
    random_state=0,
    n_jobs=None,
    modality=False,
    overwrite=False,
    progress=print,
) -> str:
    """Generate a synthetic cohort, run the nested analysis, summarise it.

    ``out_dir`` receives ``cohort/`` (the BIDS-like dataset) and ``results/``
    (what ``txpredict run`` writes, report included). ``modality=True`` runs
    the treatment-selection analysis (``task = "modality"``) instead.
    ``overwrite=True`` replaces what an earlier demo wrote there (and nothing
    else). If the analysis fails, the cohort this call generated is removed.
    """
    out_dir = Path(out_dir)
    for part in ("cohort", "results"):
        check_output_folder(out_dir / part, overwrite=overwrite, option="--overwrite")
    with _removed_on_failure(out_dir / "cohort"):
        cohort = make_synthetic_cohort(
            n_subjects,
            effect=effect,
            grid=grid,
            random_state=random_state,
            out_dir=out_dir / "cohort",
            n_jobs=n_jobs,
            overwrite=overwrite,
        )
        progress(
            f"Synthetic cohort written to {out_dir / 'cohort'} (effect={effect!r})."
        )
        config = {
            "data": {
                "dataset": str(out_dir / "cohort"),
                "image_pattern": "{participant_id}/func/{participant_id}"
                "_task-faces_stat-effect_statmap.nii.gz",
            },
            "model": {"features": "roi", "classifier": "logistic"},
            "cv": {
                "outer_cv": 5,
                "inner_cv": 5,
                "n_repeats": n_repeats,
                "random_state": random_state,
                # Enough for p-values down to 0.005, quick enough for a demo.
                "n_permutations": 199,
            },
            "output": {
                "folder": str(out_dir / "results"),
                "n_jobs": n_jobs,
                "overwrite": overwrite,
            },
        }
        if modality:
            return _modality_summary(config, n_subjects, n_repeats, progress)
        return _response_summary(config, cohort, n_subjects, n_repeats, progress)


@contextlib.contextmanager
def _removed_on_failure(folder: Path):
    """Remove ``folder`` if the block fails and the folder is new.

    A failed or interrupted demo leaves nothing half-made behind: the cohort it
    generated goes too (it is txpredict's own, written just now).
    """
    new = not folder.exists()
    try:
        yield
    except BaseException:
        if new:
            shutil.rmtree(folder, ignore_errors=True)
        raise


def _modality_summary(config, n_subjects, n_repeats, progress) -> str:
    config["task"] = "modality"
    config["modality"] = {"strategy": "interaction"}
    folder = run_analysis(config, progress=progress)
    summary = pd.read_csv(folder / "selection_summary.csv", index_col=0)
    comparison = pd.read_csv(folder / "selection_comparison.csv", index_col=0)
    return "\n".join(
        [
            "",
            f"Treatment selection (CBT vs SSRI+CBT), nested {n_repeats} x "
            f"5-fold CV, n={n_subjects}:",
            summary[["estimate", "ci_low", "ci_high"]].round(3).to_string(),
            "",
            "Scan vs demographics-only selection:",
            comparison.round(3).to_string(),
            f"Report: {folder / 'report.html'}",
        ]
    )


def _response_summary(config, cohort, n_subjects, n_repeats, progress) -> str:
    folder = run_analysis(config, progress=progress)
    result = NestedCVResult.load(folder / "result.json")
    summary = result.summary()[["estimate", "ci_low", "ci_high", "dummy_prior"]]
    comparison = pd.read_csv(folder / "comparison.csv", index_col=[0, 1])
    lines = [
        "",
        f"ROI model (L2 logistic regression), nested {n_repeats} x 5-fold CV, "
        f"n={n_subjects}:",
        summary.round(3).to_string(),
        "",
        "Does the scan add anything? (corrected t-tests across folds)",
        comparison.loc[
            (slice(None), ["auc", "balanced_accuracy"]),
            ["a", "b", "difference", "p_value"],
        ]
        .round(3)
        .to_string(),
        "",
        "Best possible balanced accuracy for this generator (Bayes): "
        f"{cohort.info['bayes_balanced_accuracy']:.2f}. The ROI model cannot reach it: "
        "it has no treatment x dACC interaction term (see modality prediction).",
        f"Report: {folder / 'report.html'}",
    ]
    return "\n".join(lines)
