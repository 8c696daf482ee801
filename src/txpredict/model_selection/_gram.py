"""Fast path for linear models when subjects are few and features many (n << p).

A linear model's fit and predictions depend on the data only through inner
products between subjects. With whole-brain patterns (p ~ 235,000 voxels, n ~
100 patients) everything can therefore run on n x n Gram matrices:

- scaling="center" (the default for voxel patterns) and None: ONE Gram matrix of
  the whole cohort, K = A A^T, serves every fold, every grid value and every
  permutation. Centring with a fold's training means is done in kernel space,
  exactly: <a_i - m, a_j - m> = K_ij - mean_t K_it - mean_t K_jt + mean_ts K_ts.
- scaling="standard": each (inner or outer) training set has its own voxel
  SDs, so each gets its own Gram matrix; still every grid value is fitted on n x n
  matrices instead of n x p.

Models on kernels: the linear SVM is ``SVC(kernel="precomputed")`` (the same
libsvm problem as ``SVC(kernel="linear")``); L2 logistic regression and ridge are
fitted on the n-dimensional embedding F = U sqrt(L) of K_train = U L U^T, with
test rows K_test U / sqrt(L): by the representer theorem the optimum lies in the
span of the training rows, so the solution and the predictions are those of the
same model on the p-dimensional data. The results equal the plain scikit-learn
route (tested on identical splits).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.metrics import get_scorer
from sklearn.model_selection import ParameterGrid
from sklearn.svm import SVC

from txpredict.models._presets import make_classifier

_BLOCK = 16384  # columns per block when forming A A^T in float64


def gram_matrix(A: np.ndarray, B: np.ndarray | None = None) -> np.ndarray:
    """A B^T in float64, a block of columns at a time (A may be float32)."""
    B = A if B is None else B
    out = np.zeros((A.shape[0], B.shape[0]))
    for start in range(0, A.shape[1], _BLOCK):
        a = np.asarray(A[:, start : start + _BLOCK], dtype=np.float64)
        b = a if B is A else np.asarray(B[:, start : start + _BLOCK], dtype=np.float64)
        out += a @ b.T
    return out


def center_kernel(K, train, rows):
    """Kernel between ``rows`` and ``train`` after centring on ``train``'s mean."""
    train_means = K[np.ix_(train, train)].mean(axis=1)
    grand = train_means.mean()
    row_means = K[np.ix_(rows, train)].mean(axis=1)
    return K[np.ix_(rows, train)] - row_means[:, None] - train_means[None, :] + grand


class _KernelModel(ClassifierMixin, BaseEstimator):
    """A linear model on a precomputed kernel (a classifier, for the scorers)."""

    def __init__(self, family, classifier):
        self.family = family
        self.classifier = classifier

    def fit(self, K_train, y):
        if self.family == "svm":
            params = {
                k: v
                for k, v in self.classifier.get_params().items()
                if k not in ("kernel", "gamma", "degree", "coef0")
            }
            self.model_ = SVC(kernel="precomputed", **params).fit(K_train, y)
        else:
            eigenvalues, U = np.linalg.eigh(K_train)
            keep = eigenvalues > eigenvalues.max() * 1e-10
            self.projection_ = U[:, keep] / np.sqrt(eigenvalues[keep])
            F = U[:, keep] * np.sqrt(eigenvalues[keep])
            self.model_ = clone(self.classifier).fit(F, y)
        self.classes_ = self.model_.classes_
        return self

    def _features(self, K_rows):
        return K_rows if self.family == "svm" else K_rows @ self.projection_

    def decision_function(self, K_rows):
        return self.model_.decision_function(self._features(K_rows))

    def predict(self, K_rows):
        return self.model_.predict(self._features(K_rows))

    def predict_proba(self, K_rows):
        return self.model_.predict_proba(self._features(K_rows))

    def has_proba(self):
        return hasattr(self.model_, "predict_proba")


class GramFastPath:
    """Nested-CV fits of a ResponseClassifier's linear model on Gram matrices.

    Reproduces ``clone(model).fit_design(A[train], y[train]); predict(A[test])``
    (same inner splits, same candidate order, same tie-breaking as
    ``GridSearchCV``) without ever fitting on the p-dimensional data.
    """

    def __init__(self, model, design, family):
        self.model = model
        self.design = design
        self.family = family
        self.scaling = model.resolved_scaling()
        # The model's own search defines (and validates) the candidates, in
        # GridSearchCV's order, so both routes try the same values.
        search = model.build_search(design)
        self.classifier = search.estimator.named_steps["classifier"]
        self.candidates = [
            {k.removeprefix("classifier__"): v for k, v in candidate.items()}
            for candidate in ParameterGrid(search.param_grid)
        ]
        self.scorer = get_scorer(model.scoring)
        # Labels do not enter K: one matrix serves every fold and permutation.
        self.K = None if self.scaling == "standard" else gram_matrix(design)

    def kernels(self, train, rows):
        """(K_train, K_rows_train) for a training set and other rows."""
        if self.scaling == "standard":
            A = self.design
            mean = A[train].mean(axis=0, dtype=np.float64)
            sd = A[train].std(axis=0, dtype=np.float64)
            sd[sd == 0] = 1.0  # as StandardScaler: constant features stay 0
            a_train = (A[train] - mean) / sd
            a_rows = (A[rows] - mean) / sd
            return gram_matrix(a_train), gram_matrix(a_rows, a_train)
        if self.scaling is None:
            return self.K[np.ix_(train, train)], self.K[np.ix_(rows, train)]
        return center_kernel(self.K, train, train), center_kernel(self.K, train, rows)

    def _fit(self, params, K_train, y):
        classifier = clone(self.classifier).set_params(**params)
        return _KernelModel(self.family, classifier).fit(K_train, y)

    def fit_predict(self, train, test, y, groups=None):
        """Tune by inner CV on ``train``, refit, and predict ``test``."""
        y_train = y[train]
        inner = self.model.inner_splitter(groups).split(
            np.zeros((len(train), 1)),
            y_train,
            None if groups is None else groups[train],
        )
        scores = np.zeros((len(self.candidates), 0))
        for inner_train, inner_test in inner:
            tr, te = train[inner_train], train[inner_test]
            K_tr, K_te = self.kernels(tr, te)
            fold = [
                self.scorer(self._fit(p, K_tr, y[tr]), K_te, y[te])
                for p in self.candidates
            ]
            scores = np.column_stack([scores, fold])
        mean_scores = scores.mean(axis=1)
        # GridSearchCV's choice: the first candidate among those ranked best.
        best = int(np.flatnonzero(mean_scores == mean_scores.max())[0])
        K_tr, K_te = self.kernels(train, test)
        model = self._fit(self.candidates[best], K_tr, y_train)
        decision = model.decision_function(K_te)
        return {
            "score": decision,
            "probability": model.predict_proba(K_te)[:, 1]
            if model.has_proba()
            else None,
            "y_pred": model.predict(K_te),
            "best_params": self.candidates[best],
        }


def fast_path_family(model, design) -> str | None:
    """The linear family for which the fast path reproduces ``model``, or None."""
    from txpredict.models import ResponseClassifier

    if not isinstance(model, ResponseClassifier) or not isinstance(design, np.ndarray):
        return None
    if model.select_percentile is not None or model.pca_components is not None:
        return None
    if model.resolved_scaling() not in ("center", "standard", None):
        return None
    if np.isnan(design).any():  # the imputer would have to run per fold
        return None
    _, _, family = make_classifier(model.classifier, model.random_state)
    return family
