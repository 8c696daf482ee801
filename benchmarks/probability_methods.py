"""Candidate probabilities for small cohorts, measured side by side.

``probability_calibration.py`` measures txpredict's shipped probabilities; this
benchmark measured the candidates issue 26 names, replicated with
scikit-learn, to choose the default, each fitted inside the
training part of every outer fold (5-fold, 2 repeats), on replicate cohorts of
n = 100 and 200 from the prognostic population (9 ROI means), at the
population's response rate (about 0.5) and at 0.30:

- ``prior_shift``: txpredict's former default (``calibration="prior_shift"``):
  a class-balanced L2 logistic regression, C tuned on the inner 5-fold
  log-loss, probabilities shifted back to the training prevalence
  (``stats.prior_shift``);
- ``unweighted``: the same without class weights;
- ``uniform_shrinkage``: van Houwelingen & le Cessie's heuristic shrinkage of an
  unpenalised logistic regression, s = (chi2 - df) / chi2 of the training
  likelihood-ratio statistic, intercept refitted;
- ``inner_platt``: the tuned model's decision values recalibrated by a
  logistic regression on the inner out-of-fold decision values of the chosen C
  (those the inner CV computed anyway);
- ``inner_platt_clipped``: the same with the recalibration slope clipped to
  [0, 1] (it never makes probabilities more extreme; intercept refitted): the
  best here, and txpredict's default since (``calibration="inner_platt"``,
  ``stats.fit_recalibration``);
- ``nested_platt``: scikit-learn's ``CalibratedClassifierCV(method="sigmoid",
  ensemble=False)`` around the whole tuned search (its 5-fold out-of-fold
  decision values, each from a search of its own).

For each: the calibration slope and intercept (``stats.calibration_measures``)
and Brier score of the pooled out-of-fold probabilities, their AUC (a
recalibration within a fold can change the pooled ranking; txpredict's AUC, the
mean over folds of the decision values' AUC, is unchanged by a monotone one),
per cohort averaged over the repeats; summaries over cohorts (mean with its
Monte-Carlo error, median, 10%-trimmed mean) and the paired difference from
``prior_shift``. The mean slope of small cohorts is dominated by a few with no
out-of-fold signal, whose slope is near 0 or negative whatever the method.

Usage: ``python benchmarks/probability_methods.py [--quick] [--replicates 40]``
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import joblib
import numpy as np
import pandas as pd
from scipy import optimize, special, stats
from sklearn.calibration import CalibratedClassifierCV
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from _common import RESULTS, machine
from calibration import ROI, population
from probability_calibration import _draw
from txpredict._io import atomic_directory
from txpredict.stats import calibration_measures, prior_shift

SIZES = (100, 200)
RATES = (None, 0.30)
REPLICATES = 40
OUTER_REPEATS = 2
#: txpredict's default grid of C for the logistic regression.
CS = [0.001, 0.01, 0.1, 1.0, 10.0]
METHODS = (
    "prior_shift",
    "unweighted",
    "uniform_shrinkage",
    "inner_platt",
    "inner_platt_clipped",
    "nested_platt",
)
MEASURES = ("slope", "intercept", "brier", "auc")


def _search(balanced=True, seed=0):
    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(class_weight="balanced" if balanced else None),
    )
    return GridSearchCV(
        model,
        {"logisticregression__C": CS},
        scoring="neg_log_loss",
        cv=StratifiedKFold(5, shuffle=True, random_state=seed),
    )


def _intercept_for(linear, y):
    """The intercept that makes the mean probability the observed rate."""
    return optimize.brentq(lambda c: np.sum(y - special.expit(c + linear)), -50.0, 50.0)


def recalibration(decision, y, clip):
    """(slope, intercept) of a logistic fit of y on the decision values."""
    fit = LogisticRegression(C=np.inf).fit(decision[:, None], y)
    slope, intercept = fit.coef_[0, 0], fit.intercept_[0]
    if clip and not 0.0 <= slope <= 1.0:
        slope = min(max(slope, 0.0), 1.0)
        intercept = _intercept_for(slope * decision, y)
    return slope, intercept


def uniform_shrinkage(X_train, y_train, X_test):
    """Unpenalised logistic regression shrunk by (chi2 - df) / chi2."""
    scaler = StandardScaler().fit(X_train)
    A, B = scaler.transform(X_train), scaler.transform(X_test)
    fit = LogisticRegression(C=np.inf).fit(A, y_train)
    rate = y_train.mean()
    chi2 = 2 * (
        log_loss(y_train, np.full(len(y_train), rate), normalize=False)
        - log_loss(y_train, fit.predict_proba(A)[:, 1], normalize=False)
    )
    shrink = max(0.0, (chi2 - A.shape[1]) / chi2) if chi2 > 0 else 0.0
    coef = shrink * fit.coef_[0]
    return special.expit(_intercept_for(A @ coef, y_train) + B @ coef)


def fold_probabilities(X_train, y_train, X_test, seed) -> dict:
    """Every method's probabilities for the test rows, fitted on the training rows."""
    search = _search(seed=seed).fit(X_train, y_train)
    decision = search.decision_function(X_test)
    inner = cross_val_predict(
        search.best_estimator_,
        X_train,
        y_train,
        cv=search.cv,
        method="decision_function",
    )
    out = {"prior_shift": prior_shift(special.expit(decision), y_train.mean())}
    for name, clip in (("inner_platt", False), ("inner_platt_clipped", True)):
        slope, intercept = recalibration(inner, y_train, clip)
        out[name] = special.expit(intercept + slope * decision)
    unweighted = _search(balanced=False, seed=seed).fit(X_train, y_train)
    out["unweighted"] = unweighted.predict_proba(X_test)[:, 1]
    out["uniform_shrinkage"] = uniform_shrinkage(X_train, y_train, X_test)
    nested = CalibratedClassifierCV(
        _search(seed=seed),
        method="sigmoid",
        cv=StratifiedKFold(5, shuffle=True, random_state=seed + 1),
        ensemble=False,
    ).fit(X_train, y_train)
    out["nested_platt"] = nested.predict_proba(X_test)[:, 1]
    return out


def replicate(pool, n, rate, seed) -> dict:
    rng = np.random.default_rng(seed)
    X, y = _draw(pool, n, rate, rng)
    X, y = X[ROI].to_numpy(), y.to_numpy()
    per_repeat = {m: [] for m in METHODS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(OUTER_REPEATS):
            probability = {m: np.zeros(n) for m in METHODS}
            outer = StratifiedKFold(
                5, shuffle=True, random_state=int(rng.integers(2**31))
            )
            for train, test in outer.split(X, y):
                fold = fold_probabilities(X[train], y[train], X[test], seed=0)
                for m in METHODS:
                    probability[m][test] = fold[m]
            for m in METHODS:
                measures = calibration_measures(y, probability[m])
                measures["auc"] = roc_auc_score(y, probability[m])
                per_repeat[m].append(measures)
    row = {"n": n, "rate": "population" if rate is None else rate, "seed": seed}
    for m, measures in per_repeat.items():
        mean = pd.DataFrame(measures).mean(numeric_only=True)
        for measure in MEASURES:
            row[f"{m}_{measure}"] = float(mean[measure])
    return row


def summarise(raw: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (n, rate), g in raw.groupby(["n", "rate"], sort=False):
        for m in METHODS:
            entry = {"n": n, "rate": rate, "method": m, "replicates": len(g)}
            for measure in MEASURES:
                values = g[f"{m}_{measure}"]
                difference = values - g[f"prior_shift_{measure}"]
                entry |= {
                    f"{measure}_mean": values.mean(),
                    f"{measure}_mcse": values.std(ddof=1) / np.sqrt(len(g)),
                    f"{measure}_median": values.median(),
                    f"{measure}_vs_prior_shift": difference.mean(),
                    f"{measure}_vs_prior_shift_mcse": difference.std(ddof=1)
                    / np.sqrt(len(g)),
                }
            entry["slope_trimmed_mean"] = stats.trim_mean(g[f"{m}_slope"], 0.1)
            rows.append(entry)
    return pd.DataFrame(rows)


def markdown_table(summary: pd.DataFrame) -> str:
    lines = [
        "| n | rate | method | slope mean (MC SE) | median | 10%-trimmed | "
        "slope vs prior_shift (MC SE) | intercept | Brier | AUC (pooled) | "
        "AUC vs prior_shift |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in summary.itertuples():
        lines.append(
            f"| {r.n} | {r.rate} | {r.method} | {r.slope_mean:.2f} "
            f"({r.slope_mcse:.2f}) | {r.slope_median:.2f} | "
            f"{r.slope_trimmed_mean:.2f} | {r.slope_vs_prior_shift:+.3f} "
            f"({r.slope_vs_prior_shift_mcse:.3f}) | {r.intercept_mean:+.3f} | "
            f"{r.brier_mean:.3f} | {r.auc_mean:.3f} | {r.auc_vs_prior_shift:+.3f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--replicates", type=int, default=REPLICATES)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)
    sizes, replicates, pool_size = SIZES, args.replicates, 20000
    if args.quick:
        sizes, replicates, pool_size = (100,), 1, 400
    start = time.perf_counter()
    pool = population("prognostic", pool_size, 11, args.n_jobs)
    tasks = [
        (n, rate, int(seed))
        for rate in RATES
        for n in sizes
        for seed in np.random.SeedSequence(
            [n, round(100 * (rate or 0)), 26]
        ).generate_state(replicates)
    ]
    raw = pd.DataFrame(
        joblib.Parallel(n_jobs=args.n_jobs)(
            joblib.delayed(replicate)(pool, n, rate, seed) for n, rate, seed in tasks
        )
    )
    summary = summarise(raw)
    seconds = time.perf_counter() - start
    info = {
        "seconds": round(seconds),
        "replicates": replicates,
        "outer_repeats": OUTER_REPEATS,
        "machine": machine(),
    }
    if not args.quick:  # a quick run checks that the script runs; it writes nothing
        with atomic_directory(RESULTS / "probability_methods", overwrite=True) as out:
            record = {"info": info, "summary": summary.to_dict("records")}
            (out / "summary.json").write_text(json.dumps(record, indent=1) + "\n")
            summary.to_csv(out / "summary.csv", index=False)
            raw.to_csv(out / "replicates.csv", index=False)
            (out / "summary.md").write_text(markdown_table(summary) + "\n")
    print(markdown_table(summary))
    print(f"{seconds:.0f} s")


if __name__ == "__main__":
    main()
