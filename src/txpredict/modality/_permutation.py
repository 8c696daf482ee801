"""The permutation test of a selection's policy gain: arms permuted, all refitted."""

from __future__ import annotations

import joblib
import numpy as np

from txpredict.modality._validation import selection_splits
from txpredict.stats import policy_measures


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
    gains = []
    for arm in arms_list:
        splits = selection_splits(y, arm, n_repeats=1, **scheme)
        probabilities = np.empty((len(y), len(runner.arms)))
        tests = [test for _, _, _, test in splits]
        fitted = runner.probabilities(y, arm, [(tr, te) for _, _, tr, te in splits])
        for p, test in zip(fitted, tests, strict=True):
            probabilities[test] = p
        gains.append(policy_gain(y, arm, probabilities, runner.arms, propensity))
    return gains


def policy_gain_permutation(runner, y, arm, scheme, n_permutations, propensity, n_jobs):
    (observed,) = _permutation_gains(runner, y, [arm], scheme, propensity)
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
    # Permutations are drawn above, in one stream: the null does not depend on
    # n_jobs. Chunks amortise the cost of shipping the runner to workers.
    n_chunks = max(1, min(len(permuted), 4 * joblib.effective_n_jobs(n_jobs)))
    chunks = [list(c) for c in np.array_split(np.arange(len(permuted)), n_chunks)]
    null = np.concatenate(
        joblib.Parallel(n_jobs=n_jobs)(
            joblib.delayed(_permutation_gains)(
                runner, y, [permuted[i] for i in chunk], scheme, propensity
            )
            for chunk in chunks
            if chunk
        )
    )
    p_value = (1 + np.sum(null >= observed)) / (1 + n_permutations)
    return {
        "policy_gain": float(observed),
        "p_value": float(p_value),
        "null_distribution": null,
        "within_sites": scheme["groups"] is not None,
    }
