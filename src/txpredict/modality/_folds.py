"""Out-of-fold response probabilities of a ModalitySelector, fast where possible.

The image features are extracted once for the cohort (the extractors are
stateless) and reused by every fold, repeat and permutation. Everything that
learns (scaling, tuning, the response models) is refitted on each outer
training set. For the L2 logistic models of the default selector on a few
features, all the fits of a batch of splits (outer folds x arms x inner folds x
grid values) are solved together by :class:`BatchedLogisticSearch`, which turns a
1000-permutation test of the policy gain from ~13 minutes into ~20 s; other
models go through ``ModalitySelector.fit_design`` fold by fold.
"""

from __future__ import annotations

import joblib
import numpy as np
from scipy.special import expit
from sklearn.base import clone

from txpredict._inputs import participant_ids
from txpredict.errors import TxpredictError
from txpredict.leakage import refuse_duplicate_scans
from txpredict.modality._coefficients import selector_coefficients
from txpredict.modality._maps import selector_maps
from txpredict.modality._selector import (
    PER_ARM_STRATEGIES,
    check_arm_sizes,
    check_interaction_design,
    interaction_design,
)
from txpredict.modality._x_learner import fit_effects, predict_with_effects
from txpredict.model_selection import (
    MAX_BATCHED_FEATURES,
    LogisticTuning,
    batched_route,
    choose_route,
)
from txpredict.stats import prior_shift


class SelectionRunner:
    """Everything of a selector's evaluation that does not depend on the labels.

    Parameters
    ----------
    selector : ModalitySelector
    X : DataFrame
    arms : tuple of str
    fast_path : "auto", True or False
        Use the batched logistic fits when they reproduce the selector; True
        requires them.
    """

    def __init__(self, selector, X, arms, fast_path="auto"):
        selector.check_strategy()
        self.selector = selector
        self.arms = tuple(arms)
        base = selector.base_model()
        self.extractor = base.make_extractor()
        if self.extractor is not None:
            self.extractor.fit(X)
        self.design = base.design(X, self.extractor)
        if self.extractor is not None:  # one scan under two ids: a leak
            refuse_duplicate_scans(self.design, participant_ids(X))
        route = self._route(base) if fast_path else None
        # The batched route works on its own encoding of the design.
        self.search, self.batched_design = (
            (route.search, route.design) if route and route.search else (None, None)
        )
        if fast_path is True and self.search is None:
            raise TxpredictError(
                "fast_path=True, but the batched fits do not apply to this selector: "
                "they need classifier='logistic' on image features (at most "
                f"{MAX_BATCHED_FEATURES}), no missing values and a grid over C only."
            )

    def _route(self, base):
        """The dispatcher's route; what is the selector's own is its arms.

        Per-arm strategies fit the base model once per arm. The interaction
        strategy fits one logistic model on features x arm columns: it asks
        for the batched route with that model and width.
        """
        selector = self.selector
        if selector.strategy in PER_ARM_STRATEGIES:
            return choose_route(base, self.design, routes=("batched",))
        check_interaction_design(self.design)
        grid = selector.interaction_grid()
        if set(grid) != {"logisticregression__C"}:
            return None
        k = len(self.arms)
        tuning = LogisticTuning(
            tuple(grid["logisticregression__C"]),
            base.inner_splitter(),
            selector.resolved_scoring(),
            width=self.design.shape[1] * k + k - 1,
        )
        return batched_route(tuning, self.design)

    def probabilities(self, y, arm, splits, n_jobs=None):
        """Response probability under each arm for the test rows of each split.

        Parameters
        ----------
        y : ndarray of 0/1
        arm : ndarray of str
        splits : list of (train, test)
        n_jobs : int or None
            For the fold-by-fold route only.

        Returns
        -------
        list of ndarray of shape (n_test, n_arms)
        """
        if self.search is None:
            return joblib.Parallel(n_jobs=n_jobs)(
                joblib.delayed(self._fit_predict)(y, arm, train, test)
                for train, test in splits
            )
        if self.selector.strategy == "t_learner":
            return self._per_arm(y, arm, splits, [test for _, test in splits])
        if self.selector.strategy == "x_learner":
            return self._x_learner(y, arm, splits)
        return self._interaction(y, arm, splits)

    def coefficients(self, y, arm, splits, n_jobs=None):
        """Fold by fold: each split's probabilities and its selector's coefficients.

        Returns
        -------
        list of (ndarray of shape (n_test, n_arms), DataFrame)
        """
        return joblib.Parallel(n_jobs=n_jobs)(
            joblib.delayed(self._fit_predict)(y, arm, train, test, True)
            for train, test in splits
        )

    def maps(self, y, arm, splits, n_jobs=None):
        """Fold by fold: each split's probabilities and its selector's maps.

        Returns
        -------
        list of (ndarray of shape (n_test, n_arms), dict)
            The maps: {term: (weights, pattern)} (:func:`selector_maps`),
            from the fold's training patients only.
        """
        return joblib.Parallel(n_jobs=n_jobs)(
            joblib.delayed(self._fit_predict)(y, arm, train, test, maps=True)
            for train, test in splits
        )

    def _fit_predict(self, y, arm, train, test, coefficients=False, maps=False):
        model = clone(self.selector).fit_design(
            self._rows(train), y[train], arm[train], self.arms, self.extractor
        )
        p = model.predict_design(self._rows(test))
        probabilities = np.column_stack([p[a] for a in self.arms])
        if coefficients:
            return probabilities, selector_coefficients(model)
        if maps:
            return probabilities, selector_maps(model, self._rows(train), arm[train])
        return probabilities

    def _rows(self, rows):
        design = self.design
        return design.iloc[rows] if hasattr(design, "iloc") else design[rows]

    def _per_arm(self, y, arm, splits, rows):
        """Each arm's own model, fitted on a split's training part, at ``rows``.

        Returns, per split, the probabilities of shape (len(rows[s]), n_arms).
        """
        design = self.batched_design
        tasks, prevalences = [], []
        for (train, _), at in zip(splits, rows, strict=True):
            check_arm_sizes(y[train], arm[train], self.arms, self.selector.inner_cv)
            for name in self.arms:
                fitted = train[arm[train] == name]
                tasks.append((design[fitted], y[fitted], design[at]))
                prevalences.append(y[fitted].mean())
        # As ModalitySelector.predict_design: each arm's probabilities shifted
        # to that arm's training prevalence.
        probabilities = [
            prior_shift(expit(d), prevalence)
            for (d, _), prevalence in zip(
                self.search.fit_decision(tasks), prevalences, strict=True
            )
        ]
        k = len(self.arms)
        return [
            np.column_stack(probabilities[s * k : (s + 1) * k])
            for s in range(len(splits))
        ]

    def _x_learner(self, y, arm, splits):
        """Batched stage 1 (on training and test rows), then the effect models."""
        rows = [np.concatenate([train, test]) for train, test in splits]
        stage1 = self._per_arm(y, arm, splits, rows)
        base = self.selector.base_model()
        out = []
        for (train, test), p in zip(splits, stage1, strict=True):
            preparation = base.preparation(self.design).fit(self._rows(train), y[train])
            effects = fit_effects(
                preparation.transform(self._rows(train)),
                y[train],
                arm[train],
                self.arms,
                p[: len(train)],
            )
            out.append(
                predict_with_effects(
                    preparation.transform(self._rows(test)),
                    p[len(train) :, 0],
                    effects,
                    self.arms,
                )
            )
        return out

    def _interaction(self, y, arm, splits):
        tasks = []
        for train, test in splits:
            rows = self.batched_design[test]
            per_arm = [
                interaction_design(rows, np.full(len(test), a), self.arms)
                for a in self.arms
            ]
            train_design = interaction_design(
                self.batched_design[train], arm[train], self.arms
            )
            tasks.append((train_design, y[train], np.vstack(per_arm)))
        out = []
        for (train, test), (decision, _) in zip(
            splits, self.search.fit_decision(tasks), strict=True
        ):
            balanced = expit(decision.reshape(len(self.arms), len(test)).T)
            out.append(prior_shift(balanced, y[train].mean()))
        return out
