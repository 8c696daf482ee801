"""Calibration of txpredict's out-of-fold probabilities of response.

On replicate cohorts drawn from a synthetic population with a planted
prognostic effect (``effect="prognostic"``; 9 default ROI means, extracted once
per patient), at n = 100, 200, 400 and two response rates (the population's,
about 0.56, and 0.30, drawn by class), the default model (class-balanced L2
logistic regression, C tuned on the inner 5-fold log-loss) runs through
``nested_cross_validate`` (5 x 5, 10 repeats), and ``NestedCVResult.calibration()``
gives the calibration intercept, slope and Brier score of the out-of-fold
probabilities: txpredict's (``calibration="inner_platt"``: each training
part's decision values recalibrated on its inner CV's out-of-fold decision
values, slope clipped to [0, 1]), next to the former default
(``calibration="prior_shift"``: the class-balanced probabilities shifted back
to each training part's prevalence), the class-balanced probabilities a plain
``LogisticRegression(class_weight="balanced").predict_proba`` would give
(``expit`` of the same decision values), and the former default with C tuned
on the inner ROC AUC (``scoring="roc_auc"``). The decision values, and so
the AUC and the balanced accuracy, are the same for the first three.
Targets: slope within 0.8-1.2 at n >= 200 (issue 14) and at n >= 100 (issue
26). The slope of one cohort is noisy (a near-constant prediction has an
unstable slope): the mean, its Monte-Carlo error and the median over
replicates are reported.

Usage: ``python benchmarks/probability_calibration.py [--quick] [--replicates 50]``
"""

from __future__ import annotations

import argparse
import json
import time

import joblib
import numpy as np
import pandas as pd

import txpredict as tp
from _common import RESULTS, machine
from calibration import ROI, population
from txpredict._io import write_text_atomic
from txpredict.stats import calibration_measures

SIZES = (100, 200, 400)
RATES = (None, 0.30)  # None: the population's own response rate
N_REPEATS = 10
MEASURES = ("mean_predicted", "observed", "intercept", "slope", "brier")
#: txpredict's default (C tuned by log-loss, probabilities recalibrated on the
#: inner CV); the former default (prior-shifted); the class-balanced
#: probabilities of the same fits; the former default with C tuned by ROC AUC.
ROUTES = ("txpredict", "prior_shift", "balanced", "auc_tuned")


def _draw(pool, n, rate, rng):
    """Draw n patients, responders at ``rate`` (or as they come in the pool)."""
    if rate is None:
        rows = rng.choice(len(pool), n, replace=False)
    else:
        responders = round(rate * n)
        rows = np.concatenate(
            [
                rng.choice(np.flatnonzero(pool["y"] == 1), responders, replace=False),
                rng.choice(
                    np.flatnonzero(pool["y"] == 0), n - responders, replace=False
                ),
            ]
        )
    table = pool.iloc[rows].reset_index(drop=True)
    table.index = pd.Index([f"sub-{i:03d}" for i in range(n)], name="participant_id")
    return table.drop(columns=["y", "change"]), table["y"]


def replicate(pool, n, rate, seed):
    rng = np.random.default_rng(seed)
    for _ in range(20):  # a draw too small in one class for the folds: redrawn
        X, y = _draw(pool, n, rate, rng)
        split_seed = int(rng.integers(2**31))
        try:
            result, shifted, auc_tuned = (
                tp.nested_cross_validate(
                    tp.ResponseClassifier(
                        tp.PrecomputedFeatures(ROI), scoring=scoring, **options
                    ),
                    X,
                    y,
                    n_repeats=N_REPEATS,
                    random_state=split_seed,
                )
                for scoring, options in (
                    ("auto", {}),
                    ("auto", {"calibration": "prior_shift"}),
                    ("roc_auc", {"calibration": "prior_shift"}),
                )
            )
        except tp.errors.TxpredictError:
            continue
        shipped = result.calibration()["estimate"]
        former = shifted.calibration()["estimate"]
        tuned_on_auc = auc_tuned.calibration()["estimate"]
        balanced = pd.DataFrame(
            [
                # expit of the decision value (scipy's ufunc does not pickle
                # into joblib's workers from a script).
                calibration_measures(part["y_true"], 1 / (1 + np.exp(-part["score"])))
                for _, part in result.predictions.groupby("repeat")
            ]
        ).mean(numeric_only=True)
        return {
            **{f"txpredict_{m}": float(shipped[m]) for m in MEASURES},
            **{f"prior_shift_{m}": float(former[m]) for m in MEASURES},
            "auc": float(result.summary().at["auc", "estimate"]),
            **{f"balanced_{m}": float(balanced[m]) for m in MEASURES},
            **{f"auc_tuned_{m}": float(tuned_on_auc[m]) for m in MEASURES},
        }
    raise RuntimeError(f"no usable cohort of n={n} in 20 draws")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)
    sizes, pool_size = SIZES, 20000
    if args.quick:
        args.replicates, sizes, pool_size = 2, (100,), 1000
    start = time.perf_counter()
    pool = population("prognostic", pool_size, 11, args.n_jobs)
    rows = []
    for rate in RATES:
        for n in sizes:
            seeds = np.random.SeedSequence([n, int(100 * (rate or 0))]).generate_state(
                args.replicates
            )
            out = joblib.Parallel(n_jobs=args.n_jobs)(
                joblib.delayed(replicate)(pool, n, rate, int(s)) for s in seeds
            )
            label = "population" if rate is None else f"{rate:.2f}"
            rows += [{"rate": label, "n": n, **row} for row in out]
    raw = pd.DataFrame(rows)
    summary = raw.groupby(["rate", "n"], sort=False).agg(["mean", "std", "median"])
    summary.columns = [f"{a}_{b}" for a, b in summary.columns]
    # Monte-Carlo SE of the mean slope: SD / sqrt(replicates).
    for route in ROUTES:
        summary[f"{route}_slope_mcse"] = summary[f"{route}_slope_std"] / np.sqrt(
            args.replicates
        )
    pd.set_option("display.width", 250)
    columns = [
        f"{route}_{m}_mean"
        for route in ROUTES
        for m in ("mean_predicted", "intercept", "slope", "brier")
    ] + [f"{route}_slope_median" for route in ROUTES]
    print(
        summary[["txpredict_observed_mean", "auc_mean", *columns]].round(3).to_string()
    )
    wall = time.perf_counter() - start
    print(f"wall time {wall:.0f} s")
    if args.quick:
        return
    path = RESULTS / "probability_calibration.json"
    payload = {
        "summary": summary.reset_index().to_dict(orient="records"),
        "info": {
            "replicates": args.replicates,
            "sizes": list(sizes),
            "n_repeats": N_REPEATS,
            "pool_size": pool_size,
            "wall_seconds": wall,
            "machine": machine(),
        },
    }
    write_text_atomic(path, json.dumps(payload, indent=1, default=str) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
