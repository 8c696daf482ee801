"""The permutation test of a selection's policy gain: arms permuted, all refitted."""

from __future__ import annotations

from functools import partial

import numpy as np

from txpredict.modality._validation import selection_splits
from txpredict.model_selection import sequential_null
from txpredict.stats import DEFAULT_EXCEEDANCES, policy_measures


def policy_gain(y, received, probabilities, arms, allocation):
    """Policy value of the recommendations minus the best single arm's.

    The summary's ``policy_gain`` for one repeat, with a randomised trial's
    ``allocation`` (arm -> probability) as the weights: the statistic of the
    permutation test.
    """
    recommended = np.asarray(arms)[probabilities.argmax(axis=1)]
    weights = 1.0 / np.array([allocation[a] for a in received])
    measures = policy_measures(y, received, recommended, weights, arms)
    return measures["policy_gain"][0]


def _permutation_gains(runner, y, arms_list, scheme, propensity):
    """The policy gain of each arm assignment in ``arms_list``, one row each."""
    gains = []
    for arm in arms_list:
        splits = selection_splits(y, arm, n_repeats=1, **scheme)
        probabilities = np.empty((len(y), len(runner.arms)))
        tests = [test for _, _, _, test in splits]
        fitted = runner.probabilities(y, arm, [(tr, te) for _, _, tr, te in splits])
        for p, test in zip(fitted, tests, strict=True):
            probabilities[test] = p
        gains.append([policy_gain(y, arm, probabilities, runner.arms, propensity)])
    return gains


def policy_gain_permutation(
    runner, y, arm, scheme, n_permutations, propensity, n_jobs,
    n_exceedances=DEFAULT_EXCEEDANCES,
):  # fmt: skip
    """The permutation test of the policy gain, stopped once its p is settled.

    Besag & Clifford's sequential rule, as :func:`permutation_test`'s.
    """
    ((observed,),) = _permutation_gains(runner, y, [arm], scheme, propensity)
    random_state = scheme["random_state"]
    rng = np.random.default_rng(np.random.SeedSequence(random_state).spawn(2)[1])
    # Arms are exchangeable within outcome strata (each arm keeps its response
    # rate) and, with groups, within each site: randomisation is by site.
    blocks = y.astype(str)
    if scheme["groups"] is not None:
        blocks = blocks + "|" + np.asarray(scheme["groups"]).astype(str)
    permuted = []
    for _ in range(n_permutations):
        shuffled = arm.copy()
        for block in np.unique(blocks):
            rows = np.flatnonzero(blocks == block)
            shuffled[rows] = rng.permutation(arm[rows])
        permuted.append(shuffled)
    # Permutations are drawn above, in one stream, and the stopping rule is
    # applied in that order: the test does not depend on n_jobs.
    ((p_value, null),) = sequential_null(
        partial(
            _permutation_gains,
            runner,
            y,
            scheme=scheme,
            propensity=propensity,
        ),
        permuted,
        [observed],
        n_exceedances=n_exceedances,
        n_jobs=n_jobs,
    )
    return {
        "policy_gain": float(observed),
        "p_value": float(p_value),
        "null_distribution": null,
        "within_sites": scheme["groups"] is not None,
        "max_permutations": int(n_permutations),
        "n_exceedances": n_exceedances,
    }
