"""The summary table both result types print: one row per metric."""

from __future__ import annotations

import numpy as np
import pandas as pd


def summary_table(metrics, methods, by_method, permutation, per_repeat, references):
    """Estimate and interval of each metric's default method, p-value, spread.

    Parameters
    ----------
    metrics : sequence of str
    methods : dict of str to str or None
        The default interval method of each metric; None when no method
        reached its coverage target: the interval is left empty.
    by_method : dict of str to DataFrame
        Each method's intervals (``estimate``, ``ci_low``, ``ci_high`` by metric).
    permutation : dict of str to PermutationTestResult or None
    per_repeat : DataFrame
        One row per repeat, one column per metric.
    references : dict of str to dict
        Further columns (chance, a dummy's estimate), each metric to value.
    """
    rows = []
    for metric in metrics:
        method = methods[metric]
        if method is None:  # no interval method covers: show none
            row = next(iter(by_method.values())).loc[metric]
            row = {"estimate": row["estimate"], "ci_low": np.nan, "ci_high": np.nan}
        else:
            row = by_method[method].loc[metric]
        test = (permutation or {}).get(metric)
        rows.append(
            {
                "metric": metric,
                "estimate": row["estimate"],
                "ci_low": row["ci_low"],
                "ci_high": row["ci_high"],
                "ci_method": method or "none calibrated (see intervals())",
                "p_value": np.nan if test is None else test.p_value,
                # how much the estimate moves with the fold shuffle: not a CI
                "sd_across_repeats": per_repeat[metric].std(ddof=1)
                if len(per_repeat) > 1
                else np.nan,
                **{name: values[metric] for name, values in references.items()},
            }
        )
    return pd.DataFrame(rows).set_index("metric")
