"""What ``benchmarks/calibration.py`` measured for each shipped interval and test.

``calibration.json`` beside this module is written by that benchmark (and a
test checks it against ``benchmarks/results/calibration/``), so that reports
and tables can name the measured coverage of each interval and the measured
false-positive rate of each test next to the numbers they print.
"""

from __future__ import annotations

import functools
import json
from importlib.resources import files


@functools.cache
def measured() -> dict:
    """The benchmark's table (coverage and levels of the shipped defaults)."""
    return json.loads(
        files("txpredict.stats").joinpath("calibration.json").read_text("utf-8")
    )


def _range(values: dict) -> str:
    low, high = min(values.values()), max(values.values())
    return f"{100 * low:.1f}%" if low == high else f"{100 * low:.1f}-{100 * high:.1f}%"


def coverage_note(metric: str) -> str:
    """Measured coverage of a metric's summary interval, e.g. '93.8-95.9%'.

    Parameters
    ----------
    metric : str
        A classification metric (``"auc"``, ...), a treatment-selection
        measure (``"policy_value"``, ...) or a regression metric (``"r"``, ...).
    """
    table = measured()
    entry = next(
        (
            table[kind][metric]
            for kind in ("intervals", "policy_intervals", "regression_intervals")
            if metric in table.get(kind, {})
        ),
        None,
    )
    # No entry, or no method reached the target (r, R^2): nothing to quote.
    return _range(entry["coverage"]) if entry and entry["coverage"] else ""


def false_positive_note(test: str) -> str:
    """Measured false-positive rate at alpha = 0.05, e.g. '3.9-5.2%'.

    Parameters
    ----------
    test : str
        ``"compare_auc"``, ``"compare_balanced_accuracy"``,
        ``"permutation_auc"``, ``"permutation_balanced_accuracy"``, or
        ``"added_auc"``, ``"added_balanced_accuracy"`` (the permutation test
        of added value: how often it claimed the scan adds when it does not).
    """
    kind, _, metric = test.partition("_")
    table = measured()
    if kind == "compare":
        return _range(table["compare"][metric]["false_positive_rate"])
    if kind == "added":
        entry = table["added_value_permutation"][metric]
        return _range(entry["claims_better_when_the_scan_adds_nothing"])
    return _range(table["permutation"][metric])
