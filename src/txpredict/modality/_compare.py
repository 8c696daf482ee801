"""Two selectors on the same splits: which one recommends better."""

from __future__ import annotations

import numpy as np
import pandas as pd

from txpredict.errors import TxpredictError
from txpredict.stats import corrected_resampled_ttest, policy_measures


def _fold_policy_values(result):
    weights = result.weights
    return np.array(
        [
            policy_measures(
                frame["y_true"],
                frame["received"],
                frame["recommended"],
                weights[frame.index],
                result.arms,
            )["policy_value"][0]
            for _, frame in result.predictions.groupby(["repeat", "fold"])
        ]
    )


def compare_selections(result_a, result_b, *, names=("a", "b")) -> pd.DataFrame:
    """Compare two selectors on the same splits (e.g. scan vs demographics).

    Both results must come from :func:`evaluate_selection` on the same patients
    and splits. The policy values of each outer test fold are compared with the
    Nadeau-Bengio corrected resampled t-test (see :func:`txpredict.compare`);
    that row's a and b are each selector's policy value averaged over the
    outer test folds, so that its difference is a - b and has the sign of t
    (the summaries' ``policy_value_ipw`` pools each repeat's folds). The
    matched-minus-unmatched row compares the summaries' estimates, untested.

    Parameters
    ----------
    result_a, result_b : SelectionResult
        Two evaluations on identical splits (the same ``splits_hash``).
    names : tuple of str, default=("a", "b")
        How the two are named in the table.

    Returns
    -------
    DataFrame
        One row per measure: value for a and b, difference, t, p-value.
    """
    if result_a.splits_hash != result_b.splits_hash:
        raise TxpredictError(
            "The two selection results were computed on different splits; run both "
            "with the same X, y, treatment, outer_cv, n_repeats and random_state."
        )
    a, b = _fold_policy_values(result_a), _fold_policy_values(result_b)
    n = result_a.predictions["participant_id"].nunique()
    n_test = len(result_a.predictions) / len(a)
    test = corrected_resampled_ttest(a - b, n_train=n - n_test, n_test=n_test)
    measure = "matched_minus_unmatched"
    table = pd.DataFrame(
        {
            names[0]: [a.mean(), result_a.summary().at[measure, "estimate"]],
            names[1]: [b.mean(), result_b.summary().at[measure, "estimate"]],
        },
        index=pd.Index(["policy_value_ipw", measure], name="measure"),
    )
    table["difference"] = table[names[0]] - table[names[1]]
    table.loc["policy_value_ipw", ["t", "p_value"]] = (test["t"], test["p_value"])
    return table
