"""``task = "response"``: who responds, and whether the scan adds to demographics."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn.base import clone

from txpredict.evaluation import (
    compare,
    learning_curve,
    permutation_importance,
    scan_permutation_test,
)
from txpredict.model_selection import nested_cross_validate
from txpredict.models import ResponseClassifier
from txpredict.report import render_report
from txpredict.run._config import (
    DEFAULT_IMPORTANCE_PERMUTATIONS,
    as_toml,
    learning_curve_settings,
)
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
from txpredict.stats import detectable_auc_gain


def run_response(config: dict, *, progress=print, cache=None, plan=None) -> Path:
    """``task = "response"``: responders vs the demographics-only baseline.

    Writes ``summary.csv``, ``predictions.csv``, ``folds.csv``,
    ``calibration.csv``, ``decision_curve.csv``, ``comparison.csv``,
    ``result.json``, ``model.skops`` (the final model fitted on all
    patients), ``report.html`` and a copy of the configuration; for a linear
    model on voxels also its maps (:data:`MAP_FILES`: the final model's
    weights and pattern, the outer-fold models' mean pattern, CV ratio,
    jackknife z and sign consistency) as NIfTI, for one on ROIs
    ``fold_weights.csv`` (each ROI's weight across the outer-fold models).
    Nothing is written unless everything succeeds. An existing non-empty
    folder is refused unless ``overwrite = true``, and even then only the files
    an earlier txpredict run wrote there are replaced: a file of the user's own
    is never deleted or overwritten. ``cache`` is the feature cache of the
    analysis (see :func:`analysis_cache`; default ``[output] cache``).
    """
    prepared = prepare(config, progress, cache, plan)
    _, output, cv, model_options, folder, cohort, *_ = prepared
    X, y = cohort.X, cohort.y
    groups = X[cv["groups"]] if cv.get("groups") else None
    n_jobs = output.get("n_jobs")
    cache = cache or output.get("cache")
    # Built once: the nested CV, the combined model and the final fit all use it.
    model = learner_of("response", model_options, cv, memory=cache, n_jobs=n_jobs)
    demographic_columns = model_options["demographic_columns"]
    baseline = ResponseClassifier(
        "demographics",
        "logistic",
        demographic_columns=demographic_columns,
        random_state=cv["random_state"],
    )
    models = {"model": model, "demographics only": baseline}
    features = model_options["features"]
    if adds_combined_model(features):
        models["model + demographics"] = clone(model).set_params(
            features=f"{features}+demographics"
        )
    options = cv_options(cv, groups, n_jobs)
    results = {}
    for name, estimator in models.items():
        # txpredict's "better than chance" for the model itself: a permutation
        # test of the whole nested procedure; the baselines are compared with it.
        permutations = cv["n_permutations"] if name == "model" else 0
        maps = name == "model" and estimator.has_fold_maps()
        progress(
            f"Nested cross-validation: {name}"
            + (f" (+ {permutations} permutations)" if permutations else "")
            + " ..."
        )
        with grid_notes(name, progress):
            results[name] = nested_cross_validate(
                estimator,
                X,
                y,
                **options,
                n_permutations=permutations,
                return_maps=maps,
            )
        progress(f"  {results[name]!r}")
    comparisons = {
        "model vs demographics only": compare(
            results["model"],
            results["demographics only"],
            names=("model", "demographics"),
        )
    }
    if "model + demographics" in results:
        combined = compare(
            results["model + demographics"],
            results["demographics only"],
            names=("model + demographics", "demographics"),
        )
        if tests_added_value_by_permutation(features, cv):
            # Does the scan add to demographics? The permutation test of the
            # scan given the demographic columns decides (more powerful than
            # compare()'s variance test at the same level: benchmarks/
            # calibration.py).
            progress(
                "Permutation test of what the scan adds to demographics "
                f"(at most {cv['added_value_permutations']}) ..."
            )
            tests = scan_permutation_test(
                models["model + demographics"],
                baseline,
                X,
                y,
                baseline_columns=demographic_columns,
                n_permutations=cv["added_value_permutations"],
                **options,
            )
            progress(f"  {tests['auc']!r}")
            progress("  " + detectable_auc_gain(len(y)).sentence())
            combined = combined.with_permutation(tests)
        comparisons["model + demographics vs demographics only"] = combined
    importance = permutation_importance_of(config, model, X, y, cv, groups, progress)
    rois = rois_of(model_options)
    with outputs_of(
        "response", folder, overwrite=bool(output.get("overwrite")), report=progress
    ) as out:
        main = results["model"]
        main.info["checks"] = [c.as_dict() for c in cohort.checks]
        write_checks(out, prepared)
        out.table("summary.csv", main.summary())
        out.table("predictions.csv", main.predictions, index=False)
        out.table("folds.csv", main.folds, index=False)
        out.table("calibration.csv", main.calibration())
        if main.predictions["probability"].notna().any():
            out.table("decision_curve.csv", main.decision_curve())
        main.save(out.path("result.json"))
        out.table(
            "summaries.csv",
            pd.concat(
                {name: r.summary() for name, r in results.items()}, names=["model"]
            ),
        )
        out.table(
            "comparison.csv",
            pd.concat(
                {name: c.table for name, c in comparisons.items()},
                names=["comparison"],
            ),
        )
        if importance is not None:
            out.table("permutation_importance.csv", importance)
        out.text("config.toml", as_toml(config))
        # After the analysis: a failure here keeps the results above.
        curve = None
        if learning_curve_settings(config) is not None:
            curve = out.attempt(
                "the learning curve (learning_curve.csv)",
                write_learning_curve,
                out,
                config,
                models,
                (X, y, groups),
                cv,
                progress,
            )
        checklist = attempt_checklist(
            out,
            prepared,
            results=results,
            comparisons=comparisons,
            model=model,
            rois=rois,
        )
        attempt_report(
            out,
            render_report,
            prepared,
            results=results,
            comparisons=comparisons,
            model=model,
            rois=rois,
            importance=importance,
            checklist=checklist,
            learning_curve=curve,
        )
        final = clone(model).set_params(memory=output.get("cache"))
        write_final_model(out, final, X, y, main, progress)
    progress(f"Wrote {folder}")
    progress(final_tables(results["model"], comparisons))
    progress(checks_text(cohort.checks))
    return folder


#: learning_curve_extrapolated.csv: the curves at these multiples of the cohort.
EXTRAPOLATED_TO = (1, 1.5, 2, 3, 4, 6, 8)


def write_learning_curve(outputs, config, models, data, cv, progress):
    """[learning_curve]: nested CV on subsamples, extrapolated, and its tables.

    The curve of model + demographics where the run fits it (what a clinic
    would use, and what the added-value test compares), else of the model;
    the gain and the power question against demographics alone. ``data``:
    (X, y, groups); ``cv``: the run's [cv] settings with their defaults.
    """
    X, y, groups = data
    settings = learning_curve_settings(config)
    name = "model + demographics" if "model + demographics" in models else "model"
    progress(
        f"Learning curve of {name} ({settings['n_subsamples']} subsamples at each "
        f"of {len(settings['fractions'])} sizes) ..."
    )
    # One line for all the subsamples' grid-edge notes: the model's own notes
    # above already say where its grid's edge was hit.
    with grid_notes(f"learning curve, {name}", progress, count_only=True):
        curve = learning_curve(
            models[name],
            X,
            y,
            baseline=models["demographics only"],
            fractions=settings["fractions"],
            n_subsamples=settings["n_subsamples"],
            outer_cv=cv["outer_cv"],
            inner_cv=cv["inner_cv"],
            n_repeats=settings["n_repeats"],
            groups=groups,
            inner_groups=cv.get("inner_groups", True),
            n_jobs=config["output"].get("n_jobs"),
            random_state=cv["random_state"],
            half_width=settings["half_width"],
        )
    outputs.table("learning_curve.csv", curve.points, index=False)
    sizes = [round(f * len(y)) for f in EXTRAPOLATED_TO]
    outputs.table("learning_curve_extrapolated.csv", curve.extrapolate(sizes))
    return curve


def adds_combined_model(features) -> bool:
    """Whether the run also fits model + demographics (image features only)."""
    return isinstance(features, str) and features in ("roi", "roi_voxels", "wholebrain")


def tests_added_value_by_permutation(features, cv) -> bool:
    """Whether what the scan adds is tested by permutation (ROI features).

    Voxel designs keep compare()'s test: each permutation would refit on a
    whole brain.
    """
    return features == "roi" and bool(cv["added_value_permutations"])


def planned_comparisons(features, cv) -> dict[str, str]:
    """Each comparison a response run makes, and its test (for the plan)."""
    paired = "paired difference on the same splits (txpredict.compare)"
    planned = {"model vs demographics only": paired}
    if adds_combined_model(features):
        planned["model + demographics vs demographics only"] = (
            "permutation test of the scan given the demographics "
            f"(at most {cv['added_value_permutations']} permutations)"
            if tests_added_value_by_permutation(features, cv)
            else paired
        )
    return planned


def permutation_importance_of(config, model, X, y, cv, groups, progress):
    """[importance]: each feature's AUC drop on the outer test folds, or None."""
    importance = config.get("importance") or {}
    n = (
        importance.get("n_permutations", DEFAULT_IMPORTANCE_PERMUTATIONS)
        if importance
        else 0
    )
    if not n:
        return None
    progress(f"Permutation importance ({n} shuffles per feature and fold) ...")
    return permutation_importance(
        model,
        X,
        y,
        groups_of_features=importance.get("features") or None,
        n_permutations=n,
        outer_cv=cv["outer_cv"],
        n_repeats=cv["n_repeats"],
        groups=groups,
        n_jobs=config["output"].get("n_jobs"),
        random_state=cv["random_state"],
    )
