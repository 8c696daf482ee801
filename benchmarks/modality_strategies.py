"""Treatment selection: which strategy and tuning recover the truly better arm.

On Frick-like synthetic trials (``effect="interaction"``: a dACC x arm
interaction, a cuneus prognostic effect; 9 default ROI means per patient,
arms randomised), each ``ModalitySelector`` variant is fitted to a training
trial of n = 100, 200, 400 patients (``--trials`` independent trials each) and
applied to 2,000 independent patients of the same population, whose true
response probability under each arm is known. Reported per variant and n:
agreement of the recommendation with the truly better arm and the true policy
value (mean true response probability under the recommended arm), mean and SD
across trials, next to the oracle's value and the best a linear ROI policy
reaches here (the interaction model fitted, nearly unpenalised, to 20,000
patients). Variants: the three strategies, each with C tuned by the inner
AUC (``scoring="roc_auc"``) or by the inner log-loss (``"neg_log_loss"``).

Usage: ``python benchmarks/modality_strategies.py [--quick] [--trials 20]``
"""

from __future__ import annotations

import argparse
import time

import joblib
import numpy as np
import pandas as pd

import txpredict as tp
from _common import machine, write_result
from calibration import ARMS, ROI, population

SIZES = (100, 200, 400)
VARIANTS = {
    f"{strategy}_{scoring}": {"strategy": strategy, "scoring": scoring}
    for strategy in ("interaction", "t_learner", "x_learner")
    for scoring in ("roc_auc", "neg_log_loss")
}
TRUE = [f"p_{arm}" for arm in ARMS]


def _selector(**options):
    return tp.ModalitySelector(tp.PrecomputedFeatures(ROI), **options)


def _score(selector, test):
    """Agreement with the truly better arm and true policy value on ``test``."""
    recommended = selector.recommend(test).to_numpy()
    true = test[TRUE].to_numpy()
    chosen = true[np.arange(len(test)), [ARMS.index(a) for a in recommended]]
    better = np.asarray(ARMS)[true.argmax(axis=1)]
    return float((recommended == better).mean()), float(chosen.mean())


def trial(pool, test, n, seed):
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(pool), n, replace=False)
    train = pool.iloc[rows].reset_index(drop=True)
    out = []
    for name, options in VARIANTS.items():
        start = time.perf_counter()
        selector = _selector(**options).fit(train, train["y"], treatment="treatment")
        seconds = time.perf_counter() - start
        agreement, value = _score(selector, test)
        out.append(
            {
                "variant": name,
                "n": n,
                "agreement": agreement,
                "policy_value": value,
                "fit_seconds": seconds,
            }
        )
    return out


def trial_study(description, argv, default_trials=20):
    """The arguments and the two populations the trial benchmarks share.

    Returns (args, sizes, pool, test): training trials are drawn from the pool
    (20,000 patients), every fitted policy is scored on ``test`` (2,000).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--trials", type=int, default=default_trials)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)
    sizes, pool_size, n_test = SIZES, 20000, 2000
    if args.quick:
        args.trials, sizes, pool_size, n_test = 1, (100,), 600, 300
    args.pool_size, args.n_test = pool_size, n_test
    pool = population("interaction", pool_size, 21, args.n_jobs)
    test = population("interaction", n_test, 22, args.n_jobs)
    return args, sizes, pool, test


def run_trials(trial_function, pool, test, sizes, args) -> pd.DataFrame:
    """``trial_function(pool, test, n, seed)``'s rows for every n and trial."""
    rows = []
    for n in sizes:
        seeds = np.random.SeedSequence([7, n]).generate_state(args.trials)
        for out in joblib.Parallel(n_jobs=args.n_jobs)(
            joblib.delayed(trial_function)(pool, test, n, int(s)) for s in seeds
        ):
            rows += out
    return pd.DataFrame(rows)


def trial_info(args, sizes, wall) -> dict:
    """How a trial benchmark was run, for its result file."""
    return {
        "trials": args.trials,
        "sizes": list(sizes),
        "n_test": args.n_test,
        "pool_size": args.pool_size,
        "wall_seconds": wall,
        "machine": machine(),
    }


def main(argv=None):
    start = time.perf_counter()
    args, sizes, pool, test = trial_study(__doc__.splitlines()[0], argv)
    oracle = float(test[TRUE].max(axis=1).mean())
    ceiling = _selector(strategy="interaction", param_grid={"C": [1e4]})
    ceiling.fit(pool, pool["y"], treatment="treatment")
    ceiling_agreement, ceiling_value = _score(ceiling, test)
    raw = run_trials(trial, pool, test, sizes, args)
    summary = (
        raw.groupby(["variant", "n"], sort=False)
        .agg(
            agreement=("agreement", "mean"),
            agreement_sd=("agreement", "std"),
            policy_value=("policy_value", "mean"),
            policy_value_sd=("policy_value", "std"),
            fit_seconds=("fit_seconds", "median"),
        )
        .reset_index()
    )
    pd.set_option("display.width", 200)
    print(summary.round(3).to_string(index=False))
    print(
        f"oracle value {oracle:.3f}; linear ROI ceiling: agreement "
        f"{ceiling_agreement:.3f}, value {ceiling_value:.3f}"
    )
    wall = time.perf_counter() - start
    print(f"wall time {wall:.0f} s")
    if args.quick:
        return
    payload = {
        "summary": summary.to_dict(orient="records"),
        "oracle_policy_value": oracle,
        "linear_roi_ceiling": {
            "agreement": ceiling_agreement,
            "policy_value": ceiling_value,
        },
        "info": trial_info(args, sizes, wall),
    }
    print(f"wrote {write_result('modality_strategies', payload)}")


if __name__ == "__main__":
    main()
