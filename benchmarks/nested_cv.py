"""Nested CV speed: txpredict's Gram fast path vs plain scikit-learn vs nilearn.

On N synthetic subjects (FSL MNI152 2 mm, whole-brain voxels), 5 outer x 5 inner
stratified folds, a grid of 5 C values, linear SVM, side by side:

(a) scikit-learn: ``GridSearchCV(StandardScaler(with_std=False) + SVC(linear))``
    inside ``cross_val_predict``, on the masked voxels;
(b) nilearn ``Decoder(estimator="svc")`` on the images: a different model
    (LinearSVC, its own scaling) and NOT a nested estimate (its ``cv_scores_``
    pick C on the folds they score); timed for reference only;
(c) txpredict ``nested_cross_validate`` (same model and splits as (a)), with
    features from a warm cache (extraction is benchmarked separately).

Checks that (a) and (c) give identical out-of-fold decision values, then times a
1000-permutation nested permutation test with n_jobs=2. Writes
``benchmarks/results/nested_cv.json``.

Usage: ``python benchmarks/nested_cv.py [--n-subjects 100] [--repeats 3]
[--n-permutations 1000] [--quick]``
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import txpredict as tp
from _common import fit_nilearn_decoder, machine, median, time_runs, write_result
from txpredict.model_selection._schemes import repeat_seeds

C_GRID = [1e-3, 1e-2, 1e-1, 1.0, 10.0]
TARGETS = {"sklearn_vs_txpredict_min": 20.0, "permutation_seconds_max": 300.0}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-subjects", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-permutations", type=int, default=1000)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="40 subjects on the 6 mm grid, 1 repeat, 20 permutations",
    )
    args = parser.parse_args(argv)
    grid = "fsl2"
    if args.quick:
        args.n_subjects, args.repeats, args.n_permutations, grid = 40, 1, 20, "fsl6"

    work = Path(tempfile.mkdtemp(prefix="txpredict_bench_"))
    try:
        cohort = tp.make_synthetic_cohort(
            args.n_subjects,
            random_state=0,
            grid=grid,
            out_dir=work / "cohort",
            n_jobs=2,
        )
        X, y = cohort.X, cohort.y.to_numpy()
        cache = work / "cache"
        voxels = tp.WholeBrainFeatures(memory=cache, verbose=0).fit_transform(X)
        model = tp.ResponseClassifier(
            "wholebrain",
            "linear_svm",
            memory=cache,
            param_grid={"C": C_GRID},
            random_state=0,
        )
        outer = StratifiedKFold(5, shuffle=True, random_state=repeat_seeds(0, 1)[0])

        def sklearn_run():
            search = GridSearchCV(
                make_pipeline(
                    StandardScaler(with_std=False),
                    SVC(kernel="linear", class_weight="balanced"),
                ),
                {"svc__C": C_GRID},
                scoring="roc_auc",
                cv=StratifiedKFold(5, shuffle=True, random_state=0),
            )
            return cross_val_predict(
                search, voxels, y, cv=outer, method="decision_function"
            )

        def txpredict_run():
            return tp.nested_cross_validate(model, X, y, n_repeats=1, random_state=0)

        def nilearn_run():
            fit_nilearn_decoder(list(X["image"]), y, C_GRID)

        expected = sklearn_run()
        result = txpredict_run()
        got = result.predictions.set_index("participant_id").loc[X.index, "score"]
        max_difference = float(np.abs(got.to_numpy() - expected).max())
        assert max_difference < 1e-6 * max(1.0, np.abs(expected).max()), max_difference

        times = {
            "a_sklearn_gridsearch_in_cross_val_predict": time_runs(
                sklearn_run, args.repeats
            ),
            "b_nilearn_decoder_not_nested": time_runs(nilearn_run, args.repeats),
            "c_txpredict_nested": time_runs(txpredict_run, args.repeats),
        }
        start = time.perf_counter()
        permutation = tp.permutation_test(
            model, X, y, n_permutations=args.n_permutations, n_jobs=2, random_state=0
        )
        permutation_seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(work, ignore_errors=True)

    medians = {k: median(v) for k, v in times.items()}
    speedup = (
        medians["a_sklearn_gridsearch_in_cross_val_predict"]
        / medians["c_txpredict_nested"]
    )
    met = {
        "sklearn_vs_txpredict_min": speedup >= TARGETS["sklearn_vs_txpredict_min"],
        "permutation_seconds_max": permutation_seconds
        <= TARGETS["permutation_seconds_max"],
    }
    print(
        f"{args.n_subjects} subjects x {voxels.shape[1]} voxels, 5 outer x 5 inner "
        f"folds, {len(C_GRID)} C values; median of {args.repeats} run(s)"
    )
    for key, value in medians.items():
        print(f"{key:45}{value:>9.2f} s")
    print(
        f"sklearn / txpredict: {speedup:.1f}x; max |difference| of out-of-fold "
        f"decision values: {max_difference:.1e}"
    )
    print(
        f"permutation test, {args.n_permutations} permutations, n_jobs=2: "
        f"{permutation_seconds:.1f} s ({permutation!r})"
    )
    print("targets met:", met)
    if not args.quick:
        path = write_result(
            "nested_cv",
            {
                "n_subjects": args.n_subjects,
                "n_voxels": int(voxels.shape[1]),
                "repeats": args.repeats,
                "c_grid": C_GRID,
                "median_seconds": medians,
                "runs_seconds": times,
                "sklearn_vs_txpredict": speedup,
                "max_abs_difference_out_of_fold": max_difference,
                "permutation_test": {
                    "n_permutations": args.n_permutations,
                    "seconds": permutation_seconds,
                    "statistic_auc": permutation.statistic,
                    "p_value": permutation.p_value,
                },
                "targets": TARGETS,
                "targets_met": met,
                "machine": machine(),
            },
        )
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
