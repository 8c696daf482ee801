"""L2 logistic regression fitted for many small problems at once.

Nested CV of a logistic model on a few ROI features (p ~ 10) fits hundreds of
tiny problems per repeat: outer folds x arms x inner folds x grid values, and
again for every permutation. scikit-learn's ``LogisticRegression`` spends about
a millisecond per fit in input validation and solver set-up, which made a
1000-permutation test of a treatment-selection policy take ~13 minutes
(``benchmarks/modality.py``). Here all problems of a step are stacked into one
(B, m, p) array and solved together by damped Newton iterations, in a handful
of batched numpy operations.

The objective is scikit-learn's, for ``LogisticRegression(class_weight=
"balanced")`` with an unpenalised intercept::

    C * sum_i w_i * log(1 + exp(-s_i * (x_i . beta + b))) + ||beta||^2 / 2

with s_i = +-1 and w_i the balanced class weight of row i, so the solutions are
the same (tested against scikit-learn's solvers at tight tolerance).
"""

from __future__ import annotations

import copy

import numpy as np
from scipy.special import expit
from sklearn.base import clone

from txpredict.model_selection._preparation import FoldPreparation
from txpredict.model_selection._schemes import split
from txpredict.model_selection._tuning import best_candidate
from txpredict.models import weights_and_pattern
from txpredict.stats import fast_auc


def _objective(z, y, weight, C, theta, penalty):
    """The penalised loss of each problem, from its decision values ``z``."""
    # log(1 + e^z), stably; e^-|z| is kept for the probabilities.
    shrunk = np.exp(-np.abs(z))
    loss = weight * (np.maximum(z, 0.0) + np.log1p(shrunk) - y * z)
    return C * loss.sum(axis=1) + 0.5 * (penalty * theta**2).sum(axis=1), shrunk


def _expit(z, shrunk):
    """1 / (1 + e^-z) from ``shrunk`` = e^-|z|, without a second exponential."""
    return np.where(z >= 0, 1.0, shrunk) / (1.0 + shrunk)


def batched_logistic_regression(X, y, sample_weight, C, *, tol=1e-10, max_iter=100):
    """Fit B weighted L2 logistic regressions with intercept by damped Newton.

    Parameters
    ----------
    X : ndarray of shape (B, m, p)
        Problem b's rows; rows with zero weight are padding and do not count.
    y : ndarray of shape (B, m)
        0/1 labels.
    sample_weight : ndarray of shape (B, m)
    C : ndarray of shape (B,)
        Inverse regularisation strength of each problem.
    tol : float, default=1e-10
        A problem is solved once its Newton step is below ``sqrt(tol)``
        relative to its largest coefficient: that last step is taken, and by
        Newton's quadratic convergence leaves an error of order ``tol``.
    max_iter : int, default=100

    Returns
    -------
    coef : ndarray of shape (B, p)
    intercept : ndarray of shape (B,)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, 40)
    >>> coef, intercept = batched_logistic_regression(
    ...     X[None], y[None], np.ones((1, 40)), np.array([0.5]))
    >>> reference = LogisticRegression(C=0.5, tol=1e-12).fit(X, y)
    >>> bool(np.allclose(coef[0], reference.coef_[0], atol=1e-6))
    True
    """
    B, m, p = X.shape
    Xa = np.concatenate([X, np.ones((B, m, 1))], axis=2)  # intercept last
    y = np.asarray(y, dtype=float)
    weight = np.asarray(sample_weight, dtype=float)
    C = np.asarray(C, dtype=float)[:, None]
    penalty = np.ones(p + 1)
    penalty[-1] = 0.0  # the intercept is not penalised
    theta = np.zeros((B, p + 1))
    # The problems still being solved, and their data: shrunk (one copy) each
    # time some are solved, instead of gathered at every iteration.
    work = np.arange(B)
    z = np.zeros((B, m))  # decision values at theta = 0
    value, shrunk = _objective(z, y, weight, C[:, 0], theta, penalty)
    Xw, yw, ww, Cw, tw = Xa, y, weight, C, theta[work]
    for _ in range(max_iter):
        if work.size == 0:
            break
        Xt = Xw.transpose(0, 2, 1)
        prob = _expit(z, shrunk)
        residual = Cw * ww * (prob - yw)
        gradient = (Xt @ residual[..., None])[..., 0] + penalty * tw
        curvature = Cw * ww * prob * (1.0 - prob)
        hessian = (Xt * curvature[:, None, :]) @ Xw
        hessian += np.diag(penalty)
        # The intercept's curvature vanishes only if every row is saturated.
        hessian[:, -1, -1] += 1e-12
        step = np.linalg.solve(hessian, gradient[..., None])[..., 0]
        decrement = (gradient * step).sum(axis=1)
        # Newton converges quadratically: after a full step of relative size d
        # the next would be of order d^2, so d <= sqrt(tol) already meets tol
        # (and spares the iteration that would only confirm it).
        scale = 1.0 + np.abs(tw).max(axis=1)
        done = np.abs(step).max(axis=1) <= np.sqrt(tol) * scale
        # Backtracking (Armijo) line search keeps every step a descent step,
        # until the predicted decrease is lost in the objective's rounding: near
        # the optimum the full Newton step is right and the test is noise.
        search = ~done & (decrement > 1e-12 * np.maximum(np.abs(value), 1.0))
        size = np.ones(work.size)
        for _ in range(60):
            candidate = tw - size[:, None] * step
            z = (Xw @ candidate[..., None])[..., 0]
            new, shrunk = _objective(z, yw, ww, Cw[:, 0], candidate, penalty)
            bad = (new > value - 1e-4 * size * decrement) & search
            if not bad.any():
                break
            size[bad] *= 0.5
        tw, value = candidate, new
        if done.any():
            theta[work[done]] = tw[done]
            keep = ~done
            work, Xw, yw, ww, Cw, tw = (a[keep] for a in (work, Xw, yw, ww, Cw, tw))
            value, z, shrunk = value[keep], z[keep], shrunk[keep]
    theta[work] = tw  # not converged within max_iter: the last iterate
    return theta[:, :-1], theta[:, -1]


def _rows(A, index):
    """Rows of an array or a DataFrame.

    scikit-learn's ``_safe_indexing`` without its input checks, which cost a
    third of a batched nested CV.
    """
    return A[index] if isinstance(A, np.ndarray) else A.iloc[index]


def balanced_weights(y):
    """scikit-learn's ``class_weight="balanced"``: n / (2 * count of the class).

    Equal to ``compute_sample_weight("balanced", y)`` (tested), which spends
    ~0.7 ms per call validating its input: ~1 s per permutation here.
    """
    y = np.asarray(y, dtype=int)
    counts = np.bincount(y, minlength=2).astype(float)
    return (len(y) / (2.0 * counts))[y]


def _standardizer(A, scaling):
    """(mean, scale) of ``A``'s rows as StandardScaler(with_std=...) would learn."""
    if scaling is None:
        return np.zeros(A.shape[1]), np.ones(A.shape[1])
    mean = A.mean(axis=0)
    if scaling == "center":
        return mean, np.ones(A.shape[1])
    scale = A.std(axis=0)
    scale[scale == 0] = 1.0  # as StandardScaler: constant features stay 0
    return mean, scale


def fit_prepared(sets, Cs, *, balanced=True):
    """Fit each prepared training set for every C of its list, in one batch.

    Parameters
    ----------
    sets : list of (F, y)
        Features as the classifier sees them (already prepared) and 0/1 labels.
    Cs : list of sequences of float
        The C values to fit for each set.
    balanced : bool, default=True
        Class-balanced weights (``class_weight="balanced"``) or none.

    Returns
    -------
    coef : ndarray of shape (sum of len(Cs[i]), p)
    intercept : ndarray
        Set by set, in the order of each set's C values.
    """
    m = max(len(F) for F, _ in sets)
    # Sets may differ in width (a category missing from one training set drops
    # its one-hot column): narrower ones are padded with zero columns, whose
    # penalised coefficients stay exactly 0.
    p = max(F.shape[1] for F, _ in sets)
    X = np.zeros((len(sets), m, p))
    Y = np.zeros((len(sets), m))
    W = np.zeros((len(sets), m))
    for i, (F, y) in enumerate(sets):
        X[i, : len(F), : F.shape[1]] = F
        Y[i, : len(F)] = y
        W[i, : len(F)] = balanced_weights(y) if balanced else 1.0
    # Each set is laid out once and repeated for its C values.
    rows = np.repeat(np.arange(len(sets)), [len(c) for c in Cs])
    C = np.concatenate([np.asarray(c, dtype=float) for c in Cs])
    return batched_logistic_regression(X[rows], Y[rows], W[rows], C)


def fit_problems(problems, *, balanced=True):
    """Solve [(A_train, y_train, C, scaling)] together; (coef, intercept, stats).

    Each problem is standardised as ``scaling`` says (None: prepared already);
    ``balanced=False`` fits without class weights (``class_weight=None``).
    """
    sets, stats = [], []
    for A, y, _, scaling in problems:
        A = np.asarray(A, dtype=np.float64)  # float32 features: float64 statistics
        if scaling is None:
            stats.append(None)
            sets.append((A, y))
        else:
            mean, scale = _standardizer(A, scaling)
            stats.append((mean, scale))
            sets.append(((A - mean) / scale, y))
    coef, intercept = fit_prepared(
        sets, [[C] for _, _, C, _ in problems], balanced=balanced
    )
    return coef, intercept, stats


def decision_of(rows, coef, intercept, stats):
    """Decision function of a fitted problem on ``rows``.

    ``stats`` is the problem's (mean, scale), or None for prepared rows.
    """
    if stats is not None:
        rows = (rows - stats[0]) / stats[1]
    return rows @ coef[: rows.shape[1]] + intercept


def _padded(index_lists):
    """Index arrays stacked into one (lists, longest) array, and its mask.

    Missing places hold index 0 (a real row, masked out by the caller).
    """
    width = max(len(rows) for rows in index_lists)
    out = np.zeros((len(index_lists), width), dtype=np.intp)
    mask = np.zeros((len(index_lists), width), dtype=bool)
    for s, rows in enumerate(index_lists):
        out[s, : len(rows)] = rows
        mask[s, : len(rows)] = True
    return out, mask


def _auc_columns(y, decisions) -> np.ndarray:
    """ROC AUC of each column of ``decisions`` (as :func:`fast_auc`, exactly)."""
    y = np.asarray(y, dtype=bool)
    positives, negatives = decisions[y], decisions[~y]
    if len(positives) * len(negatives) > 65536:
        return np.array([fast_auc(y, column) for column in decisions.T])
    above = positives[:, None, :] > negatives[None, :, :]
    tied = positives[:, None, :] == negatives[None, :, :]
    wins = np.count_nonzero(above, axis=(0, 1)) + 0.5 * np.count_nonzero(
        tied, axis=(0, 1)
    )
    return wins / (len(positives) * len(negatives))


def _neg_log_loss_columns(y, decisions) -> np.ndarray:
    """scikit-learn's ``neg_log_loss`` of expit(decision), for each column.

    In the log-sum-exp form (no clipping needed; sklearn clips probabilities
    at machine epsilon, which differs only for |decision| > 36).
    """
    y = np.asarray(y, dtype=float)[:, None]
    return -np.mean(np.logaddexp(0.0, decisions) - y * decisions, axis=0)


_SCORERS = {"roc_auc": _auc_columns, "neg_log_loss": _neg_log_loss_columns}


#: Comparisons (sets x rows x rows x candidates) the padded AUC makes at once.
_PAIRS_AT_ONCE = 2**24


def _padded_scores(scoring, y, decisions, mask) -> np.ndarray:
    """``_SCORERS[scoring]`` of many test sets at once, as (sets, candidates).

    ``y`` and ``mask`` are (sets, rows), ``decisions`` (sets, rows,
    candidates); places where ``mask`` is False are padding and do not count.
    The AUC is the same count of ordered pairs, so equal exactly.
    """
    y = np.asarray(y, dtype=bool)
    if scoring == "roc_auc" and decisions.size * decisions.shape[1] > _PAIRS_AT_ONCE:
        # Large test sets: one set at a time (its pairs, or fast_auc).
        return np.array(
            [_auc_columns(y[s][mask[s]], decisions[s][mask[s]]) for s in range(len(y))]
        )
    if scoring == "roc_auc":
        pairs = ((y & mask)[:, :, None] & (~y & mask)[:, None, :])[..., None]
        above = decisions[:, :, None, :] > decisions[:, None, :, :]
        tied = decisions[:, :, None, :] == decisions[:, None, :, :]
        wins = np.count_nonzero(above & pairs, axis=(1, 2))
        wins = wins + 0.5 * np.count_nonzero(tied & pairs, axis=(1, 2))
        return wins / pairs.sum(axis=(1, 2))
    loss = np.logaddexp(0.0, decisions) - y[..., None] * decisions
    return -(loss * mask[..., None]).sum(axis=1) / mask.sum(axis=1)[:, None]


#: The inner-CV criteria the batched search computes.
SCORINGS = tuple(_SCORERS)


class BatchedLogisticSearch:
    """Tune C by inner CV and refit, for many training sets in one batch.

    Reproduces, for each task, ``GridSearchCV(make_pipeline(preparation,
    LogisticRegression(class_weight="balanced")), {"C": Cs}, scoring=scoring,
    cv=splitter)``: the same inner splits, the preparation fitted on each
    (inner or outer) training set only, the mean inner score per candidate, the
    first of the best candidates (see :func:`best_candidate`), a refit on the
    whole training set, and its decision function on other rows.

    Parameters
    ----------
    Cs : sequence of float
    splitter : cross-validation splitter
        Its ``split(X, y, groups)`` gives the inner folds of a training set.
    scaling : {"standard", "center", None}, default="standard"
        Per training set, as ``StandardScaler`` (with_std only for "standard").
        Ignored when ``preparation`` is given.
    preparation : scikit-learn transformer or None, default=None
        Steps fitted on each training set before the classifier (e.g. a
        ``DemographicFeatures`` encoder, an imputer and a scaler); cloned for
        every training set, as GridSearchCV does. None: the numpy scaling.
    scoring : {"roc_auc", "neg_log_loss"}, default="roc_auc"
        The inner-CV criterion, as scikit-learn's scorers of those names.
    """

    def __init__(
        self, Cs, splitter, scaling="standard", preparation=None, scoring="roc_auc"
    ):
        if scoring not in _SCORERS:
            raise ValueError(
                f"scoring must be one of {list(_SCORERS)}; got {scoring!r}"
            )
        self.Cs = list(Cs)
        self.splitter = splitter
        self.scaling = scaling
        self.preparation = preparation
        self.scoring = scoring

    @property
    def image_columns(self) -> slice | None:
        """The image features among the columns the classifier sees (None: unknown).

        What :meth:`fit_decision` needs to give maps: a numeric design is all
        image features; a :class:`FoldPreparation` knows its image block.
        """
        if self.preparation is None:
            return slice(None)
        if isinstance(self.preparation, FoldPreparation):
            return slice(0, self.preparation.n_image)
        return None

    def _prepare(self, A, y, rows):
        """(training features, features of ``rows``, image scale), prepared.

        As the classifier sees them, prepared once per training set, whatever
        the number of grid values. The image scale is what each image column
        was divided by (None when the preparation does not say).
        """
        if self.preparation is None:
            mean, scale = _standardizer(np.asarray(A, dtype=np.float64), self.scaling)
            return (A - mean) / scale, (rows - mean) / scale, scale
        # FoldPreparation refits every attribute in fit: a shallow copy is a
        # fresh one, without clone's parameter introspection (a third of the
        # time of a batched demographics CV).
        step = (
            copy.copy(self.preparation)
            if isinstance(self.preparation, FoldPreparation)
            else clone(self.preparation)
        ).fit(A, y)
        scale = getattr(step, "image_scale_", None)
        return step.transform(A), step.transform(rows), scale

    def _inner_scores_numeric(self, tasks, with_inner=False):
        """Mean inner-CV score of each candidate, per task, on a numeric design.

        :meth:`fit_decision`'s inner search with the scaling done in numpy for
        every inner split at once: the split's rows gathered into one padded
        (splits, rows, features) array, its training statistics computed over
        the rows that are there. Per split in Python, it was a third of a
        permutation test of a ROI model.

        Returns the scores (tasks, candidates) and, ``with_inner``, each task's
        out-of-fold decision values (training rows, candidates); else None.
        """
        k = len(self.Cs)
        stacked = np.concatenate([np.asarray(t[0], dtype=np.float64) for t in tasks])
        labels = np.concatenate([np.asarray(t[1]) for t in tasks])
        offsets = np.cumsum([0, *(len(t[1]) for t in tasks)])
        owners, trains, tests = [], [], []
        for t, task in enumerate(tasks):
            groups = task[3] if len(task) > 3 else None
            for tr, te in split(self.splitter, np.asarray(task[1]), groups):
                owners.append(t)
                trains.append(offsets[t] + tr)
                tests.append(offsets[t] + te)
        train, train_mask = _padded(trains)
        X = stacked[train] * train_mask[..., None]  # padding rows are zeros
        count = train_mask.sum(axis=1)[:, None]
        mean = X.sum(axis=1) / count
        if self.scaling is None:
            mean = np.zeros_like(mean)
        centred = (X - mean[:, None, :]) * train_mask[..., None]
        scale = np.ones_like(mean)
        if self.scaling == "standard":
            scale = np.sqrt((centred**2).sum(axis=1) / count)
            scale[scale == 0] = 1.0  # as StandardScaler: constant features stay 0
        F = centred / scale[:, None, :]
        Y = labels[train] * train_mask
        W = np.zeros(train.shape)
        for s, rows in enumerate(trains):
            W[s, : len(rows)] = balanced_weights(labels[rows])
        repeat = np.repeat(np.arange(len(trains)), k)
        C = np.tile(np.asarray(self.Cs, dtype=float), len(trains))
        coef, intercept = batched_logistic_regression(
            F[repeat], Y[repeat], W[repeat], C
        )
        test, test_mask = _padded(tests)
        rows = (stacked[test] - mean[:, None, :]) / scale[:, None, :]
        # Every candidate of every inner split at once: (splits, rows, candidates).
        decisions = rows @ coef.reshape(len(trains), k, -1).transpose(0, 2, 1)
        decisions += intercept.reshape(len(trains), 1, k)
        split_scores = _padded_scores(self.scoring, labels[test], decisions, test_mask)
        scores = np.zeros((len(tasks), k))
        np.add.at(scores, np.asarray(owners), split_scores)
        scores /= np.bincount(owners, minlength=len(tasks))[:, None]
        if not with_inner:
            return scores, None
        inner = [np.empty((len(task[1]), k)) for task in tasks]
        for s, (owner, rows) in enumerate(zip(owners, tests, strict=True)):
            inner[owner][rows - offsets[owner]] = decisions[s, : len(rows)]
        return scores, inner

    def fit_decision(self, tasks, with_maps=False, with_inner=False):
        """Decision function on each task's rows after tuning on its training set.

        Parameters
        ----------
        tasks : list of (A_train, y_train, A_rows) or (A_train, y_train, A_rows, groups)
            ``A`` may be an array or, with a ``preparation``, a DataFrame.
        with_maps : bool, default=False
            Also each refitted model's image weights and Haufe pattern, from
            its training rows (needs :attr:`image_columns`).
        with_inner : bool, default=False
            Also each task's inner out-of-fold decision values of the chosen
            candidate, one per training row (for :func:`txpredict.stats.
            fit_recalibration`); the inner CV then runs even for a single
            candidate.

        Returns
        -------
        list of (decision, best_index), with maps and/or inner values appended
            ``decision`` has one value per row of ``A_rows``; ``best_index`` is the
            chosen candidate's position in ``Cs``; then ``maps``, (weights,
            pattern) as :func:`txpredict.models.weights_and_pattern` gives them,
            then the inner decision values.
        """
        best, inner = [0] * len(tasks), None
        if (len(self.Cs) > 1 or with_inner) and self.preparation is None:
            scores, inner = self._inner_scores_numeric(tasks, with_inner)
            best = [best_candidate(row) for row in scores]
        elif len(self.Cs) > 1 or with_inner:
            scores, inner = self._inner_scores_prepared(tasks, with_inner)
            best = [best_candidate(row) for row in scores]
        sets, rows, scales = [], [], []
        for task in tasks:
            y = np.asarray(task[1])
            F, prepared_rows, scale = self._prepare(task[0], y, task[2])
            sets.append((np.asarray(F, dtype=np.float64), y))
            rows.append(prepared_rows)
            scales.append(scale)
        coef, intercept = fit_prepared(sets, [[self.Cs[k]] for k in best])
        out = [
            (decision_of(rows[b], coef[b], intercept[b], None), best[b])
            for b in range(len(tasks))
        ]
        if with_maps:
            image = self.image_columns
            if image is None or any(scale is None for scale in scales):
                raise ValueError("This preparation does not say how to form maps.")
            maps = []
            for (F, _), beta, scale in zip(sets, coef, scales, strict=True):
                beta = beta[: F.shape[1]]
                # The score's constant (intercept) does not change the pattern.
                maps.append(
                    weights_and_pattern(F[:, image], beta[image], F @ beta, scale)
                )
            out = [(*o, m) for o, m in zip(out, maps, strict=True)]
        if with_inner:
            out = [(*o, inner[t][:, best[t]]) for t, o in enumerate(out)]
        return out

    def _inner_scores_prepared(self, tasks, with_inner=False):
        """:meth:`_inner_scores_numeric` with the preparation fitted per inner split.

        Each inner training set is prepared once, whatever the number of
        candidates, and all its candidates are fitted in one batch.
        """
        k = len(self.Cs)
        sets, evaluations = [], []
        for t, task in enumerate(tasks):
            A, y = task[0], np.asarray(task[1])
            groups = task[3] if len(task) > 3 else None
            for tr, te in split(self.splitter, y, groups):
                F, rows, _ = self._prepare(_rows(A, tr), y[tr], _rows(A, te))
                evaluations.append((t, len(sets) * k, rows, y[te], te))
                sets.append((np.asarray(F, dtype=np.float64), y[tr]))
        coef, intercept = fit_prepared(sets, [self.Cs] * len(sets))
        scores = np.zeros((len(tasks), k))
        counts = np.zeros(len(tasks))
        inner = [np.empty((len(task[1]), k)) for task in tasks] if with_inner else None
        for t, first, rows, y_test, te in evaluations:
            # Every candidate of one inner split at once: (rows, candidates).
            decisions = (
                rows @ coef[first : first + k, : rows.shape[1]].T
                + intercept[first : first + k]
            )
            scores[t] += _SCORERS[self.scoring](y_test, decisions)
            counts[t] += 1
            if with_inner:
                inner[t][te] = decisions
        return scores / counts[:, None], inner


class LogisticFastPath:
    """Nested-CV fits of a ResponseClassifier's logistic model, all folds at once.

    Same interface and results as :class:`GramFastPath` (same inner splits,
    candidates and tie-break as ``GridSearchCV``), with the exact optimum of each
    fit instead of lbfgs's approximation at its default tolerance.
    """

    def __init__(self, model, design, search):
        self.model = model
        self.design = design  # as the route chose it, with the search
        self.search = search
        # As ResponseClassifier: best_params_ names only what the grid tuned.
        self.tuned = "classifier__C" in model.build_search(design).param_grid

    @property
    def has_maps(self) -> bool:
        """Whether the fits can give maps (numeric or FoldPreparation designs)."""
        return self.search.image_columns is not None

    def fit_predict_many(
        self, splits, y, groups=None, with_maps=False, with_inner=False
    ):
        """Tune on each split's training part, refit, predict its test part.

        All the fits of all ``splits`` (outer folds x inner folds x grid values)
        are solved in one batch. ``with_maps``: each output also has its
        model's ``"maps"`` (weights, pattern), from its training rows.
        ``with_inner``: and its ``"inner_decision"``, the inner out-of-fold
        decision values of the chosen C on the training rows.
        """
        search = self.search
        tasks = []
        for train, test in splits:
            task = (_rows(self.design, train), y[train], _rows(self.design, test))
            tasks.append(task if groups is None else (*task, groups[train]))
        if groups is not None:
            search = BatchedLogisticSearch(
                search.Cs,
                self.model.inner_splitter(groups),
                search.scaling,
                search.preparation,
                search.scoring,
            )
        outputs = []
        for decision, best, *extra in search.fit_decision(tasks, with_maps, with_inner):
            out = {
                "score": decision,
                "probability": expit(decision),
                "y_pred": (decision > 0).astype(int),
                "best_params": {"C": search.Cs[best]} if self.tuned else {},
            }
            if with_maps:
                out["maps"] = extra[0]
            if with_inner:
                out["inner_decision"] = extra[-1]
            outputs.append(out)
        return outputs

    def fit_predict(
        self, train, test, y, groups=None, with_maps=False, with_inner=False
    ):
        """Tune by inner CV on ``train``, refit, and predict ``test``."""
        splits = [(train, test)]
        return self.fit_predict_many(splits, y, groups, with_maps, with_inner)[0]
