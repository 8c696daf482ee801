"""Treatment selection must not invent a better policy where there is none.

Null replicates redraw the arms (1:1 randomised) and the outcomes of one cohort's
patients: outcomes are either pure noise ("none") or depend on the ROI features
but not on the arm ("prognostic": some patients respond more to everything,
nobody responds more to one arm). The permutation test of the policy gain must
then reject no more often than its level. (The 200-replicate version, 99
permutations each, is ``benchmarks/modality_calibration.py``: 4.0% and 2.5% at
alpha = 0.05.)
"""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import txpredict as tp

REPLICATES = 20  # per setting
PERMUTATIONS = 19  # the smallest p-value is 1/20 = 0.05


@pytest.fixture(scope="module")
def patients():
    cohort = tp.make_synthetic_cohort(80, effect="none", grid="fsl6", random_state=11)
    roi = tp.RoiFeatures(verbose=0).fit_transform(cohort.X)
    return cohort.X, (roi - roi.mean(axis=0)) / roi.std(axis=0)


def test_policy_gain_is_not_significant_without_interaction(patients):
    X, z = patients
    rng = np.random.default_rng(2024)
    p_values = []
    for setting in ("none", "prognostic"):
        for replicate in range(REPLICATES):
            X = X.assign(treatment=rng.permutation(np.repeat(["CBT", "SSRI+CBT"], 40)))
            logit = 1.5 * z[:, 0] - z[:, 3] if setting == "prognostic" else 0.0
            y = pd.Series((rng.random(len(X)) < expit(logit)).astype(int), X.index)
            result = tp.evaluate_selection(
                tp.ModalitySelector("roi", strategy="interaction"),
                X,
                y,
                n_repeats=1,
                n_permutations=PERMUTATIONS,
                random_state=replicate,
            )
            p_values.append(result.permutation["p_value"])
    p_values = np.array(p_values)
    # Expected 2 of 40 at alpha = 0.05; P(7 or more | calibrated) = 0.003.
    assert np.sum(p_values <= 0.05) <= 6
    assert 0.35 < p_values.mean() < 0.65  # roughly uniform, not piled up at 0
