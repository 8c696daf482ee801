"""How well a pilot's learning curve predicts a larger study.

``tp.learning_curve`` reruns the nested procedure on subsamples of a pilot and
extrapolates the AUC, the half-width of its 95% interval and the AUC gain over
demographics to larger n. Here, pilots of n = 80 and 120 are drawn from
synthetic populations whose scan adds nothing, a moderate or a strong amount
to demographics (the brain part of the response log-odds times 0, 1 or 2, as
in benchmarks/detectable_effect.py), each analysed exactly as users call it
(scan ROI means + demographics vs demographics alone, 5 x 5-fold nested CV
repeated twice, five subsamples at each of 50-100% of the pilot). Their
extrapolations to n = 240 and 480 are compared with the truth there: the mean
over replicate studies of that size, drawn from the same population and
analysed with the same nested CV. Also the n each pilot says an AUC interval of
+-0.05 needs, against the n the replicate studies' mean half-width reaches it
(a power law through the mean half-widths at 240, 480 and 960).

Reported per population, pilot size and target n: the mean error (bias) and
mean absolute error of each extrapolation, with their Monte-Carlo errors, and
how often its 95% interval holds the truth (coverage, with its binomial
error). The n for 80% power is not checked against a power simulation here:
its ingredient, the gain, is.

Usage: ``python benchmarks/learning_curve.py [--quick] [--n-jobs 2]``
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import joblib
import numpy as np
import pandas as pd

import txpredict as tp
from _common import RESULTS, machine
from calibration import DEMOGRAPHICS, ROI
from calibration import population as calibration_population
from detectable_effect import draw
from txpredict._io import atomic_directory
from txpredict.errors import TxpredictError

#: Scan-effect strengths: the brain's log-odds times this (0: adds nothing).
STRENGTHS = {"adds nothing": 0.0, "moderate": 1.0, "strong": 2.0}
PILOTS = (80, 120)
TARGETS = (240, 480)
#: Sizes the truth of "n for +-0.05" is interpolated from.
TRUTH_SIZES = (240, 480, 960)
PILOT_REPLICATES = 40
TRUTH_REPLICATES = 40
N_REPEATS = 2
HALF_WIDTH = 0.05
#: Draws tried before giving up on a distinct one (see _distinct).
MAX_REDRAWS = 5


def _distinct(analysis, pool, n, strength, seed) -> dict:
    """``analysis`` on a draw the duplicate-scan check accepts.

    One pair of this 6,000-patient synthetic pool (patients 1344 and 1827)
    lies 0.093 SD apart in whitened ROI means, under the check's bound of
    0.1 SD at these sizes (a chi-square on 9 degrees of freedom expects 0.02
    such pairs in the pool): a draw holding both is refused as one scan
    under two ids. Such a draw is replaced by the next one, and counted
    (``redrawn``).
    """
    rng = np.random.default_rng(seed)
    for attempt in range(MAX_REDRAWS):
        try:
            row = analysis(pool, n, strength, rng)
        except TxpredictError as exc:
            if "same scan appears" not in str(exc):
                raise
            continue
        return row | {"seed": seed, "redrawn": attempt}
    raise RuntimeError(f"no distinct draw of {n} patients in {MAX_REDRAWS}")


def _models():
    scan = tp.ResponseClassifier(
        tp.PrecomputedFeatures(ROI), confounds=DEMOGRAPHICS, deconfound="augment"
    )
    demographics = tp.ResponseClassifier(
        "demographics", demographic_columns=DEMOGRAPHICS
    )
    return scan, demographics


def _pilot(pool, n, strength, rng) -> dict:
    """One pilot's extrapolations, as tp.learning_curve gives them."""
    X, y = draw(pool, n, strength, rng)
    scan, demographics = _models()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tp.GridEdgeWarning)
        curve = tp.learning_curve(
            scan,
            X,
            y,
            baseline=demographics,
            n_repeats=N_REPEATS,
            random_state=int(rng.integers(2**31)),
        )
    table = curve.extrapolate(TARGETS)
    row = {"pilot": n}
    for target, values in table.iterrows():
        for column, value in values.items():
            row[f"{column}@{target}"] = value
    (
        row["n_for_half_width"],
        row["n_for_half_width_low"],
        row["n_for_half_width_high"],
    ) = curve.n_for_half_width(HALF_WIDTH)
    row["n_for_power"], _, _ = curve.n_for_power()
    return row


def _study(pool, n, strength, rng) -> dict:
    """One study of size n: the nested-CV AUC, its half-width and the gain."""
    X, y = draw(pool, n, strength, rng)
    scan, demographics = _models()
    options = {"n_repeats": N_REPEATS, "random_state": int(rng.integers(2**31))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tp.GridEdgeWarning)
        a = tp.nested_cross_validate(scan, X, y, **options).summary().loc["auc"]
        b = tp.nested_cross_validate(demographics, X, y, **options).summary()
    return {
        "n": n,
        "auc": a["estimate"],
        "half_width": (a["ci_high"] - a["ci_low"]) / 2,
        "gain": a["estimate"] - b.at["auc", "estimate"],
    }


def pilot(pool, n, strength, seed) -> dict:
    return _distinct(_pilot, pool, n, strength, seed)


def study(pool, n, strength, seed) -> dict:
    return _distinct(_study, pool, n, strength, seed)


def true_n_for_half_width(truth: pd.DataFrame) -> float:
    """The n at which the studies' mean half-width reaches HALF_WIDTH."""
    means = truth.groupby("n")["half_width"].mean()
    d, c = np.polyfit(np.log(means.index), np.log(means.to_numpy()), 1)
    return float(np.exp((np.log(HALF_WIDTH) - c) / d))


def summarise(pilots: pd.DataFrame, truths: pd.DataFrame) -> list[dict]:
    rows = []
    for (population, n), group in pilots.groupby(["population", "pilot"]):
        truth = truths[truths["population"] == population]
        for target in TARGETS:
            at = truth[truth["n"] == target]
            for curve in ("auc", "half_width", "gain"):
                true = at[curve].mean()
                error = group[f"{curve}@{target}"] - true
                covered = (group[f"{curve}_low@{target}"] <= true) & (
                    true <= group[f"{curve}_high@{target}"]
                )
                rows.append(
                    {
                        "population": population,
                        "pilot": int(n),
                        "target": target,
                        "curve": curve,
                        "truth": true,
                        "truth_mcse": at[curve].std(ddof=1) / np.sqrt(len(at)),
                        "bias": error.mean(),
                        "bias_mcse": error.std(ddof=1) / np.sqrt(len(error)),
                        "mae": error.abs().mean(),
                        "coverage": covered.mean(),
                        "coverage_mcse": np.sqrt(
                            covered.mean() * (1 - covered.mean()) / len(covered)
                        ),
                        "pilots": len(group),
                    }
                )
        true_n = true_n_for_half_width(truth)
        predicted = group["n_for_half_width"]
        ratio = predicted / true_n
        covered = (group["n_for_half_width_low"] <= true_n) & (
            true_n <= group["n_for_half_width_high"]
        )
        rows.append(
            {
                "population": population,
                "pilot": int(n),
                "target": f"n for +-{HALF_WIDTH}",
                "curve": "n_for_half_width",
                "truth": true_n,
                "median_ratio": float(np.median(ratio)),
                "within_1.5x": float(((ratio > 1 / 1.5) & (ratio < 1.5)).mean()),
                "coverage": covered.mean(),
                "coverage_mcse": np.sqrt(
                    covered.mean() * (1 - covered.mean()) / len(covered)
                ),
                "median_n_for_power": float(group["n_for_power"].median()),
                "pilots": len(group),
            }
        )
    return rows


def markdown_table(rows: list[dict]) -> str:
    lines = [
        "| population | pilot n | target n | curve | truth | bias (MC SE) | MAE | "
        "95% interval coverage (MC SE) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["curve"] == "n_for_half_width":
            continue
        lines.append(
            f"| {r['population']} | {r['pilot']} | {r['target']} | {r['curve']} | "
            f"{r['truth']:.3f} | {r['bias']:+.3f} ({r['bias_mcse']:.3f}) | "
            f"{r['mae']:.3f} | {100 * r['coverage']:.0f}% "
            f"({100 * r['coverage_mcse']:.0f}) |"
        )
    lines += [
        "",
        f"| population | pilot n | true n for AUC +-{HALF_WIDTH} | median "
        "predicted/true | within 1.5x | interval coverage (MC SE) | median n for "
        "80% power |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["curve"] != "n_for_half_width":
            continue
        lines.append(
            f"| {r['population']} | {r['pilot']} | {r['truth']:.0f} | "
            f"{r['median_ratio']:.2f} | {100 * r['within_1.5x']:.0f}% | "
            f"{100 * r['coverage']:.0f}% ({100 * r['coverage_mcse']:.0f}) | "
            f"{r['median_n_for_power']:,.0f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)
    pilots_per, truths_per, pool_size = PILOT_REPLICATES, TRUTH_REPLICATES, 6000
    strengths, pilot_sizes = STRENGTHS, PILOTS
    if args.quick:
        pilots_per, truths_per, pool_size = 2, 2, 1000
        strengths, pilot_sizes = {"moderate": 1.0}, (80,)
    start = time.perf_counter()
    pool = calibration_population("prognostic", pool_size, 3, args.n_jobs)
    tasks = []
    for name, strength in strengths.items():
        for n in pilot_sizes:
            seeds = np.random.SeedSequence([n, round(10 * strength)]).generate_state(
                pilots_per
            )
            tasks += [("pilot", name, strength, n, int(s)) for s in seeds]
        for n in TRUTH_SIZES:
            seeds = np.random.SeedSequence([n, round(10 * strength), 1]).generate_state(
                truths_per
            )
            tasks += [("study", name, strength, n, int(s)) for s in seeds]
    done = joblib.Parallel(n_jobs=args.n_jobs)(
        joblib.delayed(pilot if kind == "pilot" else study)(pool, n, strength, seed)
        for kind, _, strength, n, seed in tasks
    )
    pilots, truths = [], []
    for (kind, name, *_), row in zip(tasks, done, strict=True):
        (pilots if kind == "pilot" else truths).append({"population": name, **row})
    pilots, truths = pd.DataFrame(pilots), pd.DataFrame(truths)
    rows = summarise(pilots, truths)
    seconds = time.perf_counter() - start
    print(markdown_table(rows))
    print(f"{seconds:.0f} s")
    if args.quick:  # a quick run checks that the script runs; it writes nothing
        return
    result = {
        "info": {
            "seconds": round(seconds),
            "pilot_replicates": pilots_per,
            "truth_replicates": truths_per,
            "n_repeats": N_REPEATS,
            "strengths": strengths,
            "pool_size": pool_size,
            "machine": machine(),
        },
        "summary": rows,
    }
    with atomic_directory(RESULTS / "learning_curve", overwrite=True) as out:
        (out / "summary.json").write_text(json.dumps(result, indent=1) + "\n")
        pilots.to_csv(out / "pilots.csv", index=False)
        truths.to_csv(out / "studies.csv", index=False)
        (out / "summary.md").write_text(markdown_table(rows) + "\n")


if __name__ == "__main__":
    main()
