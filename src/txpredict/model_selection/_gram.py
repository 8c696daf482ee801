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
- a design with table columns (harmonisation by ComBat, confound regression,
  demographic covariates): the model's own label-free preparation steps are
  fitted once per (inner or outer) training set, on the voxels as one array
  (``BlockPreparation``), the prepared rows give that set's Gram matrices
  (voxel block plus demographic block), and every grid value is fitted on
  them. The plain route refits the preparation (ComBat on 235,000 voxels) for
  every candidate.

Models on kernels: the linear SVM is ``SVC(kernel="precomputed")`` (the same
libsvm problem as ``SVC(kernel="linear")``); L2 logistic regression and ridge are
fitted on the n-dimensional embedding F = U sqrt(L) of K_train = U L U^T, with
test rows K_test U / sqrt(L): by the representer theorem the optimum lies in the
span of the training rows, so the solution and the predictions are those of the
same model on the p-dimensional data. The results equal the plain scikit-learn
route (tested on identical splits).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import get_scorer
from sklearn.model_selection import ParameterGrid
from sklearn.svm import SVC

from txpredict.errors import TxpredictError
from txpredict.features import StoredDesign, VoxelStore
from txpredict.model_selection._preparation import (
    BlockPreparation,
    StreamedImage,
    StreamedPreparation,
)
from txpredict.model_selection._tuning import best_candidate
from txpredict.models import image_scale, weights_and_pattern
from txpredict.stats import fast_auc, fast_balanced_accuracy

#: Bytes of the float64 copy of one block of columns when forming A A^T.
BLOCK_BYTES = 64 * 2**20


def block_columns(n_rows: int) -> int:
    """Columns per block: 16384, fewer for many rows (the block's copy is bounded)."""
    return int(min(16384, max(512, BLOCK_BYTES // (8 * max(n_rows, 1)))))


def column_blocks(A):
    """``(start, block)`` over ``A``'s columns: a store's chunks, an array's slices."""
    if isinstance(A, VoxelStore):
        yield from A.column_blocks()
        return
    step = block_columns(A.shape[0])
    for start in range(0, A.shape[1], step):
        yield start, A[:, start : start + step]


def any_missing(A) -> bool:
    """Whether ``A`` holds a NaN, a block at a time (no n x p temporary).

    A store knows from the rows written into it, without reading them again.
    """
    if isinstance(A, VoxelStore):
        return A.has_missing_values()
    return any(np.isnan(block).any() for _, block in column_blocks(A))


def gram_matrix(A: np.ndarray, B: np.ndarray | None = None) -> np.ndarray:
    """A B^T in float64, a block of columns at a time (A may be float32).

    ``A`` may be a :class:`VoxelStore` (with ``B=None``): its chunks are read
    one at a time, so memory is O(n^2 + n x chunk).
    """
    if isinstance(A, VoxelStore) and B is None:
        return A.gram()
    B = A if B is None else B
    out = np.zeros((A.shape[0], B.shape[0]))
    step = block_columns(A.shape[0] + (0 if B is A else B.shape[0]))
    for start in range(0, A.shape[1], step):
        a = np.asarray(A[:, start : start + step], dtype=np.float64)
        b = a if B is A else np.asarray(B[:, start : start + step], dtype=np.float64)
        out += a @ b.T
    return out


def center_kernel(K, train, rows):
    """Kernel between ``rows`` and ``train`` after centring on ``train``'s mean."""
    train_means = K[np.ix_(train, train)].mean(axis=1)
    grand = train_means.mean()
    row_means = K[np.ix_(rows, train)].mean(axis=1)
    return K[np.ix_(rows, train)] - row_means[:, None] - train_means[None, :] + grand


class _Embedding:
    """Training rows as features whose inner products are the kernel.

    The SVM takes the kernel itself (``SVC(kernel="precomputed")``). Logistic
    and ridge take F = U sqrt(L) from K_train = U L U^T (rank-revealing), and
    other rows K_rows U / sqrt(L): computed once per fold, shared by all
    candidates.
    """

    def __init__(self, family, K_train):
        self.projection = None
        if family == "svm":
            self.train = K_train
            return
        eigenvalues, U = np.linalg.eigh(K_train)
        keep = eigenvalues > eigenvalues.max() * 1e-10
        self.train = U[:, keep] * np.sqrt(eigenvalues[keep])
        self.projection = U[:, keep] / np.sqrt(eigenvalues[keep])

    def rows(self, K_rows):
        return K_rows if self.projection is None else K_rows @ self.projection


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
        # Refitted in place for every fold: cloning per fit cost more than libsvm.
        self.estimators = [self._estimator(p) for p in self.candidates]
        self.score = {
            "roc_auc": lambda m, rows, y: fast_auc(y, m.decision_function(rows)),
            "balanced_accuracy": lambda m, rows, y: fast_balanced_accuracy(
                y, m.predict(rows)
            ),
        }.get(model.resolved_scoring(), get_scorer(model.resolved_scoring()))
        # The steps before the classifier of a design with table columns,
        # fitted per training set; a numeric design is scaled here instead.
        self.preparation = (
            search.estimator[:-1]
            if isinstance(design, pd.DataFrame | StoredDesign)
            else None
        )
        # The same preparation on the voxels as one array, when it applies.
        self.blocks = (
            None
            if self.preparation is None
            else BlockPreparation.of(self.preparation, design)
        )
        if isinstance(design, StoredDesign) and not isinstance(
            self.blocks, StreamedPreparation
        ):
            raise TxpredictError(
                "The design on disk has table columns this model prepares in a way "
                "no streamed route reproduces; pass on_disk=False."
            )
        # Labels do not enter K: one matrix serves every fold and permutation.
        per_training_set = self.scaling == "standard" or self.preparation is not None
        self.K = None if per_training_set else gram_matrix(design)

    def kernels(self, train, rows, keep_image=False):
        """(K_train, K_rows_train) for a training set and other rows.

        ``keep_image``: also the training rows' image features as the
        classifier sees them and what each was divided by (for the maps).
        """
        image = None
        if isinstance(self.blocks, StreamedPreparation):
            K_train, K_rows, image = self.blocks.kernels(train, rows)
        elif self.blocks is not None:
            (a_train, d_train), (a_rows, d_rows), scale = self.blocks.prepare(
                train, rows
            )
            K_train = gram_matrix(a_train) + d_train @ d_train.T
            K_rows = gram_matrix(a_rows, a_train) + d_rows @ d_train.T
            image = a_train, scale
        elif self.preparation is not None:
            preparation = clone(self.preparation)
            a_train = preparation.fit_transform(self.design.iloc[train])
            a_rows = preparation.transform(self.design.iloc[rows])
            K_train, K_rows = gram_matrix(a_train), gram_matrix(a_rows, a_train)
            if keep_image:
                n_image = self.design.shape[1] - len(self.model.table_columns())
                image = a_train[:, :n_image], image_scale(preparation, n_image)
        elif self.scaling == "standard":
            A = self.design
            mean = A[train].mean(axis=0, dtype=np.float64)
            sd = A[train].std(axis=0, dtype=np.float64)
            sd[sd == 0] = 1.0  # as StandardScaler: constant features stay 0
            a_train = (A[train] - mean) / sd
            a_rows = (A[rows] - mean) / sd
            K_train, K_rows = gram_matrix(a_train), gram_matrix(a_rows, a_train)
            image = a_train, sd
        elif self.scaling is None:
            K_train, K_rows = self.K[np.ix_(train, train)], self.K[np.ix_(rows, train)]
        else:
            K_train = center_kernel(self.K, train, train)
            K_rows = center_kernel(self.K, train, rows)
        if not keep_image:
            return K_train, K_rows
        return K_train, K_rows, image

    def _estimator(self, params):
        if self.family == "svm":
            svm_params = {
                k: v
                for k, v in self.classifier.get_params().items()
                if k not in ("kernel", "gamma", "degree", "coef0")
            }
            return SVC(kernel="precomputed", **{**svm_params, **params})
        return clone(self.classifier).set_params(**params)

    def fit_predict(
        self, train, test, y, groups=None, with_maps=False, with_inner=False
    ):
        """Tune by inner CV on ``train``, refit, and predict ``test``.

        ``with_maps``: also the refitted model's weight and pattern maps
        (``"maps"``), from its training rows only. ``with_inner``: also the
        inner out-of-fold decision values of the chosen candidate on the
        training rows (``"inner_decision"``); the inner CV then runs even for
        a single candidate.
        """
        y_train = y[train]
        inner = self.model.inner_splitter(groups).split(
            np.zeros((len(train), 1)),
            y_train,
            None if groups is None else groups[train],
        )
        scores = []
        decisions = np.empty((len(train), len(self.estimators))) if with_inner else None
        # A single candidate needs no inner CV to be chosen (as in
        # ResponseClassifier.fit), only for its inner decision values.
        tune = len(self.estimators) > 1 or with_inner
        for inner_train, inner_test in inner if tune else ():
            tr, te = train[inner_train], train[inner_test]
            K_train, K_test = self.kernels(tr, te)
            embedding = _Embedding(self.family, K_train)
            rows = embedding.rows(K_test)
            split_scores = []
            for c, estimator in enumerate(self.estimators):
                estimator.fit(embedding.train, y[tr])
                split_scores.append(self.score(estimator, rows, y[te]))
                if with_inner:
                    decisions[inner_test, c] = estimator.decision_function(rows)
            scores.append(split_scores)
        mean_scores = np.mean(scores, axis=0) if scores else np.zeros(1)
        best = best_candidate(mean_scores)
        K_train, K_test, *image = self.kernels(train, test, keep_image=with_maps)
        embedding = _Embedding(self.family, K_train)
        rows = embedding.rows(K_test)
        estimator = self.estimators[best].fit(embedding.train, y_train)
        out = {
            "score": estimator.decision_function(rows),
            "probability": estimator.predict_proba(rows)[:, 1]
            if hasattr(estimator, "predict_proba")
            else None,
            "y_pred": estimator.predict(rows),
            "best_params": self.candidates[best],
        }
        if with_inner:
            out["inner_decision"] = decisions[:, best]
        if with_maps:
            out["maps"] = self._maps(estimator, embedding, train, image[0])
        return out

    def _maps(self, estimator, embedding, train, image):
        """Weights and pattern of a model fitted on an embedding, in voxel space.

        A score linear in the training rows' features, s(x) = sum_j alpha_j
        <a_j, x> + b, has the weights w = A_train^T alpha: for the SVM alpha
        is its dual coefficients on the support vectors; on the embedding
        F = U sqrt(L) a model with coefficients beta scores rows through
        K U / sqrt(L), so alpha = U / sqrt(L) beta. No p x p matrix, one
        product with the training rows.
        """
        if self.family == "svm":
            alpha = np.zeros(len(train))
            alpha[estimator.support_] = estimator.dual_coef_[0]
        else:
            alpha = embedding.projection @ np.ravel(estimator.coef_)
        score = estimator.decision_function(embedding.train)
        if isinstance(image, StreamedImage):  # prepared voxels, read again
            return image.weights_and_pattern(alpha, score)
        if image is not None:  # the training set's own prepared voxels
            a_train, scale = image
            return weights_and_pattern(a_train, a_train.T @ alpha, score, scale)
        return self._maps_from_design(train, alpha, score)

    def _maps_from_design(self, train, alpha, score):
        """The same from the cohort's voxels, for the routes that share one K.

        Both maps are combinations of the cohort's rows: the weights
        w = A_train^T alpha, centred on the training rows (minus their mean
        times sum(alpha)), and the pattern sum_i a_i (s_i - mean s) / Var(s)
        / (n - 1). A training row drawn twice (a bootstrap) counts twice. Kept
        as the two per-patient vectors (:class:`DesignMaps`): the products of
        every model are formed at once (:func:`stack_maps`).
        """
        n = len(self.design)
        weights = np.bincount(train, weights=alpha, minlength=n)
        if self.scaling == "center":
            weights -= np.bincount(train, minlength=n) * (alpha.sum() / len(train))
        centred = score - score.mean()
        spread = centred @ centred  # (n - 1) Var(s); 0: nothing covaries with s
        pattern = np.bincount(train, weights=centred, minlength=n)
        pattern = pattern / spread if spread > 0 else np.zeros(n)
        return DesignMaps(np.stack([weights, pattern]))


class DesignMaps(NamedTuple):
    """A model's weight and pattern maps as combinations of the design's rows.

    ``coefficients`` (2 x n_subjects): weights = coefficients[0] @ A and
    pattern = coefficients[1] @ A for the cohort's voxels A. A joblib worker
    returns two n-vectors instead of two p-vectors, and :func:`stack_maps`
    forms every model's products in one matrix product (reading the
    235,000-voxel design once, not once per model).
    """

    coefficients: np.ndarray


#: Models per matrix product in stack_maps (bounds its float32 temporary).
_MAPS_PER_PRODUCT = 64


def stack_maps(maps, design=None):
    """(weights, patterns) of many models, float32 arrays of (n_models, n_voxels).

    ``maps``: per model either its (weights, pattern) arrays or its
    :class:`DesignMaps` on ``design``.
    """
    deferred = [k for k, m in enumerate(maps) if isinstance(m, DesignMaps)]
    n_voxels = design.shape[1] if deferred else len(maps[0][0])
    weights = np.empty((len(maps), n_voxels), dtype=np.float32)
    patterns = np.empty_like(weights)
    for k, m in enumerate(maps):
        if not isinstance(m, DesignMaps):
            weights[k], patterns[k] = m
    for start in range(0, len(deferred), _MAPS_PER_PRODUCT):
        chunk = deferred[start : start + _MAPS_PER_PRODUCT]
        coefficients = np.concatenate([maps[k].coefficients for k in chunk])
        products = coefficients.astype(design.dtype) @ design
        weights[chunk], patterns[chunk] = products[0::2], products[1::2]
    return weights, patterns
