"""RegressionCVResult: out-of-fold predictions of a symptom change, summarised."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from txpredict.errors import TxpredictError
from txpredict.model_selection._schemes import splits_hash
from txpredict.model_selection._summary import (
    fold_row,
    grid_edges,
    load_result,
    save_result,
    summary_table,
    with_groups,
)
from txpredict.stats import (
    DEFAULT_METHODS,
    DEFAULT_REGRESSION_METHODS,
    METRICS,
    REGRESSION_METHODS,
    REGRESSION_METRICS,
    CVPredictions,
    cv_intervals,
    regression_intervals,
    regression_metrics,
)

_FORMAT = "txpredict.RegressionCVResult/1"


@dataclass
class RegressionCVResult:
    """Out-of-fold predictions of a continuous outcome (nested CV).

    Attributes
    ----------
    predictions : DataFrame
        One row per subject and repeat: ``repeat``, ``fold``,
        ``participant_id``, ``y_true``, ``y_pred`` and the training mean
        ``dummy_pred`` (the prediction of a model without features).
    folds : DataFrame
        One row per outer fold: sizes, r, r2, mae, chosen hyperparameters.
    splits_hash : str
    info : dict
    permutation : dict or None
        Permutation tests of ``r`` (and ``mae``), when run.
    maps : ModelMaps or None
        The outer-fold models' maps, with ``return_maps=True``.
    bootstrap_maps : ModelMaps or None
        The final model's maps on bootstrap resamples, with ``n_bootstraps``.
    """

    predictions: pd.DataFrame
    folds: pd.DataFrame
    splits_hash: str
    info: dict = field(default_factory=dict)
    permutation: dict | None = None
    maps: object = field(default=None, repr=False, compare=False)
    bootstrap_maps: object = field(default=None, repr=False, compare=False)

    @classmethod
    def from_outputs(
        cls, index, y, splits, outputs, info, permutation=None, groups=None
    ):
        """Assemble the tidy tables from the per-fold outputs."""
        ids = np.asarray(index).astype(str)
        rows, fold_rows = [], []
        for (repeat, fold, train, test), out in zip(splits, outputs, strict=True):
            rows.append(
                pd.DataFrame(
                    {
                        "repeat": repeat,
                        "fold": fold,
                        "participant_id": ids[test],
                        "y_true": y[test],
                        "y_pred": np.asarray(out["y_pred"], dtype=float),
                        "dummy_pred": out["dummy_pred"],
                    }
                )
            )
            metrics = regression_metrics(y[test], out["y_pred"])
            fold_rows.append(fold_row(repeat, fold, train, test, out, metrics))
        predictions = with_groups(pd.concat(rows, ignore_index=True), splits, groups)
        info = {**info, "n_subjects": len(y), "outcome_mean": float(np.mean(y))}
        return cls(
            predictions, pd.DataFrame(fold_rows), splits_hash(index, splits), info,
            permutation,
        )  # fmt: skip

    def _columns(self, prediction="y_pred"):
        p = self.predictions
        return p["y_true"], p[prediction], p["repeat"], p["fold"]

    def intervals(self, method=None, confidence=0.95) -> pd.DataFrame:
        """Every interval method side by side (or one) for r, r2 and mae.

        Parameters
        ----------
        method : str or None, default=None
            One of :data:`txpredict.stats.REGRESSION_METHODS`; None: every method.
        confidence : float, default=0.95
            Level of the intervals.
        """
        methods = REGRESSION_METHODS if method is None else [method]
        return (
            pd.concat(
                {
                    m: regression_intervals(*self._columns(), m, confidence)
                    for m in methods
                },
                names=["method", "metric"],
            )
            .swaplevel()
            .sort_index(level=0, sort_remaining=False)
        )

    def summary(self, confidence=0.95) -> pd.DataFrame:
        """Pearson r, R^2 and the MAE: estimate, interval, permutation p-value, dummy.

        Each metric is computed on each repeat's pooled out-of-fold
        predictions and averaged over repeats. The interval is the method
        (``ci_method``) that reached 93-97% coverage in
        ``benchmarks/calibration.py``: for the MAE the corrected fold variance
        (96-97%); no method reached it for r and R^2 (66-90%: the
        cross-validated r is biased low at small n), so their ``ci_low`` and
        ``ci_high`` are empty; ``intervals()`` computes them anyway, and the
        permutation p-value tests r > 0. ``dummy`` predicts the training mean
        (r undefined, r2 just below 0).

        Two r's: ``r`` correlates each repeat's out-of-fold predictions pooled
        over its outer folds (how well the predictions rank all patients,
        the headline); ``r_fold_mean`` averages each outer test fold's own r
        (what :func:`txpredict.compare` tests). Pooling mixes models that
        differ in offset and scale, so ``r`` can be much lower than
        ``r_fold_mean``: predictions that rank patients within a fold but
        shift between folds (a site held out, ComBat refitted) do not rank
        the whole cohort. Descriptive: no interval.

        Parameters
        ----------
        confidence : float, default=0.95
            Level of the intervals.
        """
        by_method = {
            m: regression_intervals(*self._columns(), m, confidence)
            for m in set(DEFAULT_REGRESSION_METHODS.values()) - {None}
        }
        dummy = regression_intervals(*self._columns("dummy_pred"), "test_set")
        per_repeat = pd.DataFrame(
            [
                regression_metrics(g["y_true"], g["y_pred"])
                for _, g in self.predictions.groupby("repeat")
            ]
        )
        table = summary_table(
            REGRESSION_METRICS,
            DEFAULT_REGRESSION_METHODS,
            by_method,
            self.permutation,
            per_repeat,
            {"dummy": dummy["estimate"]},
        )
        fold_r = self.folds["r"].dropna()
        table.loc["r_fold_mean"] = np.nan
        table.loc["r_fold_mean", ["estimate", "ci_method"]] = [
            fold_r.mean(),
            "descriptive: the mean of the outer test folds' r",
        ]
        by_repeat = fold_r.groupby(self.folds["repeat"]).mean()
        if len(by_repeat) > 1:
            table.loc["r_fold_mean", "sd_across_repeats"] = by_repeat.std(ddof=1)
        return table.reindex(["r", "r_fold_mean", *REGRESSION_METRICS[1:]])

    def grid_edges(self) -> pd.DataFrame:
        """How often the inner CV chose each end of each tuned grid.

        As :meth:`NestedCVResult.grid_edges`.
        """
        return grid_edges(self.folds, self.info.get("param_grid"))

    def responders(self, threshold, *, confidence=0.95) -> pd.DataFrame:
        """Responder classification read off the predicted change.

        A patient is a predicted responder when the predicted change reaches
        ``threshold`` (e.g. 50 for a 50% reduction), an observed one when the
        observed change does; the predicted change is the score of the AUC.
        Estimates and intervals as in :meth:`NestedCVResult.summary`.

        Parameters
        ----------
        threshold : float
            A patient is a predicted (and an observed) responder at an outcome
            of at least ``threshold`` (e.g. 50 for a 50% symptom reduction).
        confidence : float, default=0.95
            Level of the intervals.

        Returns
        -------
        DataFrame
            Sensitivity, specificity, balanced accuracy, AUC, PPV, NPV.
        """
        p = self.predictions
        observed = (p["y_true"] >= threshold).astype(int)
        if observed.nunique() < 2:
            raise TxpredictError(
                f"No patient (or every patient) reaches threshold={threshold!r}: "
                "responders cannot be scored. Choose a threshold within the outcome's "
                "range."
            )
        cv = CVPredictions(
            observed,
            (p["y_pred"] >= threshold).astype(int),
            p["y_pred"],
            p["repeat"],
            p["fold"],
        )
        table = pd.concat(
            [
                cv_intervals(cv, method, confidence)
                .loc[[metric]]
                .assign(ci_method=method)
                for metric, method in DEFAULT_METHODS.items()
            ]
        )
        return table.loc[list(METRICS)]

    def __repr__(self) -> str:
        s = self.summary()
        parts = [
            f"{m} {s.at[m, 'estimate']:.2f} [{s.at[m, 'ci_low']:.2f}, "
            f"{s.at[m, 'ci_high']:.2f}]"
            for m in ("r", "mae")
        ]
        return (
            f"RegressionCVResult({self.info.get('outer_cv')}-fold x "
            f"{self.info.get('n_repeats')} repeats, n={self.info.get('n_subjects')}: "
            + ", ".join(parts)
            + ")"
        )

    def save(self, path) -> None:
        """Write the result as one JSON file (atomically), permutations included.

        Parameters
        ----------
        path : str or pathlib.Path
            The JSON file to write; replaced atomically.
        """
        save_result(self, path, _FORMAT)

    @classmethod
    def load(cls, path) -> RegressionCVResult:
        """Read a result written by :meth:`save`."""
        return load_result(cls, path, _FORMAT)
