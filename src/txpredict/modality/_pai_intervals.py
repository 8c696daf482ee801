"""Per-patient confidence intervals of the PAI (two arms).

The selector's own models are tuned and shrunk, which is what makes their
recommendations good and their PAI biased towards zero: an interval around
it would miss the patients with the largest advantage. The intervals come
instead from one unshrunk logistic model per arm (Firth's bias-reduced fit)
on the selector's own prepared features (its imputation, scaling and
demographic encoding, fitted on all training patients), combined by the
MOVER (:mod:`txpredict.stats._effects`). They estimate the patient's
expected PAI given the features; ``benchmarks/pai_intervals.py`` measures
their coverage.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.linalg import qr

from txpredict.errors import TxpredictError
from txpredict.stats import firth_logistic, logit_interval, mover_difference


class IntervalModels:
    """Unshrunk (Firth) logistic models of response, one per arm.

    Parameters
    ----------
    preparation : fitted Pipeline
        The selector's preparation of its design into numbers.
    coef, covariance : dict of str to ndarray
        Per arm: intercept and coefficients, and their covariance.
    columns : ndarray of int
        The prepared columns the models use: one level of a one-hot encoding
        (any column that is a combination of the others and the intercept)
        is dropped, else the likelihood has no unique maximum.
    """

    def __init__(self, preparation, coef, covariance, columns):
        self.preparation = preparation
        self.coef = coef
        self.covariance = covariance
        self.columns = columns

    @classmethod
    def fit(cls, base, design, y, arm, arms):
        """Fit on the training design of a selector whose base model is ``base``.

        Raises
        ------
        TxpredictError
            Naming the arm whose model cannot be fitted.
        """
        smallest = min(int(np.sum(arm == name)) for name in arms)
        if design.shape[1] + 1 >= smallest:
            # Voxels: refused before preparing (and copying) a whole brain.
            raise TxpredictError(
                f"{design.shape[1]} features for {smallest} patients in the smallest "
                "arm: a logistic model per arm needs fewer features than patients."
            )
        preparation = base.preparation(design).fit(design, y)
        encoded = preparation.transform(design)
        columns = independent_columns(encoded)
        coef, covariance = {}, {}
        for name in arms:
            rows = np.flatnonzero(arm == name)
            try:
                coef[name], covariance[name] = firth_logistic(
                    encoded[np.ix_(rows, columns)], y[rows]
                )
            except TxpredictError as error:
                raise TxpredictError(f"Arm {name!r}: {error}") from None
        return cls(preparation, coef, covariance, columns)

    def intervals(self, design, arms, confidence=0.95) -> np.ndarray:
        """PAI ``p(arms[1]) - p(arms[0])`` and its interval, shape (n, 3)."""
        encoded = self.preparation.transform(design)[:, self.columns]
        first, second = (
            logit_interval(encoded, self.coef[a], self.covariance[a], confidence)
            for a in arms
        )
        return np.column_stack(mover_difference(second, first))


def independent_columns(encoded, tolerance=1e-8) -> np.ndarray:
    """Columns of ``encoded`` independent of each other and of the intercept."""
    centred = encoded - encoded.mean(axis=0)
    _, r, pivot = qr(centred, mode="economic", pivoting=True)
    diagonal = np.abs(np.diag(r))
    rank = int(np.sum(diagonal > tolerance * max(diagonal.max(initial=0), 1.0)))
    return np.sort(pivot[:rank])


def fit_or_explain(base, design, y, arm, arms):
    """``(models, None)``, or ``(None, why they cannot be fitted)``."""
    try:
        return IntervalModels.fit(base, design, y, arm, arms), None
    except TxpredictError as error:
        return None, str(error)


def check_interval_request(models, reason, arms, confidence):
    """Refuse a PAI interval the fitted selector cannot give."""
    if not 0 < confidence < 1:
        raise TxpredictError(
            f"confidence must be strictly between 0 and 1, got {confidence!r}."
        )
    if len(arms) != 2:
        raise TxpredictError(
            f"A PAI interval compares two arms; got {list(arms)}. Pass arms=(a, b): "
            "the interval is of P(response | b) - P(response | a)."
        )
    if models is None:
        raise TxpredictError(
            "No PAI intervals for this selector: they come from an unshrunk "
            f"logistic model per arm. {reason} Whole-brain features "
            "have too many: 'roi' features (a few per patient) give intervals."
        )


def interval_frame(pai, values, index) -> pd.DataFrame:
    """The selector's PAI next to the unshrunk models' PAI and its interval."""
    return pd.DataFrame(
        {
            "pai": np.asarray(pai, dtype=float),
            "pai_unshrunk": values[:, 0],
            "ci_low": values[:, 1],
            "ci_high": values[:, 2],
        },
        index=index,
    )
