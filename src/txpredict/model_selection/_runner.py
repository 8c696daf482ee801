"""Fits a model on the splits of a nested CV, by the route the dispatcher chose.

Everything that does not depend on the labels is built once per cohort (the
extracted image features, the Gram matrix, the encoded design), so that
repeats and permutations reuse it. The route (batched logistic fits, Gram
matrices, or scikit-learn fold by fold) is chosen by :func:`choose_route`.
"""

from __future__ import annotations

import time

import joblib
import numpy as np
from sklearn.base import clone, is_regressor
from sklearn.utils import _safe_indexing
from tqdm.auto import tqdm

from txpredict._inputs import participant_ids
from txpredict.errors import TxpredictError
from txpredict.leakage import refuse_duplicate_scans
from txpredict.model_selection._routes import (
    FAST_ROUTES,
    choose_route,
    design_on_disk,
)
from txpredict.models import (
    ResponseModel,
    class_balanced,
    image_weights_and_pattern,
    why_no_fold_maps,
)
from txpredict.stats import (
    apply_recalibration,
    fast_auc,
    fast_balanced_accuracy,
    fit_recalibration,
    prior_shift,
    regression_metrics,
)


class Runner:
    """Everything of a nested CV that does not depend on the labels, built once.

    Stateless image features are extracted for the whole cohort, and on the Gram
    fast path the Gram matrix is formed, so that repeats and permutations reuse
    them.
    """

    def __init__(
        self,
        estimator,
        X,
        *,
        fast_path="auto",
        extracted=None,
        routes=FAST_ROUTES,
        same_columns=False,
        on_disk=False,
        probabilities=True,
    ):
        # extracted: (extractor, design) of another Runner on the same cohort
        # and features, reused instead of reading the images again.
        # routes, same_columns: as choose_route's; on_disk: design_on_disk's
        # (the store goes in the model's feature cache, else a scratch folder).
        # probabilities=False: outputs without probabilities (None), for the
        # permutation tests, which score decisions only: the fast routes then
        # skip the inner decision values of the recalibration.
        self.estimator = estimator
        self.is_response_model = isinstance(estimator, ResponseModel)
        self.regression = is_regressor(estimator)
        self.extractor = None
        if self.is_response_model and extracted is not None:
            self.extractor, self.design = extracted
        elif self.is_response_model:
            self.extractor = estimator.make_extractor()
            if self.extractor is not None:
                self.extractor.fit(X)
            self.design = estimator.design(
                X,
                self.extractor,
                on_disk=design_on_disk(estimator, self.extractor, len(X), on_disk),
            )
            if self.extractor is not None:  # one scan under two ids: a leak
                refuse_duplicate_scans(self.design, participant_ids(X))
        else:
            self.design = X
        self.route = choose_route(
            estimator,
            self.design,
            fast_path=fast_path,
            routes=routes,
            same_columns=same_columns,
        )
        # The fast routes' probabilities made as the fitted model's
        # predict_proba makes them: recalibrated on the inner CV's out-of-fold
        # decision values, or (class-balanced probabilities describe a cohort
        # of prevalence 0.5) shifted back to the training part's prevalence.
        self.probabilities = probabilities
        classifier = self.is_response_model and not self.regression
        self.recalibrate = classifier and probabilities and estimator.recalibrates()
        self.shift_probabilities = (
            classifier
            and not self.recalibrate
            and class_balanced(estimator.final_estimator()[0])
        )

    def check_maps(self):
        """Refuse, before any work, maps of a model that has none."""
        if not isinstance(self.estimator, ResponseModel):
            raise TxpredictError(
                "return_maps=True needs a ResponseClassifier or ResponseRegressor "
                "on voxel or ROI features."
            )
        why = why_no_fold_maps(self.estimator, self.extractor)
        if why is not None:
            raise TxpredictError(f"return_maps=True: {why}")

    def fit_predict(self, train, test, y, groups, maps=False):
        """One outer fold; ``maps``: also its model's weight and pattern maps."""
        start = time.perf_counter()
        fitter = self.route.maps_fitter if maps else self.route.fitter
        if fitter is None:
            out = self._generic(train, test, y, groups, maps)
        else:
            out = fitter.fit_predict(
                train, test, y, groups, with_maps=maps, with_inner=self.recalibrate
            )
            self._probability(out, y, train)
        out["fit_seconds"] = time.perf_counter() - start
        out.update(self._dummy(y, train, test))
        return out

    @property
    def fast(self):
        """The fast route's fitter (None: fold by fold)."""
        return self.route.fitter

    def _probability(self, out, y, train):
        """A fast route's probabilities, as the fitted model's predict_proba."""
        inner = out.pop("inner_decision", None)
        if not self.probabilities:
            out["probability"] = None
        elif self.recalibrate:
            recalibration = fit_recalibration(inner, y[train])
            out["probability"] = apply_recalibration(out["score"], recalibration)
        elif self.shift_probabilities and out["probability"] is not None:
            out["probability"] = prior_shift(out["probability"], y[train].mean())

    def _generic(self, train, test, y, groups, maps=False):
        model = clone(self.estimator)
        train_design = _safe_indexing(self.design, train)
        test_design = _safe_indexing(self.design, test)
        group_train = None if groups is None else groups[train]
        if self.is_response_model:
            if not (self.probabilities or self.regression):
                model.set_params(calibration="prior_shift")  # no inner refits
            model.fit_design(train_design, y[train], self.extractor, groups=group_train)
            predictor = model.search_
            params = model.best_params_
        else:
            fit_params = {} if group_train is None else {"groups": group_train}
            model.fit(train_design, y[train], **fit_params)
            predictor = model
            params = getattr(model, "best_params_", {})
        probability = None
        if self.probabilities and hasattr(predictor, "predict_proba"):
            # A response model's own probabilities (recalibrated or shifted).
            probability = (
                model.design_probabilities(test_design)[:, 1]
                if self.is_response_model
                else predictor.predict_proba(test_design)[:, 1]
            )
        predicted = np.asarray(predictor.predict(test_design))
        if hasattr(predictor, "decision_function"):
            score = predictor.decision_function(test_design)
        elif hasattr(predictor, "predict_proba"):  # its own, before any correction
            score = predictor.predict_proba(test_design)[:, 1]
        else:  # a regressor's prediction
            score = predicted
        out = {
            "score": np.asarray(score, float),
            "probability": probability,
            "y_pred": predicted,
            "best_params": dict(params),
        }
        if maps:
            n_image = len(self.extractor.get_feature_names_out())
            out["maps"] = image_weights_and_pattern(
                model.fitted_pipeline(), train_design, n_image
            )
        return out

    def run(self, y, splits, groups, n_jobs=None, progress=False, maps=False):
        """Outputs of every (repeat, fold, train, test) split, in order.

        ``maps``: each output also has the fold model's ``"maps"`` (weights,
        pattern); the permutation tests run without.

        ``progress``: a bar of the outer folds done, with the time elapsed and
        left (stderr); the batched route fits every fold at once and shows none.
        """
        batched = self.route.name == "batched"
        if not batched or (maps and self.route.maps_fitter is None):
            outputs = joblib.Parallel(n_jobs=n_jobs, return_as="generator")(
                joblib.delayed(self.fit_predict)(train, test, y, groups, maps)
                for _, _, train, test in splits
            )
            if progress:
                outputs = tqdm(
                    outputs, total=len(splits), desc="outer folds", unit="fold"
                )
            return list(outputs)
        # Batched: every fit of every split is solved at once, in one process.
        start = time.perf_counter()
        outputs = self.route.fitter.fit_predict_many(
            [(train, test) for _, _, train, test in splits],
            y,
            groups,
            maps,
            with_inner=self.recalibrate,
        )
        seconds = (time.perf_counter() - start) / len(splits)
        for (_, _, train, test), out in zip(splits, outputs, strict=True):
            out["fit_seconds"] = seconds
            self._probability(out, y, train)
            out.update(self._dummy(y, train, test))
        return outputs

    def _dummy(self, y, train, test):
        """A model without features.

        For a regressor the training mean; for a classifier the prior-only
        dummy (the training majority, scored by its prevalence).
        """
        mean = y[train].mean()
        return {
            "dummy_score": np.full(len(test), mean),
            "dummy_pred": np.full(
                len(test), mean if self.regression else int(mean > 0.5)
            ),
        }


def regression_scores(y, splits, outputs) -> dict[str, float]:
    """Pearson r and r2 of each repeat's pooled predictions, averaged."""
    n_repeats = max(r for r, *_ in splits) + 1
    predicted = np.empty((n_repeats, len(y)))
    for (repeat, _, _, test), out in zip(splits, outputs, strict=True):
        predicted[repeat, test] = out["y_pred"]
    values = [regression_metrics(y, row) for row in predicted]
    return {m: float(np.mean([v[m] for v in values])) for m in ("r", "r2")}


def split_scores(y, splits, outputs) -> dict[str, float]:
    """The headline statistics of a nested CV, as :meth:`NestedCVResult.summary`.

    Balanced accuracy: pooled over each repeat's out-of-fold predictions, then
    averaged over repeats. AUC: computed in each outer test fold and averaged
    over all folds: decision values of different folds' models are on
    different scales, and pooling them biases the AUC (below 0.5 on null data;
    Airola et al. 2011, Comput Stat Data Anal 55:1828).
    """
    n_repeats = max(r for r, *_ in splits) + 1
    predicted = np.empty((n_repeats, len(y)), dtype=int)
    aucs = []
    for (repeat, _, _, test), out in zip(splits, outputs, strict=True):
        predicted[repeat, test] = out["y_pred"]
        aucs.append(fast_auc(y[test], out["score"]))
    return {
        "auc": float(np.mean(aucs)),
        "balanced_accuracy": float(
            np.mean([fast_balanced_accuracy(y, row) for row in predicted])
        ),
    }
