"""Permutation importance: false positives for a null feature, coverage of the truth.

Replicate cohort tables of n = 100 and 200 patients with four features (no
images: the importance works on the design, and tables make 400 replicates
affordable): *null*, a response that depends on none of them; *planted*, a
logit of 1.5 x ``signal`` + 0.5 x ``weak`` with two noise features. A feature
independent of the outcome and of the others has a true importance of 0 (its
shuffled copy has the same distribution), so the share of its 95% intervals
that exclude 0 is the false-positive rate of "this feature matters"; for the
planted features, the share whose interval lies above 0 is the power.

Coverage: what the interval is for is the AUC a model of this procedure, fitted
on an outer-training part (4/5 of n patients), loses on new patients when the
feature is shuffled. Its true value is measured directly: 200 models, each
tuned and fitted as in a fold on its own 4n/5 patients drawn from the
population, each scored on 20,000 new patients with and without the feature
shuffled; the mean drop is the truth (its Monte-Carlo SE is reported), and
the share of the replicate cohorts' intervals that contain it is the
coverage. The shipped function runs as users call it (default logistic model,
C tuned by inner CV, 5-fold x ``--repeats`` outer splits, 20 shuffles).

Usage: ``python benchmarks/importance.py [--quick] [--replicates 200]``
"""

from __future__ import annotations

import argparse
import time

import joblib
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

import txpredict as tp
from _common import machine, write_result

FEATURES = ["signal", "weak", "noise_1", "noise_2"]
COEFFICIENTS = {"null": (0.0, 0.0), "planted": (1.5, 0.5)}
#: Models and new patients behind each true AUC drop.
N_TRUTH_MODELS, N_TRUTH_PATIENTS = 200, 20_000


def model():
    return tp.ResponseClassifier(tp.PrecomputedFeatures(FEATURES))


def true_drops(setting, n, seed, n_patients=N_TRUTH_PATIENTS):
    """One fold-sized model's AUC drop per feature, on new patients."""
    rng = np.random.default_rng(seed)
    X, y = cohort(setting, n * 4 // 5, rng)
    fitted = model().fit(X, y)
    new_X, new_y = cohort(setting, n_patients, rng)
    auc = roc_auc_score(new_y, fitted.predict_proba(new_X)[:, 1])
    drops = {"setting": setting, "n": n}
    for feature in FEATURES:
        shuffled = new_X.copy()
        shuffled[feature] = rng.permutation(shuffled[feature].to_numpy())
        drops[feature] = auc - roc_auc_score(
            new_y, fitted.predict_proba(shuffled)[:, 1]
        )
    return drops


def truths(sizes, n_models, n_jobs):
    """(setting, n, feature) -> (true AUC drop, its Monte-Carlo SE)."""
    jobs = [
        (setting, n, int(seed))
        for setting in COEFFICIENTS
        for n in sizes
        for seed in np.random.SeedSequence([6, n, len(setting)]).generate_state(
            n_models
        )
    ]
    rows = joblib.Parallel(n_jobs=n_jobs)(
        joblib.delayed(true_drops)(*job) for job in jobs
    )
    table = pd.DataFrame(rows).melt(["setting", "n"], var_name="feature")
    grouped = table.groupby(["setting", "n", "feature"])["value"]
    return pd.DataFrame(
        {"truth": grouped.mean(), "truth_mc_se": grouped.sem()}
    ).reset_index()


def cohort(setting, n, rng):
    X = pd.DataFrame(rng.standard_normal((n, 4)), columns=FEATURES)
    X.index = pd.Index([f"sub-{i:03d}" for i in range(n)], name="participant_id")
    signal, weak = COEFFICIENTS[setting]
    logit = signal * X["signal"] + weak * X["weak"]
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int), X.index)
    return X, y


def replicate(setting, n, repeats, seed):
    rng = np.random.default_rng(seed)
    for _ in range(20):  # a draw too small in one class for the folds: redrawn
        X, y = cohort(setting, n, rng)
        try:
            table = tp.permutation_importance(
                model(),
                X,
                y,
                n_repeats=repeats,
                random_state=int(rng.integers(2**31)),
            )
        except tp.errors.TxpredictError:
            continue
        return [
            {
                "setting": setting,
                "n": n,
                "feature": feature,
                "auc_drop": row["auc_drop"],
                "excludes_zero": bool(row["ci_low"] > 0 or row["ci_high"] < 0),
                "above_zero": bool(row["ci_low"] > 0),
                "width": row["ci_high"] - row["ci_low"],
                "ci_low": row["ci_low"],
                "ci_high": row["ci_high"],
            }
            for feature, row in table.iterrows()
        ]
    raise RuntimeError(f"no usable cohort of n={n} in 20 draws")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)
    sizes = (100, 200)
    if args.quick:
        args.replicates, args.repeats, sizes = 2, 1, (100,)
    start = time.perf_counter()
    jobs = [
        (setting, n, int(seed))
        for setting in COEFFICIENTS
        for n in sizes
        for seed in np.random.SeedSequence([5, n, len(setting)]).generate_state(
            args.replicates
        )
    ]
    rows = joblib.Parallel(n_jobs=args.n_jobs)(
        joblib.delayed(replicate)(setting, n, args.repeats, seed)
        for setting, n, seed in jobs
    )
    raw = pd.DataFrame([r for part in rows for r in part])
    n_models = 4 if args.quick else N_TRUTH_MODELS
    truth = truths(sizes, n_models, args.n_jobs)
    raw = raw.merge(truth, on=["setting", "n", "feature"], validate="many_to_one")
    raw["covers"] = (raw["ci_low"] <= raw["truth"]) & (raw["truth"] <= raw["ci_high"])
    raw["kind"] = np.where(
        (raw["setting"] == "planted") & raw["feature"].isin(["signal", "weak"]),
        raw["feature"],
        "no effect",
    )
    grouped = raw.groupby(["setting", "n", "kind"])
    summary = grouped.agg(
        cases=("auc_drop", "size"),
        mean_auc_drop=("auc_drop", "mean"),
        excludes_zero=("excludes_zero", "mean"),
        above_zero=("above_zero", "mean"),
        median_width=("width", "median"),
        truth=("truth", "mean"),
        truth_mc_se=("truth_mc_se", "max"),
        coverage=("covers", "mean"),
    ).reset_index()
    # Binomial Monte-Carlo SE (the features of one replicate share its cohort,
    # so for the two or four features pooled this is a slight understatement).
    for column in ("excludes_zero", "coverage"):
        p = summary[column]
        summary[f"{column}_mc_se"] = np.sqrt(p * (1 - p) / summary["cases"])
    pd.set_option("display.width", 200)
    print(summary.round(3).to_string(index=False))
    wall = time.perf_counter() - start
    print(f"wall time {wall:.0f} s")
    if args.quick:
        return
    payload = {
        "summary": summary.to_dict(orient="records"),
        "info": {
            "replicates": args.replicates,
            "outer": f"5-fold x {args.repeats}",
            "shuffles": 20,
            "truth_models": n_models,
            "truth_patients": N_TRUTH_PATIENTS,
            "wall_seconds": wall,
            "machine": machine(),
        },
    }
    print(f"wrote {write_result('importance', payload)}")


if __name__ == "__main__":
    main()
