"""Modality prediction: wall time, and how much of the oracle policy is recovered.

(1) ``evaluate_selection`` on 200 synthetic patients (ROI features, interaction
strategy), 10 repeats, n_jobs=2; (2) a 1000-permutation test of the policy gain;
(3) the recovered (true) policy value and agreement with the truly better arm vs
the oracle, at n = 100, 200, 400: how many patients does a study need?
Writes ``benchmarks/results/modality.json``.

Usage: ``python benchmarks/modality.py [--n-permutations 1000] [--quick]``
"""

from __future__ import annotations

import argparse
import time

import txpredict as tp
from _common import machine, write_result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-permutations", type=int, default=1000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    sizes, repeats = ([100, 200, 400], 10) if not args.quick else ([100], 1)
    if args.quick:
        args.n_permutations = 9
    selector = tp.ModalitySelector("roi", strategy="interaction")

    cohort = tp.make_synthetic_cohort(200, grid="fsl6", random_state=0)
    start = time.perf_counter()
    tp.evaluate_selection(selector, cohort.X, cohort.y, n_repeats=repeats, n_jobs=2)
    evaluation_seconds = time.perf_counter() - start
    start = time.perf_counter()
    permuted = tp.evaluate_selection(
        selector,
        cohort.X,
        cohort.y,
        n_repeats=1,
        n_permutations=args.n_permutations,
        n_jobs=2,
    )
    permutation_seconds = time.perf_counter() - start

    curve = []
    for n in sizes:
        study = tp.make_synthetic_cohort(n, grid="fsl6", random_state=n)
        s = tp.evaluate_selection(
            selector,
            study.X,
            study.y,
            n_repeats=repeats,
            truth=study.ground_truth,
            n_jobs=2,
        ).summary()
        row = {
            "n": n,
            **{
                k: float(s.at[k, "estimate"])
                for k in (
                    "true_policy_value",
                    "oracle_policy_value",
                    "agreement_with_better_arm",
                    "policy_value_ipw",
                    "everyone_CBT",
                    "everyone_SSRI+CBT",
                )
            },
        }
        curve.append(row)
        print(row)
    print(
        f"evaluate_selection (200 patients, {repeats} repeats, n_jobs=2): "
        f"{evaluation_seconds:.1f} s"
    )
    print(
        f"policy-gain permutation test ({args.n_permutations} permutations): "
        f"{permutation_seconds:.1f} s, gain {permuted.permutation['policy_gain']:.3f}, "
        f"p = {permuted.permutation['p_value']:.3f}"
    )
    if not args.quick:
        path = write_result(
            "modality",
            {
                "evaluation_seconds": evaluation_seconds,
                "permutation": {
                    "n_permutations": args.n_permutations,
                    "seconds": permutation_seconds,
                    "policy_gain": permuted.permutation["policy_gain"],
                    "p_value": permuted.permutation["p_value"],
                },
                "target_seconds_evaluation_plus_permutation": 120,
                "recovery_by_sample_size": curve,
                "repeats": repeats,
                "machine": machine(),
            },
        )
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
