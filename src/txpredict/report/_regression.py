"""The report of ``txpredict run`` with ``task = "regression"``."""

from __future__ import annotations

from txpredict.report._figures import _png, subplots
from txpredict.report._html import (
    checklist_cells,
    describe_model,
    page_header,
    table_cells,
    template,
)
from txpredict.report._summary import regression_summary


def _scatter_figure(result):
    by_subject = result.predictions.groupby("participant_id")
    observed = by_subject["y_true"].first()
    predicted = by_subject["y_pred"].mean()
    fig, ax = subplots(figsize=(4.5, 4.5))
    ax.scatter(observed, predicted, s=10, alpha=0.7)
    low = min(observed.min(), predicted.min())
    high = max(observed.max(), predicted.max())
    ax.plot([low, high], [low, high], "k--", lw=1, label="identity")
    ax.set(xlabel="observed change", ylabel="predicted change (out of fold)")
    ax.legend(loc="upper left")
    return _png(fig)


def render_regression_report(
    *,
    title,
    result,
    comparison,
    cohort,
    model,
    cv_text,
    threshold,
    n_permutations,
    checklist=None,
) -> str:
    """HTML text of the regression report.

    Parameters
    ----------
    title : str
        The report's title.
    result : RegressionCVResult
        The model's nested CV.
    comparison : Comparison
        The model against the demographics baseline on the same splits.
    cohort : Cohort
        The cohort the result is of.
    model : ResponseRegressor
        The model evaluated.
    cv_text : str
        The cross-validation, in words.
    threshold : float
        The outcome at which a patient counts as a responder (predicted and
        observed).
    n_permutations : int
        The permutations of the summary's test.
    checklist : DataFrame or None, default=None
        TRIPOD+AI's (:func:`tripod_ai_checklist`).
    """
    summary = result.summary()
    columns, rows = table_cells(summary)
    responder_columns, responder_rows = table_cells(result.responders(threshold))
    comparison_columns, comparison_rows = table_cells(comparison.table)
    return template("regression.html.j2").render(
        **page_header(title, cohort, cv_text),
        answers=regression_summary(
            n=result.predictions["participant_id"].nunique(),
            summary=summary,
            comparison=comparison,
            responders=result.responders(threshold),
            threshold=threshold,
            checks=[c.as_dict() for c in getattr(cohort, "checks", [])],
        ),
        model=describe_model(model),
        summary_columns=columns,
        summary_rows=rows,
        responder_columns=responder_columns,
        responder_rows=responder_rows,
        comparison_columns=comparison_columns,
        comparison_rows=comparison_rows,
        threshold=threshold,
        n_permutations=n_permutations,
        figures={"scatter": _scatter_figure(result)},
        **checklist_cells(checklist),
    )
