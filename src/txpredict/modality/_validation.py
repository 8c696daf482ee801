"""The inputs and outer scheme of a selection's evaluation, checked before any work.

Outcomes, arms, sites and propensities are aligned to ``X`` by the one input
check (:mod:`txpredict._inputs`); what is particular to treatment selection
(each arm's responders in every fold, assignment probabilities, synthetic
ground truth) is checked here.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd

from txpredict._inputs import (
    aligned_values,
    check_group_labels,
    check_n_jobs,
    check_treatment,
    check_X_y,
)
from txpredict.cohort import ground_truth_problems
from txpredict.errors import TxpredictError
from txpredict.modality._coefficients import check_coefficients
from txpredict.modality._selector import PER_ARM_STRATEGIES, check_arm_sizes
from txpredict.model_selection import (
    LEAVE_SITE_OUT,
    check_groups,
    check_outer_cv,
    check_sites,
    outer_splits,
)


class SelectionInputs(NamedTuple):
    """The inputs of :func:`evaluate_selection`, checked and aligned to ``X``."""

    index: pd.Index
    y: np.ndarray
    arm: pd.Series
    arms: tuple
    groups: np.ndarray | None
    outer_cv: object
    truth: pd.DataFrame | None
    received: pd.Series  # P(arm received) of each patient


def check_selection_inputs(
    selector,
    X,
    y,
    treatment,
    *,
    outer_cv,
    groups,
    propensity,
    randomized,
    truth,
    n_permutations,
    return_coefficients,
    return_maps,
    n_jobs,
) -> SelectionInputs:
    """Every input of :func:`evaluate_selection`, checked before any work."""
    index, y = check_X_y(X, y)
    check_n_jobs(n_jobs)
    arm, arms = check_treatment(X, treatment, getattr(selector, "arms", None))
    groups = check_group_labels(groups, X, index)
    outer_cv = check_selection_cv(outer_cv, y, arm.to_numpy(), arms, groups, selector)
    truth = check_truth(truth, index, arms)
    received = check_propensity(propensity, X, arm, arms, randomized)
    if n_permutations and not (propensity is None or isinstance(propensity, dict)):
        raise TxpredictError(
            "The permutation test of the policy gain permutes the arms, which is "
            "valid only when they were assigned at random; with per-patient "
            "propensities (non-randomised data) use n_permutations=0 and the "
            "intervals of the summary."
        )
    if return_coefficients and return_maps:
        raise TxpredictError(
            "Ask for return_coefficients or return_maps, not both: coefficients "
            "are for ROI and tabular selectors, maps for voxel ones."
        )
    if return_coefficients:
        check_coefficients(selector)
    return SelectionInputs(index, y, arm, arms, groups, outer_cv, truth, received)


def selection_splits(y, arm, *, outer_cv, n_repeats, groups, random_state):
    """Outer splits stratified on arm x outcome, so each fold has each arm's responders.

    Group-aware (sites kept whole) when ``groups`` is given; one site held
    out at a time for ``outer_cv="leave-site-out"``.

    Returns
    -------
    list of (repeat, fold, train, test)
    """
    strata = np.asarray(arm).astype(str) + "|" + np.asarray(y).astype(str)
    return outer_splits(
        strata,
        outer_cv=outer_cv,
        n_repeats=n_repeats,
        groups=groups,
        stratify=True,
        random_state=random_state,
    )


def check_selection_cv(outer_cv, y, arm, arms, groups, selector):
    """The outer scheme of a selection, checked before any work."""
    outer_cv = check_outer_cv(outer_cv, len(y), allow_loo=False, groups=groups)
    if outer_cv == LEAVE_SITE_OUT:
        check_sites(y, groups)  # two sites or more, none of a single patient
        if selector.strategy in PER_ARM_STRATEGIES:
            for site in pd.unique(groups):
                rest = groups != site
                try:
                    check_arm_sizes(y[rest], arm[rest], arms, selector.inner_cv)
                except TxpredictError as exc:
                    raise TxpredictError(
                        f"With site {site!r} held out: {exc}"
                    ) from None
        return outer_cv
    if not isinstance(outer_cv, int):
        raise TxpredictError(
            "evaluate_selection's outer_cv must be a number of folds or "
            f"'leave-site-out'; got {outer_cv!r}."
        )
    strata = pd.Series(arm + "|" + y.astype(str))
    smallest = strata.value_counts()
    if smallest.min() < outer_cv:
        group = smallest.idxmin().replace("|", " with outcome ")
        raise TxpredictError(
            f"The arm x outcome group {group} has {smallest.min()} patient(s), "
            f"fewer than outer_cv={outer_cv} folds; use fewer folds or more patients."
        )
    if groups is not None:
        check_groups(groups, outer_cv)
    return outer_cv


def check_truth(truth, index, arms):
    """Synthetic ground truth of every patient and arm; or say what it lacks."""
    if truth is None:
        return None
    problems = ground_truth_problems(truth, index, arms)
    if "better_arm" not in truth.columns:
        problems.append("it lacks ['better_arm']")
    if problems:
        raise TxpredictError(
            "truth (the synthetic ground truth) lacks the columns or rows of these "
            f"patients and arms: {'; '.join(problems)}. Pass truth=None for a real "
            "study."
        )
    return truth.set_axis(truth.index.astype(str)).copy()


def arm_proportions(arm: pd.Series) -> dict:
    """Each arm's share of the patients (a randomised trial's allocation)."""
    return arm.value_counts(normalize=True).to_dict()


def check_propensity(propensity, X, arm, arms, randomized) -> pd.Series:
    """P(received arm) of each patient, from any accepted form of ``propensity``."""
    if propensity is None:
        if not randomized:
            warnings.warn(
                "Inverse-probability weighting needs known assignment probabilities; "
                "in a non-randomised study pass propensity= (one probability per "
                "patient, from a propensity model). The arm proportions used "
                "instead may bias the policy value.",
                UserWarning,
                stacklevel=4,
            )
        propensity = arm_proportions(arm)
    if isinstance(propensity, dict):
        missing = [a for a in arms if a not in propensity]
        if missing:
            raise TxpredictError(
                f"propensity must give a probability for each arm {list(arms)}; "
                f"missing: {missing}."
            )
        values = arm.map(propensity).astype(float)
        what = "propensity"
    else:  # a column of X, a Series aligned by index, or an array
        values = aligned_values(propensity, X, what="propensity", column_ok=True)
        values = pd.to_numeric(pd.Series(values, index=arm.index), errors="coerce")
        what = f"column {propensity!r}" if isinstance(propensity, str) else "propensity"
    bad = values.index[~((values > 0) & (values <= 1))].tolist()
    if bad:
        raise TxpredictError(
            f"The {what} must be a probability in (0, 1] for every patient (the "
            f"probability of the arm received); patient(s) {list(map(str, bad))[:5]}"
            " have other or missing values."
        )
    return values
