"""Steps the three tasks share.

The nested CV's options and notes, the final fit, its file and maps, the
report, and what is printed at the end.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

from sklearn.base import clone

from txpredict.features import default_rois
from txpredict.model_selection import GridEdgeWarning, is_leave_site_out
from txpredict.models import ResponseClassifier, ResponseRegressor
from txpredict.persistence import save_model
from txpredict.report import checklist_markdown, tripod_ai_checklist
from txpredict.run._outputs import MAP_FILES


def learner_of(task, model_options, cv, **runtime):
    """The estimator a response or regression run evaluates (and its plan records).

    ``runtime``: where it caches and how many cores it uses (``memory``,
    ``n_jobs``), which do not change its numbers. A regression's
    ``threshold`` reads the predictions; it is no parameter of the model.
    """
    learner = ResponseRegressor if task == "regression" else ResponseClassifier
    settings = {k: v for k, v in model_options.items() if k != "threshold"}
    return learner(
        **settings,
        inner_cv=cv["inner_cv"],
        random_state=cv["random_state"],
        **runtime,
    )


def rois_of(model_options) -> tuple:
    """The ROIs of an ROI model (the run's own, or the default ones); () else."""
    features = model_options["features"]
    if not (isinstance(features, str) and features.startswith("roi")):
        return ()
    custom = (model_options.get("feature_options") or {}).get("rois", "default")
    return tuple(default_rois() if custom == "default" else custom)


def save_fitted(outputs, name, fitted) -> None:
    """Write a fitted model or selector as ``name`` (may fail: attempted)."""
    outputs.attempt(f"the model file ({name})", save_model, fitted, outputs.path(name))


def write_final_model(outputs, model, X, y, result, progress):
    """Fit the final model on every patient; write it and its maps (may fail)."""
    progress("Fitting the final model on all patients ...")
    final = outputs.attempt("the final model's fit", clone(model).fit, X, y)
    if final is not None:
        save_fitted(outputs, "model.skops", final)
        outputs.attempt("the maps", write_maps, outputs, result, final)


def write_maps(outputs, result, final):
    """The maps of :data:`MAP_FILES` (voxels) or the ROI weight table, if kept."""
    if result.maps is None:
        return
    if not result.maps.are_voxels:  # ROI features
        outputs.table("fold_weights.csv", result.maps.table("weights"))
        return
    for name, (kind, statistic) in MAP_FILES.items():
        if statistic == "final":
            image = final.coef_img_ if kind == "weights" else final.pattern_img_
        else:
            image = result.maps.to_img(kind, statistic)
        image.to_filename(outputs.path(f"{name}.nii.gz"))


def attempt_report(outputs, render, prepared, **content):
    """Render and write ``report.html``; a failure is recorded, the results kept."""
    outputs.attempt(
        "the report (report.html)",
        _write_report,
        outputs,
        render,
        title=Path(prepared.data["dataset"]).name,
        cohort=prepared.cohort,
        cv_text=cv_text(prepared.cv),
        **content,
    )


def attempt_checklist(outputs, prepared, **content):
    """Write the TRIPOD+AI checklist (CSV and Markdown); None if it failed."""
    return outputs.attempt(
        "the TRIPOD+AI checklist (tripod_ai.csv, tripod_ai.md)",
        _write_checklist,
        outputs,
        cohort=prepared.cohort,
        cv_text=cv_text(prepared.cv),
        **content,
    )


def _write_checklist(outputs, **content):
    checklist = tripod_ai_checklist(**content)
    outputs.table("tripod_ai.csv", checklist)
    outputs.text("tripod_ai.md", checklist_markdown(checklist))
    return checklist


def _write_report(outputs, render, **content):
    outputs.text("report.html", render(**content))


@contextlib.contextmanager
def grid_notes(name, progress, *, count_only=False):
    """Print the nested CV's grid-edge warnings as notes naming the model.

    ``count_only``: one line counting them (many nested CVs of one model).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GridEdgeWarning)
        yield
    edges = [w for w in caught if issubclass(w.category, GridEdgeWarning)]
    if count_only and edges:
        progress(
            f"  Note ({name}): the inner CV chose an end of its grid in "
            f"{len(edges)} of the nested CVs (see the model's own notes)."
        )
    for warning in caught:
        if issubclass(warning.category, GridEdgeWarning):
            if not count_only:
                progress(f"  Note ({name}): {warning.message}")
        else:  # not ours to swallow
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )


def cv_options(cv, groups, n_jobs) -> dict:
    """The [cv] section as nested_cross_validate's keywords (same for every model)."""
    return {
        "outer_cv": cv["outer_cv"],
        "inner_cv": cv["inner_cv"],
        "n_repeats": cv["n_repeats"],
        "random_state": cv["random_state"],
        "groups": groups,
        "inner_groups": cv.get("inner_groups", True),
        "n_jobs": n_jobs,
        # Folds and permutations done, with the time left (stderr).
        "progress": True,
    }


def cv_text(cv) -> str:
    """The cross-validation scheme in words, for the reports.

    Leave-site-out has no shuffle, so it runs once whatever ``n_repeats`` says.

    Examples
    --------
    >>> cv_text({"outer_cv": 5, "inner_cv": 5, "n_repeats": 10, "random_state": 0})
    '5-fold outer x 5-fold inner, 10 repeats, seed 0'
    >>> cv_text({"outer_cv": "leave-site-out", "inner_cv": 3, "n_repeats": 10,
    ...           "random_state": 0, "groups": "site"})
    'leave-site-out outer (one site held out at a time) x 3-fold inner, groups = site'
    """
    inner = f"{cv['inner_cv']}-fold inner"
    if is_leave_site_out(cv["outer_cv"]):
        outer = "leave-site-out outer (one site held out at a time)"
        return f"{outer} x {inner}, groups = {cv['groups']}"
    return (
        f"{cv['outer_cv']}-fold outer x {inner}, "
        f"{cv['n_repeats']} repeats, seed {cv['random_state']}"
        + (f", groups = {cv['groups']}" if cv.get("groups") else "")
    )


def final_tables(result, comparisons) -> str:
    """The summary and the comparisons, whole (pandas would cut them at 80 columns)."""
    columns = ["estimate", "ci_low", "ci_high", "ci_method", "p_value"]
    parts = ["", "Summary (model):", result.summary()[columns].round(3).to_string()]
    for label, comparison in comparisons.items():
        table = comparison.table[["difference", "ci_low", "ci_high", "p_value"]]
        parts += ["", f"{label} (a - b):", table.round(3).to_string()]
    # Classifiers only: a regressor's predictions are not probabilities.
    calibration = result.calibration() if hasattr(result, "calibration") else None
    if calibration is not None and not calibration.empty:
        parts += [
            "",
            "Calibration of the out-of-fold probabilities (model):",
            calibration.round(3).to_string(),
        ]
    return "\n".join(parts)
