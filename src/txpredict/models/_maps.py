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
from sklearn.decomposition import PCA

from txpredict.errors import TxpredictError
from txpredict.features import RoiFeatures, WholeBrainFeatures
from txpredict.models._presets import linear_family


def why_no_maps(model, extractor, estimator, linear, voxels=True) -> str | None:
    """Why ``model`` (with this extractor and final estimator) has no maps, or None.

    ``voxels=False``: ROI features qualify too (their weights are a table).
    """
    kinds = (WholeBrainFeatures,) if voxels else (WholeBrainFeatures, RoiFeatures)
    if not isinstance(extractor, kinds):
        return (
            f"features={model.features!r} gives no voxel features, so there is no "
            "brain map; maps need features='wholebrain' (or "
            "'wholebrain+demographics')"
            + ("." if voxels else "; ROI models give a table of ROI weights.")
        )
    if not linear:
        return (
            f"{type(estimator).__name__} has no linear weights (coef_), so it has "
            "no weight or pattern map. Use a linear model (logistic, linear_svm, "
            "ridge), or ask which features matter by permutation importance."
        )
    return None


def why_no_fold_maps(model, extractor) -> str | None:
    """:func:`why_no_maps` before any fit, for voxel or ROI weights.

    The classifier is judged linear by its family (it has no ``coef_`` yet).
    """
    estimator = model.final_estimator()[0]
    linear = linear_family(estimator) is not None
    return why_no_maps(model, extractor, estimator, linear, voxels=False)


def image_scale(preparation, n_image) -> np.ndarray:
    """Training SDs the image block was divided by in a fitted preparation (or 1)."""
    last = preparation.steps[-1][1]
    if isinstance(last, ColumnTransformer):
        scaler = last.named_transformers_["image"].named_steps.get("scale")
    else:
        scaler = preparation.named_steps.get("scale")
    if scaler is None or scaler.scale_ is None:
        return np.ones(n_image)
    return scaler.scale_


def weights_and_pattern(image, coef, score, scale):
    """Weights and pattern, in extracted units, from a model's prepared inputs.

    Parameters
    ----------
    image : ndarray of shape (n_train, n_image)
        The training patients' image features as the classifier saw them
        (harmonised, scaled).
    coef : ndarray of shape (n_image,)
        The classifier's weights over them.
    score : ndarray of shape (n_train,)
        The classifier's score of each training patient (any constant offset).
    scale : ndarray of shape (n_image,)
        What each feature was divided by (the training SDs, or ones).

    Returns
    -------
    weights, pattern : float32 ndarrays of shape (n_image,)
    """
    centred = score - score.mean()
    # Cov(x_v, s) = sum_i x_iv (s_i - mean s) / (n - 1): the centred score
    # sums to zero, so x need not be centred.
    pattern = haufe_pattern((image.T @ centred) * scale, score)
    return (coef / scale).astype(np.float32), pattern


def haufe_pattern(cross, score) -> np.ndarray:
    """Cov(x, s) / Var(s), from cross = sum_i x_i (s_i - mean s) over training rows."""
    centred = score - score.mean()
    variance = centred @ centred / (len(score) - 1)
    if variance == 0:
        # Every training patient has the same score: nothing covaries with it.
        return np.zeros(len(cross), dtype=np.float32)
    return (cross / ((len(score) - 1) * variance)).astype(np.float32)


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
    # Feature selection and PCA are linear too: the classifier's weights over
    # their outputs are carried back to the prepared features they came from.
    first = next(
        (k for k, (name, _) in enumerate(search.steps) if name in _REDUCTIONS),
        len(search) - 1,
    )
    preparation = search[:first]
    coef = np.asarray(coef.ravel(), dtype=np.float64)
    for _, step in reversed(search.steps[first:-1]):
        coef = _back_through(step, coef)
    prepared = np.asarray(preparation.transform(design), dtype=np.float64)
    return weights_and_pattern(
        prepared[:, :n_image],
        coef[:n_image],
        prepared @ coef,
        image_scale(preparation, n_image),
    )


#: Steps between the preparation and the classifier that reduce the features.
_REDUCTIONS = ("select", "pca")


def _back_through(step, coef):
    """Weights over a reduction's inputs that give the same score (up to a constant)."""
    if isinstance(step, PCA):
        # PCA(x) = (x - mean) @ components_.T (/ sqrt(explained_variance_)).
        if step.whiten:
            coef = coef / np.sqrt(step.explained_variance_)
        return step.components_.T @ coef
    support = step.get_support()  # a feature selector: unselected weigh 0
    full = np.zeros(len(support))
    full[support] = coef
    return full
