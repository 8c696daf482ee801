"""Evaluate treatment selection the way the literature does, with nested CV.

Every patient's recommendation comes from models that never saw the patient.
Reported (means over repeats):

- response rate of patients who received the recommended arm ("matched") vs
  those who did not, the difference (with a confidence interval) and Cohen's
  h (DeRubeis et al. 2014; Webb et al. 2019), also among the half with the
  largest |PAI|;
- policy value: the inverse-probability-weighted (Hajek) response rate had
  everyone received their recommendation, and its gain over the best single
  arm (both with intervals), vs everyone on one arm and random allocation;
- each arm's prognostic AUC, sensitivity and specificity (its model, on the
  patients who received that arm);
- with synthetic ground truth: agreement with the truly better arm and the true
  policy value against the oracle's.

Assignment probabilities: in a randomised trial the arm proportions (the
default) or the allocation ratio (``propensity={"CBT": 1/3, ...}``); in a
non-randomised study one probability per patient, from a propensity model
(``propensity="p_received"``, a column of X, or an array): the probability that
the patient received the arm they did.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from txpredict.errors import TxpredictError
from txpredict.modality._folds import SelectionRunner
from txpredict.modality._maps import fold_selector_maps, why_no_selector_maps
from txpredict.modality._permutation import policy_gain_permutation
from txpredict.modality._result import SelectionResult
from txpredict.modality._validation import (
    arm_proportions,
    check_selection_inputs,
    selection_splits,
)
from txpredict.model_selection import splits_hash


def _fold_frame(p, ids, test, arm, y, arms, repeat, fold):
    """One outer test fold's rows of ``SelectionResult.predictions``."""
    out = pd.DataFrame(p, columns=[f"p_{a}" for a in arms])
    out.insert(0, "participant_id", ids[test])
    out.insert(0, "fold", fold)
    out.insert(0, "repeat", repeat)
    out["received"] = arm[test]
    out["y_true"] = y[test]
    out["recommended"] = np.asarray(arms)[p.argmax(axis=1)]  # first of ties
    ordered = np.sort(p, axis=1)
    out["pai_abs"] = ordered[:, -1] - ordered[:, -2]
    return out


def evaluate_selection(
    selector,
    X,
    y,
    treatment="treatment",
    *,
    outer_cv=5,
    n_repeats=10,
    groups=None,
    propensity=None,
    randomized=True,
    truth=None,
    n_permutations=0,
    fast_path="auto",
    return_coefficients=False,
    return_maps=False,
    n_jobs=None,
    random_state=0,
):
    """Nested, repeated evaluation of a :class:`ModalitySelector`.

    Parameters
    ----------
    selector : ModalitySelector
    X : DataFrame
    y : Series or array-like of 0/1
        A Series is aligned to ``X`` by its index (participant ids).
    treatment : str, Series or array-like, default="treatment"
        A column of ``X``, a Series indexed like ``X``, or an array in the
        order of ``X``'s rows.
    outer_cv : int or "leave-site-out", default=5
        Folds stratified on arm x outcome; "leave-site-out" holds out one
        site (``groups``) at a time.
    n_repeats : int, default=10
        Repeats of the outer CV with different shuffles (one for
        leave-site-out, which has no shuffle).
    groups : str, Series, array-like or None, default=None
        The site (or family) of each patient, as a column of ``X``, a Series
        or an array: a site is never split between the training and test
        parts of an outer fold, and the permutation test permutes arms within
        sites. The inner CV that tunes each arm's model is not grouped (as
        ``inner_groups=False`` of :func:`nested_cross_validate`: three sites
        cannot fill five inner folds).
    propensity : dict, str, array-like or None, default=None
        Assignment probabilities for the inverse-probability weights. A dict
        (arm -> probability) for a randomised trial's allocation ratio; a
        column of X or an array with, for each patient, the probability of
        the arm they received (non-randomised data: from a propensity model
        fitted to the patients' pre-treatment characteristics). None takes the
        arm proportions, right for a randomised trial only.
    randomized : bool, default=True
        Whether arms were assigned at random. If not, and no per-patient
        ``propensity`` is given, the policy value is not interpretable and a
        warning says so; the permutation test needs randomised arms.
    n_permutations : int, default=0
        Permutation test of the policy gain (policy value minus the best single
        arm): arm labels are permuted within outcome strata (and within sites
        with ``groups``) and the whole
        nested evaluation re-run (``n_repeats=1`` each, like the observed
        statistic it is compared with). 0 skips it.
    truth : DataFrame or None, default=None
        Synthetic ground truth (``cohort.ground_truth``): ``p_response_<arm>``
        and ``better_arm`` columns.
    fast_path : "auto", True or False, default="auto"
        Fit the default logistic models of all folds in batches (exact optima,
        same splits and tuning as the fold-by-fold scikit-learn route, which
        stops lbfgs at its default tolerance; results agree to ~1e-4). True
        requires it; False always fits fold by fold.
    return_coefficients : bool, default=False
        Keep every outer-fold selector's coefficients
        (:attr:`SelectionResult.coefficients`, summarised by
        :meth:`SelectionResult.coefficient_summary`): which features drive
        the recommendation, and how stably. Fits fold by fold (the batched
        route keeps no models); linear response models only.
    return_maps : bool, default=False
        Keep every outer-fold selector's brain maps (voxel features,
        per-arm strategies): :attr:`SelectionResult.maps`, one
        :class:`~txpredict.ModelMaps` per term (each arm, and each arm minus
        the first: the moderation map), each fold's from its training
        patients only; their mean, jackknife z and sign consistency say how
        stable the moderation map is. Fits fold by fold.
    n_jobs : int or None, default=None
        Parallel folds (fold-by-fold route) or permutations. Results do not
        depend on it.
    random_state : int, default=0

    Returns
    -------
    SelectionResult
    """
    index, y, arm, arms, groups, outer_cv, truth, received = check_selection_inputs(
        selector,
        X,
        y,
        treatment,
        outer_cv=outer_cv,
        groups=groups,
        propensity=propensity,
        randomized=randomized,
        truth=truth,
        n_permutations=n_permutations,
        return_coefficients=return_coefficients,
        return_maps=return_maps,
        n_jobs=n_jobs,
    )
    runner = SelectionRunner(
        selector, X, arms, fast_path=False if return_coefficients else fast_path
    )
    if return_maps:
        why = why_no_selector_maps(selector, runner.extractor, runner.design)
        if why is not None:
            raise TxpredictError(f"return_maps=True: {why}")
    arm = arm.to_numpy()
    ids = index.astype(str).to_numpy()
    scheme = {"outer_cv": outer_cv, "groups": groups, "random_state": random_state}
    repeated = selection_splits(y, arm, n_repeats=n_repeats, **scheme)
    splits = [(train, test) for _, _, train, test in repeated]
    keys = [(repeat, fold) for repeat, fold, _, _ in repeated]
    fingerprint = splits_hash(index, repeated)
    coefficients = maps = None
    if return_maps:
        fitted = runner.maps(y, arm, splits, n_jobs=n_jobs)
        probabilities = [p for p, _ in fitted]
        maps = fold_selector_maps([m for _, m in fitted], keys, runner.extractor)
    elif return_coefficients:
        fitted = runner.coefficients(y, arm, splits, n_jobs=n_jobs)
        probabilities = [p for p, _ in fitted]
        coefficients = pd.concat(
            [
                frame.assign(repeat=repeat, fold=fold)
                for (_, frame), (repeat, fold) in zip(fitted, keys, strict=True)
            ],
            ignore_index=True,
        )[["repeat", "fold", "term", "feature", "coefficient"]]
    else:
        probabilities = runner.probabilities(y, arm, splits, n_jobs=n_jobs)
    predictions = pd.concat(
        [
            _fold_frame(p, ids, test, arm, y, arms, repeat, fold)
            for p, (_, test), (repeat, fold) in zip(
                probabilities, splits, keys, strict=True
            )
        ],
        ignore_index=True,
    )
    predictions["propensity"] = received.to_numpy()[
        pd.Index(ids).get_indexer(predictions["participant_id"])
    ]
    result = SelectionResult(
        predictions,
        arms,
        truth,
        splits_hash=fingerprint,
        coefficients=coefficients,
        maps=maps,
    )
    if n_permutations:
        allocation = propensity or arm_proportions(pd.Series(arm))
        result.permutation = policy_gain_permutation(
            runner, y, arm, scheme, n_permutations, allocation, n_jobs
        )
    return result
