"""The modality-prediction report of ``txpredict run`` with ``task = "modality"``."""

from __future__ import annotations

import numpy as np

from txpredict.modality import qini_curve
from txpredict.report._figures import _png, glass_brain_figure, subplots
from txpredict.report._html import (
    checklist_cells,
    page_header,
    table_cells,
    template,
)
from txpredict.report._summary import modality_summary


def _pai_figure(result):
    """Each patient's out-of-fold PAI (mean over repeats), by the arm received.

    One count per patient: pooling the repeats would count each patient
    once per repeat.
    """
    p = result.predictions
    a0, a1 = result.arms[:2]
    per_patient = (
        p.assign(pai=p[f"p_{a1}"] - p[f"p_{a0}"])
        .groupby("participant_id")
        .agg(pai=("pai", "mean"), received=("received", "first"))
    )
    n_repeats = p["repeat"].nunique()
    fig, ax = subplots(figsize=(5, 3.2))
    for arm in result.arms:
        values = per_patient.loc[per_patient["received"] == arm, "pai"]
        ax.hist(values, bins=20, alpha=0.5, label=f"received {arm} ({len(values)})")
    ax.axvline(0, color="k", lw=1)
    ax.set(
        xlabel=f"PAI = P(response | {a1}) - P(response | {a0})",
        ylabel="patients",
        title=f"Out-of-fold PAI by arm received (mean of {n_repeats} repeats)",
    )
    ax.legend(fontsize="small")
    return _png(fig)


def _pai_interval_figure(intervals, arms):
    """Each patient's PAI interval (final selector), sorted by its centre."""
    ordered = intervals.sort_values("pai_unshrunk")
    x = np.arange(len(ordered))
    fig, ax = subplots(figsize=(7, 3.2))
    ax.vlines(x, ordered["ci_low"], ordered["ci_high"], color="0.7", lw=1)
    ax.plot(x, ordered["pai_unshrunk"], ".", ms=3, label="unshrunk PAI (centre)")
    ax.plot(x, ordered["pai"], ".", ms=3, label="selector's PAI")
    ax.axhline(0, color="k", lw=1)
    ax.set(
        xlabel="patients, sorted",
        ylabel=f"P(response | {arms[1]}) - P(response | {arms[0]})",
        title="95% intervals of each patient's expected PAI",
    )
    ax.legend(fontsize="small")
    return _png(fig)


def _policy_figure(summary, arms):
    names = [
        "matched_response_rate",
        "unmatched_response_rate",
        "policy_value_ipw",
        *[f"everyone_{a}" for a in arms],
        "random_allocation",
    ]
    fig, ax = subplots(figsize=(7, 3.2))
    ax.bar(range(len(names)), summary.loc[names, "estimate"])
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=25, ha="right")
    ax.set(ylabel="response rate", ylim=(0, 1), title="Matched vs unmatched; policies")
    return _png(fig)


def _qini_figure(result):
    p = result.predictions[result.predictions["repeat"] == 0]
    a0, a1 = result.arms[:2]
    fraction, q = qini_curve(
        p["y_true"], p["received"] == a1, p[f"p_{a1}"] - p[f"p_{a0}"]
    )
    fig, ax = subplots(figsize=(4.5, 3.5))
    ax.plot(fraction, q, label="PAI ranking")
    ax.plot([0, 1], [0, q[-1]], "k--", label="random ranking")
    ax.set(
        xlabel="fraction of patients (highest PAI first)",
        ylabel=f"extra responders with {a1}",
        title="Qini curve (repeat 0)",
    )
    ax.legend()
    return _png(fig)


def _features_figure(result, roi_features):
    """Each ROI against the patients' out-of-fold PAI, every ROI.

    The r in each title is the one of the table beside it
    (:meth:`SelectionResult.pai_correlations`: per repeat, then averaged);
    the points are each patient's PAI averaged over the repeats.
    """
    if roi_features is None:
        return None
    p = result.predictions.groupby("participant_id")
    a0, a1 = result.arms[:2]
    pai = (p[f"p_{a1}"].mean() - p[f"p_{a0}"].mean()).reindex(
        roi_features.index.astype(str)
    )
    r = result.pai_correlations(roi_features)["mean"]
    columns = list(roi_features.columns)
    ncols = min(len(columns), 5)
    nrows = -(-len(columns) // ncols)
    fig, axes = subplots(
        nrows, ncols, figsize=(2.2 * ncols, 2.4 * nrows), sharey=True, squeeze=False
    )
    for ax, column in zip(axes.flat, columns, strict=False):
        ax.scatter(roi_features[column], pai, s=6, alpha=0.6)
        ax.set_title(f"{column}\nr = {r[column]:.2f}", fontsize=9)
    for ax in axes.flat[len(columns) :]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set(ylabel="mean PAI")
    fig.tight_layout()
    return _png(fig)


def _moderation_figure(selector, result) -> str | None:
    """Glass brains of the moderation and arm patterns (and fold stability).

    The final selector's moderation pattern, then the fold selectors'
    jackknife z when the evaluation kept their maps, then each arm's pattern.
    """
    if getattr(selector, "maps_", None) is None or len(result.arms) != 2:
        return None
    a0, a1 = result.arms
    rows = [
        (
            selector.map_img(kind="pattern"),
            f"moderation pattern: where the brain covaries with the "
            f"advantage of {a1} over {a0} (final selector)",
        )
    ]
    if result.maps is not None:  # evaluate_selection(..., return_maps=True)
        rows.append(
            (
                result.maps[f"{a1} - {a0}"].to_img("pattern", "jackknife_z"),
                "its stability: jackknife z of the outer-fold selectors' "
                "moderation patterns, |z| > 1.96 (per voxel, uncorrected)",
                1.96,
            )
        )
    rows += [
        (selector.map_img(a1), f"{a1}: its response model's pattern"),
        (selector.map_img(a0), f"{a0}: its response model's pattern"),
    ]
    return glass_brain_figure(rows)


def render_modality_report(
    *,
    title,
    result,
    comparison,
    cohort,
    selector,
    cv_text,
    roi_features=None,
    pai_intervals=None,
    checklist=None,
) -> str:
    """HTML text of the modality report.

    Parameters
    ----------
    title : str
        The report's title.
    result : SelectionResult
        The selector's out-of-fold evaluation.
    comparison : DataFrame
        :func:`compare_selections` against the demographics selector.
    cohort : Cohort
        The trial's cohort.
    selector : ModalitySelector
        The selector evaluated.
    cv_text : str
        The cross-validation, in words.
    roi_features : DataFrame or None, default=None
        The patients' ROI means, for the PAI's correlations.
    pai_intervals : DataFrame or None, default=None
        :meth:`ModalitySelector.pai_interval` of the final selector for the
        cohort's patients.
    checklist : DataFrame or None, default=None
        TRIPOD+AI's (:func:`tripod_ai_checklist`).
    """
    moderation = _moderation_figure(selector, result)
    intervals = None
    if pai_intervals is not None:
        low, high = pai_intervals["ci_low"], pai_intervals["ci_high"]
        intervals = {
            "figure": _pai_interval_figure(pai_intervals, result.arms),
            "favours_second": float((low > 0).mean()),
            "favours_first": float((high < 0).mean()),
            "median_width": float((high - low).median()),
            "arms": result.arms,
        }
    summary = result.summary()
    columns, rows = table_cells(summary)
    comparison_columns, comparison_rows = table_cells(comparison)
    correlations = (
        None
        if roi_features is None or len(result.arms) != 2
        else table_cells(result.pai_correlations(roi_features))
    )
    calibration = result.calibration()["estimate"]
    calibration_columns, calibration_rows = table_cells(
        calibration.unstack("arm").reindex(calibration.index.unique("measure"))
    )
    return template("modality.html.j2").render(
        **page_header(title, cohort, cv_text),
        answers=modality_summary(
            summary=summary,
            comparison=comparison,
            arms=result.arms,
            checks=[c.as_dict() for c in getattr(cohort, "checks", [])],
        ),
        selector=repr(selector),
        summary_columns=columns,
        summary_rows=rows,
        comparison_columns=comparison_columns,
        comparison_rows=comparison_rows,
        calibration_columns=calibration_columns,
        calibration_rows=calibration_rows,
        correlations=correlations,
        intervals=intervals,
        moderation=moderation,
        has_permutation=result.permutation is not None,
        figures={
            "pai": _pai_figure(result),
            "policy": _policy_figure(summary, result.arms),
            "qini": _qini_figure(result),
            "features": _features_figure(result, roi_features),
        },
        **checklist_cells(checklist),
    )
