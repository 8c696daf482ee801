"""Nested cross-validation: an honest estimate of performance on the next patient.

Outer loop: repeated stratified k-fold (group-aware when ``groups`` is given).
Inner loop: the model's own hyperparameter search, run on the outer-training
part only. Stateless image extraction runs once for the cohort (it learns
nothing); everything else is refitted in every outer fold.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import joblib
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils import _safe_indexing

from txpredict._io import write_text_atomic
from txpredict.errors import TxpredictError
from txpredict.model_selection._batched_logistic import (
    LogisticFastPath,
    batched_search_of,
)
from txpredict.model_selection._gram import GramFastPath, fast_path_family
from txpredict.model_selection._schemes import (
    check_class_sizes,
    check_groups,
    check_inner_groups,
    check_outer_cv,
    n_folds,
    outer_splits,
    splits_hash,
)
from txpredict.stats import (
    binary_metrics,
    confusion_counts,
    delong_auc_ci,
    metrics_from_counts,
    wilson_interval,
)


def check_X_y(X, y):
    """Align y to X; refuse NaN, mismatched lengths or indices, non-binary y."""
    if not hasattr(X, "__len__"):
        raise TxpredictError("X must be a DataFrame (or array) of subjects.")
    index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(len(X))
    if isinstance(y, pd.Series):
        if len(y) != len(index):
            raise TxpredictError(
                f"X has {len(index)} subjects but y has {len(y)} values; pass the "
                "outcome of exactly the subjects in X (e.g. cohort.X, cohort.y)."
            )
        if isinstance(X, pd.DataFrame) and not y.index.equals(index):
            if set(y.index) != set(index):
                only_x = sorted(map(str, set(index) - set(y.index)))[:5]
                only_y = sorted(map(str, set(y.index) - set(index)))[:5]
                raise TxpredictError(
                    "The indices of X and y name different subjects (only in X: "
                    f"{only_x}; only in y: {only_y}). Use y from the same cohort."
                )
            y = y.reindex(index)
        values = y.to_numpy()
    else:
        values = np.asarray(y)
        if len(values) != len(index):
            raise TxpredictError(
                f"X has {len(index)} subjects but y has {len(values)} values."
            )
    missing = pd.isna(values)
    if missing.any():
        raise TxpredictError(
            f"y is missing for {int(missing.sum())} subject(s): "
            f"{list(map(str, index[missing]))[:10]}. Remove them or fill the outcome."
        )
    labels = np.unique(values)
    if not set(labels.tolist()) <= {0, 1}:
        raise TxpredictError(
            f"y must be binary (1 = responder, 0 = non-responder); got values "
            f"{labels.tolist()[:10]}."
        )
    return index, values.astype(int)


class _Runner:
    """Everything of a nested CV that does not depend on the labels, built once.

    Stateless image features are extracted for the whole cohort, and on the Gram
    fast path the Gram matrix is formed, so that repeats and permutations reuse
    them.
    """

    def __init__(self, estimator, X, *, fast_path="auto"):
        from txpredict.models import ResponseClassifier

        self.estimator = estimator
        self.is_response_model = isinstance(estimator, ResponseClassifier)
        self.extractor = None
        if self.is_response_model:
            self.extractor = estimator.make_extractor()
            if self.extractor is not None:
                self.extractor.fit(X)
            self.design = estimator.design(X, self.extractor)
        else:
            self.design = X
        # The one place that picks a route: batched logistic fits (few features,
        # any per-fold preparation), Gram matrices (linear models, many
        # features), or the generic fold-by-fold scikit-learn route.
        self.fast = None
        if fast_path:
            batched = batched_search_of(estimator, self.design)
            family = fast_path_family(estimator, self.design)
            if batched is not None:
                self.fast = LogisticFastPath(estimator, batched[1], batched[0])
            elif family is not None:
                self.fast = GramFastPath(estimator, self.design, family)
        if fast_path is True and self.fast is None:
            raise TxpredictError(
                "fast_path=True, but no fast path applies to this model: it needs a "
                "ResponseClassifier with either the 'logistic' classifier tuned over "
                "C on at most 100 features, or a linear classifier ('linear_svm', "
                "'logistic', 'ridge') on image features with no select_percentile/"
                "pca_components and no missing values."
            )

    def fit_predict(self, train, test, y, groups):
        start = time.perf_counter()
        if self.fast is not None:
            out = self.fast.fit_predict(train, test, y, groups)
        else:
            out = self._generic(train, test, y, groups)
        out["fit_seconds"] = time.perf_counter() - start
        out.update(self._dummy(y, train, test))
        return out

    def _generic(self, train, test, y, groups):
        model = clone(self.estimator)
        train_design = _safe_indexing(self.design, train)
        test_design = _safe_indexing(self.design, test)
        group_train = None if groups is None else groups[train]
        if self.is_response_model:
            model.fit_design(train_design, y[train], self.extractor, groups=group_train)
            predictor = model.search_
            params = model.best_params_
        else:
            fit_params = {} if group_train is None else {"groups": group_train}
            model.fit(train_design, y[train], **fit_params)
            predictor = model
            params = getattr(model, "best_params_", {})
        probability = (
            predictor.predict_proba(test_design)[:, 1]
            if hasattr(predictor, "predict_proba")
            else None
        )
        score = (
            predictor.decision_function(test_design)
            if hasattr(predictor, "decision_function")
            else probability
        )
        return {
            "score": np.asarray(score, float),
            "probability": probability,
            "y_pred": np.asarray(predictor.predict(test_design)),
            "best_params": dict(params),
        }

    def run(self, y, splits, groups, n_jobs=None):
        """Outputs of every (repeat, fold, train, test) split, in order."""
        if not hasattr(self.fast, "fit_predict_many"):
            return joblib.Parallel(n_jobs=n_jobs)(
                joblib.delayed(self.fit_predict)(train, test, y, groups)
                for _, _, train, test in splits
            )
        # Batched: every fit of every split is solved at once, in one process.
        start = time.perf_counter()
        outputs = self.fast.fit_predict_many(
            [(train, test) for _, _, train, test in splits], y, groups
        )
        seconds = (time.perf_counter() - start) / len(splits)
        for (_, _, train, test), out in zip(splits, outputs, strict=True):
            out["fit_seconds"] = seconds
            out.update(self._dummy(y, train, test))
        return outputs

    @staticmethod
    def _dummy(y, train, test):
        """The prior-only dummy: the training majority, scored by its prevalence."""
        prevalence = y[train].mean()
        return {
            "dummy_score": np.full(len(test), prevalence),
            "dummy_pred": np.full(len(test), int(prevalence > 0.5)),
        }


def _prepare(estimator, X, y, *, outer_cv, inner_cv, n_repeats, groups, allow_loo):
    index, y = check_X_y(X, y)
    n = len(y)
    outer_cv = check_outer_cv(outer_cv, n, allow_loo=allow_loo)
    if groups is not None:
        groups = np.asarray(
            groups.reindex(index)
            if isinstance(groups, pd.Series) and isinstance(X, pd.DataFrame)
            else groups
        )
        if len(groups) != n:
            raise TxpredictError(f"groups has {len(groups)} values for {n} subjects.")
    k = n_folds(outer_cv, n, groups)
    if outer_cv != "loo":
        check_class_sizes(y, k)
        if groups is not None:
            check_groups(groups, k)
    if inner_cv is not None:
        if not hasattr(estimator, "inner_cv"):
            raise TxpredictError(
                f"inner_cv={inner_cv!r} was given but {type(estimator).__name__} has "
                "no inner_cv parameter; set the inner CV on the estimator itself."
            )
        estimator = clone(estimator).set_params(inner_cv=inner_cv)
    if hasattr(estimator, "inner_cv") and isinstance(estimator.inner_cv, int):
        check_class_sizes(
            y,
            estimator.inner_cv,
            what="inner_cv",
            fraction=(k - 1) / k if outer_cv != "loo" else 1.0,
        )
    if not isinstance(n_repeats, int | np.integer) or n_repeats < 1:
        raise TxpredictError(
            f"n_repeats must be a positive integer; got {n_repeats!r}."
        )
    return estimator, index, y, outer_cv, groups


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
    n_jobs=None,
    random_state=0,
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
        features (ROI summaries), Gram matrices otherwise. True requires one.
    n_jobs : int or None, default=None
        Outer folds run in parallel (joblib; ``joblib.parallel_config`` picks
        the backend, e.g. Dask). Results do not depend on it.
    random_state : int, default=0
        Seed of the outer shuffles (one derived seed per repeat).

    Returns
    -------
    NestedCVResult

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
    estimator, index, y, outer_cv, groups = _prepare(
        estimator,
        X,
        y,
        outer_cv=outer_cv,
        inner_cv=inner_cv,
        n_repeats=n_repeats,
        groups=groups,
        allow_loo=allow_loo,
    )
    splits = outer_splits(
        y,
        outer_cv=outer_cv,
        n_repeats=n_repeats,
        groups=groups,
        stratify=stratify,
        random_state=random_state,
    )
    inner_group_labels = groups if inner_groups else None
    if inner_group_labels is not None and isinstance(
        getattr(estimator, "inner_cv", None), int
    ):
        check_inner_groups(groups, splits, estimator.inner_cv)
    runner = _Runner(estimator, X, fast_path=fast_path)
    outputs = runner.run(y, splits, inner_group_labels, n_jobs)
    return NestedCVResult.from_outputs(
        index,
        y,
        splits,
        outputs,
        info={
            "estimator": repr(estimator),
            "outer_cv": outer_cv if isinstance(outer_cv, int | str) else repr(outer_cv),
            "inner_cv": getattr(estimator, "inner_cv", None),
            "n_repeats": len({r for r, *_ in splits}),
            "random_state": random_state,
            "groups": groups is not None,
            "inner_groups": inner_group_labels is not None,
            "fast_path": runner.fast is not None,
        },
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
    """

    predictions: pd.DataFrame
    folds: pd.DataFrame
    splits_hash: str
    info: dict = field(default_factory=dict)

    @classmethod
    def from_outputs(cls, index, y, splits, outputs, info):
        """Assemble the tidy tables from the per-fold outputs."""
        rows, fold_rows = [], []
        for (repeat, fold, train, test), out in zip(splits, outputs, strict=True):
            probability = out["probability"]
            rows.append(
                pd.DataFrame(
                    {
                        "repeat": repeat,
                        "fold": fold,
                        "participant_id": np.asarray(index)[test].astype(str),
                        "y_true": y[test],
                        "y_pred": np.asarray(out["y_pred"]).astype(int),
                        "score": out["score"],
                        "probability": np.nan if probability is None else probability,
                        "dummy_score": out["dummy_score"],
                        "dummy_pred": out["dummy_pred"],
                    }
                )
            )
            fold_rows.append(
                {
                    "repeat": repeat,
                    "fold": fold,
                    "n_train": len(train),
                    "n_test": len(test),
                    **binary_metrics(y[test], out["y_pred"], out["score"]),
                    "best_params": json.dumps(
                        out["best_params"], sort_keys=True, default=str
                    ),
                    "fit_seconds": out["fit_seconds"],
                }
            )
        predictions = pd.concat(rows, ignore_index=True)
        info = {**info, "n_subjects": len(y), "n_responders": int(y.sum())}
        return cls(
            predictions, pd.DataFrame(fold_rows), splits_hash(index, splits), info
        )

    # -- summaries ------------------------------------------------------------
    def _per_repeat(self, pred_column, score_column):
        out = []
        for repeat, frame in self.predictions.groupby("repeat"):
            y, pred = frame["y_true"].to_numpy(), frame[pred_column].to_numpy()
            counts = confusion_counts(y, pred)
            auc, low, high = delong_auc_ci(y, frame[score_column].to_numpy())
            out.append(
                {
                    "repeat": repeat,
                    **counts,
                    **metrics_from_counts(**counts),
                    "auc": auc,
                    "auc_se": (high - low) / (2 * 1.959964),
                }
            )
        return pd.DataFrame(out)

    def per_repeat(self) -> pd.DataFrame:
        """Metrics of each repeat, pooled over its folds (one row per repeat)."""
        return self._per_repeat("y_pred", "score")

    def summary(self, confidence=0.95) -> pd.DataFrame:
        """Sensitivity, specificity, balanced accuracy, AUC, PPV and NPV.

        Each estimate is the mean over repeats of the metric pooled over that
        repeat's out-of-fold predictions (every subject predicted once per
        repeat). Confidence intervals count each subject once: Wilson for
        proportions, a normal interval from the two binomial variances for
        balanced accuracy, DeLong for AUC. ``sd_across_repeats`` shows how much
        the estimate moves with the fold shuffle alone; it is not a CI. The
        prior-only dummy (predicts the training majority) and chance are shown
        beside the model, always.
        """
        from scipy import stats

        z = stats.norm.ppf(0.5 + confidence / 2)
        model = self.per_repeat()
        dummy = self._per_repeat("dummy_pred", "dummy_score")
        y = self.predictions.drop_duplicates("participant_id")["y_true"].to_numpy()
        n_pos, n_neg = int(y.sum()), int((1 - y).sum())
        prevalence = n_pos / len(y)
        rows = {}

        def proportion(name, successes, n):
            low, high = wilson_interval(successes, n, confidence)
            return (model[name].mean(), low, high, "Wilson")

        rows["sensitivity"] = proportion("sensitivity", model["tp"].mean(), n_pos)
        rows["specificity"] = proportion("specificity", model["tn"].mean(), n_neg)
        sens, spec = model["sensitivity"].mean(), model["specificity"].mean()
        half = z * np.sqrt(sens * (1 - sens) / n_pos + spec * (1 - spec) / n_neg) / 2
        ba = model["balanced_accuracy"].mean()
        rows["balanced_accuracy"] = (
            ba,
            max(0.0, ba - half),
            min(1.0, ba + half),
            "normal (binomial variances)",
        )
        auc = model["auc"].mean()
        se = np.sqrt((model["auc_se"] ** 2).mean())
        rows["auc"] = (auc, max(0.0, auc - z * se), min(1.0, auc + z * se), "DeLong")
        rows["ppv"] = proportion(
            "ppv", model["tp"].mean(), (model["tp"] + model["fp"]).mean()
        )
        rows["npv"] = proportion(
            "npv", model["tn"].mean(), (model["tn"] + model["fn"]).mean()
        )
        chance = {
            "sensitivity": 0.5,
            "specificity": 0.5,
            "balanced_accuracy": 0.5,
            "auc": 0.5,
            "ppv": prevalence,
            "npv": 1 - prevalence,
        }
        table = pd.DataFrame(
            [
                (
                    k,
                    *v,
                    model[k].std(ddof=1) if len(model) > 1 else np.nan,
                    chance[k],
                    dummy[k].mean(),
                )
                for k, v in rows.items()
            ],
            columns=[
                "metric",
                "estimate",
                "ci_low",
                "ci_high",
                "ci_method",
                "sd_across_repeats",
                "chance",
                "dummy_prior",
            ],
        ).set_index("metric")
        return table

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
        return (
            f"NestedCVResult({self.info.get('outer_cv')}-fold x "
            f"{self.info.get('n_repeats')} repeats, n={self.info.get('n_subjects')}: "
            + ", ".join(parts)
            + ")"
        )

    # -- persistence ----------------------------------------------------------
    def save(self, path) -> None:
        """Write the result as one JSON file (atomically)."""
        payload = {
            "format": "txpredict.NestedCVResult/1",
            "splits_hash": self.splits_hash,
            "info": self.info,
            "predictions": json.loads(
                self.predictions.to_json(orient="split", index=False)
            ),
            "folds": json.loads(self.folds.to_json(orient="split", index=False)),
        }
        write_text_atomic(path, json.dumps(payload, default=str))

    @classmethod
    def load(cls, path) -> NestedCVResult:
        """Read a result written by :meth:`save`."""
        with open(path, encoding="utf-8") as f:
            payload = json.load(f)
        if payload.get("format") != "txpredict.NestedCVResult/1":
            raise TxpredictError(f"{path} is not a saved txpredict NestedCVResult.")

        def frame(part):
            return pd.DataFrame(part["data"], columns=part["columns"])

        predictions = frame(payload["predictions"])
        predictions["participant_id"] = predictions["participant_id"].astype(str)
        return cls(
            predictions,
            frame(payload["folds"]),
            payload["splits_hash"],
            payload["info"],
        )
