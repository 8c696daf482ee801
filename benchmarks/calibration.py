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
- the permutation test of the whole nested procedure: its rejection rate on
  null data (fewer replicates: each runs the nested CV 1 + 99 times);
- treatment selection (``SelectionResult.intervals()``): coverage of the true
  matched-minus-unmatched difference, policy value and policy gain of the
  selector fitted to the cohort, on Frick-like trials (a dACC x arm
  interaction), and ``compare_selections``' false-positive rate on null trials.

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
from txpredict.evaluation._compare import _aligned
from txpredict.model_selection._batched_logistic import batched_search_of
from txpredict.stats import (
    DEFAULT_COMPARISON_METHODS,
    DEFAULT_METHODS,
    DEFAULT_POLICY_METHODS,
    METHODS,
    binary_metrics,
    cv_paired_test,
)

SIZES = (40, 100, 200)
N_REPEATS = 10
ALPHA = 0.05
ROI = [
    f"{name}_mean"
    for name in (
        "dACC_L",
        "dACC_R",
        "pgACC_L",
        "pgACC_R",
        "sgACC",
        "cuneus_L",
        "cuneus_R",
        "amygdala_L",
        "amygdala_R",
    )
]
DEMOGRAPHICS = ["age", "sex", "baseline_severity", "site"]
ARMS = ("CBT", "SSRI+CBT")
#: Replicate cohorts per sample size, for each part and population.
PLAN = {
    "classifier": {"none": 1000, "prognostic": 500},
    "added_value": {"demographics": 500},
    "permutation": {"none": 200},
    "modality": {"interaction": 500},
    "selection_comparison": {"none": 300},
}
QUICK_PLAN = {part: dict.fromkeys(plan, 2) for part, plan in PLAN.items()}
PERMUTATIONS = 99
PACKAGE_TABLE = Path(__file__).parents[1] / "src/txpredict/stats/calibration.json"


# -- synthetic populations ----------------------------------------------------
def _chunk(effect, size, seed):
    cohort = tp.make_synthetic_cohort(
        size, effect=effect, grid="fsl6", random_state=seed
    )
    roi = tp.RoiFeatures(verbose=0).set_output(transform="pandas")
    table = pd.concat(
        [cohort.X.drop(columns="image"), roi.fit_transform(cohort.X)], axis=1
    )
    table["y"] = cohort.y
    truth = cohort.ground_truth
    for arm in ARMS:
        table[f"p_{arm}"] = truth[f"p_response_{arm}"]
    return table.reset_index(drop=True)


def population(effect, size, seed, n_jobs):
    """ROI means, demographics, arm, outcome and true response probabilities."""
    seeds = np.random.SeedSequence([seed, size]).generate_state(-(-size // 1000))
    sizes = [min(1000, size - 1000 * k) for k in range(len(seeds))]
    parts = joblib.Parallel(n_jobs=n_jobs)(
        joblib.delayed(_chunk)(effect, s, int(x))
        for s, x in zip(sizes, seeds, strict=True)
    )
    return pd.concat(parts, ignore_index=True)


def _draw(pool, n, rng):
    rows = rng.choice(len(pool), n, replace=False)
    table = pool.iloc[rows].reset_index(drop=True)
    table.index = pd.Index([f"sub-{i:03d}" for i in range(n)], name="participant_id")
    return table, table.pop("y")


def _model(columns=ROI):
    return tp.ResponseClassifier(tp.PrecomputedFeatures(columns))


def _fitted_decision(model, X, y, rows):
    """Decision values on ``rows`` of the model fitted to (X, y), batched route."""
    extractor = model.make_extractor()
    design = model.design(X, extractor.fit(X) if extractor is not None else None)
    other = model.design(rows, extractor)
    search, encoded = batched_search_of(model, design)
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


def added_value_replicate(pool, truth, n, seed):
    """ROI + demographics vs demographics when the scan adds nothing."""
    rng = np.random.default_rng(seed)
    X, y = _draw(pool, n, rng)
    split_seed = int(rng.integers(2**31))
    both = tp.ResponseClassifier("demographics", demographic_columns=DEMOGRAPHICS + ROI)
    a = tp.nested_cross_validate(
        both, X, y, n_repeats=N_REPEATS, random_state=split_seed
    )
    b = tp.nested_cross_validate(
        tp.ResponseClassifier("demographics"),
        X,
        y,
        n_repeats=N_REPEATS,
        random_state=split_seed,
    )
    return _comparisons(a, b, "roi+demographics vs demographics")


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


PARTS = {
    "classifier": classifier_replicate,
    "added_value": added_value_replicate,
    "permutation": permutation_replicate,
    "modality": modality_replicate,
    "selection_comparison": selection_comparison_replicate,
}


def _run(part, pool, truth, n, seed):
    """One replicate; a draw the functions refuse (too few of a class) is redrawn."""
    for attempt in range(20):
        try:
            rows = PARTS[part](pool, truth, n, [seed, attempt])
        except tp.errors.TxpredictError:
            continue
        return [{**row, "attempt": attempt} for row in rows]
    raise RuntimeError(f"{part}: no usable cohort of n={n} in 20 draws")


# -- summary ---------------------------------------------------------------------
def _mcse(rate, count):
    return float(np.sqrt(rate * (1 - rate) / count)) if count else np.nan


def summarise(raw: pd.DataFrame) -> pd.DataFrame:
    """Coverage (intervals) or rejection rate (tests), with Monte-Carlo errors."""
    rows = []
    keys = ["part", "effect", "n", "quantity", "method"]
    for key, g in raw.groupby(keys, sort=False, dropna=False):
        row = dict(zip(keys, key, strict=True)) | {"replicates": len(g)}
        if g["ci_low"].notna().any():
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
                if g["difference"].notna().any()
                else np.nan,
                "mean_p": g["p_value"].mean(),
            }
        rows.append(row)
    return pd.DataFrame(rows)


def package_table(summary: pd.DataFrame) -> dict:
    """The measured coverage / level of each shipped default, for the report."""

    def coverage(part, quantity, method):
        g = summary[
            (summary["part"] == part)
            & (summary["quantity"] == quantity)
            & (summary["method"] == method)
        ]
        return {
            f"{effect}, n={n}": round(float(c), 3)
            for effect, n, c in zip(g["effect"], g["n"], g["coverage_T1"], strict=True)
        }

    def level(quantity, method):
        g = summary[(summary["quantity"] == quantity) & (summary["method"] == method)]
        return {
            f"{effect}, n={n}": round(float(r), 3)
            for effect, n, r in zip(
                g["effect"], g["n"], g["rejection_rate"], strict=True
            )
        }

    return {
        "source": "benchmarks/calibration.py (benchmarks/results/calibration/)",
        "intervals": {
            m: {"method": method, "coverage": coverage("classifier", m, method)}
            for m, method in DEFAULT_METHODS.items()
        },
        "policy_intervals": {
            m: {"method": method, "coverage": coverage("modality", m, method)}
            for m, method in DEFAULT_POLICY_METHODS.items()
        },
        "compare": {
            m: {
                "method": method,
                "false_positive_rate": level(f"compare_{m}", "compare()"),
            }
            for m, method in DEFAULT_COMPARISON_METHODS.items()
        },
        "permutation": {
            m: level(f"permutation_{m}", "nested_cross_validate()")
            for m in ("auc", "balanced_accuracy")
        },
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--n-true", type=int, default=5000)
    parser.add_argument("--parts", default=",".join(PLAN))
    args = parser.parse_args(argv)
    plan, sizes, pool_size = PLAN, SIZES, 20000
    if args.quick:
        plan, sizes, pool_size, args.n_true = QUICK_PLAN, (40,), 400, 400
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
        for effect, replicates in plan[part].items():
            pool, truth = pools[effect]
            for n in sizes:
                seeds = np.random.SeedSequence(
                    [list(PLAN).index(part), n]
                ).generate_state(replicates)
                out = joblib.Parallel(n_jobs=args.n_jobs, batch_size=4)(
                    joblib.delayed(_run)(part, pool, truth, n, int(s)) for s in seeds
                )
                for r, rows in enumerate(out):
                    raw += [
                        {"part": part, "effect": effect, "n": n, "replicate": r, **row}
                        for row in rows
                    ]
                print(f"{part} {effect} n={n}: {replicates} replicates", flush=True)
        seconds[part] = time.perf_counter() - t0
    raw = pd.DataFrame(raw)
    summary = summarise(raw)
    wall = time.perf_counter() - start
    pd.set_option("display.width", 250)
    print(summary.round(3).to_string(index=False))
    print(f"wall time {wall:.0f} s (populations {generated:.0f} s; {seconds})")
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
        "wall_seconds": wall,
        "population_seconds": generated,
        "part_seconds": seconds,
        "n_jobs": args.n_jobs,
        "machine": machine(),
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
