"""The X-learner (Künzel et al. 2019, PNAS 116:4156) for binary response.

Stage 1 is the T-learner: one tuned response model per arm. Stage 2 imputes
each patient's effect of an arm ``b`` against the first (reference) arm from
the outcome they had and the other arm's model, which never saw them:
``y - mu_ref(x)`` for patients who received ``b``, ``mu_b(x) - y`` for those who
received the reference arm. Stage 3 regresses each set of imputed effects on
the prepared features (ridge, penalty by efficient leave-one-out,
scikit-learn's ``RidgeCV``) and combines the two regressions weighted by the
arm shares: ``tau_b(x) = g tau_ref(x) + (1 - g) tau_b(x)``, ``g`` the share of
``b`` among the two arms' training patients (the propensity of a randomised
trial). The imputed effects borrow the prognostic part from the other arm's
model, which is what helps when one arm is small.

The probability under the reference arm is its stage-1 model's; under arm
``b`` it is that plus ``tau_b(x)``, clipped to [0.001, 0.999] (a linear effect
model can step outside (0, 1) for patients far from the training data).

Both evaluation routes (fold by fold, and the batched stage-1 fits of
:mod:`txpredict.modality._folds`) call :func:`fit_effects` and
:func:`predict_with_effects`, so they differ only in how stage 1 is fitted.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import RidgeCV

#: Ridge penalties of the effect regressions (on standardised features).
ALPHAS = np.logspace(-2, 3, 11)
#: Probabilities are kept inside (0, 1): log-loss and calibration need it.
CLIP = 1e-3


def fit_effects(prepared, y, arm, arms, stage1) -> dict:
    """Effect regressions of each arm against ``arms[0]``.

    Parameters
    ----------
    prepared : ndarray of shape (n_train, n_features)
        Training patients' prepared (numeric) features.
    y : ndarray of 0/1
    arm : ndarray of str
    arms : tuple of str
    stage1 : ndarray of shape (n_train, n_arms)
        Each arm's stage-1 probability for every training patient.

    Returns
    -------
    dict of str to (RidgeCV, RidgeCV, float)
        Per non-reference arm: the regression fitted on its own patients, the
        one fitted on the reference arm's, and ``g``.
    """
    reference = arm == arms[0]
    effects = {}
    for k, name in enumerate(arms[1:], start=1):
        treated = arm == name
        imputed_treated = y[treated] - stage1[treated, 0]
        imputed_reference = stage1[reference, k] - y[reference]
        on_treated = RidgeCV(alphas=ALPHAS).fit(prepared[treated], imputed_treated)
        on_reference = RidgeCV(alphas=ALPHAS).fit(
            prepared[reference], imputed_reference
        )
        share = float(treated.sum() / (treated.sum() + reference.sum()))
        effects[name] = (on_treated, on_reference, share)
    return effects


def predict_with_effects(prepared, reference_probability, effects, arms):
    """Probability under each arm, shape (n_rows, n_arms)."""
    columns = [np.asarray(reference_probability, dtype=float)]
    for name in arms[1:]:
        on_treated, on_reference, share = effects[name]
        effect = share * on_reference.predict(prepared) + (1 - share) * (
            on_treated.predict(prepared)
        )
        columns.append(np.clip(columns[0] + effect, CLIP, 1 - CLIP))
    return np.column_stack(columns)
