"""The modality evaluation takes its inputs as the nested CV does: by index.

On the three-site trial (``trial_study_dir``): outcomes and arms given as
Series in another row order give the very same evaluation; the sites reach
the outer splits and the permutation test; arm names that are prefixes of
one another, with ``+``, spaces or non-ASCII letters, go through every step.
"""

import numpy as np
import pandas as pd
import pytest

import txpredict as tp
from txpredict.errors import TxpredictError

FAST = {"param_grid": {"C": [0.1, 1.0]}, "inner_cv": 3}


def _shuffled(series, seed):
    return series.sample(frac=1.0, random_state=seed)


@pytest.mark.parametrize("strategy", ["t_learner", "interaction"])
def test_outcome_and_arm_in_another_row_order_give_the_same_evaluation(trial, strategy):
    """Once aligned by position: the same cohort gave matched-minus-unmatched
    0.26 in one row order and 0.10 in another."""
    X, y, arm = trial.X, trial.y, trial.treatment
    selector = tp.ModalitySelector("roi", strategy=strategy, **FAST)
    options = {"outer_cv": 3, "n_repeats": 2, "random_state": 0}
    expected = tp.evaluate_selection(selector, X, y, arm, **options).summary()
    y_other, arm_other = _shuffled(y, 1), _shuffled(arm, 2)
    assert not y_other.index.equals(X.index)
    got = tp.evaluate_selection(selector, X, y_other, arm_other, **options).summary()
    pd.testing.assert_frame_equal(got, expected)
    fitted = tp.ModalitySelector("roi", **FAST).fit(X, y, treatment=arm)
    reordered = tp.ModalitySelector("roi", **FAST).fit(X, y_other, treatment=arm_other)
    pd.testing.assert_frame_equal(
        reordered.predict_response_proba(X), fitted.predict_response_proba(X)
    )


def test_a_response_model_aligns_y_by_index(trial):
    X, y = trial.X, trial.y
    model = tp.ResponseClassifier("roi", **FAST)
    expected = model.fit(X, y).decision_function(X)
    got = tp.ResponseClassifier("roi", **FAST).fit(X, _shuffled(y, 3))
    np.testing.assert_array_equal(got.decision_function(X), expected)


def test_an_outcome_of_other_participants_is_refused_by_name(trial):
    y = trial.y.rename(index={"sub-001": "sub-999"})
    with pytest.raises(TxpredictError, match=r"only in y: \['sub-999'\]"):
        tp.evaluate_selection(
            tp.ModalitySelector("roi", **FAST), trial.X, y, "arm", outer_cv=3
        )


def test_sites_reach_the_outer_splits_and_the_permutations(trial):
    selector = tp.ModalitySelector("roi", **FAST)
    result = tp.evaluate_selection(
        selector,
        trial.X,
        trial.y,
        "arm",
        outer_cv=3,
        n_repeats=2,
        groups="site",
        n_permutations=4,
        random_state=0,
    )
    predictions = result.predictions.merge(
        trial.X["site"], left_on="participant_id", right_index=True
    )
    # Every site is tested in exactly one fold of each repeat: never split.
    folds_per_site = predictions.groupby(["repeat", "site"])["fold"].nunique()
    assert (folds_per_site == 1).all() and len(folds_per_site) == 6
    assert len(result.permutation["null_distribution"]) == 4
    plain = tp.evaluate_selection(
        selector, trial.X, trial.y, "arm", outer_cv=3, n_repeats=2, random_state=0
    )
    assert plain.splits_hash != result.splits_hash
    by_site = tp.evaluate_selection(
        selector, trial.X, trial.y, "arm", outer_cv="leave-site-out", groups="site"
    )
    tested = by_site.predictions.merge(
        trial.X["site"], left_on="participant_id", right_index=True
    )
    assert (tested.groupby("fold")["site"].nunique() == 1).all()
    assert tested["site"].nunique() == 3


def test_the_permutation_null_does_not_mix_sites(trial, monkeypatch):
    """Arms are permuted within site and outcome: each site keeps its arm counts."""
    from txpredict.modality import _permutation as _evaluate

    seen = []
    original = _evaluate._permutation_gains

    def spy(runner, y, arms_list, scheme, propensity):
        seen.extend(arms_list)
        return original(runner, y, arms_list, scheme, propensity)

    monkeypatch.setattr(_evaluate, "_permutation_gains", spy)
    tp.evaluate_selection(
        tp.ModalitySelector("roi", **FAST),
        trial.X,
        trial.y,
        "arm",
        outer_cv=3,
        n_repeats=1,
        groups="site",
        n_permutations=3,
    )
    observed, *permuted = seen
    sites, y = trial.X["site"].to_numpy(), trial.y.to_numpy()
    for arm in permuted:
        assert not np.array_equal(arm, observed)
        for site in np.unique(sites):
            for label in (0, 1):
                rows = (sites == site) & (y == label)
                assert sorted(arm[rows]) == sorted(observed[rows])


@pytest.mark.parametrize(
    "arms",
    [
        ("CBT", "CBT+SSRI"),
        ("CBT + placebo", "CBT + sertraline"),
        ("Psychotherapie", "Psychotherapie + Sertralin (Müller)"),
    ],
)
def test_arm_names_that_share_a_prefix_or_hold_spaces_and_symbols(trial, arms):
    names = dict(zip(("CBT", "CBT+SSRI"), arms, strict=True))
    X = trial.X.assign(arm=trial.X["arm"].map(names))
    selector = tp.ModalitySelector("roi", **FAST)
    result = tp.evaluate_selection(
        selector, X, trial.y, "arm", outer_cv=3, n_repeats=1, n_permutations=2
    )
    baseline = tp.evaluate_selection(
        tp.ModalitySelector(
            "demographics", demographic_columns=["Age", "Sex"], param_grid={}
        ),
        X,
        trial.y,
        "arm",
        outer_cv=3,
        n_repeats=1,
    )
    table = tp.compare_selections(result, baseline)
    assert np.isfinite(table.at["policy_value_ipw", "difference"])
    summary = result.summary()
    for arm in arms:
        assert np.isfinite(summary.at[f"prognostic_auc_{arm}", "estimate"])
    fitted = selector.fit(X, trial.y, treatment="arm")
    assert set(fitted.recommend(X)) <= set(arms)
