"""Weight and pattern maps of many models of one study, and their stability.

Two sets of models: the outer-fold models of a nested CV
(``nested_cross_validate(..., return_maps=True)``), each fitted on its
training part only, so that no map sees its fold's test patients; and
bootstrap refits of the final model (:func:`bootstrap_maps`). Across them the
maps say how stable what the model learns is: the ratio of the mean to the SD
across models (NeuroMiner's cross-validation ratio; the bootstrap ratio of
PLS studies, McIntosh & Lobaugh 2004) and the share of models that agree in
sign. Fold models share most of their training patients (4/5 of the cohort
with 5 folds), so their spread understates the sampling variability of a
map; bootstrap resamples estimate it.
"""

from __future__ import annotations

from dataclasses import dataclass

import joblib
import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import clone

from txpredict.errors import TxpredictError
from txpredict.model_selection._gram import stack_maps
from txpredict.model_selection._runner import Runner

KINDS = ("pattern", "weights")
STATISTICS = ("mean", "ratio", "jackknife_z", "sign_consistency", "all")


@dataclass
class ModelMaps:
    """Weights and Haufe patterns of a set of models, one row per model.

    Attributes
    ----------
    weights, patterns : ndarray of shape (n_models, n_voxels), float32
        In the units of the extracted voxels (see
        ``ResponseClassifier.coef_img_`` and ``pattern_img_``).
    models : DataFrame
        Which model each row is: ``repeat`` and ``fold`` (nested CV) or
        ``bootstrap``.
    extractor : WholeBrainFeatures or RoiFeatures
        The fitted extractor: it puts voxels back on the data grid, and names
        the features (:meth:`table`).

    Examples
    --------
    >>> import txpredict as tp
    >>> cohort = tp.make_synthetic_cohort(40, grid="fsl6", random_state=0)
    >>> result = tp.nested_cross_validate(
    ...     tp.ResponseClassifier("roi"), cohort.X, cohort.y, n_repeats=1,
    ...     return_maps=True)
    >>> result.maps.weights.shape  # 5 outer-fold models x 9 ROIs
    (5, 9)
    >>> list(result.maps.table().columns)
    ['mean', 'sd', 'ratio', 'sign_consistency', 'low', 'high']
    """

    weights: np.ndarray
    patterns: np.ndarray
    models: pd.DataFrame
    extractor: object

    def values(self, kind="pattern", statistic="mean") -> np.ndarray:
        """One value per voxel (per model and voxel for ``"all"``).

        Parameters
        ----------
        kind : {"pattern", "weights"}, default="pattern"
        statistic : {"mean", "ratio", "jackknife_z", "sign_consistency", "all"}
            "mean" over the models; "ratio", the mean over its SD across the
            models (the CV ratio of fold models, the bootstrap ratio of
            bootstrap models; 0 where both are 0); "jackknife_z" (fold models
            only), the mean over the grouped-jackknife SD of each repeat's
            folds (below); "sign_consistency", the share of models with the
            sign most of them have (0.5 to 1; 0 where every map is 0); "all",
            every model's map.

        Notes
        -----
        Fold models share (k - 2)/(k - 1) of their training patients, so their
        SD across folds is about sqrt(k)/(k - 1) of the map's sampling SD (for
        a statistic linear in the patients, exactly): on null data a third of
        the voxels have a CV ratio above 1.96. The k-fold (grouped, delete-n/k)
        jackknife undoes the overlap: Var = (k - 1)/k sum_k (m_k - mean)^2
        over the k fold maps m_k of one repeat (the delete-d jackknife with
        d = n/k; Shao & Tu 1995, The Jackknife and Bootstrap), averaged over
        repeats. "jackknife_z" is the mean map over that SD, a t statistic on
        k - 1 degrees of freedom, returned on the z scale (the normal quantile
        of its t tail probability). On null data (``benchmarks/maps.py``, 20 cohorts of
        100 patients) 5.0% of voxels pass ``|z| > 1.96`` at a fixed C and one
        repeat (4.2% with C tuned; the CV ratio: 32-33%); with 5 repeats
        1.2% (0.8% tuned): conservative, the variance averaged over repeats
        being steadier than k - 1 degrees of freedom say. It is a
        per-voxel statistic, not corrected for the many voxels.
        """
        if kind not in KINDS:
            raise TxpredictError(f"kind must be one of {KINDS}; got {kind!r}.")
        if statistic not in STATISTICS:
            raise TxpredictError(
                f"statistic must be one of {STATISTICS}; got {statistic!r}."
            )
        maps = np.asarray(self.patterns if kind == "pattern" else self.weights)
        if statistic == "all":
            return maps
        if statistic == "sign_consistency":
            return np.maximum((maps > 0).mean(axis=0), (maps < 0).mean(axis=0))
        mean = maps.mean(axis=0, dtype=np.float64)
        if statistic == "mean":
            return mean
        if statistic == "ratio":
            return _ratio(mean, maps.std(axis=0, ddof=1, dtype=np.float64))
        sd, k = self._jackknife_sd(maps)
        t = _ratio(mean, sd)
        # A t statistic on k - 1 degrees of freedom (k folds), on the z scale:
        # the normal quantile of its tail probability.
        return np.sign(t) * stats.norm.isf(stats.t.sf(np.abs(t), k - 1))

    def _jackknife_sd(self, maps):
        """(SD, k): the fold maps' grouped jackknife SD, averaged over repeats.

        k: the fewest folds of a repeat (the t statistic's degrees of freedom).
        """
        if "fold" not in self.models:
            raise TxpredictError(
                "jackknife_z is a statistic of the outer-fold models of a nested CV "
                "(result.maps); for bootstrap models use 'ratio' (the bootstrap ratio)."
            )
        repeats = list(self.models.groupby("repeat").indices.values())
        variances = []
        for rows in repeats:
            folds = maps[rows].astype(np.float64)
            k = len(rows)
            variances.append((k - 1) / k * ((folds - folds.mean(axis=0)) ** 2).sum(0))
        return np.sqrt(np.mean(variances, axis=0)), min(len(r) for r in repeats)

    @property
    def are_voxels(self) -> bool:
        """Whether the features are voxels (images can be built)."""
        return hasattr(self.extractor, "inverse_transform")

    def to_img(self, kind="pattern", statistic="mean"):
        """:meth:`values` as a NIfTI image on the data grid (4D for "all").

        Parameters
        ----------
        kind : {"pattern", "weights"}, default="pattern"
            As :meth:`values`.
        statistic : str, default="mean"
            As :meth:`values`.
        """
        if not self.are_voxels:
            raise TxpredictError(
                f"{type(self.extractor).__name__} features are not voxels: there is "
                "no image to build; use table()."
            )
        return self.extractor.inverse_transform(self.values(kind, statistic))

    def table(self, kind="weights", confidence=0.95) -> pd.DataFrame:
        """Per feature (ROI, voxel): its value across the models.

        Columns ``mean``, ``sd``, ``ratio``, ``sign_consistency`` and the
        central ``confidence`` range of the models' values (``low``,
        ``high``: percentiles across bootstrap models are a percentile
        interval; across fold models only their spread, which understates
        the sampling variability).

        Parameters
        ----------
        kind : {"pattern", "weights"}, default="weights"
            Which maps.
        confidence : float, default=0.95
            The central range of the models' values in ``low`` and ``high``.
        """
        maps = self.values(kind, "all").astype(np.float64)
        tail = (1 - confidence) / 2 * 100
        return pd.DataFrame(
            {
                "mean": self.values(kind, "mean"),
                "sd": maps.std(axis=0, ddof=1),
                "ratio": self.values(kind, "ratio"),
                "sign_consistency": self.values(kind, "sign_consistency"),
                "low": np.percentile(maps, tail, axis=0),
                "high": np.percentile(maps, 100 - tail, axis=0),
            },
            index=pd.Index(self.extractor.get_feature_names_out(), name="feature"),
        )

    @classmethod
    def from_outputs(cls, models, outputs, runner) -> ModelMaps:
        """Stack the ``"maps"`` of each of ``runner``'s outputs, in order."""
        weights, patterns = stack_maps([out["maps"] for out in outputs], runner.design)
        return cls(weights, patterns, models, runner.extractor)


def _ratio(mean, sd):
    """The ratio of mean to SD, 0 where the SD is 0."""
    return np.divide(mean, sd, out=np.zeros_like(mean), where=sd > 0)


def bootstrap_maps(
    model, X, y, *, n_bootstraps=100, random_state=0, n_jobs=None, on_disk="auto"
):
    """Weight and pattern maps of the model refitted on bootstrap resamples.

    The hyperparameters are those the model chooses on the whole cohort (its
    inner CV, once, as ``fit`` does); each resample (patients drawn with replacement) is
    refitted with them, on the Gram route when it applies (one Gram matrix
    for every resample with centred voxels), so that 100 resamples of
    100 patients x 235,000 voxels take seconds. The bootstrap ratio
    (``values(statistic="ratio")``) is the mean map over its bootstrap SD.
    ``nested_cross_validate(..., n_bootstraps=100)`` computes the same maps
    on the features it has extracted (the images are then read once).

    Parameters
    ----------
    model : ResponseClassifier or ResponseRegressor
        A linear model on voxel features.
    X : DataFrame
    y : array-like
    n_bootstraps : int, default=100
    random_state : int, default=0
        Seed of the resamples; the maps do not depend on ``n_jobs``.
    n_jobs : int or None, default=None
    on_disk : "auto", True or False, default="auto"
        Where the voxels are kept, as in :func:`nested_cross_validate`: on
        disk, every resample's maps come from the same streamed products.

    Returns
    -------
    ModelMaps
        One row per resample (``models["bootstrap"]``).

    Examples
    --------
    >>> import txpredict as tp
    >>> cohort = tp.make_synthetic_cohort(30, grid="fsl6", random_state=0)
    >>> model = tp.ResponseClassifier("wholebrain", "ridge", param_grid={})
    >>> maps = tp.bootstrap_maps(model, cohort.X, cohort.y, n_bootstraps=5)
    >>> maps.to_img("pattern", "ratio").shape
    (31, 37, 31)
    """
    check_n_bootstraps(n_bootstraps, minimum=1)
    chooser = Runner(model, X, on_disk=on_disk, probabilities=False)
    chooser.check_maps()
    return bootstrap_from(chooser, np.asarray(y), n_bootstraps, random_state, n_jobs)


def check_n_bootstraps(n_bootstraps, minimum=0):
    """Refuse, before any work, a count of resamples that is not one."""
    if (
        isinstance(n_bootstraps, bool)
        or not isinstance(n_bootstraps, int | np.integer)
        or n_bootstraps < minimum
    ):
        raise TxpredictError(
            f"n_bootstraps must be an integer >= {minimum}; got {n_bootstraps!r}."
        )


def bootstrap_from(
    chooser, y, n_bootstraps, random_state, n_jobs, groups=None, fast_path="auto"
):
    """:func:`bootstrap_maps` on the features a Runner has extracted already.

    ``groups``: kept whole in the inner CV that chooses the hyperparameters
    (as ``fit(..., groups=)``); the resamples draw patients.
    """
    # The hyperparameters, chosen once by the model's inner CV on the whole
    # cohort (on Gram matrices when the route applies, as in the nested CV).
    everyone = np.arange(len(y))
    best = chooser.fit_predict(everyone, everyone[:1], y, groups)["best_params"]
    refit = clone(chooser.estimator).set_params(
        param_grid={k: [v] for k, v in best.items()}
    )
    # The same features: the images are read once.
    runner = Runner(
        refit,
        None,
        fast_path=fast_path,
        extracted=(chooser.extractor, chooser.design),
        probabilities=False,
    )
    rng = np.random.default_rng(random_state)
    samples = [_resample(rng, y) for _ in range(n_bootstraps)]
    outputs = joblib.Parallel(n_jobs=n_jobs)(
        joblib.delayed(runner.fit_predict)(rows, rows[:1], y, None, True)
        for rows in samples
    )
    models = pd.DataFrame({"bootstrap": np.arange(n_bootstraps)})
    return ModelMaps.from_outputs(models, outputs, runner)


def _resample(rng, y):
    """Patients drawn with replacement, redrawn until both classes appear."""
    classes = np.unique(y)
    for _ in range(100):
        rows = np.sort(rng.integers(0, len(y), len(y)))
        if len(classes) > 2 or len(np.unique(y[rows])) == len(classes):
            return rows
    raise TxpredictError("bootstrap_maps: a resample with both classes was not found.")
