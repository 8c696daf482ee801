"""A whole analysis as a new user runs it: ``txpredict run`` from the shell.

A synthetic study of N patients (prognostic signal, FSL MNI152 2 mm images on
disk, BIDS-like layout), analysed with the guide's ROI configuration and every
default: 5 x 5-fold nested CV, 10 repeats, the default permutation test (at
most 1,000 permutations, stopped once settled), the demographics baseline and
model + demographics, the final model, its file and the report. Timed as the
wall time of the command (imports included), median of several runs:

(a) default settings (``n_jobs`` unset: one core);
(b) the same with ``n_jobs = 2``;
(c) the same without the test of what the scan adds to demographics
    (``added_value_permutations = 0``: compare()'s variance test decides), and
    without either permutation test (``n_permutations = 0`` too): the rest of
    the analysis, which the permutations come on top of;
(d) the permutation test alone with every one of its 1,000 permutations
    (``n_exceedances=None``), what the sequential rule spares: the library call
    on the same features, one run.

Records how many permutations each test used and its p-value: the sequential
test's p-values are a truncation of the full test's (equal whenever it did not
stop early), which is checked. Writes ``benchmarks/results/whole_run.json``.

Usage: ``python benchmarks/whole_run.py [--n-subjects 150] [--repeats 3] [--quick]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

import txpredict as tp
from _common import machine, median, write_result

TARGET_SECONDS = 20.0
PATTERN = "{participant_id}/func/{participant_id}_task-faces_stat-effect_statmap.nii.gz"


def write_config(folder: Path, dataset: Path, n_repeats, extra_cv="", n_jobs=None):
    """The guide's ROI analysis, defaults left to txpredict."""
    config = folder / "analysis.toml"
    config.write_text(f"""
[data]
dataset = "{dataset}"
image_pattern = "{PATTERN}"
outcome = "responder"
treatment = "treatment"

[model]
features = "roi"
classifier = "logistic"
demographic_columns = ["age", "sex", "baseline_severity"]

[cv]
n_repeats = {n_repeats}
random_state = 0
{extra_cv}

[output]
folder = "results"
overwrite = true
{"" if n_jobs is None else f"n_jobs = {n_jobs}"}
""")
    return config


def time_command(config: Path, repeats: int) -> tuple[list[float], Path]:
    """Wall times of ``txpredict run CONFIG`` in a fresh process each time."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "txpredict", "run", str(config)],
            cwd=config.parent,
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - start)
    return times, config.parent / "results"


def tests_of(results: Path) -> dict:
    """Each metric's permutation test as saved: p, permutations used, cap.

    Also the p-values of the test of what the scan adds (``added_<metric>``).
    """
    saved = json.loads((results / "result.json").read_text())
    tests = {
        metric: {
            "p_value": test["p_value"],
            "n_permutations": len(test["null_distribution"]),
            "max_permutations": test.get("max_permutations"),
        }
        for metric, test in saved["permutation"].items()
    }
    comparison = pd.read_csv(results / "comparison.csv", index_col=[0, 1])
    added = comparison.loc["model + demographics vs demographics only"]
    for metric, row in added.iterrows():
        tests[f"added_{metric}"] = {"p_value": row.get("permutation_p_value")}
    return tests


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-subjects", type=int, default=150)
    parser.add_argument("--n-repeats", type=int, default=10, help="CV repeats")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs")
    parser.add_argument(
        "--quick", action="store_true", help="40 patients, 6 mm grid, 2 CV repeats"
    )
    args = parser.parse_args(argv)
    grid = "fsl2"
    if args.quick:
        args.n_subjects, args.n_repeats, args.repeats, grid = 40, 2, 1, "fsl6"

    work = Path(tempfile.mkdtemp(prefix="txpredict_bench_"))
    try:
        dataset = work / "study"
        tp.make_synthetic_cohort(
            args.n_subjects,
            effect="prognostic",
            grid=grid,
            random_state=0,
            out_dir=dataset,
        )
        runs = {
            "default (n_jobs unset)": {},
            "n_jobs = 2": {"n_jobs": 2},
            "no added-value test": {"extra_cv": "added_value_permutations = 0"},
            "no permutation test": {
                "extra_cv": "n_permutations = 0\nadded_value_permutations = 0"
            },
        }
        table, tests = [], {}
        for name, options in runs.items():
            folder = work / name.replace(" ", "_").replace("=", "")
            folder.mkdir()
            config = write_config(folder, dataset, args.n_repeats, **options)
            times, results = time_command(config, args.repeats)
            table.append({"run": name, "seconds": median(times), "times": times})
            if "extra_cv" not in options:
                tests[name] = tests_of(results)
            print(f"{name}: {median(times):.1f} s", flush=True)
        full = full_permutation_test(dataset, args.n_repeats)
        table.append(
            {
                "run": "permutation test alone, every permutation (library)",
                "seconds": full["seconds"],
                "times": [full["seconds"]],
            }
        )
        print(f"full permutation test: {full['seconds']:.1f} s", flush=True)
        check_truncation(tests["default (n_jobs unset)"], full["tests"])
        if tests["default (n_jobs unset)"] != tests["n_jobs = 2"]:
            raise AssertionError("the permutation tests differ between n_jobs 1 and 2")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    frame = pd.DataFrame(table).set_index("run")
    print(frame["seconds"].round(2).to_string())
    default = frame.loc["default (n_jobs unset)", "seconds"]
    print(
        f"Target: the whole default analysis in < {TARGET_SECONDS:g} s: "
        f"{default:.1f} s ({'met' if default < TARGET_SECONDS else 'NOT met'})"
    )
    if args.quick:
        return
    path = write_result(
        "whole_run",
        {
            "info": {
                "n_subjects": args.n_subjects,
                "grid": grid,
                "n_cv_repeats": args.n_repeats,
                "timed_runs": args.repeats,
                "machine": machine(),
            },
            "target_seconds": TARGET_SECONDS,
            "runs": table,
            "permutation_tests": tests,
            "full_permutation_test": full["tests"],
        },
    )
    print(f"Wrote {path}")


def full_permutation_test(dataset: Path, n_repeats: int) -> dict:
    """The run's permutation test with all 1,000 permutations, timed once."""
    cohort = tp.load_cohort(dataset, PATTERN)
    model = tp.ResponseClassifier(
        "roi", "logistic", demographic_columns=["age", "sex", "baseline_severity"]
    )
    start = time.perf_counter()
    result = tp.nested_cross_validate(
        model,
        cohort.X,
        cohort.y,
        n_repeats=n_repeats,
        random_state=0,
        n_permutations=1000,
        n_exceedances=None,
    )
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "tests": {
            metric: {
                "p_value": test.p_value,
                "n_permutations": len(test.null_distribution),
            }
            for metric, test in result.permutation.items()
        },
    }


def check_truncation(sequential: dict, full: dict) -> None:
    """A test that ran all its permutations equals the full test's p-value."""
    for metric, test in sequential.items():
        if metric not in full:  # the added-value test has no full counterpart
            continue
        if test["n_permutations"] == full[metric]["n_permutations"]:
            if abs(test["p_value"] - full[metric]["p_value"]) > 1e-12:
                raise AssertionError(f"{metric}: the full test differs from the run's")


if __name__ == "__main__":
    main()
