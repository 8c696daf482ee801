"""``task = "regression"``: the symptom change, against demographics alone."""

from __future__ import annotations

from pathlib import Path

from sklearn.base import clone

from txpredict.evaluation import compare
from txpredict.model_selection import nested_cross_validate
from txpredict.models import ResponseRegressor
from txpredict.report import render_regression_report
from txpredict.run._config import as_toml
from txpredict.run._outputs import outputs_of
from txpredict.run._prepare import checks_text, prepare, write_checks
from txpredict.run._steps import (
    attempt_checklist,
    attempt_report,
    cv_options,
    final_tables,
    grid_notes,
    learner_of,
    rois_of,
    write_final_model,
)


def run_regression(config: dict, *, progress=print, cache=None, plan=None) -> Path:
    """``task = "regression"``: predict the symptom change; write results and report.

    The model (a ResponseRegressor), the demographics-only baseline on the same
    splits and their comparison, the responders read off the predictions at
    ``[model] threshold`` (default 50, a 50% reduction), the final model and
    a report.
    """
    prepared = prepare(config, progress, cache, plan)
    _, output, cv, model_options, folder, cohort, *_ = prepared
    threshold = model_options.get("threshold", 50.0)
    X, y = cohort.X, cohort.y
    groups = X[cv["groups"]] if cv.get("groups") else None
    n_jobs = output.get("n_jobs")
    model = learner_of(
        "regression",
        model_options,
        cv,
        memory=cache or output.get("cache"),
        n_jobs=n_jobs,
    )
    baseline = ResponseRegressor(
        "demographics",
        demographic_columns=model.demographic_columns,
        random_state=cv["random_state"],
    )
    options = cv_options(cv, groups, n_jobs)
    permutations = cv["n_permutations"]
    progress(
        "Nested cross-validation: model"
        + (f" (+ {permutations} permutations)" if permutations else "")
        + " ..."
    )
    with grid_notes("model", progress):
        result = nested_cross_validate(
            model, X, y, **options, n_permutations=cv["n_permutations"]
        )
    progress(f"  {result!r}")
    progress("Nested cross-validation: demographics only ...")
    with grid_notes("demographics only", progress):
        demographics = nested_cross_validate(baseline, X, y, **options)
    progress(f"  {demographics!r}")
    comparison = compare(result, demographics, names=("model", "demographics"))
    with outputs_of(
        "regression", folder, overwrite=bool(output.get("overwrite")), report=progress
    ) as out:
        result.info["checks"] = [c.as_dict() for c in cohort.checks]
        write_checks(out, prepared)
        out.table("summary.csv", result.summary())
        out.table("predictions.csv", result.predictions, index=False)
        out.table("folds.csv", result.folds, index=False)
        out.table("responders.csv", result.responders(threshold))
        out.table("comparison.csv", comparison.table)
        result.save(out.path("result.json"))
        out.text("config.toml", as_toml(config))
        # After the analysis: a failure here keeps the results above.
        checklist = attempt_checklist(
            out,
            prepared,
            task="regression",
            rois=rois_of(model_options),
            result=result,
            comparison=comparison,
            model=model,
            threshold=threshold,
        )
        attempt_report(
            out,
            render_regression_report,
            prepared,
            result=result,
            comparison=comparison,
            model=model,
            threshold=threshold,
            n_permutations=cv["n_permutations"],
            checklist=checklist,
        )
        final = clone(model).set_params(memory=output.get("cache"))
        write_final_model(out, final, X, y, result, progress)
    progress(f"Wrote {folder}")
    progress(final_tables(result, {"model vs demographics only": comparison}))
    responders = result.responders(threshold)
    progress(
        f"\nResponders read off the predicted change (>= {threshold:g}), model:\n"
        + responders[["estimate", "ci_low", "ci_high"]].round(3).to_string()
    )
    progress(checks_text(cohort.checks))
    return folder
