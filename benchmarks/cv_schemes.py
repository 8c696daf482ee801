"""How cross-validation schemes mislead: the default run of ``compare_cv_schemes``.

n = 20, 40, 100, 200; null ("none") and planted ("prognostic") effects; 200
replicate cohorts each; true performance on 5,000 independent patients; n_jobs=2.
The competitors here are the schemes themselves (LOO, k-fold, non-nested tuning)
against nested CV; the model is fitted with txpredict's batched logistic fits
(tested equal to scikit-learn's). Writes ``benchmarks/results/cv_schemes/``
(estimates.csv, summary.csv/json with the wall time, PNG figures, report.html)
and prints the table the benchmarks page (docs/benchmarks.md) quotes.

Usage: ``python benchmarks/cv_schemes.py [--quick]``
"""

from __future__ import annotations

import argparse

import txpredict as tp
from _common import RESULTS, machine
from txpredict.cv_schemes import QUICK

TARGET_SECONDS = 30 * 60


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    options = dict(QUICK) if args.quick else {}
    result = tp.compare_cv_schemes(**options, n_jobs=2)
    result.info["machine"] = machine()
    result.info["target_seconds"] = TARGET_SECONDS
    summary = result.summary()
    columns = [
        "effect", "n", "scheme", "ba_mean", "ba_true", "ba_bias", "ba_sd",
        "ba_rmse", "ba_coverage", "auc_bias", "significant_rate", "ba_max",
    ]  # fmt: skip
    print(summary[columns].round(3).to_string(index=False))
    print(
        f"wall time {result.info['wall_seconds']:.0f} s "
        f"(generation {result.info['generation_seconds']:.0f} s; "
        f"target {TARGET_SECONDS} s)"
    )
    if not args.quick:
        out = result.save(RESULTS / "cv_schemes", overwrite=True)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
