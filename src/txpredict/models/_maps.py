"""Weights and activation patterns of a fitted linear model's image features.

The weights of a multivariate model are not activation patterns (Haufe et al.
2014, NeuroImage 87:96): a voxel can carry a large weight because it cancels
noise shared with others, while carrying no signal itself. The pattern
A = Cov(x) w / Var(s), with s = x w the model's score, says how each feature
covaries with the score; for one score it is each feature's covariance with
s, divided by Var(s), so it needs n x p operations, never the p x p
covariance matrix.

Both are given in the units of the image features as extracted (harmonised
voxels with ``harmonize="combat"``, residualised ones with confounds): the
weights over standardised features are divided by the training SDs, so that
``weights @ x`` is the model's score up to a constant.
"""

from __future__ import annotations

import numpy as np
from sklearn.compose import ColumnTransformer

from txpredict.errors import TxpredictError


def _image_scaler(preparation):
    """The StandardScaler of the image block in a fitted preparation, or None."""
    last = preparation.steps[-1][1]
    if isinstance(last, ColumnTransformer):
        image = last.named_transformers_["image"]
        return image.named_steps.get("scale")
    return preparation.named_steps.get("scale")


def image_weights_and_pattern(search, design, n_image):
    """Weights and Haufe pattern of the image features of a fitted linear model.

    Parameters
    ----------
    search : Pipeline
        The fitted preparation steps followed by a linear classifier or
        regressor (with ``coef_`` of one row).
    design : array or DataFrame
        The training design it was fitted on.
    n_image : int
        Image features: the first ``n_image`` columns the classifier sees.

    Returns
    -------
    weights, pattern : ndarray of shape (n_image,)
    """
    coef = np.asarray(search[-1].coef_, dtype=np.float64)
    if coef.ndim == 2 and len(coef) != 1:
        raise TxpredictError(
            f"A map needs one weight per feature; {type(search[-1]).__name__} has "
            f"{len(coef)} rows of coef_ (more than two classes?)."
        )
    coef = coef.ravel()
    prepared = np.asarray(search[:-1].transform(design), dtype=np.float64)
    score = prepared @ coef
    scaler = _image_scaler(search[:-1])
    scale = np.ones(n_image)
    if scaler is not None and scaler.scale_ is not None:
        scale = scaler.scale_
    weights = coef[:n_image] / scale
    image = prepared[:, :n_image] * scale  # back to the extracted units
    image -= image.mean(axis=0)
    centred = score - score.mean()
    variance = centred @ centred / (len(score) - 1)
    if variance == 0:
        # Every training patient has the same score: nothing covaries with it.
        return weights, np.zeros(n_image)
    pattern = image.T @ centred / (len(score) - 1) / variance
    return weights, pattern
