"""Permutation test of the WHOLE nested procedure."""

from __future__ import annotations

from dataclasses import dataclass

import joblib
import numpy as np

from txpredict.errors import TxpredictError

# The module, not its names: _nested imports evaluation's statistics, so this
# import may run while _nested is still initialising.
from txpredict.model_selection import _nested
from txpredict.model_selection._schemes import outer_splits
from txpredict.stats import fast_auc, fast_balanced_accuracy

_STATISTICS = ("auc", "balanced_accuracy")


@dataclass
class PermutationTestResult:
    """Observed statistic, its null distribution and the p-value.

    Attributes
    ----------
    statistic : float
        Mean over repeats of the pooled out-of-fold statistic on the true labels.
    null_distribution : ndarray of shape (n_permutations,)
    p_value : float
        (1 + #null >= observed) / (1 + n_permutations): never 0, valid at any
        number of permutations (Phipson & Smyth 2010).
    scoring : str
    """

    statistic: float
    null_distribution: np.ndarray
    p_value: float
    scoring: str

    def __repr__(self) -> str:
        return (
            f"PermutationTestResult({self.scoring}={self.statistic:.3f}, "
            f"p={self.p_value:.4g}, {len(self.null_distribution)} permutations, "
            f"null mean {self.null_distribution.mean():.3f})"
        )


def _statistic(scoring, y, splits, outputs):
    n_repeats = max(r for r, *_ in splits) + 1
    values = []
    for repeat in range(n_repeats):
        score = np.empty(len(y))
        pred = np.empty(len(y))
        for (r, _, _, test), out in zip(splits, outputs, strict=True):
            if r == repeat:
                score[test], pred[test] = out["score"], out["y_pred"]
        values.append(
            fast_auc(y, score) if scoring == "auc" else fast_balanced_accuracy(y, pred)
        )
    return float(np.mean(values))


def _run_block(runner, ys, seeds_kwargs, groups, scoring):
    out = []
    for y in ys:
        splits = outer_splits(y, **seeds_kwargs)
        outputs = runner.run(y, splits, groups)
        out.append(_statistic(scoring, y, splits, outputs))
    return out


def permutation_test(
    estimator,
    X,
    y,
    *,
    n_permutations=1000,
    scoring="auc",
    outer_cv=5,
    inner_cv=None,
    n_repeats=1,
    groups=None,
    stratify=True,
    fast_path="auto",
    n_jobs=None,
    random_state=0,
):
    """Permutation test that re-runs the whole nested procedure on permuted labels.

    Each permutation re-splits (stratified on the permuted labels), re-tunes in
    the inner loop and refits, exactly as for the observed labels: permuting
    only the outer test labels would ignore the optimism of tuning. What does
    not depend on labels is built once and reused: the extracted features and,
    on the fast path, the Gram matrix.

    Parameters
    ----------
    estimator, X, y, outer_cv, inner_cv, groups, stratify, fast_path
        As in :func:`nested_cross_validate`. With ``groups``, labels are permuted
        across all subjects and the splits keep groups whole.
    n_permutations : int, default=1000
    scoring : {"auc", "balanced_accuracy"}, default="auc"
    n_repeats : int, default=1
        Outer repeats per run, the same for the observed and the permuted labels
        (so the statistic has the same distribution under the null).
    n_jobs : int or None, default=None
        Permutations run in parallel; results do not depend on it.
    random_state : int, default=0
        Seeds the splits (as in :func:`nested_cross_validate`) and the
        permutations.

    Returns
    -------
    PermutationTestResult

    Examples
    --------
    >>> import txpredict as tp
    >>> cohort = tp.make_synthetic_cohort(30, grid="fsl6", random_state=0)
    >>> test = tp.permutation_test(tp.ResponseClassifier("roi", param_grid={"C": [1]}),
    ...                            cohort.X, cohort.y, n_permutations=9)
    >>> len(test.null_distribution)
    9
    """
    if scoring not in _STATISTICS:
        raise TxpredictError(
            f"The 'scoring' parameter of permutation_test must be one of "
            f"{list(_STATISTICS)}. Got {scoring!r} instead."
        )
    if not isinstance(n_permutations, int | np.integer) or n_permutations < 1:
        raise TxpredictError(
            f"n_permutations must be a positive integer; got {n_permutations!r}."
        )
    estimator, _, y, outer_cv, groups = _nested._prepare(
        estimator,
        X,
        y,
        outer_cv=outer_cv,
        inner_cv=inner_cv,
        n_repeats=n_repeats,
        groups=groups,
        allow_loo=False,
    )
    runner = _nested._Runner(estimator, X, fast_path=fast_path)
    split_kwargs = {
        "outer_cv": outer_cv,
        "n_repeats": n_repeats,
        "groups": groups,
        "stratify": stratify,
        "random_state": random_state,
    }
    observed = _run_block(runner, [y], split_kwargs, groups, scoring)[0]
    rng = np.random.default_rng(np.random.SeedSequence(random_state).spawn(1)[0])
    permuted = [rng.permutation(y) for _ in range(n_permutations)]
    n_workers = joblib.effective_n_jobs(n_jobs)
    n_blocks = min(n_permutations, max(1, 4 * n_workers))
    blocks = np.array_split(np.arange(n_permutations), n_blocks)
    results = joblib.Parallel(n_jobs=n_jobs)(
        joblib.delayed(_run_block)(
            runner, [permuted[i] for i in block], split_kwargs, groups, scoring
        )
        for block in blocks
    )
    null = np.array([value for block in results for value in block])
    p_value = (1 + np.sum(null >= observed)) / (1 + n_permutations)
    return PermutationTestResult(observed, null, float(p_value), scoring)
