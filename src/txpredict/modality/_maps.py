"""Brain maps of a selector on voxel features: each arm's model, and their difference.

For the per-arm strategies on ``"wholebrain"`` features, each arm's linear
model has a weight map and a Haufe pattern (:mod:`txpredict.models._maps`),
from that arm's training patients. The recommendation rests on the
difference of the two scores, s_b(x) - s_a(x) = x (w_b - w_a) + c: its weight
map is the difference of the arms' weights (in the units of the extracted
voxels), and its pattern, Cov(x, s_b - s_a) / Var(s_b - s_a) over all
training patients, is where the brain covaries with the predicted advantage:
the moderation map.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from txpredict.errors import TxpredictError
from txpredict.features import WholeBrainFeatures
from txpredict.model_selection import ModelMaps
from txpredict.models import (
    haufe_pattern,
    image_weights_and_pattern,
    why_no_fold_maps,
)


def why_no_selector_maps(selector, extractor, design) -> str | None:
    """Why a selector on this extractor's ``design`` has no voxel maps, or None."""
    if selector.strategy == "interaction":
        return (
            "strategy='interaction' has no per-arm maps; use 't_learner' or "
            "'x_learner' for maps of each arm and of their difference."
        )
    if not isinstance(extractor, WholeBrainFeatures) or not isinstance(
        design, np.ndarray
    ):
        return (
            f"features={selector.features!r}: maps need voxel features only "
            "(features='wholebrain'); ROI selectors give coefficient tables "
            "(evaluate_selection(..., return_coefficients=True))."
        )
    return why_no_fold_maps(selector.base_model(), extractor)


def selector_maps(selector, design, arm) -> dict:
    """{term: (weights, pattern)} for each arm and each arm minus the first."""
    n_image = design.shape[1]
    weights = {}
    maps = {}
    for name in selector.arms_:
        rows = arm == name
        w, pattern = image_weights_and_pattern(
            selector.models_[name].fitted_pipeline(), design[rows], n_image
        )
        weights[name] = w.astype(np.float64)
        maps[name] = (w, pattern)
    first = selector.arms_[0]
    for name in selector.arms_[1:]:
        difference = weights[name] - weights[first]
        score = design @ difference
        cross = design.T @ (score - score.mean())
        maps[f"{name} - {first}"] = (
            difference.astype(np.float32),
            haufe_pattern(cross, score),
        )
    return maps


def fold_selector_maps(fold_maps, keys, extractor) -> dict:
    """{term: ModelMaps} of the outer-fold selectors' maps, one row per fold.

    ``fold_maps``: each fold's :func:`selector_maps`; ``keys``: its (repeat,
    fold).
    """
    models = pd.DataFrame(keys, columns=["repeat", "fold"])
    return {
        term: ModelMaps(
            np.vstack([maps[term][0] for maps in fold_maps]),
            np.vstack([maps[term][1] for maps in fold_maps]),
            models,
            extractor,
        )
        for term in fold_maps[0]
    }


def check_map_request(selector, term, kind):
    """The stored maps of ``term``, or a clear error."""
    maps = getattr(selector, "maps_", None)
    if maps is None:
        why = getattr(selector, "no_maps_", "it was not fitted by fit().")
        raise TxpredictError(f"No maps for this selector: {why}")
    if term not in maps:
        raise TxpredictError(f"Unknown map term {term!r}; choose among {list(maps)}.")
    if kind not in ("weights", "pattern"):
        raise TxpredictError(f"kind must be 'weights' or 'pattern'; got {kind!r}.")
    return maps[term][0 if kind == "weights" else 1]
