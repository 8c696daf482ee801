"""The weight and pattern maps of every outer-fold model of a nested CV.

Each outer fold's model is fitted on its training part only, so its maps never
see that fold's test patients. Across folds and repeats the maps say how
stable what the model learns is: NeuroMiner's cross-validation ratio (mean /
SD across fold models) and the share of fold models that agree in sign with
the majority. Fold models share most of their training patients (4/5 of the
cohort with 5 folds), so their spread understates the sampling variability
of a map: the ratio is a ranking of stability, not a z-score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from txpredict.errors import TxpredictError

KINDS = ("pattern", "weights")
STATISTICS = ("mean", "cv_ratio", "sign_consistency", "folds")


@dataclass
class FoldMaps:
    """Weights and Haufe patterns of the outer-fold models, one row per model.

    Attributes
    ----------
    weights, patterns : ndarray of shape (n_models, n_voxels), float32
        In the units of the extracted voxels (see
        ``ResponseClassifier.coef_img_`` and ``pattern_img_``).
    folds : DataFrame
        ``repeat`` and ``fold`` of each row.
    extractor : WholeBrainFeatures
        The fitted extractor, which puts voxels back on the data grid.
    """

    weights: np.ndarray
    patterns: np.ndarray
    folds: pd.DataFrame
    extractor: object

    def values(self, kind="pattern", statistic="mean") -> np.ndarray:
        """One value per voxel (or per model and voxel for ``"folds"``).

        Parameters
        ----------
        kind : {"pattern", "weights"}, default="pattern"
        statistic : {"mean", "cv_ratio", "sign_consistency", "folds"}
            "mean" over fold models; "cv_ratio", the mean over its SD across
            fold models (0 where both are 0); "sign_consistency", the share of
            fold models with the sign most of them have (0.5 to 1; 0 where
            every map is 0); "folds", every fold model's map.
        """
        if kind not in KINDS:
            raise TxpredictError(f"kind must be one of {KINDS}; got {kind!r}.")
        if statistic not in STATISTICS:
            raise TxpredictError(
                f"statistic must be one of {STATISTICS}; got {statistic!r}."
            )
        maps = np.asarray(self.patterns if kind == "pattern" else self.weights)
        if statistic == "folds":
            return maps
        mean = maps.mean(axis=0, dtype=np.float64)
        if statistic == "mean":
            return mean
        if statistic == "sign_consistency":
            return np.maximum((maps > 0).mean(axis=0), (maps < 0).mean(axis=0))
        sd = maps.std(axis=0, ddof=1, dtype=np.float64)
        return np.divide(mean, sd, out=np.zeros_like(mean), where=sd > 0)

    def to_img(self, kind="pattern", statistic="mean"):
        """:meth:`values` as a NIfTI image on the data grid (4D for "folds")."""
        return self.extractor.inverse_transform(self.values(kind, statistic))

    @classmethod
    def from_outputs(cls, splits, outputs, extractor) -> FoldMaps:
        """Stack the ``"maps"`` of each fold's output, in split order."""
        weights, patterns = zip(*(out["maps"] for out in outputs), strict=True)
        folds = pd.DataFrame(
            [(repeat, fold) for repeat, fold, _, _ in splits],
            columns=["repeat", "fold"],
        )
        return cls(np.vstack(weights), np.vstack(patterns), folds, extractor)
