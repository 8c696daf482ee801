"""The report's opening: the study's answer in sentences a clinician can quote.

Each sentence carries its numbers and, where txpredict has a measured
interval, the interval; where it has none (calibration), it says so. The
tables and method notes follow later in the report.
"""

from __future__ import annotations

import math

import pandas as pd

from txpredict.stats import detectable_auc_gain, patients_to_detect

#: The check a run made with ``--plan`` adds to its cohort's checks: its
#: finding and items (each difference, then each reason given) are what the
#: reports and the TRIPOD+AI checklist say of the preregistration. It is no
#: leakage check, and is not counted among them.
PLAN_CHECK = "preregistered plan"


def plan_check(checks):
    """The run's preregistered-plan check among its checks, or None."""
    return next((c for c in checks if c.name == PLAN_CHECK), None)


#: A calibration slope in this range is called "about right" (issue 26's target).
SLOPE_ABOUT_RIGHT = (0.8, 1.2)


def plain_summary(*, n, summary, comparisons, calibration, checks) -> list[str]:
    """The report's opening sentences, in the order a reader asks.

    Parameters
    ----------
    n : int
        Patients analysed.
    summary : DataFrame
        The model's :meth:`NestedCVResult.summary`.
    comparisons : dict of str to Comparison
        Each against the baseline; the last is the question the study asks
        (model + demographics against demographics alone, when it ran).
    calibration : DataFrame
        :meth:`NestedCVResult.calibration` (empty: no probabilities).
    checks : list of dict
        The cohort's leakage checks (``name``, ``status``, ``finding``).

    Returns
    -------
    list of str
    """
    sentences = [performance_sentence(summary, n)]
    chance = chance_sentence(summary)
    if chance:
        sentences.append(chance)
    sentences += [comparison_sentence(c, n) for c in comparisons.values()]
    if len(calibration):
        sentences.append(calibration_sentence(calibration))
    sentences.append(checks_sentence(checks))
    return sentences


def _interval(row, percent=False) -> str:
    if percent:
        return f"{100 * row['ci_low']:.0f}% to {100 * row['ci_high']:.0f}%"
    return f"{row['ci_low']:.2f} to {row['ci_high']:.2f}"


def performance_sentence(summary: pd.DataFrame, n: int) -> str:
    """How the model does on the next patient, with the 95% intervals.

    Examples
    --------
    >>> import pandas as pd
    >>> summary = pd.DataFrame(
    ...     {"estimate": [0.62, 0.61, 0.615, 0.69], "ci_low": [0.49, 0.46, 0.49, 0.55],
    ...      "ci_high": [0.74, 0.74, 0.74, 0.83], "chance": 0.5},
    ...     index=["sensitivity", "specificity", "balanced_accuracy", "auc"])
    >>> performance_sentence(summary, 100)[:80]
    'On the next patient like these 100, the model is expected to reach a balanced ac'
    """
    ba, auc = summary.loc["balanced_accuracy"], summary.loc["auc"]
    sens, spec = summary.loc["sensitivity"], summary.loc["specificity"]
    return (
        f"On the next patient like these {n}, the model is expected to reach a "
        f"balanced accuracy of {ba['estimate']:.2f} (95% interval "
        f"{_interval(ba)}; chance {ba['chance']:.2f}) and an AUC of "
        f"{auc['estimate']:.2f} ({_interval(auc)}; chance {auc['chance']:.2f}): "
        f"it would identify {100 * sens['estimate']:.0f}% of responders "
        f"(sensitivity, {_interval(sens, percent=True)}) and "
        f"{100 * spec['estimate']:.0f}% of non-responders (specificity, "
        f"{_interval(spec, percent=True)})."
    )


def chance_sentence(summary: pd.DataFrame) -> str | None:
    """The permutation test against chance, or None when none ran."""
    p_values = {
        name: summary.at[metric, "p_value"]
        for metric, name in (("auc", "AUC"), ("balanced_accuracy", "balanced accuracy"))
        if metric in summary.index and math.isfinite(summary.at[metric, "p_value"])
    }
    if not p_values:
        return None
    decisive = p_values.get("AUC", next(iter(p_values.values())))
    verdict = (
        "Better than chance"
        if decisive <= 0.05
        else "Not shown to be better than chance"
    )
    tested = ", ".join(f"{name} p = {p:.3f}" for name, p in p_values.items())
    return (
        f"{verdict}: the permutation test of the whole nested procedure gives {tested}."
    )


def comparison_sentence(comparison, n: int) -> str:
    """Model a against model b on the AUC: the gain, its interval, the verdict.

    Under the permutation test of added value (the scan given the baseline's
    columns), a non-significant result also says what this n could detect
    and how many patients the gain seen here would need.
    """
    a, b = comparison.names
    row = comparison.table.iloc[0]
    metric = "AUC" if comparison.table.index[0] == "auc" else comparison.table.index[0]
    permuted = "permutation_p_value" in row
    p = row["permutation_p_value"] if permuted else row["p_value"]
    test = (
        "permutation test of the scan given the baseline's columns"
        if permuted
        else "corrected test across the folds"
    )
    verdict = (
        f"{a} is significantly better"
        if comparison.a_is_better
        else "the difference is not significant"
    )
    question = f"Does the scan add to {b}? " if permuted else ""
    text = question + (
        f"{a[:1].upper()}{a[1:]} against {b}: {metric} {row['a']:.2f} against "
        f"{row['b']:.2f}, a "
        f"difference of {row['difference']:+.2f} (95% interval "
        f"{row['ci_low']:+.2f} to {row['ci_high']:+.2f}); {verdict} "
        f"(p = {p:.3f}, {test})."
    )
    if permuted and not comparison.a_is_better:
        text += " " + _what_would_settle_it(row["difference"], n)
    return text


def _what_would_settle_it(difference: float, n: int) -> str:
    """What this n can detect, and what the gain seen here would need."""
    detectable = detectable_auc_gain(n)
    text = (
        f"With {n} patients this test detects, with "
        f"{100 * detectable.power:.0f}% power, a gain of about "
        f"{detectable.gain:.2f}; a smaller one may go unseen, so this result "
        "means too small a study to tell, not that the scan adds nothing."
    )
    if not 0 < difference < 0.5:
        return text + " No gain was seen here, so no study size follows from it."
    needed = patients_to_detect(float(difference))
    where = "extrapolated beyond" if needed.extrapolated else "interpolated within"
    return text + (
        f" Were the true gain the {difference:.2f} seen here, about {needed.n} "
        f"patients would detect it with {100 * needed.power:.0f}% power ({where} "
        f"the sizes the benchmark measured, n = {needed.measured_sizes[0]}-"
        f"{needed.measured_sizes[-1]})."
    )


def calibration_sentence(calibration: pd.DataFrame) -> str:
    """Whether the probabilities of response can be read as they are."""
    slope = calibration.at["slope", "estimate"]
    intercept = calibration.at["intercept", "estimate"]
    low, high = SLOPE_ABOUT_RIGHT
    if not math.isfinite(slope):
        reading = "their calibration slope is undefined"
    elif slope < low:
        reading = "they are more extreme than the outcomes bear out (slope below 1)"
    elif slope > high:
        reading = "they are more timid than the outcomes bear out (slope above 1)"
    else:
        reading = f"their spread is about right (slope within {low}-{high})"
    return (
        f"Probabilities of response: calibration slope {slope:.2f} (1 is perfect) "
        f"and intercept {intercept:+.2f} (0 is perfect), out of fold: {reading}. "
        "No interval: the coverage of one has not been measured."
    )


def checks_sentence(checks: list[dict]) -> str:
    """The leakage and confounding checks in one line (the plan's is not one)."""
    checks = [c for c in checks if c["name"] != PLAN_CHECK]
    if not checks:
        return (
            "No leakage checks were recorded (the cohort was not read by load_cohort)."
        )
    found = [c["name"] for c in checks if c["status"] == "found"]
    declared = sum(c["status"] == "declared" for c in checks)
    handled = f" ({declared} handled as you declared)" if declared else ""
    if found:
        return (
            f"Leakage checks: {len(found)} of {len(checks)} found something to look "
            f"at ({', '.join(found)}){handled}: read the checks below before quoting "
            "any number."
        )
    return f"Leakage checks: none of the {len(checks)} run found a problem{handled}."


def regression_summary(
    *, n, summary, comparison, responders, threshold, checks
) -> list[str]:
    """The regression report's opening sentences (a continuous symptom change).

    Parameters
    ----------
    n : int
        Patients analysed.
    summary : DataFrame
        :meth:`RegressionCVResult.summary` (r, r2, mae; r has no calibrated
        interval).
    comparison : Comparison
        The model against demographics alone.
    responders : DataFrame
        :meth:`RegressionCVResult.responders` at ``threshold``.
    threshold : float
    checks : list of dict
    """
    r, mae = summary.loc["r"], summary.loc["mae"]
    r2 = summary.loc["r2"]
    sentences = [
        f"On the next patient like these {n}, the predicted symptom change is "
        f"expected to correlate with the observed one at r = {r['estimate']:.2f} "
        "(no interval: the cross-validated r is biased low at this size, and no "
        "interval method reached its coverage) and to miss it by "
        f"{mae['estimate']:.1f} on average (mean absolute error"
        + (
            f", 95% interval {mae['ci_low']:.1f} to {mae['ci_high']:.1f}"
            if math.isfinite(mae.get("ci_low", math.nan))
            else ""
        )
        + f"); R^2 {r2['estimate']:.2f}"
        + (f" ({_interval(r2)})" if math.isfinite(r2.get("ci_low", math.nan)) else "")
        + ", where 0 is no better than predicting everyone the mean change."
    ]
    p = r.get("p_value", math.nan)
    if math.isfinite(p):
        verdict = (
            "Better than chance" if p <= 0.05 else "Not shown to be better than chance"
        )
        sentences.append(
            f"{verdict}: the permutation test of the whole nested procedure gives "
            f"r p = {p:.3f}."
        )
    sentences.append(comparison_sentence(comparison, n))
    if "balanced_accuracy" in responders.index:
        ba = responders.loc["balanced_accuracy"]
        sentences.append(
            f"Read as responders (a predicted change of at least {threshold:g}), "
            f"the predictions reach a balanced accuracy of {ba['estimate']:.2f}"
            + (
                f" (95% interval {_interval(ba)})."
                if math.isfinite(ba["ci_low"])
                else "."
            )
        )
    sentences.append(checks_sentence(checks))
    return sentences


def modality_summary(*, summary, comparison, arms, checks) -> list[str]:
    """The modality report's opening sentences.

    Parameters
    ----------
    summary : DataFrame
        :meth:`SelectionResult.summary`.
    comparison : DataFrame
        :func:`compare_selections` of the scan's selector against the
        demographics-only one (columns ``scan``, ``demographics``,
        ``difference``, ``p_value``), or None.
    arms : sequence of str
    checks : list of dict
    """
    value, gain = summary.loc["policy_value_ipw"], summary.loc["policy_gain"]
    best = max(arms, key=lambda arm: summary.at[f"everyone_{arm}", "estimate"])
    sentences = [
        "Recommending each patient the arm predicted to suit them best: a response "
        f"rate of {value['estimate']:.2f} (95% interval {_interval(value)}; "
        "inverse-probability weighted) against "
        f"{summary.at[f'everyone_{best}', 'estimate']:.2f} with everyone on "
        f"{best}, the better single arm here: a gain of {gain['estimate']:+.2f} "
        f"({gain['ci_low']:+.2f} to {gain['ci_high']:+.2f}). "
        + _number_needed_to_treat_text(summary)
    ]
    if "policy_gain_first_repeat" in summary.index:
        p = summary.at["policy_gain_first_repeat", "p_value"]
        verdict = "better" if p <= 0.05 else "not shown to be better"
        sentences.append(
            f"The recommendation is {verdict} than the better single arm by the "
            f"permutation test of the whole procedure (p = {p:.3f})."
        )
    matched = summary.loc["matched_minus_unmatched"]
    sentences.append(
        "Patients who happened to receive the arm recommended for them responded "
        f"at {summary.at['matched_response_rate', 'estimate']:.2f}, the others at "
        f"{summary.at['unmatched_response_rate', 'estimate']:.2f}: a difference "
        f"of {matched['estimate']:+.2f} (95% interval {matched['ci_low']:+.2f} to "
        f"{matched['ci_high']:+.2f})."
    )
    if comparison is not None and "policy_value_ipw" in comparison.index:
        row = comparison.loc["policy_value_ipw"]
        significant = bool(row["p_value"] <= 0.05 and row["difference"] > 0)
        sentences.append(
            "Does the scan improve the recommendation over demographics alone? "
            f"Response rate under the scan's recommendation {row['scan']:.2f} "
            f"against {row['demographics']:.2f}, a difference of "
            f"{row['difference']:+.2f}; "
            f"{'significant' if significant else 'not significant'} (p = "
            f"{row['p_value']:.3f}, corrected test across the folds; no interval)."
        )
    sentences.append(checks_sentence(checks))
    return sentences


def _number_needed_to_treat_text(summary) -> str:
    row = summary.loc["number_needed_to_treat"]
    if not math.isfinite(row["estimate"]):
        return "No number needed to treat: the gain's interval includes 0."
    if row["estimate"] < 0:
        return (
            f"The recommendation loses one responder per {-row['estimate']:.0f} "
            "patients treated by it."
        )
    return (
        f"Number needed to treat by the recommendation for one more responder: "
        f"{row['estimate']:.0f} ({row['ci_low']:.0f} to {row['ci_high']:.0f})."
    )
