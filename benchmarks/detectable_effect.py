"""The smallest AUC gain the added-value test detects with 80% power, by n.

A non-significant :func:`txpredict.added_value` at n = 60 does not say "the scan
adds nothing"; it may say "too small a study to tell". This benchmark measures
how large a gain the shipped test finds: replicate cohorts of n patients drawn
from synthetic populations whose scan effect is scaled (the brain part of the
response log-odds times ``strength``; demographics and their effects
unchanged), each analysed with ``tp.added_value`` exactly as users call it
(ROI means with the demographics as covariates vs the demographics alone,
nested 5-fold CV repeated 10 times, the permutation test of the scan given the
demographics, decision ``AddedValue.scan_adds`` at alpha = 0.05).

The gain of a population is the large-sample one: the AUC of an unpenalised
logistic model of scan + demographics minus that of demographics alone, fitted
on 20,000 patients and evaluated on 20,000 others. Per n, a logistic curve of
the decision against that gain (all strengths pooled) gives the gain detected
with 80% power; its Monte-Carlo error is the SD over bootstrap resamples of the
replicates within each strength. The package keeps the result
(``src/txpredict/stats/detectable_effect.json``) for reports: the smallest gain
the test would detect at the user's n, interpolated in log n.

What it does not say: the populations have one shape of scan effect (9 ROI
means, a 50% response rate, 4 demographic columns); a scan effect spread over
more, noisier features needs a larger gain, and another response rate changes
power.

Usage: ``python benchmarks/detectable_effect.py [--quick] [--n-jobs 2]``
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from scipy import special
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import txpredict as tp
from _common import RESULTS, machine
from calibration import ADDED_VALUE_PERMUTATIONS, DEMOGRAPHICS, N_REPEATS, ROI
from calibration import population as calibration_population
from txpredict._io import atomic_directory, write_text_atomic

#: Per n, the scan-effect strengths whose power brackets 80% (pilot runs).
STRENGTHS = {
    40: (1.0, 1.5, 2.0, 2.5),
    100: (0.5, 0.75, 1.0, 1.5),
    200: (0.5, 0.75, 1.0, 1.25),
}
REPLICATES = 40
POWER = 0.8
ALPHA = 0.05
BOOTSTRAPS = 500
PACKAGE_TABLE = Path(__file__).parents[1] / "src/txpredict/stats/detectable_effect.json"
# scipy.special, not its ufuncs, at module level: numpy pickles a ufunc by the
# first module holding it, which for a script's worker would be __main__.


def outcome_probability(pool: pd.DataFrame, strength: float) -> np.ndarray:
    """P(response) under the arm received, the scan's log-odds times strength."""
    received = np.where(pool["treatment"] == "CBT", pool["p_CBT"], pool["p_SSRI+CBT"])
    brain = pool["brain_logit"].to_numpy()
    return special.expit(special.logit(received) + (strength - 1.0) * brain)


def _design(pool: pd.DataFrame, columns) -> pd.DataFrame:
    return pd.get_dummies(pool[columns], columns=["sex", "site"], dtype=float)


def population_gain(fit_pool, test_pool, strength, seed) -> dict:
    """Large-sample AUCs of scan + demographics and of demographics alone."""
    rng = np.random.default_rng(seed)
    outcomes = [
        (rng.random(len(p)) < outcome_probability(p, strength)).astype(int)
        for p in (fit_pool, test_pool)
    ]
    aucs = {}
    for name, columns in (
        ("demographics", DEMOGRAPHICS),
        ("scan+demographics", DEMOGRAPHICS + ROI),
    ):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=np.inf))
        model.fit(_design(fit_pool, columns), outcomes[0])
        decision = model.decision_function(_design(test_pool, columns))
        aucs[name] = roc_auc_score(outcomes[1], decision)
    return {
        "strength": strength,
        "auc_demographics": aucs["demographics"],
        "auc_scan_demographics": aucs["scan+demographics"],
        "gain": aucs["scan+demographics"] - aucs["demographics"],
    }


def draw(pool, n, strength, rng):
    """A cohort of n from the pool: (demographics + ROI means, outcome)."""
    rows = rng.choice(len(pool), n, replace=False)
    table = pool.iloc[rows].reset_index(drop=True)
    table.index = pd.Index([f"sub-{i:03d}" for i in range(n)], name="participant_id")
    y = pd.Series(
        (rng.random(n) < outcome_probability(table, strength)).astype(int),
        index=table.index,
        name="response",
    )
    return table[DEMOGRAPHICS + ROI], y


def replicate(pool, n, strength, seed, n_permutations):
    """One cohort of n, analysed with tp.added_value as users call it."""
    rng = np.random.default_rng(seed)
    X, y = draw(pool, n, strength, rng)
    model = tp.ResponseClassifier(
        tp.PrecomputedFeatures(ROI), confounds=DEMOGRAPHICS, deconfound="augment"
    )
    with warnings.catch_warnings():
        # The demographics' inner CV often ends at the grid's edge; said once here.
        warnings.simplefilter("ignore", tp.GridEdgeWarning)
        result = tp.added_value(
            model,
            X,
            y,
            baseline_columns=DEMOGRAPHICS,
            n_permutations=n_permutations,
            n_repeats=N_REPEATS,
            random_state=int(rng.integers(2**31)),
        )
    row = result.comparison.table.loc["auc"]
    return {
        "n": n,
        "strength": strength,
        "seed": seed,
        "cv_gain": row["difference"],
        "permutation_p_value": row["permutation_p_value"],
        "compare_p_value": row["p_value"],
        "scan_adds": result.scan_adds,
    }


def _power_curve(gains, decisions):
    """Logistic fit of the decision on the gain (unpenalised)."""
    fit = LogisticRegression(C=np.inf).fit(np.asarray(gains)[:, None], decisions)
    return fit.intercept_[0], fit.coef_[0, 0]


def detectable_gain(gains, decisions, power=POWER) -> float:
    """The gain at which the fitted power curve reaches ``power`` (NaN: no curve)."""
    if len(set(decisions)) < 2:
        return np.nan
    intercept, slope = _power_curve(gains, decisions)
    return float((special.logit(power) - intercept) / slope) if slope > 0 else np.inf


def summarise(raw: pd.DataFrame, gains: pd.DataFrame, seed=0) -> dict:
    """Power per (n, strength) and the 80%-power gain per n with its MC error."""
    raw = raw.merge(gains[["strength", "gain"]], on="strength")
    rng = np.random.default_rng(seed)
    cells, sizes = [], {}
    for (n, strength), g in raw.groupby(["n", "strength"]):
        power = g["scan_adds"].mean()
        cells.append(
            {
                "n": int(n),
                "strength": strength,
                "gain": g["gain"].iloc[0],
                "mean_cv_gain": g["cv_gain"].mean(),
                "replicates": len(g),
                "power": power,
                "mcse": float(np.sqrt(power * (1 - power) / len(g))),
            }
        )
    for n, g in raw.groupby("n"):
        estimate = detectable_gain(g["gain"], g["scan_adds"])
        groups = [part for _, part in g.groupby("strength")]
        boot = []
        for _ in range(BOOTSTRAPS):
            sample = pd.concat(
                part.iloc[rng.integers(0, len(part), len(part))] for part in groups
            )
            boot.append(detectable_gain(sample["gain"], sample["scan_adds"]))
        finite = np.asarray(boot)[np.isfinite(boot)]
        largest = float(g["gain"].max())
        if not estimate <= largest:
            # The curve's 80% point lies beyond every gain measured at this n:
            # an extrapolation of a logistic fit, not a measurement. Say only
            # that 80% power was not reached up to the largest gain tried.
            sizes[str(int(n))] = {
                "gain_80": None,
                "mcse": None,
                "not_reached_up_to": largest,
                "power_there": float(g.loc[g["gain"] == largest, "scan_adds"].mean()),
                "replicates": len(g),
            }
            continue
        sizes[str(int(n))] = {
            "gain_80": estimate,
            # Resamples without a rising curve (no finite answer) are left out.
            "mcse": float(np.std(finite, ddof=1)) if len(finite) > 1 else np.nan,
            "replicates": len(g),
        }
    return {"cells": cells, "sizes": sizes}


def markdown_table(summary: dict) -> str:
    lines = [
        "| n | true AUC gain | mean CV gain | power (MC SE) | replicates |",
        "|---|---|---|---|---|",
    ]
    for c in summary["cells"]:
        lines.append(
            f"| {c['n']} | {c['gain']:.3f} | {c['mean_cv_gain']:.3f} | "
            f"{100 * c['power']:.0f}% ({100 * c['mcse']:.0f}) | {c['replicates']} |"
        )
    lines += ["", "| n | AUC gain detected with 80% power (MC SE) |", "|---|---|"]
    for n, s in summary["sizes"].items():
        if s["gain_80"] is None:
            lines.append(
                f"| {n} | not reached: {100 * s['power_there']:.0f}% power at the "
                f"largest gain tried, {s['not_reached_up_to']:.3f} |"
            )
        else:
            lines.append(f"| {n} | {s['gain_80']:.3f} ({s['mcse']:.3f}) |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--replicates", type=int, default=REPLICATES)
    parser.add_argument("--pool-size", type=int, default=20000)
    parser.add_argument(
        "--resummarise",
        action="store_true",
        help="re-derive the summaries from the committed replicates.csv",
    )
    args = parser.parse_args(argv)
    if args.resummarise:
        resummarise()
        return
    strengths, replicates, pool_size = STRENGTHS, args.replicates, args.pool_size
    n_permutations = ADDED_VALUE_PERMUTATIONS
    if args.quick:
        strengths = {40: (1.0, 2.0)}
        replicates, pool_size, n_permutations = 2, 400, 9
    start = time.perf_counter()
    fit_pool = calibration_population("prognostic", pool_size, 1, args.n_jobs)
    test_pool = calibration_population("prognostic", pool_size, 2, args.n_jobs)
    every = sorted({s for values in strengths.values() for s in values})
    gains = pd.DataFrame(
        [population_gain(fit_pool, test_pool, s, seed=7) for s in every]
    )
    tasks = [
        (n, s, int(seed))
        for n, values in strengths.items()
        for s in values
        for seed in np.random.SeedSequence([n, round(100 * s)]).generate_state(
            replicates
        )
    ]
    rows = joblib.Parallel(n_jobs=args.n_jobs)(
        joblib.delayed(replicate)(fit_pool, n, s, seed, n_permutations)
        for n, s, seed in tasks
    )
    raw = pd.DataFrame(rows)
    summary = summarise(raw, gains)
    seconds = time.perf_counter() - start
    result = {
        "info": {
            "quick": args.quick,
            "seconds": round(seconds),
            "replicates_per_cell": replicates,
            "n_permutations": n_permutations,
            "n_repeats": N_REPEATS,
            "alpha": ALPHA,
            "power": POWER,
            "pool_size": pool_size,
            "machine": machine(),
        },
        "population_gains": gains.to_dict("records"),
        **summary,
    }
    if not args.quick:  # a quick run checks that the script runs; it writes nothing
        write_results(result, raw, summary)
    print(markdown_table(summary))
    print(f"{seconds:.0f} s")


def write_results(result: dict, raw: pd.DataFrame, summary: dict) -> None:
    """The benchmark's folder and the table the package reads, atomically."""
    with atomic_directory(RESULTS / "detectable_effect", overwrite=True) as out:
        (out / "summary.json").write_text(json.dumps(result, indent=1) + "\n")
        raw.to_csv(out / "replicates.csv", index=False)
        (out / "summary.md").write_text(markdown_table(summary) + "\n")
    package = {
        "power": POWER,
        "alpha": ALPHA,
        "setting": (
            "synthetic populations: 9 ROI means beside 4 demographic columns, "
            "50% response rate; tp.added_value defaults (10 x 5-fold nested CV, "
            "permutation test)"
        ),
        "sizes": summary["sizes"],
    }
    write_text_atomic(PACKAGE_TABLE, json.dumps(package, indent=1) + "\n")


def resummarise() -> None:
    """Re-derive the summaries from the committed replicates (no new cohorts).

    For a change in how the replicates are summarised: the two hours of
    cohorts stay as they were run.
    """
    previous = json.loads((RESULTS / "detectable_effect" / "summary.json").read_text())
    raw = pd.read_csv(RESULTS / "detectable_effect" / "replicates.csv")
    summary = summarise(raw, pd.DataFrame(previous["population_gains"]))
    result = {**previous, **summary}
    write_results(result, raw, summary)
    print(markdown_table(summary))


if __name__ == "__main__":
    main()
