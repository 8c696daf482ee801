"""Calibration of txpredict's intervals and tests on synthetic cohorts: the proof.

Every interval and test that ``NestedCVResult.summary()``, ``compare()``,
``nested_cross_validate(n_permutations=...)``, ``evaluate_selection`` and
``compare_selections`` report is run, through those public functions, on many
replicate cohorts drawn from one synthetic population, and compared with the
truth:

- classifier metrics (``NestedCVResult.intervals()``, all methods): coverage of
  the true performance of the model fitted to the replicate cohort (T1,
  measured on ``--n-true`` independent patients) and of the expected
  performance of the procedure at that n (T2, the mean of T1 over replicates);
  on null data (``effect="none"``) and a planted prognostic effect;
- ``compare()`` and its alternatives (``txpredict.stats.cv_paired_test``): the
  false-positive rate at alpha = 0.05 when neither model has any signal
  (ROI model vs demographics on null data) and when the scan adds nothing to
  demographics (ROI + demographics vs demographics, demographic signal only),
  and the power on the planted effect;
- the permutation test of the whole nested procedure, as shipped (at most
  1,000 permutations, stopped once 10 exceed the observed score: Besag &
  Clifford's sequential p-value): its rejection rates at alpha = 0.01, 0.05
  and 0.10 on null data, where a valid p-value rejects at most alpha, and the
  permutations it used (one CV repeat per replicate);
- treatment selection (``SelectionResult.intervals()``): coverage of the true
  matched-minus-unmatched difference, policy value and policy gain of the
  selector fitted to the cohort, on Frick-like trials (a dACC x arm
  interaction), and ``compare_selections``' false-positive rate on null trials;
- continuous outcomes (``RegressionCVResult.intervals()``): coverage of the true
  r, R^2 and MAE of a ridge regressor of the percent symptom reduction fitted to
  the cohort (fewer replicates and repeats: the regressor runs the generic
  GridSearchCV route).

Models are txpredict's defaults: L2 logistic regression (class-balanced, C
tuned by inner 5-fold CV) on the 9 default ROI means of the synthetic scans
(extracted once per patient with ``RoiFeatures`` and given to the model as
``PrecomputedFeatures``: the learning and inference code paths are the users');
nested 5-fold CV repeated 10 times. The truth models are fitted with the same
batched route the nested CV uses (exact optima; equal to scikit-learn's up to
lbfgs's tolerance, tested). Replicates run in parallel; each has its own seed,
so results do not depend on ``--n-jobs``. Writes
``benchmarks/results/calibration/`` (summary.csv/json, replicates.csv.gz) and,
for the report, the measured coverage of the shipped defaults into
``src/txpredict/stats/calibration.json``.

Usage: ``python benchmarks/calibration.py [--quick] [--n-jobs 2]``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

import txpredict as tp
from _common import RESULTS, machine
from txpredict._io import atomic_directory, write_text_atomic
from txpredict.evaluation import scan_permutation_test
from txpredict.evaluation._compare import _aligned
from txpredict.model_selection import choose_route
from txpredict.stats import (
    DEFAULT_COMPARISON_METHODS,
    DEFAULT_METHODS,
    DEFAULT_POLICY_METHODS,
    DEFAULT_REGRESSION_METHODS,
    METHODS,
    binary_metrics,
    cv_paired_test,
    regression_metrics,
)

SIZES = (40, 100, 200)
N_REPEATS = 10
ALPHA = 0.05
#: The 9 default ROI means (RoiFeatures' columns).
ROI = [f"{roi.name}_mean" for roi in tp.default_rois()]
DEMOGRAPHICS = ["age", "sex", "baseline_severity", "site"]
ARMS = ("CBT", "SSRI+CBT")
#: Replicate cohorts per sample size, for each part and population.
PLAN = {
    "classifier": {"none": 1000, "prognostic": 500},
    "added_value": {
        "none": 100,
        "demographics": 100,
        "demographics_age": 150,
        "prognostic": 100,
    },
    "permutation": {"none": 400},
    "modality": {"interaction": 500},
    "selection_comparison": {"none": 200},
    "regression": {"prognostic": 100},
    "regression_comparison": {"none": 50, "demographics": 50},
}
QUICK_PLAN = {part: dict.fromkeys(plan, 1) for part, plan in PLAN.items()}
#: --quick only checks that every part runs: the regressor's generic route is slow.
QUICK_OPTIONS = {
    "regression": {"n_repeats": 1},
    "regression_comparison": {"n_repeats": 1},
    "added_value": {"n_permutations": 9},
}
#: The permutation test's cap, as shipped (it stops earlier once settled).
PERMUTATIONS = 1000
#: The cap of the added-value permutation test here (users' default 1,000):
#: p-values resolve to 0.01, which decides p < 0.05 as 1,000 would but costs a
#: tenth where the scan adds (there the test runs to its cap).
ADDED_VALUE_PERMUTATIONS = 99
#: The added_value populations where the scan adds nothing to demographics.
ADDS_NOTHING = ("none", "demographics", "demographics_age")
#: The method name of the permutation test of added value in the results.
PERMUTATION = "scan_permutation_test()"
#: "demographics_age": the demographic population with an age effect on the
#: images and the outcome: the scan carries age, and adds nothing beyond it.
AGE_EFFECT = 1.0
#: Levels at which the permutation test's rejection rate is reported.
PERMUTATION_ALPHAS = (0.01, 0.05, 0.10)
#: The regressor runs the generic (GridSearchCV) route: fewer repeats, 3 alphas.
REGRESSION_REPEATS = 5
ALPHAS = {"alpha": [1.0, 10.0, 100.0]}
CHUNK = 25  # replicates per parallel task
#: Finished parts of a full run, for --resume (scratch; not committed).
FINISHED_PARTS = RESULTS / ".calibration-parts"
PACKAGE_TABLE = Path(__file__).parents[1] / "src/txpredict/stats/calibration.json"


# -- synthetic populations ----------------------------------------------------
def _chunk(effect, size, seed):
    aged = effect.endswith("_age")
    cohort = tp.make_synthetic_cohort(
        size,
        effect=effect.removesuffix("_age"),
        grid="fsl6",
        random_state=seed,
        age_effect=AGE_EFFECT if aged else 0.0,
    )
    roi = tp.RoiFeatures(verbose=0).set_output(transform="pandas")
    table = pd.concat(
        [cohort.X.drop(columns="image"), roi.fit_transform(cohort.X)], axis=1
    )
    table["y"] = cohort.y
    truth = cohort.ground_truth
    table["change"] = truth["symptom_reduction"].to_numpy()
    for arm in ARMS:
        table[f"p_{arm}"] = truth[f"p_response_{arm}"]
    # The scan's part of the response log-odds: detectable_effect.py scales it.
    table["brain_logit"] = truth["brain_logit"].to_numpy()
    return table.reset_index(drop=True)


def population(effect, size, seed, n_jobs):
    """ROI means, demographics, arm, outcome and true response probabilities."""
    seeds = np.random.SeedSequence([seed, size]).generate_state(-(-size // 1000))
    sizes = [min(1000, size - 1000 * k) for k in range(len(seeds))]
    parts = joblib.Parallel(n_jobs=n_jobs)(
        joblib.delayed(_chunk)(effect, s, int(x))
        for s, x in zip(sizes, seeds, strict=True)
    )
    table = pd.concat(parts, ignore_index=True)
    table.attrs["effect"] = effect
    return table


def _draw(pool, n, rng, outcome="y"):
    """A replicate cohort: the table without outcomes, and one outcome."""
    rows = rng.choice(len(pool), n, replace=False)
    table = pool.iloc[rows].reset_index(drop=True)
    table.index = pd.Index([f"sub-{i:03d}" for i in range(n)], name="participant_id")
    outcomes = table.pop("y"), table.pop("change")
    return table, outcomes[("y", "change").index(outcome)]


def _model(columns=ROI):
    return tp.ResponseClassifier(tp.PrecomputedFeatures(columns))


def _fitted_decision(model, X, y, rows):
    """Decision values on ``rows`` of the model fitted to (X, y), batched route."""
    extractor = model.make_extractor()
    design = model.design(X, extractor.fit(X) if extractor is not None else None)
    other = model.design(rows, extractor)
    route = choose_route(model, design, routes=("batched",), fast_path=True)
    search, encoded = route.search, route.design
    if not isinstance(design, np.ndarray):
        raise TypeError("the truth models here take numeric designs")
    ((decision, _),) = search.fit_decision([(encoded, y.to_numpy(), np.asarray(other))])
    return decision


# -- the parts -------------------------------------------------------------------
def classifier_replicate(pool, truth, n, seed):
    """Intervals of every metric and the comparisons of one replicate cohort."""
    rng = np.random.default_rng(seed)
    X, y = _draw(pool, n, rng)
    split_seed = int(rng.integers(2**31))
    roi = tp.nested_cross_validate(
        _model(), X, y, n_repeats=N_REPEATS, random_state=split_seed
    )
    demo = tp.nested_cross_validate(
        tp.ResponseClassifier("demographics"),
        X,
        y,
        n_repeats=N_REPEATS,
        random_state=split_seed,
    )
    decision = _fitted_decision(_model(), X, y, truth)
    true = binary_metrics(truth["y"], decision > 0, decision)
    rows = []
    for (metric, method), row in roi.intervals().iterrows():
        rows.append(
            {
                "quantity": metric,
                "method": method,
                "estimate": row["estimate"],
                "ci_low": row["ci_low"],
                "ci_high": row["ci_high"],
                "truth": true[metric],
            }
        )
    rows += _comparisons(roi, demo, "roi vs demographics")
    return rows


def _comparisons(a, b, label):
    """compare() itself, and every method of the paired test it uses."""
    rows = []
    shipped = tp.compare(a, b, alpha=ALPHA).table
    cv_a, cv_b = _aligned(a, b)
    for metric in ("auc", "balanced_accuracy"):
        rows.append(
            {
                "quantity": f"compare_{metric}",
                "method": "compare()",
                "comparison": label,
                "difference": shipped.at[metric, "difference"],
                "p_value": shipped.at[metric, "p_value"],
            }
        )
        for method in METHODS:
            test = cv_paired_test(cv_a, cv_b, metric, method)
            rows.append(
                {
                    "quantity": f"compare_{metric}",
                    "method": method,
                    "comparison": label,
                    "difference": test["difference"],
                    "p_value": test["p_value"],
                }
            )
    return rows


def added_value_replicate(pool, truth, n, seed, n_permutations=None):
    """Does the scan add to demographics? compare() and the permutation test.

    The model: the ROI means with the demographics as covariates; the
    baseline: the demographics alone; the same splits. Level on the null,
    demographic and age-confounded populations (the scan adds nothing),
    power on the prognostic one.
    """
    rng = np.random.default_rng(seed)
    X, y = _draw(pool, n, rng)
    split_seed = int(rng.integers(2**31))
    both = tp.ResponseClassifier(
        tp.PrecomputedFeatures(ROI), confounds=DEMOGRAPHICS, deconfound="augment"
    )
    demographics = tp.ResponseClassifier(
        "demographics", demographic_columns=DEMOGRAPHICS
    )
    options = {"n_repeats": N_REPEATS, "random_state": split_seed}
    a = tp.nested_cross_validate(both, X, y, **options)
    b = tp.nested_cross_validate(demographics, X, y, **options)
    label = "roi+demographics vs demographics"
    rows = _comparisons(a, b, label)
    tests = scan_permutation_test(
        both,
        demographics,
        X,
        y,
        baseline_columns=DEMOGRAPHICS,
        n_permutations=n_permutations or ADDED_VALUE_PERMUTATIONS,
        **options,
    )
    for metric, test in tests.items():
        rows.append(
            {
                "quantity": f"compare_{metric}",
                "method": PERMUTATION,
                "comparison": label,
                "difference": test.statistic,
                "p_value": test.p_value,
                "permutations_used": len(test.null_distribution),
            }
        )
    return rows


def permutation_replicate(pool, truth, n, seed):
    rng = np.random.default_rng(seed)
    X, y = _draw(pool, n, rng)
    result = tp.nested_cross_validate(
        _model(),
        X,
        y,
        n_repeats=1,
        n_permutations=PERMUTATIONS,
        random_state=int(rng.integers(2**31)),
    )
    return [
        {
            "quantity": f"permutation_{metric}",
            "method": "nested_cross_validate()",
            "p_value": result.summary().at[metric, "p_value"],
            "permutations_used": len(result.permutation[metric].null_distribution),
        }
        for metric in ("auc", "balanced_accuracy")
    ]


def _selector():
    return tp.ModalitySelector(tp.PrecomputedFeatures(ROI), strategy="interaction")


def modality_replicate(pool, truth, n, seed):
    rng = np.random.default_rng(seed)
    X, y = _draw(pool, n, rng)
    result = tp.evaluate_selection(
        _selector(), X, y, n_repeats=N_REPEATS, random_state=int(rng.integers(2**31))
    )
    final = _selector().fit(X, y, treatment="treatment")
    recommended = final.recommend(truth).to_numpy()
    p = truth[[f"p_{arm}" for arm in ARMS]].to_numpy()
    chosen = np.array([ARMS.index(r) for r in recommended])
    p_policy = p[np.arange(len(p)), chosen]
    true = {
        "matched_minus_unmatched": float(
            (p_policy - p[np.arange(len(p)), 1 - chosen]).mean()
        ),
        "policy_value": float(p_policy.mean()),
        "policy_gain": float(p_policy.mean() - p.mean(axis=0).max()),
    }
    return [
        {
            "quantity": measure,
            "method": method,
            "estimate": row["estimate"],
            "ci_low": row["ci_low"],
            "ci_high": row["ci_high"],
            "truth": true[measure],
        }
        for (measure, method), row in result.intervals().iterrows()
    ]


def selection_comparison_replicate(pool, truth, n, seed):
    rng = np.random.default_rng(seed)
    X, y = _draw(pool, n, rng)
    split_seed = int(rng.integers(2**31))
    scan = tp.evaluate_selection(
        _selector(), X, y, n_repeats=N_REPEATS, random_state=split_seed
    )
    demo = tp.evaluate_selection(
        tp.ModalitySelector("demographics", param_grid={}),
        X,
        y,
        n_repeats=N_REPEATS,
        random_state=split_seed,
    )
    table = tp.compare_selections(scan, demo)
    return [
        {
            "quantity": "compare_selections_policy_value",
            "method": "compare_selections()",
            "difference": table.at["policy_value_ipw", "difference"],
            "p_value": table.at["policy_value_ipw", "p_value"],
        }
    ]


def regression_replicate(pool, truth, n, seed, n_repeats=REGRESSION_REPEATS):
    """Intervals of r, R^2 and MAE of a ridge regressor of the symptom change."""
    rng = np.random.default_rng(seed)
    X, change = _draw(pool, n, rng, outcome="change")
    model = tp.ResponseRegressor(tp.PrecomputedFeatures(ROI), param_grid=ALPHAS)
    result = tp.nested_cross_validate(
        model,
        X,
        change,
        n_repeats=n_repeats,
        random_state=int(rng.integers(2**31)),
    )
    predicted = model.fit(X, change).predict(truth)
    true = regression_metrics(truth["change"], predicted)
    return [
        {
            "quantity": metric,
            "method": method,
            "estimate": row["estimate"],
            "ci_low": row["ci_low"],
            "ci_high": row["ci_high"],
            "truth": true[metric],
        }
        for (metric, method), row in result.intervals().iterrows()
    ]


def regression_comparison_replicate(pool, truth, n, seed, n_repeats=REGRESSION_REPEATS):
    """compare() of two regressors of the symptom change, neither better.

    ``effect="none"``: ROI vs demographics, neither with signal;
    ``effect="demographics"``: ROI + demographics vs demographics, the scan
    adds nothing.
    """
    rng = np.random.default_rng(seed)
    X, change = _draw(pool, n, rng, outcome="change")
    split_seed = int(rng.integers(2**31))
    added = pool.attrs["effect"] == "demographics"
    a = (
        tp.ResponseRegressor(
            "demographics", demographic_columns=DEMOGRAPHICS + ROI, param_grid=ALPHAS
        )
        if added
        else tp.ResponseRegressor(tp.PrecomputedFeatures(ROI), param_grid=ALPHAS)
    )
    b = tp.ResponseRegressor(
        "demographics", demographic_columns=DEMOGRAPHICS, param_grid=ALPHAS
    )
    a, b = (
        tp.nested_cross_validate(
            m, X, change, n_repeats=n_repeats, random_state=split_seed
        )
        for m in (a, b)
    )
    table = tp.compare(a, b, alpha=ALPHA).table
    label = "roi+demographics vs demographics" if added else "roi vs demographics"
    return [
        {
            "quantity": f"compare_{metric}",
            "method": "compare()",
            "comparison": label,
            # MAE: lower is better, so "a is better" is a negative difference.
            "difference": table.at[metric, "difference"]
            * (-1 if metric == "mae" else 1),
            "p_value": table.at[metric, "p_value"],
        }
        for metric in ("r", "mae")
    ]


PARTS = {
    "classifier": classifier_replicate,
    "added_value": added_value_replicate,
    "permutation": permutation_replicate,
    "modality": modality_replicate,
    "selection_comparison": selection_comparison_replicate,
    "regression": regression_replicate,
    "regression_comparison": regression_comparison_replicate,
}


def _run(part, pool, truth, n, seed, options):
    """One replicate; a draw the functions refuse (too few of a class) is redrawn."""
    for attempt in range(20):
        try:
            rows = PARTS[part](pool, truth, n, [seed, attempt], **options)
        except tp.errors.TxpredictError:
            continue
        return [{**row, "attempt": attempt} for row in rows]
    raise RuntimeError(f"{part}: no usable cohort of n={n} in 20 draws")


def _run_chunk(part, pool, truth, n, seeds, options):
    """Several replicates per task: the population is shipped once per task."""
    return [_run(part, pool, truth, n, int(seed), options) for seed in seeds]


# -- summary ---------------------------------------------------------------------
def _mcse(rate, count):
    return float(np.sqrt(rate * (1 - rate) / count)) if count else np.nan


def summarise(raw: pd.DataFrame) -> pd.DataFrame:
    """Coverage (intervals) or rejection rate (tests), with Monte-Carlo errors."""
    rows = []
    keys = ["part", "effect", "n", "quantity", "method"]
    for key, g in raw.groupby(keys, sort=False, dropna=False):
        row = dict(zip(keys, key, strict=True)) | {"replicates": len(g)}
        if "ci_low" in g and g["ci_low"].notna().any():
            t1, t2 = g["truth"], g["truth"].mean()
            covered = (g["ci_low"] <= t1) & (t1 <= g["ci_high"])
            covered2 = (g["ci_low"] <= t2) & (t2 <= g["ci_high"])
            row |= {
                "coverage_T1": covered.mean(),
                "mcse_T1": _mcse(covered.mean(), len(g)),
                "coverage_T2": covered2.mean(),
                "mcse_T2": _mcse(covered2.mean(), len(g)),
                "mean_width": (g["ci_high"] - g["ci_low"]).mean(),
                "bias_T1": (g["estimate"] - t1).mean(),
                "sd_estimate": g["estimate"].std(),
                "truth_T2": t2,
            }
        else:
            rejected = g["p_value"] < ALPHA
            rate = rejected.mean()
            row |= {
                "rejection_rate": rate,
                "mcse_rejection": _mcse(rate, len(g)),
                "claims_a_better": (rejected & (g["difference"] > 0)).mean()
                if "difference" in g and g["difference"].notna().any()
                else np.nan,
                "mean_p": g["p_value"].mean(),
            }
            if "permutations_used" in g and g["permutations_used"].notna().any():
                for alpha in PERMUTATION_ALPHAS:
                    at = (g["p_value"] <= alpha).mean()
                    row |= {
                        f"rejection_at_{alpha:g}": at,
                        f"mcse_at_{alpha:g}": _mcse(at, len(g)),
                    }
                row |= {
                    "mean_permutations": g["permutations_used"].mean(),
                    "median_permutations": g["permutations_used"].median(),
                }
        rows.append(row)
    return pd.DataFrame(rows)


#: The targets: a 95% interval covers the truth in 93-97% of replicates. Over-
#: coverage is conservative, so a method may exceed 97% by up to two
#: Monte-Carlo SEs; it may never fall below 93%.
COVERAGE_TARGET = (0.93, 0.97)


def _percent_range(values) -> str:
    low, high = 100 * min(values), 100 * max(values)
    return f"{low:.1f}" if round(low, 1) == round(high, 1) else f"{low:.1f}-{high:.1f}"


def markdown_tables(summary: pd.DataFrame) -> str:
    """The benchmarks page's tables: coverage of every interval method, test levels."""
    lines = [
        "| part | quantity | method | coverage of T1, % (range over settings) | "
        "of T2, % | mean width | default |",
        "|---|---|---|---|---|---|---|",
    ]
    intervals = summary[summary["coverage_T1"].notna()]
    for (part, quantity, method), g in intervals.groupby(
        ["part", "quantity", "method"], sort=False
    ):
        default = SHIPPED_DEFAULTS.get(part, {}).get(quantity) == method
        lines.append(
            f"| {part} | {quantity} | {method} | {_percent_range(g['coverage_T1'])} | "
            f"{_percent_range(g['coverage_T2'])} | "
            f"{g['mean_width'].min():.3f}-{g['mean_width'].max():.3f} | "
            f"{'**yes**' if default else ''} |"
        )
    lines += [
        "",
        "| part | population | test | method | rejection rate at alpha 0.05, % "
        "(n = 40, 100, 200) | claims a better, % |",
        "|---|---|---|---|---|---|",
    ]
    tests = summary[summary["rejection_rate"].notna()]
    for (part, effect, quantity, method), g in tests.groupby(
        ["part", "effect", "quantity", "method"], sort=False
    ):
        rates = ", ".join(f"{100 * v:.1f}" for v in g["rejection_rate"])
        claims = ", ".join(
            "" if pd.isna(v) else f"{100 * v:.1f}" for v in g["claims_a_better"]
        )
        lines.append(
            f"| {part} | {effect} | {quantity} | {method} | {rates} | {claims} |"
        )
    permutation = summary[summary["part"] == "permutation"]
    if "mean_permutations" in permutation and len(permutation):
        levels = " | ".join(f"p <= {a:g}, % (+- MC SE)" for a in PERMUTATION_ALPHAS)
        lines += [
            "",
            f"| test (null data) | n | {levels} | permutations used, mean (median) |",
            "|---|---:|" + "---:|" * len(PERMUTATION_ALPHAS) + "---:|",
        ]
        for _, row in permutation.iterrows():
            rates = " | ".join(
                f"{100 * row[f'rejection_at_{a:g}']:.1f} "
                f"+- {100 * row[f'mcse_at_{a:g}']:.1f}"
                for a in PERMUTATION_ALPHAS
            )
            lines.append(
                f"| {row['quantity']} | {row['n']} | {rates} | "
                f"{row['mean_permutations']:.0f} ({row['median_permutations']:.0f}) |"
            )
    return "\n".join(lines)


#: The shipped default interval of each quantity, per part (must follow the rule).
SHIPPED_DEFAULTS = {
    "classifier": DEFAULT_METHODS,
    "modality": DEFAULT_POLICY_METHODS,
    "regression": DEFAULT_REGRESSION_METHODS,
}


def chosen_methods(summary: pd.DataFrame, part: str) -> dict:
    """Per quantity of ``part``, the narrowest method that reached the target.

    Reaching it: coverage of T1 at least 93% in every setting (effect x n),
    and at most 97% + 2 Monte-Carlo SE. None when no method does.
    """
    low, high = COVERAGE_TARGET
    rows = summary[(summary["part"] == part) & summary["coverage_T1"].notna()]
    chosen = {}
    for quantity, g in rows.groupby("quantity", sort=False):
        ok = g.groupby("method").apply(
            lambda m: bool(
                (m["coverage_T1"] >= low).all()
                and (m["coverage_T1"] <= high + 2 * m["mcse_T1"]).all()
            ),
            include_groups=False,
        )
        width = g.groupby("method")["mean_width"].mean()
        qualified = width[ok[ok].index]
        chosen[quantity] = qualified.idxmin() if len(qualified) else None
    return chosen


def package_table(summary: pd.DataFrame) -> dict:
    """The measured coverage / level of each shipped default, for the report.

    Coverage of T1 (the fitted model's true performance) for every setting;
    false-positive rates on the null settings only: ``compare()`` when neither
    model has signal (two-sided) and when the scan adds nothing to
    demographics (the one-sided claim "a is better"); the permutation test on
    null data.
    """

    def select(part, quantity, method, effect=None):
        g = summary[
            (summary["part"] == part)
            & (summary["quantity"] == quantity)
            & (summary["method"] == method)
        ]
        if effect is None:
            return g
        return g[g["effect"].isin([effect] if isinstance(effect, str) else effect)]

    def coverage(part):
        """Each quantity's shipped default method and its measured coverage."""
        return {
            m: {
                "method": method,
                "coverage": by_setting(select(part, m, method), "coverage_T1"),
            }
            for m, method in SHIPPED_DEFAULTS[part].items()
        }

    def by_setting(g, column):
        return {
            f"{effect}, n={n}": round(float(v), 4)
            for effect, n, v in zip(g["effect"], g["n"], g[column], strict=True)
        }

    return {
        "source": "benchmarks/calibration.py (benchmarks/results/calibration/)",
        "rule": "the narrowest method whose coverage was at least 93% in every "
        "setting and at most 97% + 2 Monte-Carlo SE",
        "intervals": coverage("classifier"),
        "policy_intervals": coverage("modality"),
        "compare": {
            m: {
                "method": method,
                "false_positive_rate": by_setting(
                    select("classifier", f"compare_{m}", "compare()", "none"),
                    "rejection_rate",
                ),
                "claims_better_when_the_scan_adds_nothing": by_setting(
                    select("added_value", f"compare_{m}", "compare()", ADDS_NOTHING),
                    "claims_a_better",
                ),
            }
            for m, method in DEFAULT_COMPARISON_METHODS.items()
        },
        # added_value()'s test, beside compare()'s on the same replicates.
        "added_value_permutation": {
            m: {
                "claims_better_when_the_scan_adds_nothing": by_setting(
                    select("added_value", f"compare_{m}", PERMUTATION, ADDS_NOTHING),
                    "claims_a_better",
                ),
                "power": by_setting(
                    select("added_value", f"compare_{m}", PERMUTATION, "prognostic"),
                    "claims_a_better",
                ),
                "compare_power": by_setting(
                    select("added_value", f"compare_{m}", "compare()", "prognostic"),
                    "claims_a_better",
                ),
            }
            for m in ("auc", "balanced_accuracy")
        },
        "regression_intervals": coverage("regression"),
        "regression_compare": {
            m: {
                "false_positive_rate": by_setting(
                    select(
                        "regression_comparison", f"compare_{m}", "compare()", "none"
                    ),
                    "rejection_rate",
                ),
                "claims_better_when_the_scan_adds_nothing": by_setting(
                    select(
                        "regression_comparison",
                        f"compare_{m}",
                        "compare()",
                        "demographics",
                    ),
                    "claims_a_better",
                ),
            }
            for m in ("r", "mae")
        },
        "permutation": {
            m: by_setting(
                select("permutation", f"permutation_{m}", "nested_cross_validate()"),
                "rejection_rate",
            )
            for m in ("auc", "balanced_accuracy")
        },
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--n-true", type=int, default=5000)
    parser.add_argument(
        "--pool-size", type=int, default=20000, help="patients per population"
    )
    parser.add_argument("--parts", default=",".join(PLAN))
    parser.add_argument(
        "--sizes", default=",".join(map(str, SIZES)), help="sample sizes, e.g. 40,100"
    )
    parser.add_argument(
        "--replicates", type=int, default=None, help="per setting (default: PLAN's)"
    )
    parser.add_argument(
        "--more",
        default=None,
        help="effects (e.g. none,demographics) of the parts given to add "
        "--replicates NEW replicates to (other seeds), keeping the saved ones",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="reuse the parts a previous, interrupted full run finished",
    )
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="rewrite the package's table from the saved summary, computing nothing",
    )
    args = parser.parse_args(argv)
    if args.table_only:
        summary = pd.read_csv(RESULTS / "calibration" / "summary.csv")
        write_text_atomic(
            PACKAGE_TABLE, json.dumps(package_table(summary), indent=1) + "\n"
        )
        print(f"wrote {PACKAGE_TABLE}")
        print(markdown_tables(summary))
        return
    plan, pool_size = PLAN, args.pool_size
    sizes = tuple(int(n) for n in args.sizes.split(","))
    if args.replicates is not None:
        plan = {part: dict.fromkeys(p, args.replicates) for part, p in PLAN.items()}
    more = args.more.split(",") if args.more else None
    if more:
        plan = {
            part: {e: r for e, r in p.items() if e in more} for part, p in plan.items()
        }
    if args.quick:
        plan, sizes, pool_size, args.n_true = QUICK_PLAN, (40,), 200, 200
    parts = args.parts.split(",")
    start = time.perf_counter()
    effects = sorted({e for p in parts for e in plan[p]})
    pools = {
        e: (
            population(e, pool_size, 1, args.n_jobs),
            population(e, args.n_true, 2, args.n_jobs),
        )
        for e in effects
    }
    generated = time.perf_counter() - start
    print(f"populations generated in {generated:.0f} s")
    raw, seconds = [], {}
    for part in parts:
        t0 = time.perf_counter()
        finished = FINISHED_PARTS / f"{part}.csv.gz"
        if args.resume and not args.quick and finished.exists():
            raw += pd.read_csv(finished).to_dict(orient="records")
            seconds[part] = json.loads(finished.with_suffix(".json").read_text())
            print(f"{part}: reused {finished}")
            continue
        first = len(raw)
        options = QUICK_OPTIONS.get(part, {}) if args.quick else {}
        for effect, replicates in plan[part].items():
            pool, truth = pools[effect]
            for n in sizes:
                # --more: other seeds than the saved replicates'.
                entropy = [list(PLAN).index(part), n] + ([1] if more else [])
                seeds = np.random.SeedSequence(entropy).generate_state(replicates)
                chunks = np.array_split(seeds, max(1, len(seeds) // CHUNK))
                out = joblib.Parallel(n_jobs=args.n_jobs)(
                    joblib.delayed(_run_chunk)(part, pool, truth, n, chunk, options)
                    for chunk in chunks
                )
                for r, rows in enumerate(rows for chunk in out for rows in chunk):
                    raw += [
                        {"part": part, "effect": effect, "n": n, "replicate": r, **row}
                        for row in rows
                    ]
                print(f"{part} {effect} n={n}: {replicates} replicates", flush=True)
        seconds[part] = time.perf_counter() - t0
        if not args.quick:  # a long run survives an interruption part by part
            FINISHED_PARTS.mkdir(parents=True, exist_ok=True)
            write_text_atomic(finished.with_suffix(".json"), json.dumps(seconds[part]))
            pd.DataFrame(raw[first:]).to_csv(finished, index=False)
    raw = pd.DataFrame(raw)
    saved = RESULTS / "calibration" / "replicates.csv.gz"
    old_info = None
    if not args.quick and saved.exists() and set(parts) != set(PLAN):
        # A run of some parts keeps the saved replicates of the others.
        previous = pd.read_csv(saved)
        if more:  # added to the saved replicates, numbered after them
            for key, g in raw.groupby(["part", "effect", "n"]):
                same = previous[
                    (previous["part"] == key[0])
                    & (previous["effect"] == key[1])
                    & (previous["n"] == key[2])
                ]
                offset = int(same["replicate"].max()) + 1 if len(same) else 0
                raw.loc[g.index, "replicate"] += offset
            kept = previous
        else:
            kept = previous[~previous["part"].isin(parts)]
        raw = pd.concat([kept, raw], ignore_index=True)
        old_info = json.loads((saved.parent / "summary.json").read_text())["info"]
        seconds = {**old_info.get("part_seconds", {}), **seconds}
    summary = summarise(raw)
    wall = time.perf_counter() - start
    pd.set_option("display.width", 250)
    print(summary.round(3).to_string(index=False))
    print(f"wall time {wall:.0f} s (populations {generated:.0f} s; {seconds})")
    for part, defaults in SHIPPED_DEFAULTS.items():
        if part in parts:
            rule = chosen_methods(summary, part)
            differ = {
                q: (defaults[q], rule[q]) for q in defaults if defaults[q] != rule[q]
            }
            print(
                f"{part}: shipped defaults {'differ from' if differ else 'follow'} "
                f"the rule {differ or ''}"
            )
    if args.quick:
        return
    info = {
        "plan": plan,
        "sizes": list(sizes),
        "n_repeats": N_REPEATS,
        "outer_cv": 5,
        "inner_cv": 5,
        "permutations": PERMUTATIONS,
        "alpha": ALPHA,
        "n_true": args.n_true,
        "pool_size": pool_size,
        "wall_seconds": wall,  # of this invocation (reused parts take none)
        # populations + every part, reused or not: the cost of the whole benchmark
        "total_seconds": generated + sum(seconds.values()),
        "population_seconds": generated,
        "part_seconds": seconds,
        "n_jobs": args.n_jobs,
        "machine": machine(),
    }
    if old_info is not None:
        # A run of some parts: the saved run's description stays, and how each
        # of these parts was run is recorded beside it.
        runs = {p: {"sizes": list(sizes), "plan": plan[p]} for p in parts}
        info = {
            **old_info,
            "part_runs": {**old_info.get("part_runs", {}), **runs},
            "part_seconds": seconds,
            "total_seconds": old_info.get("population_seconds", 0)
            + sum(seconds.values()),
        }
    with atomic_directory(RESULTS / "calibration", overwrite=True, report=print) as tmp:
        summary.to_csv(tmp / "summary.csv", index=False, float_format="%.5g")
        raw.to_csv(tmp / "replicates.csv.gz", index=False, float_format="%.6g")
        (tmp / "summary.json").write_text(
            json.dumps(
                {"info": info, "summary": summary.to_dict(orient="records")},
                indent=1,
                default=str,
            )
        )
    write_text_atomic(
        PACKAGE_TABLE, json.dumps(package_table(summary), indent=1) + "\n"
    )
    print(f"wrote {RESULTS / 'calibration'} and {PACKAGE_TABLE}")


if __name__ == "__main__":
    main()
