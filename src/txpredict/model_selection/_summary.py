"""What both result types share: the summary table, fold rows, the JSON file.

``NestedCVResult`` (classification) and ``RegressionCVResult`` differ in their
metrics, not in how folds are tabulated or results saved.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from txpredict._io import write_text_atomic
from txpredict.errors import TxpredictError
from txpredict.model_selection._permutation import PermutationTestResult


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


def fold_row(repeat, fold, train, test, out, metrics) -> dict:
    """One row of ``folds``: sizes, the fold's ``metrics``, choice and time."""
    return {
        "repeat": repeat,
        "fold": fold,
        "n_train": len(train),
        "n_test": len(test),
        **metrics,
        "best_params": json.dumps(out["best_params"], sort_keys=True, default=str),
        "fit_seconds": out["fit_seconds"],
    }


def with_groups(predictions, splits, groups) -> pd.DataFrame:
    """The site (group) of each prediction row, for per-site results."""
    if groups is not None:
        order = np.concatenate([test for *_, test in splits])
        predictions["group"] = np.asarray(groups)[order].astype(str)
    return predictions


def save_result(result, path, format_name) -> None:
    """Write a result as one JSON file (atomically), permutation tests included."""
    payload = {
        "format": format_name,
        "splits_hash": result.splits_hash,
        "info": result.info,
        "predictions": json.loads(
            result.predictions.to_json(orient="split", index=False)
        ),
        "folds": json.loads(result.folds.to_json(orient="split", index=False)),
        "permutation": {
            name: {
                "statistic": test.statistic,
                "null_distribution": test.null_distribution.tolist(),
                "p_value": test.p_value,
                "within_groups": test.within_groups,
                "max_permutations": test.max_permutations,
                "n_exceedances": test.n_exceedances,
            }
            for name, test in (result.permutation or {}).items()
        },
    }
    write_text_atomic(path, json.dumps(payload, default=str))


def load_result(cls, path, format_name):
    """Read a result of type ``cls`` written by :func:`save_result`."""
    with open(path, encoding="utf-8") as f:
        payload = json.load(f)
    if payload.get("format") != format_name:
        raise TxpredictError(f"{path} is not a saved txpredict {cls.__name__}.")

    def frame(part):
        return pd.DataFrame(part["data"], columns=part["columns"])

    predictions = frame(payload["predictions"])
    predictions["participant_id"] = predictions["participant_id"].astype(str)
    permutation = {
        name: PermutationTestResult(
            test["statistic"],
            np.asarray(test["null_distribution"]),
            test["p_value"],
            name,
            test["within_groups"],
            # Files from before sequential tests: a fixed-size test.
            test.get("max_permutations", len(test["null_distribution"])),
            test.get("n_exceedances"),
        )
        for name, test in payload.get("permutation", {}).items()
    }
    return cls(
        predictions,
        frame(payload["folds"]),
        payload["splits_hash"],
        payload["info"],
        permutation or None,
    )


#: Share of the outer folds choosing one end of a grid that makes it suspect.
EDGE_SHARE = 1 / 3


class GridEdgeWarning(UserWarning):
    """The inner CV chose a hyperparameter at the end of its grid in many folds."""


def grid_edges(folds: pd.DataFrame, grid: dict | None) -> pd.DataFrame:
    """How often the outer folds' inner CV chose each end of each numeric grid.

    Parameters
    ----------
    folds : DataFrame
        A result's ``folds`` (its ``best_params`` column, as JSON).
    grid : dict or None
        The searched grid (``info["param_grid"]``).

    Returns
    -------
    DataFrame
        One row per parameter with three or more numeric values: its
        ``lowest`` and ``highest`` value, how many folds chose each
        (``at_lowest``, ``at_highest``) of ``n_folds``.
    """
    rows = []
    chosen = folds["best_params"].map(json.loads)
    for name, values in (grid or {}).items():
        numbers = [v for v in values if isinstance(v, int | float) and v is not True]
        if len(numbers) < 3 or len(numbers) != len(values):
            continue  # two values are both ends; categories have none
        picked = chosen.map(lambda p, key=name: p.get(key.split("__")[-1], p.get(key)))
        picked = pd.to_numeric(picked, errors="coerce")
        rows.append(
            {
                "parameter": name,
                "lowest": min(numbers),
                "highest": max(numbers),
                "at_lowest": int((picked == min(numbers)).sum()),
                "at_highest": int((picked == max(numbers)).sum()),
                "n_folds": int(picked.notna().sum()),
            }
        )
    columns = ["lowest", "highest", "at_lowest", "at_highest", "n_folds"]
    return pd.DataFrame(rows, columns=["parameter", *columns]).set_index("parameter")


def grid_edge_warnings(edges: pd.DataFrame) -> list[str]:
    """Sentences for the parameters chosen at one end in many outer folds."""
    messages = []
    for name, row in edges.iterrows():
        for end, count in (
            ("lowest", row["at_lowest"]),
            ("highest", row["at_highest"]),
        ):
            if row["n_folds"] and count >= EDGE_SHARE * row["n_folds"]:
                messages.append(
                    f"The inner CV chose {name} = {row[end]:g}, the {end} value of "
                    f"its grid, in {int(count)} of {int(row['n_folds'])} outer "
                    "folds: the best "
                    f"value may lie beyond the grid. Extend param_grid past "
                    f"{row[end]:g} and compare; when the signal is weak the inner "
                    "CV also drifts to the most regularised end, and a wider grid "
                    "will not help."
                )
    return messages
