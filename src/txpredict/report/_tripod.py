"""The TRIPOD+AI checklist of a response analysis: what the run can fill.

TRIPOD+AI (Collins GS, Moons KGM, Dhiman P, et al. TRIPOD+AI statement:
updated guidance for reporting clinical prediction models that use
regression or machine learning methods. BMJ 2024;385:e078378) lists 27 items
(52 with their parts) a prediction-model study reports. A run knows the
answer to many of them (participants, outcome, predictors, sample size,
missing data, the whole analysis, performance with intervals); those are
filled with the run's own numbers, the rest are marked for the author.
The items are paraphrased here (see the paper for the wording); the
numbering follows the published checklist.
"""

from __future__ import annotations

import pandas as pd

from txpredict.report._html import describe_model, describe_probabilities
from txpredict.report._summary import PLAN_CHECK, plan_check

#: (item, section, topic, what it asks), paraphrased from Collins et al. 2024.
ITEMS = (
    (
        "1",
        "Title",
        "Title",
        "the study as developing or evaluating a prediction "
        "model, its population, outcome and modelling approach",
    ),
    ("2", "Abstract", "Abstract", "a structured abstract (TRIPOD+AI for Abstracts)"),
    (
        "3a",
        "Introduction",
        "Background",
        "the healthcare context and the rationale for the model, with existing models",
    ),
    (
        "3b",
        "Introduction",
        "Background",
        "the target population, where in the "
        "care pathway the model is used, and its intended users",
    ),
    (
        "3c",
        "Introduction",
        "Background",
        "known health inequalities between sociodemographic groups",
    ),
    (
        "4",
        "Introduction",
        "Objectives",
        "the objectives: development, evaluation or both",
    ),
    ("5a", "Methods", "Data", "the sources of data and why they were chosen"),
    (
        "5b",
        "Methods",
        "Data",
        "the dates of the data: start and end of accrual and of follow-up",
    ),
    (
        "6a",
        "Methods",
        "Participants",
        "the setting: kind of care, number and location of centres",
    ),
    ("6b", "Methods", "Participants", "eligibility criteria"),
    ("6c", "Methods", "Participants", "treatments received, if relevant"),
    (
        "7",
        "Methods",
        "Data preparation",
        "data pre-processing and quality "
        "checking, and whether it was similar across groups",
    ),
    (
        "8a",
        "Methods",
        "Outcome",
        "the outcome: definition, how and when it was assessed, why it was chosen",
    ),
    (
        "8b",
        "Methods",
        "Outcome",
        "qualifications of outcome assessors, when assessment needs judgement",
    ),
    ("8c", "Methods", "Outcome", "actions to blind outcome assessment"),
    (
        "9a",
        "Methods",
        "Predictors",
        "the choice of candidate predictors and any pre-selection before modelling",
    ),
    (
        "9b",
        "Methods",
        "Predictors",
        "the predictors: definitions, how and when they were measured",
    ),
    (
        "9c",
        "Methods",
        "Predictors",
        "qualifications of predictor assessors, when measurement needs judgement",
    ),
    ("10", "Methods", "Sample size", "how the study size was arrived at"),
    ("11", "Methods", "Missing data", "how missing data were handled, and why"),
    (
        "12a",
        "Methods",
        "Analytical methods",
        "how the data were used for "
        "development and evaluation (partitions, resampling)",
    ),
    (
        "12b",
        "Methods",
        "Analytical methods",
        "how predictors were handled (functional form, rescaling, transformation)",
    ),
    (
        "12c",
        "Methods",
        "Analytical methods",
        "the type of model, its building "
        "steps, hyperparameter tuning and internal validation",
    ),
    (
        "12d",
        "Methods",
        "Analytical methods",
        "how heterogeneity across clusters (centres) was handled",
    ),
    (
        "12e",
        "Methods",
        "Analytical methods",
        "the performance measures, with their rationale",
    ),
    (
        "12f",
        "Methods",
        "Analytical methods",
        "any model updating (e.g. recalibration) after evaluation",
    ),
    (
        "12g",
        "Methods",
        "Analytical methods",
        "for evaluation: how the model's predictions were calculated",
    ),
    (
        "13",
        "Methods",
        "Class imbalance",
        "methods for class imbalance and any "
        "recalibration of the predictions that follows",
    ),
    ("14", "Methods", "Fairness", "approaches to assess or address fairness"),
    (
        "15",
        "Methods",
        "Model output",
        "the model's output (probabilities, "
        "classes) and any threshold, with its rationale",
    ),
    (
        "16",
        "Methods",
        "Training versus evaluation",
        "differences between development and evaluation data",
    ),
    ("17", "Methods", "Ethical approval", "the ethics committee and consent"),
    ("18a", "Open science", "Funding", "sources of funding and the funders' role"),
    ("18b", "Open science", "Conflicts of interest", "conflicts of interest"),
    ("18c", "Open science", "Protocol", "where the study protocol can be found"),
    ("18d", "Open science", "Registration", "registration of the study"),
    ("18e", "Open science", "Data sharing", "availability of the data"),
    ("18f", "Open science", "Code sharing", "availability of the analysis code"),
    (
        "19",
        "Patient and public involvement",
        "Patient and public involvement",
        "patient and public involvement in the study",
    ),
    (
        "20a",
        "Results",
        "Participants",
        "the flow of participants, with and without the outcome",
    ),
    (
        "20b",
        "Results",
        "Participants",
        "participants' characteristics, including missing data, overall and by outcome",
    ),
    (
        "20c",
        "Results",
        "Participants",
        "for evaluation: the distribution of predictors against the development data",
    ),
    (
        "21",
        "Results",
        "Model development",
        "the number of participants and outcome events in each analysis",
    ),
    (
        "22",
        "Results",
        "Model specification",
        "the full model, or how to obtain it, to predict for new individuals",
    ),
    (
        "23a",
        "Results",
        "Model performance",
        "performance with confidence intervals, including key subgroups",
    ),
    (
        "23b",
        "Results",
        "Model performance",
        "heterogeneity of performance across clusters",
    ),
    ("24", "Results", "Model updating", "the results of any model updating"),
    (
        "25",
        "Discussion",
        "Interpretation",
        "the overall interpretation, "
        "including fairness, in the light of the objectives",
    ),
    (
        "26",
        "Discussion",
        "Limitations",
        "limitations: sample, size, overfitting, missing data, biases",
    ),
    (
        "27a",
        "Discussion",
        "Usability",
        "how poor-quality or unavailable inputs are handled in use",
    ),
    (
        "27b",
        "Discussion",
        "Usability",
        "what users must do with the inputs, and the expertise needed",
    ),
    ("27c", "Discussion", "Usability", "next steps and generalisability"),
)

#: What an unfilled item says.
FOR_THE_AUTHOR = "for the author"


def tripod_ai_checklist(
    *, cohort, cv_text, task="response", rois=(), **content
) -> pd.DataFrame:
    """The checklist of a ``txpredict run``: what the run filled, what is left.

    Parameters
    ----------
    cohort : Cohort
    cv_text : str
        The cross-validation scheme in words.
    task : {"response", "regression", "modality"}, default="response"
    rois : sequence of Roi
        The ROIs of an ROI model (their definitions fill item 9b).
    **content
        What the task's run made. response: ``results`` (dict of str to
        NestedCVResult, the model first, then the baselines),
        ``comparisons`` (dict of str to Comparison), ``model``
        (ResponseClassifier). regression: ``result``, ``comparison``,
        ``model`` (ResponseRegressor), ``threshold``. modality: ``result``
        (SelectionResult), ``comparison`` (its table against the
        demographics-only selector), ``selector`` (ModalitySelector).

    Returns
    -------
    DataFrame
        Indexed by ``item``; ``section``, ``topic``, ``asks``, ``filled_by``
        ("txpredict" or "author") and ``text`` (the filled text with the
        run's numbers, or "for the author").
    """
    filled = _FILLED[task](cohort=cohort, cv_text=cv_text, rois=rois, **content)
    rows = [
        {
            "item": item,
            "section": section,
            "topic": topic,
            "asks": asks,
            "filled_by": "txpredict" if item in filled else "author",
            "text": filled.get(item, FOR_THE_AUTHOR),
        }
        for item, section, topic, asks in ITEMS
    ]
    return pd.DataFrame(rows).set_index("item")


def checklist_markdown(checklist: pd.DataFrame) -> str:
    """The checklist as a Markdown table (``tripod_ai.md``).

    Parameters
    ----------
    checklist : DataFrame
        :func:`tripod_ai_checklist`'s table.
    """
    lines = [
        "# TRIPOD+AI checklist",
        "",
        "Collins GS, Moons KGM, Dhiman P, et al. TRIPOD+AI statement: updated "
        "guidance for reporting clinical prediction models that use regression or "
        "machine learning methods. BMJ 2024;385:e078378. Items paraphrased; "
        f"{(checklist['filled_by'] == 'txpredict').sum()} of {len(checklist)} "
        "filled by txpredict from this run, the rest for the author.",
        "",
        "| item | topic | asks | filled by | text |",
        "|---|---|---|---|---|",
    ]
    for item, row in checklist.iterrows():
        cells = [item, row["topic"], row["asks"], row["filled_by"], row["text"]]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _shared(cohort, cv_text, features, demographic_columns, model_file) -> dict:
    """The items every task answers the same way."""
    n = len(cohort.y)
    filled = {
        "5a": f"{cohort!r}.",
        "8a": f"Outcome: {cohort.outcome_rule or cohort.outcome}.",
        "9a": _candidate_predictors(cohort, features, demographic_columns),
        "11": _missing(cohort, demographic_columns),
        "12a": (
            f"Nested cross-validation on all {n} participants ({cv_text}): every "
            "step that learns from data (imputation, scaling, feature selection, "
            "the model and its hyperparameter search) was fitted inside the "
            "training part of each outer fold; no separate test set."
        ),
        "18f": (
            f"txpredict {_version()}, open source; the configuration as run is "
            "config.toml in the output folder."
        ),
        "22": (
            f"The final model, fitted on every participant, is {model_file} "
            "(txpredict.load_model; txpredict predict for new scans)."
        ),
    }
    plan = plan_check(cohort.checks)
    if plan is not None:
        filled["18c"] = (
            "The analysis plan was fixed before the run (txpredict plan; plan.json "
            f"in the output folder): {plan.finding}"
            + (": " + "; ".join(plan.items) if plan.items else "")
            + ". Where it was deposited: for the author."
        )
    if cohort.treatment is not None:
        counts = cohort.treatment.value_counts().sort_index()
        filled["6c"] = (
            "Treatment arms: "
            + ", ".join(f"{arm} {count}" for arm, count in counts.items())
            + "."
        )
    return filled


def _response_items(*, cohort, cv_text, rois, results, comparisons, model) -> dict:
    """A response run's items, with its numbers."""
    main = results["model"]
    y = cohort.y
    n, events = len(y), int(y.sum())
    summary = main.summary()
    filled = _shared(
        cohort, cv_text, model.features, model.demographic_columns, "model.skops"
    )
    filled |= {
        "9b": _predictor_definitions(model.demographic_columns, rois),
        "10": _sample_size(model, rois, n, events),
        "12b": (
            "Image features extracted per participant from the pre-treatment "
            "scans (no learning); imputation and scaling fitted in the training "
            f"folds. Model: {describe_model(model)}."
        ),
        "12c": (
            f"{describe_model(model)}; hyperparameters tuned by the inner CV "
            f"({cv_text}); internal validation by the outer CV. Baselines on the "
            f"same splits: {', '.join(list(results)[1:])}."
        ),
        "12e": (
            "Sensitivity, specificity, balanced accuracy, PPV, NPV, AUC, each with "
            "a 95% interval whose coverage txpredict measured on synthetic cohorts; "
            "calibration intercept and slope, Brier score; decision curve (net "
            "benefit); the comparison with demographics alone on the same splits."
        ),
        "13": (
            "Class-balanced weights in the classifier, so that its decisions do "
            f"not favour the larger class. {describe_probabilities(model)}."
        ),
        "15": (
            "The probability of response, and the class: a responder when the "
            "class-balanced decision value is positive (the study's response "
            f"rate, {events / n:.2f} in the whole cohort, does not move it)."
        ),
        "20a": _flow(cohort, n, events),
        "20b": _characteristics(cohort, model.demographic_columns),
        "21": (
            f"{n} participants, {events} responders, in every analysis (the model "
            "and each baseline on identical splits); each outer training part "
            f"holds about {_training_share(main):.0%} of them."
        ),
        "23a": _performance(summary, comparisons),
    }
    if "group" in main.predictions:
        sites = main.predictions["group"].nunique()
        filled["6a"] = f"{sites} sites (the groups of the cross-validation)."
        filled["12d"] = (
            "Sites kept whole in the outer folds (grouped cross-validation)"
            + (f"; harmonisation: {model.harmonize}" if model.harmonize else "")
            + "."
        )
        filled["23b"] = _heterogeneity(main)
    return filled


def _version() -> str:
    from importlib.metadata import version

    return version("txpredict")


def _candidate_predictors(cohort, features, demographic_columns) -> str:
    excluded = ", ".join(cohort.excluded_columns) or "none"
    leakage = [c for c in cohort.checks if c.name != PLAN_CHECK]
    found = [c.name for c in leakage if c.status == "found"]
    checks = (
        f"of which found something: {', '.join(found)}"
        if found
        else "none found a problem"
    )
    return (
        f"Model features: {features}; the demographics-only baseline uses "
        f"{', '.join(demographic_columns)}. Columns kept out of every model "
        f"(measured after treatment or declared so): {excluded}. Leakage checks "
        f"run before any analysis: {len(leakage)}, {checks}."
    )


def _predictor_definitions(demographic_columns, rois) -> str:
    spheres = [r for r in rois if hasattr(r, "center")]
    regions = "; ".join(
        f"{r.name} sphere of {r.radius:g} mm at MNI {tuple(r.center)}" for r in spheres
    )
    return (
        "Pre-treatment scans"
        + (f", mean signal in: {regions}" if regions else "")
        + f"; demographic columns {', '.join(demographic_columns)}, measured "
        "at baseline (for the author: when and how each was measured)."
    )


def _n_candidate_parameters(model, rois) -> int | None:
    """Candidate predictors of ROI and demographic models (None: voxels)."""
    n_rois = len([r for r in rois if hasattr(r, "center")]) or len(rois)
    n_demo = len(model.demographic_columns)
    return {
        "roi": n_rois,
        "demographics": n_demo,
        "roi+demographics": n_rois + n_demo,
    }.get(model.features if isinstance(model.features, str) else "", None)


def _sample_size(model, rois, n, events) -> str:
    fewer = min(events, n - events)
    parameters = _n_candidate_parameters(model, rois)
    per = (
        f"; {fewer / parameters:.1f} participants of the smaller outcome class per "
        f"candidate predictor ({parameters})"
        if parameters
        else ""
    )
    return (
        f"{n} participants, {events} responders and {n - events} non-responders"
        f"{per}. For the author: how the size was arrived at; txpredict samplesize "
        "gives the minimum by Riley et al. (BMJ 2020)."
    )


def _missing(cohort, demographic_columns) -> str:
    columns = [c for c in demographic_columns if c in cohort.X]
    missing = cohort.X[columns].isna().sum()
    missing = missing[missing > 0]
    dropped = [str(pid) for pid in cohort.info.get("dropped_missing_images", [])]
    cells = (
        ", ".join(f"{c}: {k}" for c, k in missing.items()) if len(missing) else "none"
    )
    shown = ", ".join(dropped[:10]) + (", ..." if len(dropped) > 10 else "")
    return (
        f"Missing values in the demographic columns: {cells}; imputed inside "
        "each training fold (numbers: its median; categories: its most frequent "
        "value; missing image features: their mean), then scaled (numbers) or "
        "one-hot encoded (categories). Participants without an image: "
        f"{len(dropped)} excluded" + (f" ({shown})" if dropped else "") + "."
    )


def _characteristics(cohort, demographic_columns) -> str:
    """Each demographic column by outcome: mean (SD), or counts of each value."""
    y = cohort.y
    parts = []
    for column in (c for c in demographic_columns if c in cohort.X):
        values = cohort.X[column]
        by_outcome = []
        for label, flag in (("responders", 1), ("non-responders", 0)):
            group = values[y == flag]
            if pd.api.types.is_numeric_dtype(values) and values.nunique() > 2:
                by_outcome.append(f"{label} {group.mean():.1f} ({group.std():.1f})")
            else:
                counts = group.value_counts().sort_index()
                by_outcome.append(
                    f"{label} " + ", ".join(f"{v}: {k}" for v, k in counts.items())
                )
        parts.append(f"{column}: " + " vs ".join(by_outcome))
    if not parts:
        return FOR_THE_AUTHOR
    return (
        "By outcome (numbers: mean (SD); categories: counts): " + "; ".join(parts) + "."
    )


def _flow(cohort, n, events) -> str:
    dropped = len(cohort.info.get("dropped_missing_images", []))
    return (
        f"{n + dropped} participants in the table, {dropped} excluded for a "
        f"missing image, {n} analysed: {events} responders, {n - events} "
        "non-responders."
    )


def _training_share(main) -> float:
    folds = main.folds
    if "n_train" in folds and "n_test" in folds:
        return float((folds["n_train"] / (folds["n_train"] + folds["n_test"])).mean())
    k = main.info.get("outer_cv")
    return 1 - 1 / k if isinstance(k, int) else float("nan")


def _performance(summary, comparisons) -> str:
    parts = [
        f"{metric} {row['estimate']:.3f} (95% CI {row['ci_low']:.3f} to "
        f"{row['ci_high']:.3f})"
        for metric, row in summary.iterrows()
        if metric in ("sensitivity", "specificity", "balanced_accuracy", "auc")
    ]
    text = "Nested CV: " + "; ".join(parts) + "."
    for label, comparison in comparisons.items():
        row = comparison.table.iloc[0]
        p = row.get("permutation_p_value", row["p_value"])
        text += (
            f" {label}: AUC difference {row['difference']:+.3f} (95% CI "
            f"{row['ci_low']:+.3f} to {row['ci_high']:+.3f}), p = {p:.3f}."
        )
    return text


def _heterogeneity(main) -> str:
    h = main.heterogeneity()
    if "auc" not in h.index:
        return FOR_THE_AUTHOR
    row = h.loc["auc"]
    return (
        f"AUC across {int(row['n_sites'])} sites: I² = {row['i2']:.2f}, random-"
        f"effects mean {row['random']:.3f} (95% CI {row['random_ci_low']:.3f} to "
        f"{row['random_ci_high']:.3f}), prediction interval for a new site "
        f"{row['prediction_low']:.3f} to {row['prediction_high']:.3f}."
    )


def _regression_items(*, cohort, cv_text, rois, result, comparison, model, threshold):
    """A regression run's items (a continuous symptom change), with its numbers."""
    n = len(cohort.y)
    filled = _shared(
        cohort, cv_text, model.features, model.demographic_columns, "model.skops"
    )
    parameters = _n_candidate_parameters(model, rois)
    change = cohort.y
    dropped = len(cohort.info.get("dropped_missing_images", []))
    filled |= {
        "9b": _predictor_definitions(model.demographic_columns, rois),
        "10": f"{n} participants"
        + (
            f"; {n / parameters:.1f} per candidate predictor ({parameters})"
            if parameters
            else ""
        )
        + ". For the author: how the size was arrived at.",
        "12c": (
            f"{describe_model(model)}; hyperparameters tuned by the inner CV "
            f"({cv_text}); internal validation by the outer CV. Baseline on the "
            "same splits: demographics only."
        ),
        "12e": (
            "Correlation r of predicted and observed change (pooled out of fold, "
            "and its fold mean), R^2 and mean absolute error, with the intervals "
            "whose coverage txpredict measured; responders read off the predicted "
            f"change at {threshold:g}; the comparison with demographics alone on "
            "the same splits."
        ),
        "15": (
            f"The predicted symptom change; a responder where it reaches {threshold:g}."
        ),
        "20a": (
            f"{n + dropped} participants in the table, {dropped} excluded for a "
            f"missing image, {n} analysed."
        ),
        "20b": (
            f"Outcome: mean {change.mean():.1f} (SD {change.std():.1f}), range "
            f"{change.min():.1f} to {change.max():.1f}."
        ),
        "21": (
            f"{n} participants in every analysis (the model and the baseline on "
            f"identical splits); each outer training part holds about "
            f"{_training_share(result):.0%} of them."
        ),
        "23a": _regression_performance(result.summary(), comparison),
    }
    return filled


def _modality_items(*, cohort, cv_text, rois, result, comparison, selector):
    """A modality run's items (treatment selection), with its numbers."""
    y, arms = cohort.y, cohort.treatment
    n = len(y)
    columns = list(selector.demographic_columns)
    filled = _shared(cohort, cv_text, selector.features, columns, "selector.skops")
    by_arm = ", ".join(
        f"{arm}: {int((arms == arm).sum())} ({int(y[arms == arm].sum())} responders)"
        for arm in result.arms
    )
    dropped = len(cohort.info.get("dropped_missing_images", []))
    filled |= {
        "9b": _predictor_definitions(columns, rois),
        "10": (
            f"{n} participants, by arm {by_arm}; each arm's response model is "
            "fitted on that arm's patients only. For the author: how the size was "
            "arrived at."
        ),
        "12c": (
            f"ModalitySelector ({selector.strategy}): features {selector.features}, "
            f"classifier {selector.classifier}, tuned by the inner CV ({cv_text}); "
            "evaluated by the outer CV, stratified on arm x outcome. Baseline on "
            "the same splits: a selector from demographics alone."
        ),
        "12e": (
            "Response rate of patients whose received arm matched the "
            "recommendation against those whose did not; the policy value "
            "(inverse probability weighted) and its gain over the better single "
            "arm; per arm, the prognostic AUC, sensitivity and specificity; the "
            "comparison with the demographics-only selector."
        ),
        "15": (
            "Each arm's probability of response; the recommended arm is the one "
            "with the higher probability (the PAI is their difference; the final "
            "selector gives it with an interval, no preference where it includes 0)."
        ),
        "20a": (
            f"{n + dropped} participants in the table, {dropped} excluded for a "
            f"missing image, {n} analysed; by arm {by_arm}."
        ),
        "21": f"{n} participants in every analysis (identical splits).",
        "23a": _selection_performance(result.summary(), comparison),
    }
    return filled


def _interval(row) -> str:
    if pd.isna(row.get("ci_low")):
        return f"{row['estimate']:.3f}"
    return f"{row['estimate']:.3f} (95% CI {row['ci_low']:.3f} to {row['ci_high']:.3f})"


def _regression_performance(summary, comparison) -> str:
    parts = [
        f"{metric} {_interval(row)}"
        for metric, row in summary.iterrows()
        if metric in ("r", "r2", "mae")
    ]
    row = comparison.table.iloc[0]
    return (
        "Nested CV: " + "; ".join(parts) + ". Model vs demographics only: "
        f"{comparison.table.index[0]} difference {row['difference']:+.3f} (95% CI "
        f"{row['ci_low']:+.3f} to {row['ci_high']:+.3f}), p = {row['p_value']:.3f}."
    )


def _selection_performance(summary, comparison) -> str:
    parts = [
        f"{measure} {_interval(summary.loc[measure])}"
        for measure in ("matched_minus_unmatched", "policy_value_ipw", "policy_gain")
        if measure in summary.index
    ]
    text = "Nested CV: " + "; ".join(parts) + "."
    if "policy_value_ipw" in comparison.index:
        row = comparison.loc["policy_value_ipw"]
        text += (
            f" Scan vs demographics-only selection: policy value difference "
            f"{row['difference']:+.3f}, p = {row['p_value']:.3f}."
        )
    return text


#: Each task's items.
_FILLED = {
    "response": _response_items,
    "regression": _regression_items,
    "modality": _modality_items,
}
