"""The files each task writes, declared once for the overwrite check and the writer.

Before any work, a run refuses an output folder holding a file it would
replace that it did not write (:func:`txpredict._io.check_output_folder`,
given :func:`will_write`); while writing, :class:`Outputs` writes only the
files declared here, so the two cannot drift apart.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from txpredict._io import INCOMPLETE, results_folder

#: Maps a linear model on voxels writes: (kind, statistic) of its outer-fold
#: models, or the final model's own ("final").
MAP_FILES = {
    "weights": ("weights", "final"),
    "pattern": ("pattern", "final"),
    "fold_pattern_mean": ("pattern", "mean"),
    "fold_pattern_ratio": ("pattern", "ratio"),
    "fold_pattern_jackknife_z": ("pattern", "jackknife_z"),
    "fold_pattern_sign_consistency": ("pattern", "sign_consistency"),
}
#: A voxel selector's outer-fold moderation maps (the difference of the two
#: arms' patterns): statistic across the folds.
FOLD_MODERATION_FILES = {
    "fold_moderation_pattern_mean": "mean",
    "fold_moderation_pattern_jackknife_z": "jackknife_z",
    "fold_moderation_pattern_sign_consistency": "sign_consistency",
}

_COMMON = {
    "report.html": "the report",
    "config.toml": "the configuration, as run",
    "leakage_checks.csv": "each leakage and confounding check, and what it found",
    "plan.json": "the preregistered plan the run was checked against (--plan)",
    "tripod_ai.csv": "the TRIPOD+AI checklist: what the run filled, what is left",
    "tripod_ai.md": "the TRIPOD+AI checklist, as a Markdown table",
}

#: Every file each task may write into its output folder, and what it holds.
OUTPUTS: dict[str, dict[str, str]] = {
    "response": {
        "summary.csv": "the model's metrics, intervals and p-values",
        "predictions.csv": "out-of-fold predictions, one row per patient and repeat",
        "folds.csv": "each outer fold's metrics and chosen hyperparameters",
        "calibration.csv": "calibration of the out-of-fold probabilities",
        "decision_curve.csv": "net benefit against the treat-all/none policies",
        "result.json": "the nested-CV result (txpredict.NestedCVResult.load)",
        **{
            f"{name}.nii.gz": f"voxel map: {kind}, {statistic}"
            for name, (kind, statistic) in MAP_FILES.items()
        },
        "fold_weights.csv": "each ROI's weight in every outer-fold model",
        "permutation_importance.csv": "each feature's AUC drop on the test folds",
        "learning_curve.csv": "nested CV on each subsample of the learning curve",
        "learning_curve_extrapolated.csv": "the learning curves, extrapolated",
        "summaries.csv": "the summary of each model (model, baselines)",
        "comparison.csv": "each model against the demographics-only baseline",
        "model.skops": "the final model, fitted on every patient",
        **_COMMON,
    },
    "regression": {
        "summary.csv": "the regressor's metrics, intervals and p-values",
        "predictions.csv": "out-of-fold predictions, one row per patient and repeat",
        "folds.csv": "each outer fold's metrics and chosen hyperparameters",
        "responders.csv": "responders read off the predicted change",
        "comparison.csv": "the model against the demographics-only baseline",
        "result.json": "the nested-CV result",
        "model.skops": "the final model, fitted on every patient",
        **_COMMON,
    },
    "modality": {
        "selection_summary.csv": "the selection's measures, intervals and p-values",
        "selection_predictions.csv": "out-of-fold response probabilities per arm",
        "selection_calibration.csv": "calibration of each arm's probabilities",
        "pai_correlations.csv": "the out-of-fold PAI against each ROI",
        "selector_coefficients.csv": "the final selector's coefficients",
        "pai_intervals.csv": "the final selector's PAI interval per patient",
        "moderation_pattern.nii.gz": "the final selector's moderation pattern",
        "moderation_weights.nii.gz": "the final selector's moderation weights",
        **{
            f"{name}.nii.gz": f"outer-fold moderation pattern: {statistic}"
            for name, statistic in FOLD_MODERATION_FILES.items()
        },
        "selection_comparison.csv": "scan against demographics-only selection",
        "selector.skops": "the final selector, fitted on every patient",
        **_COMMON,
    },
}


def will_write(task) -> tuple[str, ...]:
    """Every file a run of ``task`` may write, for the overwrite check."""
    return (*OUTPUTS[task], INCOMPLETE)


class Outputs:
    """A task's results folder being written: only the files its task declares.

    Parameters
    ----------
    folder : ResultsFolder
        From :func:`txpredict._io.results_folder`.
    task : {"response", "regression", "modality"}
    """

    def __init__(self, folder, task):
        self.folder = folder
        self.task = task

    def path(self, name) -> Path:
        """Where ``name`` is written; a name the task does not declare is a bug."""
        if name not in OUTPUTS[self.task]:
            raise RuntimeError(
                f"{name!r} is not among the files a {self.task!r} run declares "
                "(run/_outputs.py OUTPUTS): declare it there, so that the "
                "overwrite check protects a user's file of that name."
            )
        return self.folder.path / name

    def table(self, name, frame, **to_csv) -> None:
        """Write a DataFrame as ``name`` (CSV)."""
        frame.to_csv(self.path(name), **to_csv)

    def text(self, name, text) -> None:
        """Write ``text`` as ``name`` (UTF-8)."""
        self.path(name).write_text(text, encoding="utf-8")

    def attempt(self, what, step, *args, **kwargs):
        """A step after the analysis; its failure is recorded, the results kept."""
        return self.folder.attempt(what, step, *args, **kwargs)


@contextlib.contextmanager
def outputs_of(task, folder, *, overwrite, report):
    """:func:`results_folder` for ``task``, written through :class:`Outputs`."""
    with results_folder(folder, overwrite=overwrite, report=report) as out:
        yield Outputs(out, task)
