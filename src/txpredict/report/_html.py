"""The self-contained HTML report of a ``txpredict run``."""

from __future__ import annotations

import datetime
import json
from importlib.metadata import version

import jinja2
import pandas as pd

from txpredict.report import _figures


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.1e}"
    return value


def template(name: str) -> jinja2.Template:
    """A report template shipped with the package (autoescaping on)."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("txpredict.report", "templates"),
        autoescape=True,
    )
    return environment.get_template(name)


def table_cells(frame: pd.DataFrame):
    """(header, rows of formatted cells) of a table for the report templates."""
    columns = [frame.index.name or "", *frame.columns]
    rows = [
        [index, *(_fmt(v) for v in row)]
        for index, row in zip(frame.index, frame.itertuples(index=False), strict=True)
    ]
    return columns, rows


def render_report(
    *, title, results, comparisons, cohort, model, cv_text, rois=()
) -> str:
    """HTML text of the report.

    Parameters
    ----------
    results : dict of str to NestedCVResult
        The model first, then baselines (same splits).
    comparisons : dict of str to Comparison
    """
    main = next(iter(results.values()))
    summaries = {name: r.summary() for name, r in results.items()}
    columns, rows = table_cells(
        summaries[next(iter(results))].drop(columns="ci_method")
    )
    comparison_blocks = []
    for label, comparison in comparisons.items():
        c_columns, c_rows = table_cells(comparison.table)
        verdict = (
            "the first model's AUC is significantly higher"
            if comparison.a_is_better
            else "no significant AUC advantage"
        )
        comparison_blocks.append(
            {"title": label, "verdict": verdict, "columns": c_columns, "rows": c_rows}
        )
    chosen = main.folds["best_params"].value_counts()
    figures = {
        "roc": _figures.roc_figure(main),
        "confusion": _figures.confusion_figure(main),
        "folds": _figures.folds_figure(results),
        "baseline": _figures.baseline_figure(summaries),
        "rois": _figures.roi_figure(rois),
    }
    return template("report.html.j2").render(
        title=title,
        version=version("txpredict"),
        created=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        cohort=repr(cohort),
        outcome_rule=cohort.outcome_rule,
        model=repr(model),
        cv=cv_text,
        summary_columns=columns,
        summary_rows=rows,
        comparisons=comparison_blocks,
        figures=figures,
        rois=[
            {"name": r.name, "center": r.center, "radius": r.radius}
            for r in rois
            if hasattr(r, "center")
        ],
        chosen_params=[(json.loads(k) or "(no tuning)", v) for k, v in chosen.items()],
    )
