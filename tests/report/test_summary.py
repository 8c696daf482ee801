"""The report's opening sentences: the study's answer, each with its numbers."""

import numpy as np
import pandas as pd
import pytest

from txpredict.evaluation import Comparison
from txpredict.report._summary import (
    calibration_sentence,
    chance_sentence,
    checks_sentence,
    comparison_sentence,
    modality_summary,
    performance_sentence,
    plain_summary,
)
from txpredict.stats import detectable_auc_gain, patients_to_detect


def summary(p_auc=np.nan, p_ba=np.nan):
    return pd.DataFrame(
        {
            "estimate": [0.62, 0.61, 0.615, 0.69],
            "ci_low": [0.49, 0.463, 0.494, 0.549],
            "ci_high": [0.738, 0.737, 0.737, 0.828],
            "p_value": [np.nan, np.nan, p_ba, p_auc],
            "chance": 0.5,
        },
        index=["sensitivity", "specificity", "balanced_accuracy", "auc"],
    )


def comparison(difference, p, permuted=True):
    table = pd.DataFrame(
        {
            "a": [0.63 + difference],
            "b": [0.63],
            "difference": [difference],
            "ci_low": [difference - 0.15],
            "ci_high": [difference + 0.15],
            "p_value": [0.4],
        },
        index=["auc"],
    )
    if permuted:
        table["permutation_p_value"] = [p]
    return Comparison(table, ("model + demographics", "demographics"))


def test_performance_gives_each_estimate_with_its_interval():
    text = performance_sentence(summary(), 100)
    assert "like these 100" in text
    assert "balanced accuracy of 0.61 (95% interval 0.49 to 0.74; chance 0.50)" in text
    assert "AUC of 0.69 (0.55 to 0.83; chance 0.50)" in text
    assert "62% of responders (sensitivity, 49% to 74%)" in text
    assert "61% of non-responders (specificity, 46% to 74%)" in text


def test_chance_follows_the_auc_permutation_test():
    assert chance_sentence(summary()) is None  # no test ran
    significant = chance_sentence(summary(p_auc=0.01, p_ba=0.2))
    assert significant.startswith("Better than chance")
    assert "AUC p = 0.010, balanced accuracy p = 0.200" in significant
    assert chance_sentence(summary(p_auc=0.3)).startswith("Not shown")


def test_a_nonsignificant_added_value_says_what_would_settle_it():
    text = comparison_sentence(comparison(0.10, p=0.2), n=100)
    assert text.startswith("Does the scan add to demographics? Model + demographics")
    assert "a difference of +0.10 (95% interval -0.05 to +0.25)" in text
    assert "not significant (p = 0.200, permutation test" in text
    assert f"a gain of about {detectable_auc_gain(100).gain:.2f}" in text
    assert "too small a study to tell" in text
    assert f"about {patients_to_detect(0.10).n} patients" in text
    assert "interpolated within" in text


def test_no_study_size_follows_from_a_gain_that_was_not_seen():
    text = comparison_sentence(comparison(-0.02, p=0.7), n=60)
    assert "No gain was seen here" in text and "patients would detect" not in text


def test_a_significant_gain_or_a_variance_test_makes_no_sample_size_claim():
    significant = comparison_sentence(comparison(0.15, p=0.01), n=100)
    assert "model + demographics is significantly better" in significant
    assert "too small a study" not in significant
    # compare()'s test across folds: the detectable gain was not measured for it
    plain = comparison_sentence(comparison(0.05, p=0.01, permuted=False), n=100)
    assert "p = 0.400, corrected test across the folds" in plain
    assert "Does the scan add" not in plain and "too small a study" not in plain


@pytest.mark.parametrize(
    ("slope", "reading"),
    [
        (0.5, "more extreme"),
        (1.0, "about right"),
        (1.5, "more timid"),
        (np.nan, "undefined"),
    ],
)
def test_calibration_reads_the_slope(slope, reading):
    calibration = pd.DataFrame(
        {"estimate": [slope, -0.01]}, index=["slope", "intercept"]
    )
    text = calibration_sentence(calibration)
    assert reading in text and "intercept -0.01" in text and "No interval" in text


def test_checks_name_what_they_found():
    ok = {"name": "outcome proxies", "status": "ok", "finding": ""}
    found = {"name": "post-treatment names", "status": "found", "finding": ""}
    declared = {"name": "site confounding", "status": "declared", "finding": ""}
    assert checks_sentence([ok, ok]) == (
        "Leakage checks: none of the 2 run found a problem."
    )
    text = checks_sentence([ok, found, declared])
    assert "1 of 3 found something to look at (post-treatment names)" in text
    assert "1 handled as you declared" in text
    assert "not read by load_cohort" in checks_sentence([])


def test_plain_summary_answers_in_the_order_a_reader_asks():
    calibration = pd.DataFrame({"estimate": [0.9, 0.0]}, index=["slope", "intercept"])
    sentences = plain_summary(
        n=100,
        summary=summary(p_auc=0.02),
        comparisons={"added": comparison(0.1, p=0.2)},
        calibration=calibration,
        checks=[],
    )
    starts = ["On the next patient", "Better than chance", "Does the scan add"]
    starts += ["Probabilities of response", "No leakage checks"]
    assert len(sentences) == len(starts)
    assert [s[: len(t)] for s, t in zip(sentences, starts, strict=True)] == starts


def selection_summary(gain=(0.035, -0.071, 0.140), nnt=np.nan, p=None):
    rows = {
        "matched_response_rate": (0.635, np.nan, np.nan),
        "unmatched_response_rate": (0.458, np.nan, np.nan),
        "matched_minus_unmatched": (0.176, -0.016, 0.368),
        "policy_value_ipw": (0.635, 0.504, 0.765),
        "policy_gain": gain,
        "everyone_CBT": (0.600, np.nan, np.nan),
        "everyone_SSRI+CBT": (0.500, np.nan, np.nan),
        "number_needed_to_treat": (nnt, 1 / gain[2], 1 / gain[1]),
    }
    table = pd.DataFrame(rows, index=["estimate", "ci_low", "ci_high"]).T
    table["p_value"] = np.nan
    if p is not None:
        table.loc["policy_gain_first_repeat"] = [0.03, np.nan, np.nan, p]
    return table


def test_the_modality_opening_gives_the_policy_gain_against_the_better_arm():
    comparison = pd.DataFrame(
        {"scan": [0.636], "demographics": [0.628], "difference": [0.008]}
        | {"p_value": [0.947]},
        index=["policy_value_ipw"],
    )
    sentences = modality_summary(
        summary=selection_summary(),
        comparison=comparison,
        arms=("CBT", "SSRI+CBT"),
        checks=[],
    )
    policy, matched, scan, checks = sentences
    assert "response rate of 0.64 (95% interval 0.50 to 0.77" in policy
    assert "against 0.60 with everyone on CBT" in policy
    assert "a gain of +0.04 (-0.07 to +0.14)" in policy
    assert "No number needed to treat: the gain's interval includes 0" in policy
    assert "at 0.64, the others at 0.46: a difference of +0.18" in matched
    assert "(95% interval -0.02 to +0.37)" in matched
    assert "0.64 against 0.63, a difference of +0.01; not significant" in scan
    assert checks.startswith("No leakage checks")


def test_the_modality_opening_gives_the_nnt_and_the_permutation_test():
    summary = selection_summary(gain=(0.10, 0.05, 0.20), nnt=10.0, p=0.01)
    policy, test, *_ = modality_summary(
        summary=summary, comparison=None, arms=("CBT", "SSRI+CBT"), checks=[]
    )
    assert "one more responder: 10 (5 to 20)" in policy
    assert test.startswith("The recommendation is better than the better single arm")
    assert "(p = 0.010)" in test
    losing = selection_summary(gain=(-0.10, -0.20, -0.05), nnt=-10.0)
    policy = modality_summary(
        summary=losing, comparison=None, arms=("CBT", "SSRI+CBT"), checks=[]
    )[0]
    assert "loses one responder per 10 patients" in policy
