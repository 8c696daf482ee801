"""Calibration of the policy-gain permutation test when no interaction exists.

Null studies redraw, for the patients of one 80-patient synthetic cohort, the
randomised arms (1:1) and the outcomes: pure noise ("none"), or a prognostic
signal in the ROI features that is the same under both arms ("prognostic": no
patient does better on one arm). ``evaluate_selection`` (interaction strategy,
99 permutations) should then reject at p <= alpha no more often than alpha.
Replicates run in parallel (n_jobs=2); each has its own seed, so results do not
depend on the number of workers. Writes
``benchmarks/results/modality_calibration.json``.

Usage: ``python benchmarks/modality_calibration.py [--replicates 200] [--quick]``
"""

from __future__ import annotations

import argparse
import time

import joblib
import numpy as np
import pandas as pd
from scipy.stats import binom

import txpredict as tp
from _common import machine, write_result

N_PATIENTS = 80
PERMUTATIONS = 99


def _replicate(X, z, setting, seed, n_permutations):
    rng = np.random.default_rng(seed)
    X = X.assign(treatment=rng.permutation(np.repeat(["CBT", "SSRI+CBT"], len(X) // 2)))
    # Cuneus-like and coupling-like prognostic terms, identical under both arms.
    logit = 1.5 * z[:, 0] - z[:, 3] if setting == "prognostic" else np.zeros(len(X))
    # 1 / (1 + e^-x) written out: scipy's expit ufunc does not survive being
    # shipped from a script's __main__ to loky workers.
    probability = 1.0 / (1.0 + np.exp(-logit))
    y = pd.Series((rng.random(len(X)) < probability).astype(int), index=X.index)
    result = tp.evaluate_selection(
        tp.ModalitySelector("roi", strategy="interaction"),
        X,
        y,
        n_repeats=1,
        n_permutations=n_permutations,
        random_state=int(rng.integers(2**31)),
    )
    return result.permutation["p_value"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    permutations = PERMUTATIONS
    if args.quick:
        args.replicates, permutations = 2, 9
    cohort = tp.make_synthetic_cohort(
        N_PATIENTS, effect="none", grid="fsl6", random_state=100
    )
    roi = tp.RoiFeatures(verbose=0).fit_transform(cohort.X)
    z = (roi - roi.mean(axis=0)) / roi.std(axis=0)
    start = time.perf_counter()
    rows = {}
    for k, setting in enumerate(("none", "prognostic")):
        seeds = np.random.SeedSequence([k, 2024]).spawn(args.replicates)
        p = np.array(
            joblib.Parallel(n_jobs=2)(
                joblib.delayed(_replicate)(cohort.X, z, setting, s, permutations)
                for s in seeds
            )
        )
        rejections = int(np.sum(p <= 0.05))
        rows[setting] = {
            "rejection_rate_0.05": float(np.mean(p <= 0.05)),
            "rejection_rate_0.10": float(np.mean(p <= 0.10)),
            "mean_p": float(p.mean()),
            "rejections_0.05": rejections,
            # One-sided: could this many rejections come from a calibrated test?
            "binomial_p_vs_0.05": float(binom.sf(rejections - 1, len(p), 0.05)),
            "p_values": p.tolist(),
        }
        print(setting, {k: v for k, v in rows[setting].items() if k != "p_values"})
    seconds = time.perf_counter() - start
    print(f"{2 * args.replicates} null studies in {seconds:.0f} s")
    if not args.quick:
        path = write_result(
            "modality_calibration",
            {
                "replicates": args.replicates,
                "patients": N_PATIENTS,
                "permutations": permutations,
                "strategy": "interaction",
                "results": rows,
                "seconds": seconds,
                "machine": machine(),
            },
        )
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
