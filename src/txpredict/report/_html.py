"""The self-contained HTML report of a ``txpredict run``."""

from __future__ import annotations

import datetime
import json
from importlib.metadata import version

import jinja2
import numpy as np
import pandas as pd

from txpredict.model_selection import LEAVE_SITE_OUT_NOTE, grid_edge_warnings
from txpredict.report import _figures
from txpredict.report._summary import plain_summary, plan_check
from txpredict.stats import (
    DESCRIPTIONS,
    coverage_note,
    detectable_auc_gain,
    false_positive_note,
)


def _fmt(value):
    if isinstance(value, float) and value != value:  # NaN: undefined, say so
        return "undefined"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.1e}"
    return value


def template(name: str) -> jinja2.Template:
    """A report template shipped with the package (autoescaping on).

    Parameters
    ----------
    name : str
        The template's file name.
    """
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("txpredict.report", "templates"),
        autoescape=True,
    )
    return environment.get_template(name)


def page_header(title, cohort, cv_text) -> dict:
    """What every analysis report states first: study, version, time, cohort, CV.

    And the preregistered plan, if the run had one, with each deviation.
    """
    checks = list(getattr(cohort, "checks", []))
    return {
        "plan": plan_check(checks),
        "title": title,
        "version": version("txpredict"),
        "created": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cohort": repr(cohort),
        "outcome_rule": cohort.outcome_rule,
        "cv": cv_text,
        "checks": checks,
    }


def table_cells(frame: pd.DataFrame):
    """(header, rows of formatted cells) of a table for the report templates.

    Parameters
    ----------
    frame : DataFrame
        The table to show.
    """
    columns = [frame.index.name or "", *frame.columns]
    rows = [
        [index, *(_fmt(v) for v in row)]
        for index, row in zip(frame.index, frame.itertuples(index=False), strict=True)
    ]
    return columns, rows


def render_report(
    *,
    title,
    results,
    comparisons,
    cohort,
    model,
    cv_text,
    rois=(),
    importance=None,
    checklist=None,
    learning_curve=None,
) -> str:
    """HTML text of the report.

    Parameters
    ----------
    title : str
        The report's title.
    results : dict of str to NestedCVResult
        The model first, then baselines (same splits).
    comparisons : dict of str to Comparison
        The model against each baseline.
    cohort : Cohort
        The cohort the results are of.
    model : ResponseClassifier
        The model evaluated.
    cv_text : str
        The cross-validation, in words.
    rois : sequence of Sphere, default=()
        The ROIs of a ROI model, for the table and the figure.
    importance : DataFrame or None
        :func:`txpredict.permutation_importance`'s table.
    checklist : DataFrame or None
        :func:`txpredict.report.tripod_ai_checklist`'s table.
    learning_curve : LearningCurve or None
        :func:`txpredict.learning_curve` of the model (with demographics) and
        the demographics baseline: its figure and answers.
    """
    main = next(iter(results.values()))
    summaries = {name: r.summary() for name, r in results.items()}
    main_summary = summaries[next(iter(results))]
    # The numbers first; how each was computed in a table of its own, so that
    # neither is wider than the page.
    full = with_measured_coverage(main_summary, model)
    headline = [c for c in HEADLINE_COLUMNS if c in full]
    columns, rows = table_cells(full[headline])
    method_columns, method_rows = table_cells(full.drop(columns=headline))
    models_columns, models_rows = _every_model(summaries)
    permutation = main.permutation or {}
    chosen = main.folds["best_params"].value_counts()
    edges = main.grid_edges()
    edge_columns, edge_rows = table_cells(edges) if len(edges) else ([], [])
    importance_columns, importance_rows = (
        table_cells(importance) if importance is not None else ([], [])
    )
    n = main.predictions["participant_id"].nunique()
    return template("report.html.j2").render(
        **page_header(title, cohort, cv_text),
        answers=plain_summary(
            n=n,
            summary=main_summary,
            comparisons=comparisons,
            calibration=main.calibration(),
            checks=[c.as_dict() for c in getattr(cohort, "checks", [])],
        ),
        model=describe_model(model),
        summary_columns=columns,
        summary_rows=rows,
        method_columns=method_columns,
        method_rows=method_rows,
        comparisons=_comparison_blocks(comparisons, n=n),
        figures=_figures_of(main, results, summaries, rois, importance),
        probabilities=_probabilities(main, model),
        rois=[
            {"name": r.name, "center": r.center, "radius": r.radius}
            for r in rois
            if hasattr(r, "center")
        ],
        chosen_params=[(json.loads(k) or "(no tuning)", v) for k, v in chosen.items()],
        permutation_rules={
            m: test.rule() for m, test in permutation.items() if m in METRIC_NAMES
        },
        disagreements=test_and_interval_notes(main_summary, permutation),
        coverage_measured=coverage_was_measured_for(model),
        measured_on=MEASURED_ON,
        edge_columns=edge_columns,
        edge_rows=edge_rows,
        edge_notes=grid_edge_warnings(edges),
        permutation_level={
            m: false_positive_note(f"permutation_{m}")
            for m in ("auc", "balanced_accuracy")
        },
        methods=DESCRIPTIONS,
        models_columns=models_columns,
        models_rows=models_rows,
        sites=_sites(main),
        importance_columns=importance_columns,
        importance_rows=importance_rows,
        learning_curve=None
        if learning_curve is None
        else {
            "figure": _figures.learning_curve_figure(learning_curve),
            "sentences": learning_curve.sentences(),
        },
        **checklist_cells(checklist),
    )


def checklist_cells(checklist) -> dict:
    """The TRIPOD+AI checklist for the reports' shared section (None: absent)."""
    if checklist is None:
        return {"checklist": None, "checklist_filled": None}
    return {
        "checklist": table_cells(checklist[["topic", "filled_by", "text"]]),
        "checklist_filled": int((checklist["filled_by"] == "txpredict").sum()),
    }


#: The summary's columns shown first: the numbers a reader quotes.
HEADLINE_COLUMNS = ("estimate", "ci_low", "ci_high", "p_value", "chance")


def _every_model(summaries):
    """Every model of the run side by side (model + demographics is often best)."""
    every_model = pd.DataFrame(
        {
            name: {
                f"{metric} {part}": summary.at[metric, column]
                for metric in ("balanced_accuracy", "auc")
                for part, column in (
                    ("estimate", "estimate"),
                    ("95% low", "ci_low"),
                    ("95% high", "ci_high"),
                )
            }
            for name, summary in summaries.items()
        }
    ).T.rename_axis("model")
    return table_cells(every_model)


def _comparison_blocks(comparisons, n) -> list[dict]:
    """Each comparison's table, with the measured false-positive rate of its tests.

    Under a permutation test of added value, also the gain it detects at this
    n with 80% power: what a non-significant result can rule out.
    """
    blocks = []
    for label, comparison in comparisons.items():
        table = comparison.table.drop(columns="test").copy()
        # The test that decides: the permutation test of added value when it ran.
        kind = "added" if "permutation_p_value" in table else "compare"
        table["measured false-positive rate"] = [
            false_positive_note(f"{kind}_{metric}") for metric in table.index
        ]
        c_columns, c_rows = table_cells(table)
        verdict = (
            "the first model's AUC is significantly higher"
            if comparison.a_is_better
            else "no significant AUC advantage"
        )
        blocks.append(
            {
                "title": label,
                "verdict": verdict,
                "columns": c_columns,
                "rows": c_rows,
                "detectable": (
                    detectable_auc_gain(n).sentence() if kind == "added" else None
                ),
            }
        )
    return blocks


def _sites(main) -> dict | None:
    """Per-site performance and heterogeneity of a multi-site run, or None."""
    if "group" not in main.predictions:
        return None
    per_site, heterogeneity = main.per_site(), main.heterogeneity()
    # Estimates and intervals in one cell each, and the heterogeneity
    # measures as rows: tables that fit the page whatever the sites' names.
    columns_site, rows_site = table_cells(
        pd.DataFrame(
            {
                "n": per_site["n"],
                "n_responders": per_site["n_responders"],
                **{
                    f"{metric} (95% interval)": [
                        f"{e:.3f} ({lo:.3f} to {hi:.3f})"
                        for e, lo, hi in zip(
                            per_site[metric],
                            per_site[f"{metric}_low"],
                            per_site[f"{metric}_high"],
                            strict=True,
                        )
                    ]
                    for metric in ("balanced_accuracy", "auc")
                },
            },
            index=per_site.index,
        )
    )
    columns_het, rows_het = table_cells(
        heterogeneity[
            [
                "n_sites",
                "q",
                "p_value",
                "i2",
                "tau2",
                "random",
                "random_ci_low",
                "random_ci_high",
                "prediction_low",
                "prediction_high",
            ]
        ].T.rename_axis("measure")
    )
    return {
        "figure": _figures.forest_figure(per_site, heterogeneity),
        "columns": columns_site,
        "rows": rows_site,
        "heterogeneity_columns": columns_het,
        "heterogeneity_rows": rows_het,
        "leave_site_out": main.info.get("outer_cv") == "leave-site-out",
    }


def _probabilities(main, model) -> dict | None:
    """Calibration and decision curve of the out-of-fold probabilities, or None."""
    if not main.predictions["probability"].notna().any():
        return None
    curve = main.decision_curve([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
    cal_columns, cal_rows = table_cells(main.calibration())
    curve_columns, curve_rows = table_cells(curve)
    return {
        "method": describe_probabilities(model),
        "calibration_figure": _figures.calibration_figure(main),
        "curve_figure": _figures.decision_curve_figure(main.decision_curve()),
        "calibration_columns": cal_columns,
        "calibration_rows": cal_rows,
        "curve_columns": curve_columns,
        "curve_rows": curve_rows,
    }


def _figures_of(main, results, summaries, rois, importance) -> dict:
    """Every figure of the report (None where it does not apply)."""
    return {
        "roc": _figures.roc_figure(main),
        "confusion": _figures.confusion_figure(main),
        "folds": _figures.folds_figure(results),
        "baseline": _figures.baseline_figure(summaries),
        "rois": _figures.roi_figure(rois),
        "maps": _figures.maps_figure(main.maps)
        if main.maps is not None and main.maps.are_voxels
        else None,
        "importance": None
        if importance is None
        else _figures.importance_figure(importance),
        "roi_weights": _figures.roi_weights_figure(main.maps.table("weights"))
        if main.maps is not None and not main.maps.are_voxels
        else None,
    }


def describe_model(model) -> str:
    """What the model is, in words: its features, learner and grid, not its repr.

    scikit-learn's repr hides the defaults, which are what most users run
    (``ResponseClassifier()``).

    Examples
    --------
    >>> import txpredict as tp
    >>> describe_model(tp.ResponseClassifier(inner_cv=3, param_grid={"C": [1.0]}))
    'features roi, classifier logistic, grid {C: 1.0} (inner_cv=3)'
    """
    params = model.get_params(deep=False)
    learner = "regressor" if "regressor" in params else "classifier"
    features, final = params["features"], params[learner]
    _, default_grid = model.final_estimator()
    grid = default_grid if params.get("param_grid") is None else params["param_grid"]
    grid_text = ", ".join(
        f"{name}: {', '.join(map(str, values))}" for name, values in grid.items()
    )
    shown = {"features", learner, "param_grid", "n_jobs", "memory", "random_state"}
    defaults = type(model)().get_params(deep=False)
    options = [
        f"{name}={value!r}"
        for name, value in params.items()
        if name not in shown and value != defaults[name]
    ]
    text = (
        f"features {features if isinstance(features, str) else repr(features)}, "
        f"{learner} {final if isinstance(final, str) else repr(final)}, "
        f"grid {{{grid_text or 'none: no tuning'}}}"
    )
    return text + (f" ({', '.join(options)})" if options else "")


def describe_probabilities(model) -> str:
    """How a response classifier's out-of-fold probabilities were made, in words.

    Examples
    --------
    >>> import txpredict as tp
    >>> describe_probabilities(tp.ResponseClassifier()).split(":")[0]
    "Each fold's model's decision values recalibrated on its own inner CV"
    """
    if model.recalibrates():
        return (
            "Each fold's model's decision values recalibrated on its own inner CV: "
            "a logistic fit of the outcome on the inner out-of-fold decision "
            "values of the chosen hyperparameters, its slope clipped to [0, 1] "
            "(it only softens a fit too confident for its sample size), so that "
            "the probabilities describe the study's own response rate"
        )
    return (
        "Each fold's model's probabilities, fitted with balanced class weights "
        "and shifted back to that fold's training response rate (prior "
        "correction, King and Zeng 2001)"
    )


#: The models ``benchmarks/calibration.py`` measured the intervals' coverage on.
MEASURED_ON = "an L2 logistic regression on ROI means or demographics, k-fold CV"


def coverage_was_measured_for(model) -> bool:
    """Whether the calibration benchmark's coverage speaks for ``model``.

    It measured L2 logistic regression (txpredict's default learner) on the
    ROI means and demographics, without harmonisation or confound removal;
    another learner (an SVM on whole-brain voxels, say) may cover otherwise.
    """
    from txpredict.features import PrecomputedFeatures
    from txpredict.models import ResponseClassifier, linear_family

    if not isinstance(model, ResponseClassifier):
        return False
    features_measured = model.features in (
        "roi",
        "demographics",
        "roi+demographics",
    ) or isinstance(model.features, PrecomputedFeatures)
    return bool(
        features_measured
        and linear_family(model.final_estimator()[0]) == "logistic"
        and not model.harmonize
        and not model.confounds
    )


def with_measured_coverage(summary: pd.DataFrame, model=None) -> pd.DataFrame:
    """The summary with the measured coverage of each interval beside it.

    Only where it was measured: k-fold CV of the kind of model the
    calibration benchmark ran (:func:`coverage_was_measured_for`; ``model``
    None: assumed so).
    """
    table = summary.copy()
    measured = model is None or coverage_was_measured_for(model)
    table.insert(
        table.columns.get_loc("ci_method") + 1,
        "measured coverage",
        [
            "not measured under leave-site-out"
            if method.endswith(LEAVE_SITE_OUT_NOTE)
            else (coverage_note(metric) if measured else "not measured for this model")
            for metric, method in table["ci_method"].items()
        ],
    )
    return table


#: The metrics a permutation test may have, as the report names them.
METRIC_NAMES = {"auc": "AUC", "balanced_accuracy": "balanced accuracy"}


def test_and_interval_notes(summary: pd.DataFrame, permutation: dict) -> list[str]:
    """Sentences for the metrics whose permutation test and interval disagree.

    A p-value below 0.05 beside a 95% interval that includes chance (or the
    reverse) is not a contradiction: they answer different questions. Says
    which, with the p-value's Monte-Carlo error (``permutation``: the
    PermutationTestResult of each metric tested).
    """
    notes = []
    for metric in METRIC_NAMES:
        test = permutation.get(metric)
        if metric not in summary.index or test is None:
            continue
        row = summary.loc[metric]
        p, chance = row["p_value"], row["chance"]
        if not (np.isfinite(p) and np.isfinite(row["ci_low"])):
            continue
        covers = row["ci_low"] <= chance <= row["ci_high"]
        if (p <= 0.05) != covers:
            continue  # they agree
        error = 1.96 * test.monte_carlo_error
        notes.append(
            f"{metric}: the permutation test (p = {p:.3f} +- {error:.3f}, the "
            f"Monte-Carlo error of {len(test.null_distribution)} permutations) "
            "and the 95% "
            f"interval [{row['ci_low']:.3f}, {row['ci_high']:.3f}], which "
            f"{'includes' if covers else 'excludes'} chance ({chance:g}), "
            "disagree. They answer different questions. The test asks whether "
            "the procedure finds any signal in these patients, and is exact when "
            "their outcomes are exchangeable; the interval bounds the "
            "procedure's expected performance on the next patient at this "
            "sample size, including how much it changes with the training "
            "patients, and was measured slightly conservative. Report the "
            "estimate with its interval as the performance, and the p-value as "
            "the test of 'better than chance'; where they disagree the evidence "
            "is borderline: a signal is likely, its size is not pinned down."
        )
    return notes
