"""``task = "modality"``: which treatment suits whom, against demographics alone."""

from __future__ import annotations

from pathlib import Path

from sklearn.base import clone

from txpredict.errors import TxpredictError
from txpredict.modality import (
    ModalitySelector,
    compare_selections,
    evaluate_selection,
    selector_coefficients,
)
from txpredict.models import linear_family
from txpredict.report import render_modality_report
from txpredict.run._config import as_toml
from txpredict.run._outputs import FOLD_MODERATION_FILES, outputs_of
from txpredict.run._prepare import checks_text, prepare, write_checks
from txpredict.run._steps import (
    attempt_checklist,
    attempt_report,
    rois_of,
    save_fitted,
)


def run_modality(config: dict, *, progress=print, cache=None, plan=None) -> Path:
    """``task = "modality"``: evaluate treatment selection; write results and report.

    Writes ``selection_summary.csv``, ``selection_predictions.csv``,
    ``selection_calibration.csv`` (each arm's out-of-fold probabilities),
    ``pai_correlations.csv`` (ROI models: the out-of-fold PAI vs each ROI),
    ``selector_coefficients.csv`` (the final selector's, linear models),
    ``pai_intervals.csv`` (the final selector's per-patient PAI intervals),
    ``moderation_{pattern,weights}.nii.gz`` (voxel selectors: the maps of
    the difference of the arms' scores),
    ``selection_comparison.csv`` (scan vs demographics-only selection),
    ``selector.skops``, ``report.html`` and the configuration.
    """
    prepared = prepare(config, progress, cache, plan)
    _, output, cv, model_options, folder, cohort, roi, _ = prepared
    if cohort.treatment is None:
        raise TxpredictError("task = 'modality' needs a treatment column in the data.")
    X, y = cohort.X, cohort.y
    options = selector_options(config, model_options, cv, cohort.arms)
    selector = ModalitySelector(**options)
    baseline = ModalitySelector(
        **{
            **options,
            "features": "demographics",
            "strategy": "t_learner",
            "param_grid": {},
        }
    )
    evaluation = {
        "outer_cv": cv["outer_cv"],
        "n_repeats": cv["n_repeats"],
        "groups": cv.get("groups"),
        "random_state": cv["random_state"],
        "n_jobs": output.get("n_jobs"),
        "truth": cohort.ground_truth,
    }
    treatment = cohort.treatment_column
    progress(
        "Evaluating the selector (nested"
        + (f", + {cv['n_permutations']} permutations" if cv["n_permutations"] else "")
        + ") ..."
    )
    result = evaluate_selection(
        selector,
        X,
        y,
        treatment,
        **evaluation,
        n_permutations=cv["n_permutations"],
        return_maps=selector.has_fold_maps(),
    )
    progress("Evaluating the demographics-only selector ...")
    demo = evaluate_selection(baseline, X, y, treatment, **evaluation)
    comparison = compare_selections(result, demo, names=("scan", "demographics"))
    if not str(options["features"]).startswith("roi"):
        roi = None  # the PAI correlations are of ROI models (their ROI means)
    with outputs_of(
        "modality", folder, overwrite=bool(output.get("overwrite")), report=progress
    ) as out:
        write_checks(out, prepared)
        out.table("selection_summary.csv", result.summary())
        out.table("selection_predictions.csv", result.predictions, index=False)
        out.table("selection_calibration.csv", result.calibration())
        out.table("selection_comparison.csv", comparison)
        if roi is not None and len(result.arms) == 2:
            out.table("pai_correlations.csv", result.pai_correlations(roi))
        out.text("config.toml", as_toml(config))
        # After the analysis: a failure here keeps the results above.
        if result.maps is not None and len(result.arms) == 2:
            out.attempt("the fold moderation maps", _write_fold_moderation, out, result)
        progress("Fitting the final selector on all patients ...")
        final = out.attempt(
            "the final selector's fit", clone(selector).fit, X, y, treatment=treatment
        )
        pai_intervals = None
        if final is not None:
            pai_intervals = out.attempt(
                "the final selector's coefficients, PAI intervals and maps",
                _write_final_selector,
                out,
                final,
                X,
            )
            save_fitted(out, "selector.skops", final)
        checklist = attempt_checklist(
            out,
            prepared,
            task="modality",
            rois=rois_of(model_options),
            result=result,
            comparison=comparison,
            selector=selector,
        )
        attempt_report(
            out,
            render_modality_report,
            prepared,
            result=result,
            comparison=comparison,
            selector=final,
            roi_features=roi,
            pai_intervals=pai_intervals,
            checklist=checklist,
        )
    progress(f"Wrote {folder}")
    progress(_selection_tables(result, comparison))
    progress(checks_text(cohort.checks))
    return folder


def selector_options(config, model_options, cv, arms) -> dict:
    """The ModalitySelector's parameters from the configuration (and plan)."""
    modality = config.get("modality", {})
    return {
        "features": model_options["features"],
        "classifier": model_options["classifier"],
        "param_grid": model_options.get("param_grid"),
        "feature_options": model_options.get("feature_options"),
        "demographic_columns": model_options["demographic_columns"],
        "inner_cv": cv["inner_cv"],
        "random_state": cv["random_state"],
        "strategy": modality.get("strategy", "t_learner"),
        "arms": modality.get("arms", arms),
        "scoring": modality.get("scoring", "auto"),
    }


def _selection_tables(result, comparison) -> str:
    """The selection summary and the scan-vs-demographics comparison, whole."""
    columns = ["estimate", "ci_low", "ci_high", "p_value"]
    summary = result.summary()[columns].round(3).to_string()
    return "\n".join(
        [
            "",
            "Treatment selection (out of fold; see report.html for what each row is):",
            summary,
            "",
            "Scan vs demographics-only selection (a - b):",
            comparison.round(3).to_string(),
        ]
    )


def _write_fold_moderation(outputs, result):
    """The outer-fold selectors' moderation maps (:data:`FOLD_MODERATION_FILES`)."""
    folds = result.maps[f"{result.arms[1]} - {result.arms[0]}"]
    for name, statistic in FOLD_MODERATION_FILES.items():
        folds.to_img("pattern", statistic).to_filename(outputs.path(f"{name}.nii.gz"))


def _write_final_selector(outputs, final, X):
    """The final selector's coefficients, PAI intervals and moderation maps.

    Returns the PAI intervals (None when the selector has none: voxel
    features, or more than two arms).
    """
    if final.strategy == "interaction" or linear_family(
        final.base_model().final_estimator()[0]
    ):
        outputs.table(
            "selector_coefficients.csv", selector_coefficients(final), index=False
        )
    if final.maps_ is not None and len(final.arms_) == 2:
        for kind in ("pattern", "weights"):
            final.map_img(kind=kind).to_filename(
                outputs.path(f"moderation_{kind}.nii.gz")
            )
    if len(final.arms_) != 2 or final.interval_models_ is None:
        return None  # voxel features: no unshrunk per-arm models
    pai_intervals = final.pai_interval(X)
    outputs.table("pai_intervals.csv", pai_intervals)
    return pai_intervals
