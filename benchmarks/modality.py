"""Modality prediction: wall time vs the scikit-learn route, and recovery vs n.

(1) ``evaluate_selection`` on 200 synthetic patients (ROI features), 10 repeats,
for both strategies, side by side: the batched logistic fits (default) and the
fold-by-fold scikit-learn route (``fast_path=False``: GridSearchCV + lbfgs in
each arm and fold, n_jobs=2), medians of ``--repeats`` runs; (2) a
1000-permutation test of the policy gain (interaction strategy, n_jobs=2), and
the scikit-learn route's time per permutation on a few permutations; (3) the
recovered (true) policy value and agreement with the truly better arm vs the
oracle, at n = 100, 200, 400, 800 (``--studies`` independent studies each): how
many patients does a study need?
Writes ``benchmarks/results/modality.json``.

Usage: ``python benchmarks/modality.py [--n-permutations 1000] [--repeats 3]
[--quick]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import txpredict as tp
from _common import machine, median, time_runs, write_result

TARGET_SECONDS = 120  # evaluation (10 repeats) + 1000-permutation test, 2 cores


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-permutations", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--studies", type=int, default=20, help="synthetic studies per sample size"
    )
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    sizes, n_repeats, sklearn_permutations = [100, 200, 400, 800], 10, 20
    n_studies, n_timed = args.studies, 200
    if args.quick:
        sizes, n_repeats, sklearn_permutations, n_studies = [100], 1, 2, 2
        args.n_permutations, args.repeats, n_timed = 9, 1, 80

    cohort = tp.make_synthetic_cohort(n_timed, grid="fsl6", random_state=0)
    X, y = cohort.X, cohort.y
    evaluation = {}
    for strategy in ("t_learner", "interaction"):
        selector = tp.ModalitySelector("roi", strategy=strategy)
        runs = {}
        for route, fast in (("txpredict", "auto"), ("sklearn", False)):
            runs[route] = median(
                time_runs(
                    lambda s=selector, f=fast: tp.evaluate_selection(
                        s, X, y, n_repeats=n_repeats, fast_path=f, n_jobs=2
                    ),
                    args.repeats,
                )
            )
        fast = tp.evaluate_selection(selector, X, y, n_repeats=n_repeats)
        slow = tp.evaluate_selection(
            selector, X, y, n_repeats=n_repeats, fast_path=False
        )
        agreement = float(
            (fast.predictions["recommended"] == slow.predictions["recommended"]).mean()
        )
        evaluation[strategy] = {
            "txpredict_seconds": runs["txpredict"],
            "sklearn_route_seconds": runs["sklearn"],
            "speedup": runs["sklearn"] / runs["txpredict"],
            "recommendation_agreement": agreement,
            "policy_value_txpredict": float(
                fast.summary().at["policy_value_ipw", "estimate"]
            ),
            "policy_value_sklearn_route": float(
                slow.summary().at["policy_value_ipw", "estimate"]
            ),
        }
        print(strategy, evaluation[strategy])

    selector = tp.ModalitySelector("roi", strategy="interaction")
    start = time.perf_counter()
    permuted = tp.evaluate_selection(
        selector, X, y, n_repeats=1, n_permutations=args.n_permutations, n_jobs=2
    )
    permutation_seconds = time.perf_counter() - start
    start = time.perf_counter()
    tp.evaluate_selection(
        selector,
        X,
        y,
        n_repeats=1,
        n_permutations=sklearn_permutations,
        fast_path=False,
        n_jobs=2,
    )
    sklearn_per_permutation = (time.perf_counter() - start) / sklearn_permutations
    total = evaluation["interaction"]["txpredict_seconds"] + permutation_seconds

    # The recovery curve: several independent studies per size, since one
    # cohort's figure moves by several points from study to study.
    curve = []
    measures = (
        "true_policy_value",
        "oracle_policy_value",
        "agreement_with_better_arm",
        "policy_value_ipw",
        "matched_minus_unmatched",
    )
    for n in sizes:
        values = {k: [] for k in measures}
        best_single = []
        for study_seed in range(n_studies):
            study = tp.make_synthetic_cohort(
                n, grid="fsl6", random_state=1000 * n + study_seed
            )
            s = tp.evaluate_selection(
                selector,
                study.X,
                study.y,
                n_repeats=n_repeats,
                truth=study.ground_truth,
            ).summary()["estimate"]
            for k in measures:
                values[k].append(float(s[k]))
            # The truly best single arm: everyone on it, by the true probabilities.
            best_single.append(
                max(study.ground_truth[f"p_response_{a}"].mean() for a in study.arms)
            )
        row = {"n": n, "studies": n_studies}
        for k, v in values.items():
            row[k] = float(np.mean(v))
            row[f"{k}_sd_across_studies"] = float(np.std(v, ddof=1))
        row["best_single_arm_true"] = float(np.mean(best_single))
        # Of what the oracle gains over treating everyone with the best arm, the
        # share the learned policy gains (truth, not estimates).
        row["share_of_oracle_gain_recovered"] = float(
            np.mean(
                [
                    (t - b) / (o - b)
                    for t, o, b in zip(
                        values["true_policy_value"],
                        values["oracle_policy_value"],
                        best_single,
                        strict=True,
                    )
                ]
            )
        )
        curve.append(row)
        print({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()})
    ratio = sklearn_per_permutation * args.n_permutations / permutation_seconds
    print(
        f"policy-gain permutation test ({args.n_permutations} permutations, "
        f"n_jobs=2): {permutation_seconds:.1f} s; scikit-learn route "
        f"{sklearn_per_permutation:.2f} s per permutation "
        f"(x{ratio:.0f}); "
        f"gain {permuted.permutation['policy_gain']:.3f}, "
        f"p = {permuted.permutation['p_value']:.4f}"
    )
    print(f"evaluation + permutation test: {total:.1f} s (target {TARGET_SECONDS} s)")
    if not args.quick:
        path = write_result(
            "modality",
            {
                "evaluation_200_patients": evaluation,
                "evaluation_repeats": n_repeats,
                "timing_runs": args.repeats,
                "permutation": {
                    "n_permutations": args.n_permutations,
                    "seconds": permutation_seconds,
                    "sklearn_route_seconds_per_permutation": sklearn_per_permutation,
                    "sklearn_route_permutations_timed": sklearn_permutations,
                    "policy_gain": permuted.permutation["policy_gain"],
                    "p_value": permuted.permutation["p_value"],
                    "null_quantiles_5_50_95": np.quantile(
                        permuted.permutation["null_distribution"], [0.05, 0.5, 0.95]
                    ).tolist(),
                },
                "evaluation_plus_permutation_seconds": total,
                "target_seconds_evaluation_plus_permutation": TARGET_SECONDS,
                "recovery_by_sample_size": curve,
                "machine": machine(),
            },
        )
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
