"""Coverage of the per-patient PAI intervals, ``ModalitySelector.pai_interval``.

On the trials of ``benchmarks/modality_strategies.py`` (Frick-like synthetic
trials, 9 default ROI means, arms randomised; training trials of n = 100,
200, 400, ``--trials`` each), the default selector is fitted and its 95%
intervals are scored on 2,000 independent patients. What an interval from
the features can cover is the patient's expected PAI given the features,
E[p(SSRI+CBT) - p(CBT) | x]. It is not known in closed form (the features
measure the generator's latent dACC with noise, and age and severity enter
the response but not the model), so it is estimated two ways on the 20,000
patients of the pool, whose true PAI the generator gives: a gradient-boosted
regression of the true PAI on the features (``expected``), and the per-arm
unshrunk (Firth) logistic models fitted to the pool (``model_limit``, what
the intervals' models converge to). Also reported: coverage of the latent
true PAI itself (``latent``: no interval from these features can reach 95%
there), coverage among the quarter of patients with the largest expected
advantage, and the median interval width. Coverage is the mean over trials of
the share of test patients covered; ``mc_se`` its Monte-Carlo standard error
(SD across trials / sqrt(trials)).

Usage: ``python benchmarks/pai_intervals.py [--quick] [--trials 200]``
"""

from __future__ import annotations

import time
from functools import partial

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

from _common import write_result
from calibration import ARMS, ROI
from modality_strategies import _selector, run_trials, trial_info, trial_study
from txpredict.stats._effects import firth_logistic, logit_interval

TARGETS = ("expected", "model_limit", "latent")


def true_pai(table) -> np.ndarray:
    return (table[f"p_{ARMS[1]}"] - table[f"p_{ARMS[0]}"]).to_numpy()


def targets(pool, test) -> dict:
    """The three PAIs of the test patients the intervals are scored against."""
    boosted = HistGradientBoostingRegressor(max_iter=300, random_state=0)
    boosted.fit(pool[ROI].to_numpy(), true_pai(pool))
    centre, scale = pool[ROI].mean(), pool[ROI].std()
    limit = []
    for arm in ARMS:
        rows = pool["treatment"] == arm
        coef, covariance = firth_logistic(
            ((pool.loc[rows, ROI] - centre) / scale).to_numpy(), pool.loc[rows, "y"]
        )
        limit.append(logit_interval((test[ROI] - centre) / scale, coef, covariance)[0])
    return {
        "expected": boosted.predict(test[ROI].to_numpy()),
        "model_limit": limit[1] - limit[0],
        "latent": true_pai(test),
    }


def trial(pool, test, n, seed, truth):
    rng = np.random.default_rng(seed)
    train = pool.iloc[rng.choice(len(pool), n, replace=False)].reset_index(drop=True)
    start = time.perf_counter()
    selector = _selector().fit(train, train["y"], treatment="treatment")
    intervals = selector.pai_interval(test)
    seconds = time.perf_counter() - start
    low, high = intervals["ci_low"].to_numpy(), intervals["ci_high"].to_numpy()
    largest = np.abs(truth["expected"]) >= np.quantile(np.abs(truth["expected"]), 0.75)
    row = {"n": n, "width": float(np.median(high - low)), "seconds": seconds}
    for name in TARGETS:
        covered = (low <= truth[name]) & (truth[name] <= high)
        row[name] = float(covered.mean())
        if name == "expected":
            row["expected_largest_quarter"] = float(covered[largest].mean())
    return [row]


def main(argv=None):
    start = time.perf_counter()
    args, sizes, pool, test = trial_study(__doc__.splitlines()[0], argv, 200)
    truth = targets(pool, test)
    raw = run_trials(partial(trial, truth=truth), pool, test, sizes, args)
    columns = [*TARGETS, "expected_largest_quarter"]
    grouped = raw.groupby("n")
    summary = grouped[columns].mean()
    for name in columns:
        summary[f"{name}_mc_se"] = grouped[name].std() / np.sqrt(grouped.size())
    summary["median_width"] = grouped["width"].median()
    summary["fit_and_interval_seconds"] = grouped["seconds"].median()
    summary = summary.reset_index()
    pd.set_option("display.width", 200)
    print(summary.round(3).to_string(index=False))
    agreement = np.corrcoef(truth["expected"], truth["model_limit"])[0, 1]
    print(f"correlation of the two expected-PAI estimates: {agreement:.3f}")
    wall = time.perf_counter() - start
    print(f"wall time {wall:.0f} s")
    if args.quick:
        return
    payload = {
        "summary": summary.to_dict(orient="records"),
        "expected_vs_model_limit_correlation": float(agreement),
        "confidence": 0.95,
        "info": trial_info(args, sizes, wall),
    }
    print(f"wrote {write_result('pai_intervals', payload)}")


if __name__ == "__main__":
    main()
