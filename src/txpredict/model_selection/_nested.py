"""Nested cross-validation: an honest estimate of performance on the next patient.

Outer loop: repeated stratified k-fold (group-aware when ``groups`` is given).
Inner loop: the model's own hyperparameter search, run on the outer-training
part only. Stateless image extraction runs once for the cohort (it learns
nothing); everything else is refitted in every outer fold.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import is_regressor

from txpredict.errors import TxpredictError
from txpredict.model_selection._model_maps import (
    ModelMaps,
    bootstrap_from,
    check_n_bootstraps,
)
from txpredict.model_selection._permutation import (
    permutation_tests,
)
from txpredict.model_selection._regression_result import RegressionCVResult
from txpredict.model_selection._runner import Runner
from txpredict.model_selection._schemes import (
    outer_splits,
    splits_hash,
)
from txpredict.model_selection._summary import (
    GridEdgeWarning,
    fold_row,
    grid_edge_warnings,
    grid_edges,
    load_result,
    save_result,
    summary_table,
    with_groups,
)
from txpredict.model_selection._validation import inner_groups_of, prepare_inputs
from txpredict.stats import (
    DEFAULT_EXCEEDANCES,
    DEFAULT_METHODS,
    METHODS,
    METRICS,
    CVPredictions,
    binary_metrics,
    calibration_over_repeats,
    check_permutable,
    confusion_counts,
    cv_estimates,
    cv_intervals,
    decision_curve,
    delong_components,
    heterogeneity,
    metrics_from_counts,
    wilson_interval,
)


def nested_cross_validate(
    estimator,
    X,
    y,
    *,
    outer_cv=5,
    inner_cv=None,
    n_repeats=10,
    groups=None,
    inner_groups=True,
    stratify=True,
    allow_loo=False,
    fast_path="auto",
    n_permutations=0,
    n_jobs=None,
    random_state=0,
    progress=False,
    return_maps=False,
    n_bootstraps=0,
    n_exceedances=DEFAULT_EXCEEDANCES,
    on_disk="auto",
):
    """Nested, repeated k-fold cross-validation of a responder classifier.

    Parameters
    ----------
    estimator : ResponseClassifier or scikit-learn classifier
        Cloned for every outer fold. A ResponseClassifier's stateless image
        features are extracted once for the cohort; its hyperparameter search
        (the inner CV) runs on each outer-training part only. Any other
        classifier (e.g. a ``GridSearchCV`` pipeline) is fitted as it is.
    X : DataFrame of shape (n_subjects, n_columns)
    y : Series or array of shape (n_subjects,)
        Responder flag; a Series must be indexed like ``X``.
    outer_cv : int or splitter, default=5
        Folds of the outer stratified k-fold. Leave-one-out ("loo", or as many
        folds as subjects) is refused unless ``allow_loo=True``.
    inner_cv : int or None, default=None
        Override the estimator's ``inner_cv``.
    n_repeats : int, default=10
        Repeats of the outer CV with different shuffles.
    groups : array-like or None, default=None
        E.g. site: a group is never split between training and test, in the
        outer and (unless ``inner_groups=False``) the inner loop.
    inner_groups : bool, default=True
        Keep groups whole in the inner (tuning) CV too. With few groups (3
        sites) there are not enough for the inner folds: pass False to group
        the outer loop only.
    stratify : bool, default=True
    allow_loo : bool, default=False
        Allow leave-one-out (for benchmarks showing its bias); warns.
    fast_path : "auto", True or False, default="auto"
        Use a fast path when it reproduces the model (linear models on image
        features): batched Newton fits for the L2 logistic model on up to 100
        features (ROI summaries, demographics), Gram matrices otherwise. True
        requires one.
    n_permutations : int, default=0
        Run txpredict's test of "better than chance": the whole nested
        procedure (same outer_cv, n_repeats, groups) re-run on this many
        permutations of the labels, within groups when ``groups`` is given
        (see :func:`permutation_test`). Its p-values for AUC and balanced
        accuracy appear in :meth:`NestedCVResult.summary`. 0 skips it. Each
        test stops once its p-value is settled (``n_exceedances``), so this is
        the most permutations it runs.
    n_jobs : int or None, default=None
        Outer folds (or permutations) run in parallel (joblib;
        ``joblib.parallel_config`` picks the backend, e.g. Dask). Results do
        not depend on it.
    random_state : int, default=0
        Seed of the outer shuffles (one derived seed per repeat).
    progress : bool, default=False
        Show the outer folds (and permutations) done, with the time elapsed
        and left, on stderr. The batched logistic route fits all folds at
        once, in about a second, and shows no fold bar.
    return_maps : bool, default=False
        Keep the weights and Haufe patterns of every outer-fold model's image
        features (linear models on voxel or ROI features), in
        ``result.maps`` (:class:`ModelMaps`): their mean, cross-validation
        ratio and sign consistency across folds, as images (voxels) or a
        table (``maps.table()``; ROIs). Each comes from its fold's training
        part only. On the Gram route they cost one product with the training
        voxels per fold; ROI models are then fitted fold by fold.
    n_bootstraps : int, default=0
        Also the maps of the final model refitted on this many bootstrap
        resamples, in ``result.bootstrap_maps``: what :func:`bootstrap_maps`
        computes (hyperparameters chosen once by the inner CV on the whole
        cohort, with ``groups`` kept whole there; resamples seeded by
        ``random_state``), on the features extracted for the nested CV, so
        the images are read once. 0 skips it.
    n_exceedances : int or None, default=10
        Sequential Monte-Carlo p-values (Besag & Clifford 1991): a permutation
        test stops at the permutation whose statistic is the
        ``n_exceedances``-th to reach the observed one, with p = h / L after L
        permutations; a test that never gets there runs all
        ``n_permutations``. Valid p-values either way; a significant result
        (p below ``n_exceedances / n_permutations``) is exactly the fixed-size
        test's. None: always all ``n_permutations``.
    on_disk : "auto", True or False, default="auto"
        Where a whole-brain design is kept. True: extracted once into a
        :class:`~txpredict.features.VoxelStore` on disk (in the model's
        ``memory`` folder, where an interrupted extraction resumes; else a
        temporary folder), and read a block of voxels at a time: memory is
        O(n^2 + n x block) instead of O(n x voxels), the results are the
        in-memory route's. For a linear classifier on image features
        (voxels centred or unscaled; with ComBat, confounds or demographics,
        which are fitted per training set from per-voxel statistics, any
        scaling); others: an error. "auto": on disk when such a model's
        design would take more than 1/8 of the memory available. False: in
        memory.

    Returns
    -------
    NestedCVResult, or RegressionCVResult for a regressor (ResponseRegressor)

    Examples
    --------
    >>> import txpredict as tp
    >>> cohort = tp.make_synthetic_cohort(40, grid="fsl6", random_state=0)
    >>> result = tp.nested_cross_validate(
    ...     tp.ResponseClassifier("roi"), cohort.X, cohort.y, n_repeats=2)
    >>> result
    NestedCVResult(5-fold x 2 repeats, n=40: balanced_accuracy ..., auc ...)
    >>> list(result.summary().columns[:3])
    ['estimate', 'ci_low', 'ci_high']
    """
    regression = is_regressor(estimator)
    estimator, index, y, outer_cv, groups = prepare_inputs(
        estimator,
        X,
        y,
        outer_cv=outer_cv,
        inner_cv=inner_cv,
        n_repeats=n_repeats,
        groups=groups,
        allow_loo=allow_loo,
        continuous=regression,
        n_jobs=n_jobs,
    )
    stratify = stratify and not regression  # a change score has no classes
    check_n_bootstraps(n_bootstraps)
    splits = outer_splits(
        y,
        outer_cv=outer_cv,
        n_repeats=n_repeats,
        groups=groups,
        stratify=stratify,
        random_state=random_state,
    )
    inner_group_labels = inner_groups_of(estimator, groups, splits, inner_groups)
    runner = Runner(estimator, X, fast_path=fast_path, on_disk=on_disk)
    if return_maps or n_bootstraps:
        runner.check_maps()
    if n_permutations:
        check_permutable(y, groups)  # before the work, not after
    outputs = runner.run(
        y, splits, inner_group_labels, n_jobs, progress=progress, maps=return_maps
    )
    permutation = None
    if n_permutations:
        permutation = permutation_tests(
            runner,
            y,
            split_kwargs={
                "outer_cv": outer_cv,
                "n_repeats": n_repeats,
                "groups": groups,
                "stratify": stratify,
                "random_state": random_state,
            },
            groups=groups,
            inner_groups=inner_group_labels,
            n_permutations=n_permutations,
            random_state=random_state,
            n_jobs=n_jobs,
            regression=regression,
            progress=progress,
            n_exceedances=n_exceedances,
        )
    result_type = RegressionCVResult if regression else NestedCVResult
    result = result_type.from_outputs(
        index,
        y,
        splits,
        outputs,
        permutation=permutation,
        groups=groups,
        info={
            "estimator": repr(estimator),
            "outer_cv": outer_cv if isinstance(outer_cv, int | str) else repr(outer_cv),
            "inner_cv": getattr(estimator, "inner_cv", None),
            "n_repeats": len({r for r, *_ in splits}),
            "random_state": random_state,
            "groups": groups is not None,
            "inner_groups": inner_group_labels is not None,
            "fast_path": runner.fast is not None,
            "route": runner.route.name,
            "param_grid": (
                estimator.tuning_grid() if hasattr(estimator, "tuning_grid") else None
            ),
        },
    )
    for message in grid_edge_warnings(result.grid_edges()):
        warnings.warn(message, GridEdgeWarning, stacklevel=2)
    if return_maps:
        result.maps = ModelMaps.from_outputs(
            pd.DataFrame([(r, f) for r, f, _, _ in splits], columns=["repeat", "fold"]),
            outputs,
            runner,
        )
    if n_bootstraps:
        result.bootstrap_maps = bootstrap_from(
            runner,
            y,
            n_bootstraps,
            random_state,
            n_jobs,
            groups=inner_group_labels,
            fast_path=fast_path,
        )
    return result


_FORMAT = "txpredict.NestedCVResult/1"
#: Appended to ci_method under leave-site-out CV.
LEAVE_SITE_OUT_NOTE = (
    "; coverage not measured under leave-site-out (per_site() has valid per-site "
    "intervals)"
)
_PREDICTION_COLUMNS = (
    "repeat",
    "fold",
    "participant_id",
    "y_true",
    "y_pred",
    "score",
    "probability",
    "dummy_score",
    "dummy_pred",
)


@dataclass
class NestedCVResult:
    """Out-of-fold predictions and scores of a nested cross-validation.

    Attributes
    ----------
    predictions : DataFrame
        One row per subject and repeat: ``repeat``, ``fold``,
        ``participant_id``, ``y_true``, ``y_pred``, ``score`` (decision value),
        ``probability`` (NaN if the classifier has none), and the prior-only
        dummy's ``dummy_score`` and ``dummy_pred``.
    folds : DataFrame
        One row per outer fold: sizes, scores, chosen hyperparameters (JSON),
        fit time.
    splits_hash : str
        Fingerprint of the subjects and fold memberships: two results are
        comparable only if these are equal.
    info : dict
        How the result was computed.
    permutation : dict of str to PermutationTestResult or None
        The permutation tests of AUC and balanced accuracy, when
        ``nested_cross_validate`` ran with ``n_permutations``.
    maps : ModelMaps or None
        The weight and pattern maps of every outer-fold model, when
        ``nested_cross_validate`` ran with ``return_maps=True`` (not written
        by :meth:`save`: ``maps.to_img(...).to_filename(...)``).
    bootstrap_maps : ModelMaps or None
        The final model's maps on bootstrap resamples, when
        ``nested_cross_validate`` ran with ``n_bootstraps`` (not saved either).
    """

    predictions: pd.DataFrame
    folds: pd.DataFrame
    splits_hash: str
    info: dict = field(default_factory=dict)
    permutation: dict | None = None
    maps: ModelMaps | None = field(default=None, repr=False, compare=False)
    bootstrap_maps: ModelMaps | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_outputs(
        cls, index, y, splits, outputs, info, permutation=None, groups=None
    ):
        """Assemble the tidy tables from the per-fold outputs."""
        columns = {name: [] for name in _PREDICTION_COLUMNS}
        fold_rows = []
        ids = np.asarray(index).astype(str)
        for (repeat, fold, train, test), out in zip(splits, outputs, strict=True):
            probability = out["probability"]
            for name, values in (
                ("repeat", np.full(len(test), repeat)),
                ("fold", np.full(len(test), fold)),
                ("participant_id", ids[test]),
                ("y_true", y[test]),
                ("y_pred", np.asarray(out["y_pred"]).astype(int)),
                ("score", np.asarray(out["score"], dtype=float)),
                (
                    "probability",
                    np.full(len(test), np.nan) if probability is None else probability,
                ),
                ("dummy_score", out["dummy_score"]),
                ("dummy_pred", out["dummy_pred"]),
            ):
                columns[name].append(values)
            metrics = binary_metrics(y[test], out["y_pred"], out["score"])
            fold_rows.append(fold_row(repeat, fold, train, test, out, metrics))
        predictions = with_groups(
            pd.DataFrame(
                {name: np.concatenate(parts) for name, parts in columns.items()}
            ),
            splits,
            groups,
        )
        info = {**info, "n_subjects": len(y), "n_responders": int(y.sum())}
        return cls(
            predictions,
            pd.DataFrame(fold_rows),
            splits_hash(index, splits),
            info,
            permutation,
        )

    # -- summaries ------------------------------------------------------------
    def cv_predictions(self, dummy=False) -> CVPredictions:
        """The out-of-fold predictions grouped for :mod:`txpredict.stats`.

        Parameters
        ----------
        dummy : bool, default=False
            The prior-only dummy's predictions instead of the model's.
        """
        p = self.predictions
        return CVPredictions(
            p["y_true"],
            p["dummy_pred" if dummy else "y_pred"],
            p["dummy_score" if dummy else "score"],
            p["repeat"],
            p["fold"],
        )

    def per_repeat(self) -> pd.DataFrame:
        """Metrics of each repeat (one row per repeat).

        Confusion counts and the metrics of each repeat's pooled out-of-fold
        predictions; ``auc`` is the mean of that repeat's fold AUCs.
        """
        cv = self.cv_predictions()
        counts = cv.per_repeat_counts
        table = pd.concat(
            [
                pd.Series(cv.repeats, name="repeat"),
                counts,
                pd.DataFrame(
                    [metrics_from_counts(**row) for row in counts.to_dict("records")]
                ),
            ],
            axis=1,
        )
        fold_auc = pd.Series(cv.fold_values["auc"].to_numpy(), index=cv.fold_repeat)
        table["auc"] = fold_auc.groupby(level=0).mean().to_numpy()
        return table[["repeat", *counts.columns, *METRICS]]

    def intervals(self, method=None, confidence=0.95) -> pd.DataFrame:
        """Every interval method side by side (or one), for every metric.

        Parameters
        ----------
        method : {"test_set", "corrected_folds", "corrected_test_set"} or None
            None: all of them. See :mod:`txpredict.stats._cv` for what each is
            and ``benchmarks/calibration.py`` for their measured coverage;
            :meth:`summary` shows, per metric, the narrowest that reached it.
        confidence : float, default=0.95

        Returns
        -------
        DataFrame
            One row per metric and method: ``estimate``, ``ci_low``, ``ci_high``.
        """
        methods = METHODS if method is None else [method]
        cv = self.cv_predictions()
        return (
            pd.concat(
                {m: cv_intervals(cv, m, confidence) for m in methods},
                names=["method", "metric"],
            )
            .swaplevel()
            .sort_index(level=0, sort_remaining=False)
        )

    def summary(self, confidence=0.95) -> pd.DataFrame:
        """Sensitivity, specificity, balanced accuracy, AUC, PPV and NPV.

        ``estimate``: sensitivity, specificity, balanced accuracy, PPV and NPV
        pooled over each repeat's out-of-fold predictions, averaged over
        repeats; the AUC is the mean of the outer folds' AUCs (decision values
        of different folds are not comparable).

        ``ci_low``/``ci_high``: for each metric, the narrowest interval whose
        coverage of the true performance (of the model fitted to the cohort,
        on new patients) was at least 93% in every setting of
        ``benchmarks/calibration.py`` and at most 97% up to Monte-Carlo error
        (``ci_method`` names it; the measured coverage is on the documentation's
        benchmarks page and in the report). :meth:`intervals` shows every method.

        ``p_value``: txpredict's answer to "better than chance" for AUC and
        balanced accuracy, the permutation test of the whole nested procedure
        (NaN unless ``nested_cross_validate`` ran with ``n_permutations``).

        ``sd_across_repeats`` shows how much the estimate moves with the fold
        shuffle alone; it is not a CI. The prior-only dummy (predicts the
        training majority) and chance are shown beside the model, always.

        Parameters
        ----------
        confidence : float, default=0.95
            Level of the intervals.
        """
        cv = self.cv_predictions()
        by_method = {
            m: cv_intervals(cv, m, confidence) for m in set(DEFAULT_METHODS.values())
        }
        per_repeat = self.per_repeat()
        dummy = cv_estimates(self.cv_predictions(dummy=True))
        prevalence = self.info.get("n_responders", np.nan) / self.info.get(
            "n_subjects", np.nan
        )
        chance = dict.fromkeys(METRICS, 0.5) | {
            "ppv": prevalence,
            "npv": 1 - prevalence,
        }
        table = summary_table(
            METRICS,
            DEFAULT_METHODS,
            by_method,
            self.permutation,
            per_repeat,
            {"chance": chance, "dummy_prior": dummy},
        )
        if self.info.get("outer_cv") == "leave-site-out":
            # The methods were chosen on k-fold CV; with one fold per site (J
            # small, folds of unequal size) their coverage is not measured.
            table["ci_method"] = table["ci_method"] + LEAVE_SITE_OUT_NOTE
        return table

    def calibration(self) -> pd.DataFrame:
        """How well the out-of-fold probabilities of response are calibrated.

        Each patient's probability comes from the model of the fold that never
        saw them, class-balanced probabilities shifted back to that fold's
        training prevalence (:func:`txpredict.stats.prior_shift`). Per repeat,
        the out-of-fold probabilities of all patients are scored together
        (probabilities of different folds' models share a scale, unlike
        decision values), then the measures are averaged over repeats.

        Returns
        -------
        DataFrame
            One row per measure: ``observed`` response rate, ``mean_predicted``
            probability, calibration ``intercept`` (0 when perfect) and
            ``slope`` (1 when perfect; below 1: too extreme), ``brier`` score;
            columns ``estimate`` (mean over repeats) and ``sd_across_repeats``.
            Intervals are not given: their coverage has not been measured.
            Empty when the classifier gives no probabilities.
        """
        if self.predictions["probability"].isna().all():
            return pd.DataFrame(columns=["estimate", "sd_across_repeats"])
        return calibration_over_repeats(
            (part["y_true"], part["probability"])
            for _, part in self.predictions.groupby("repeat")
        )

    def decision_curve(self, thresholds=None) -> pd.DataFrame:
        """Net benefit of acting on the model's probabilities (Vickers & Elkin 2006).

        At a threshold probability t, treating (or, for a responder model,
        offering the therapy to) every patient whose out-of-fold probability
        is at least t has net benefit TP/n - FP/n * t / (1 - t), next to
        treating everyone (prevalence - (1 - prevalence) t / (1 - t)) and
        no one (0). Pooled per repeat, averaged over repeats.

        Parameters
        ----------
        thresholds : array-like or None, default=None
            Threshold probabilities, each strictly between 0 and 1. None:
            0.05, 0.10, ..., 0.95.

        Returns
        -------
        DataFrame
            One row per threshold: ``net_benefit``, ``treat_all``,
            ``treat_none``, and the ``sensitivity`` and ``specificity`` of
            acting at that threshold.
        """
        thresholds = (
            np.round(np.arange(0.05, 0.951, 0.05), 2)
            if thresholds is None
            else np.atleast_1d(np.asarray(thresholds, dtype=float))
        )
        if not ((thresholds > 0) & (thresholds < 1)).all():
            raise TxpredictError(
                "decision_curve: thresholds must lie strictly between 0 and 1 "
                f"(threshold probabilities); got {thresholds.tolist()!r}."
            )
        if self.predictions["probability"].isna().all():
            raise TxpredictError(
                "decision_curve needs probabilities, and this classifier gives "
                "none (e.g. 'linear_svm'); use 'logistic' or 'random_forest'."
            )
        curves = [
            decision_curve(part["y_true"], part["probability"], thresholds)
            for _, part in self.predictions.groupby("repeat")
        ]
        return pd.concat(curves).groupby(level=0).mean().rename_axis("threshold")

    def grid_edges(self) -> pd.DataFrame:
        """How often the inner CV chose each end of each tuned grid.

        A value chosen at one end in a third of the outer folds or more is
        warned about by :func:`nested_cross_validate` (``GridEdgeWarning``):
        the best value may lie beyond the grid.

        Returns
        -------
        DataFrame
            One row per numeric parameter of three values or more:
            ``lowest``, ``highest``, ``at_lowest``, ``at_highest``, ``n_folds``.
        """
        return grid_edges(self.folds, self.info.get("param_grid"))

    def per_site(self, confidence=0.95) -> pd.DataFrame:
        """Performance on each site's patients (needs ``groups``).

        Under ``outer_cv="leave-site-out"`` each site's patients were predicted
        by one model that never saw the site: its performance there is the
        model's performance at a new clinic, and test-set intervals are valid
        for it (Wilson, the binomial variances for balanced accuracy, DeLong
        for the AUC). With grouped k-fold the rows of several repeats are
        pooled and the intervals are approximate.

        Parameters
        ----------
        confidence : float, default=0.95
            Level of the intervals.

        Returns
        -------
        DataFrame
            One row per site: ``n``, ``n_responders``, and for sensitivity,
            specificity, balanced accuracy and AUC the estimate and interval
            (``<metric>``, ``<metric>_low``, ``<metric>_high``); NaN where a site
            lacks a class.
        """
        if "group" not in self.predictions:
            raise TxpredictError(
                "per_site() needs the sites: run nested_cross_validate with "
                "groups= (e.g. outer_cv='leave-site-out', groups='site')."
            )
        z = stats.norm.ppf(0.5 + confidence / 2)
        rows = []
        for site, frame in self.predictions.groupby("group", sort=True):
            y, pred = frame["y_true"].to_numpy(), frame["y_pred"].to_numpy()
            counts = confusion_counts(y, pred)
            n_pos, n_neg = counts["tp"] + counts["fn"], counts["tn"] + counts["fp"]
            metrics = metrics_from_counts(**counts)
            row = {
                "site": site,
                "n": len(frame) // self.predictions["repeat"].nunique(),
                "n_responders": int(y.sum()) // self.predictions["repeat"].nunique(),
            }
            for name, hits, total in (
                ("sensitivity", counts["tp"], n_pos),
                ("specificity", counts["tn"], n_neg),
            ):
                row[name] = metrics[name]
                row[f"{name}_low"], row[f"{name}_high"] = wilson_interval(
                    hits, total, confidence
                )
            sens, spec = metrics["sensitivity"], metrics["specificity"]
            ba = metrics["balanced_accuracy"]
            se = (
                np.sqrt(sens * (1 - sens) / n_pos + spec * (1 - spec) / n_neg) / 2
                if n_pos and n_neg
                else np.nan
            )
            row |= {
                "balanced_accuracy": ba,
                "balanced_accuracy_se": se,
                "balanced_accuracy_low": ba - z * se,
                "balanced_accuracy_high": ba + z * se,
            }
            if n_pos > 1 and n_neg > 1:
                auc, covariance = delong_components(y, frame["score"].to_numpy())
                auc_se = float(np.sqrt(covariance[0, 0]))
                row |= {
                    "auc": float(auc[0]),
                    "auc_se": auc_se,
                    "auc_low": auc[0] - z * auc_se,
                    "auc_high": auc[0] + z * auc_se,
                }
            else:
                row |= dict.fromkeys(["auc", "auc_se", "auc_low", "auc_high"], np.nan)
            rows.append(row)
        return pd.DataFrame(rows).set_index("site")

    def heterogeneity(self, confidence=0.95) -> pd.DataFrame:
        """Do the sites agree? Cochran's Q, I^2 and the random-effects estimate.

        From :meth:`per_site` (balanced accuracy and AUC, inverse-variance
        weights; sites lacking a class left out). See
        :func:`txpredict.stats.heterogeneity`.

        Parameters
        ----------
        confidence : float, default=0.95
            Level of the intervals.
        """
        sites = self.per_site(confidence)
        return pd.DataFrame(
            {
                metric: heterogeneity(
                    sites[metric], sites[f"{metric}_se"] ** 2, confidence
                )
                for metric in ("balanced_accuracy", "auc")
            }
        ).T

    def to_frame(self) -> pd.DataFrame:
        """The out-of-fold predictions (one row per subject and repeat)."""
        return self.predictions.copy()

    def best_params(self) -> pd.DataFrame:
        """Hyperparameters chosen in each outer fold."""
        params = self.folds["best_params"].map(json.loads)
        return pd.concat(
            [
                self.folds[["repeat", "fold"]],
                pd.DataFrame(params.tolist(), index=self.folds.index),
            ],
            axis=1,
        )

    def __repr__(self) -> str:
        s = self.summary()
        parts = [
            f"{m} {s.at[m, 'estimate']:.2f} [{s.at[m, 'ci_low']:.2f}, "
            f"{s.at[m, 'ci_high']:.2f}]"
            for m in ("balanced_accuracy", "auc")
        ]
        scheme = self.info.get("outer_cv")
        scheme = (
            f"leave-site-out ({self.predictions['fold'].nunique()} sites)"
            if scheme == "leave-site-out"
            else f"{scheme}-fold x {self.info.get('n_repeats')} repeats"
        )
        return (
            f"NestedCVResult({scheme}, n={self.info.get('n_subjects')}: "
            + ", ".join(parts)
            + ")"
        )

    # -- persistence ----------------------------------------------------------
    def save(self, path) -> None:
        """Write the result as one JSON file (atomically).

        Parameters
        ----------
        path : str or pathlib.Path
            The JSON file to write; replaced atomically.
        """
        save_result(self, path, _FORMAT)

    @classmethod
    def load(cls, path) -> NestedCVResult:
        """Read a result written by :meth:`save`."""
        return load_result(cls, path, _FORMAT)
