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

from txpredict.report._html import PLAN_CHECK, describe_model

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
    *, cohort, results, comparisons, model, cv_text, rois=()
) -> pd.DataFrame:
    """The checklist of a ``txpredict run`` response analysis.

    Parameters
    ----------
    cohort : Cohort
    results : dict of str to NestedCVResult
        The model first, then the baselines.
    comparisons : dict of str to Comparison
    model : ResponseClassifier
    cv_text : str
        The cross-validation scheme in words.
    rois : sequence of Roi

    Returns
    -------
    DataFrame
        Indexed by ``item``; ``section``, ``topic``, ``asks``, ``filled_by``
        ("txpredict" or "author") and ``text`` (the filled text with the
        run's numbers, or "for the author").
    """
    filled = _filled(cohort, results, comparisons, model, cv_text, rois)
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
    """The checklist as a Markdown table (``tripod_ai.md``)."""
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


def _filled(cohort, results, comparisons, model, cv_text, rois) -> dict:
    """The items this run can answer, with its numbers."""
    main = results["model"]
    y = cohort.y
    n, events = len(y), int(y.sum())
    summary = main.summary()
    filled = {
        "5a": f"{cohort!r}.",
        "8a": f"Outcome: {cohort.outcome_rule or cohort.outcome}.",
        "9a": _candidate_predictors(cohort, model),
        "9b": _predictor_definitions(model, rois),
        "10": _sample_size(model, rois, n, events),
        "11": _missing(cohort, model),
        "12a": (
            f"Nested cross-validation on all {n} participants ({cv_text}): every "
            "step that learns from data (imputation, scaling, feature selection, "
            "the classifier and its hyperparameter search) was fitted inside the "
            "training part of each outer fold; no separate test set."
        ),
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
            "Class-balanced weights in the classifier; its probabilities shifted "
            "back to each training part's response rate (prior correction, King "
            "and Zeng 2001), so they describe the study's own rate."
        ),
        "15": (
            "The probability of response, and the class: a responder when that "
            "probability exceeds the training response rate "
            f"({events / n:.2f} in the whole cohort)."
        ),
        "18f": (
            f"txpredict {_version()}, open source; the configuration as run is "
            "config.toml in the output folder."
        ),
        "20a": _flow(cohort, n, events),
        "20b": _characteristics(cohort, model),
        "21": (
            f"{n} participants, {events} responders, in every analysis (the model "
            "and each baseline on identical splits); each outer training part "
            f"holds about {_training_share(main):.0%} of them."
        ),
        "22": (
            "The final model, fitted on every participant, is model.skops "
            "(txpredict.load_model; txpredict predict for new scans)."
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
    plan = next((c for c in cohort.checks if c.name == PLAN_CHECK), None)
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


def _version() -> str:
    from importlib.metadata import version

    return version("txpredict")


def _candidate_predictors(cohort, model) -> str:
    excluded = ", ".join(cohort.excluded_columns) or "none"
    found = [c.name for c in cohort.checks if c.status == "found"]
    checks = (
        f"of which found something: {', '.join(found)}"
        if found
        else "none found a problem"
    )
    return (
        f"Model features: {model.features}; the demographics-only baseline uses "
        f"{', '.join(model.demographic_columns)}. Columns kept out of every model "
        f"(measured after treatment or declared so): {excluded}. Leakage checks "
        f"run before any analysis: {len(cohort.checks)}, {checks}."
    )


def _predictor_definitions(model, rois) -> str:
    spheres = [r for r in rois if hasattr(r, "center")]
    regions = "; ".join(
        f"{r.name} sphere of {r.radius:g} mm at MNI {tuple(r.center)}" for r in spheres
    )
    return (
        "Pre-treatment scans"
        + (f", mean signal in: {regions}" if regions else "")
        + f"; demographic columns {', '.join(model.demographic_columns)}, measured "
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


def _missing(cohort, model) -> str:
    columns = [c for c in model.demographic_columns if c in cohort.X]
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


def _characteristics(cohort, model) -> str:
    """Each demographic column by outcome: mean (SD), or counts of each value."""
    y = cohort.y
    parts = []
    for column in (c for c in model.demographic_columns if c in cohort.X):
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
