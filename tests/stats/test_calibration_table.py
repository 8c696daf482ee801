"""The shipped defaults and the report's coverage notes are the benchmark's own.

``benchmarks/calibration.py`` measured every interval method; these tests read
its committed results, so that a default changed without re-running the
benchmark (or a benchmark re-run whose numbers no longer support a default)
fails here.
"""

import importlib.util
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from txpredict.stats import (
    DEFAULT_METHODS,
    DEFAULT_POLICY_METHODS,
    DEFAULT_REGRESSION_METHODS,
)
from txpredict.stats._calibration import coverage_note, false_positive_note, measured

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def benchmark():
    sys.path.insert(0, str(BENCHMARKS))  # the script imports its _common helper
    try:
        spec = importlib.util.spec_from_file_location(
            "calibration_benchmark", BENCHMARKS / "calibration.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


@pytest.fixture(scope="module")
def summary():
    return pd.read_csv(BENCHMARKS / "results" / "calibration" / "summary.csv")


def test_package_table_is_the_committed_benchmarks(benchmark, summary):
    table = json.loads(json.dumps(benchmark.package_table(summary)))
    assert measured() == table


@pytest.mark.parametrize(
    "part, defaults",
    [
        ("classifier", DEFAULT_METHODS),
        ("modality", DEFAULT_POLICY_METHODS),
        ("regression", DEFAULT_REGRESSION_METHODS),
    ],
)
def test_each_default_is_the_narrowest_method_that_reached_coverage(
    benchmark, summary, part, defaults
):
    chosen = benchmark.chosen_methods(summary, part)
    assert {q: chosen[q] for q in defaults} == defaults


def test_notes_quote_the_measured_range(summary):
    rows = summary[
        (summary["part"] == "classifier")
        & (summary["quantity"] == "auc")
        & (summary["method"] == DEFAULT_METHODS["auc"])
    ]
    low, high = rows["coverage_T1"].min(), rows["coverage_T1"].max()
    assert coverage_note("auc") == f"{100 * low:.1f}-{100 * high:.1f}%"
    assert false_positive_note("compare_auc").endswith("%")
