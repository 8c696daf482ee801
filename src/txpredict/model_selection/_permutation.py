"""Permutation test of the WHOLE nested procedure: txpredict's "better than chance".

Each permutation re-splits (stratified on the permuted labels), re-tunes in the
inner loop and refits, exactly as for the observed labels: permuting only the
outer test labels would ignore the optimism of tuning. The test is exact under
exchangeability of the labels; with ``groups`` (sites) labels are exchangeable
only within a group, so they are permuted within groups (Winkler et al. 2014,
NeuroImage 92:381): a model that merely learns a site's response rate is then
not declared better than chance.
"""

from __future__ import annotations

from dataclasses import dataclass

import joblib
import numpy as np
from sklearn.base import is_regressor
from tqdm.auto import tqdm

from txpredict.errors import TxpredictError
from txpredict.model_selection._runner import Runner, regression_scores, split_scores
from txpredict.model_selection._schemes import check_inner_groups, outer_splits
from txpredict.model_selection._validation import prepare_inputs
from txpredict.stats import check_permutable, permute

STATISTICS = ("auc", "balanced_accuracy")


@dataclass
class PermutationTestResult:
    """Observed statistic, its null distribution and the p-value.

    Attributes
    ----------
    statistic : float
        The statistic on the true labels, as in ``NestedCVResult.summary()``:
        the mean of the outer folds' AUCs, or the balanced accuracy of each
        repeat's pooled out-of-fold predictions averaged over repeats.
    null_distribution : ndarray of shape (n_permutations,)
    p_value : float
        (1 + #null >= observed) / (1 + n_permutations): never 0, valid at any
        number of permutations (Phipson & Smyth 2010).
    scoring : str
    within_groups : bool
        Whether labels were permuted within groups.
    """

    statistic: float
    null_distribution: np.ndarray
    p_value: float
    scoring: str
    within_groups: bool = False

    def __repr__(self) -> str:
        return (
            f"PermutationTestResult({self.scoring}={self.statistic:.3f}, "
            f"p={self.p_value:.4g}, {len(self.null_distribution)} permutations"
            f"{' within groups' if self.within_groups else ''}, "
            f"null mean {self.null_distribution.mean():.3f})"
        )


#: The statistics tested for a regressor (both: higher is better).
REGRESSION_STATISTICS = ("r", "r2")


def _scores_of(runner, ys, split_kwargs, inner_groups, regression=False):
    """Both statistics of a nested CV for each outcome vector in ``ys``."""
    score, names = (
        (regression_scores, REGRESSION_STATISTICS)
        if regression
        else (split_scores, STATISTICS)
    )
    out = []
    for y in ys:
        splits = outer_splits(y, **split_kwargs)
        outputs = runner.run(y, splits, inner_groups)
        scores = score(y, splits, outputs)
        out.append([scores[name] for name in names])
    return out


def permutation_tests(
    runner, y, *, split_kwargs, groups, inner_groups, n_permutations, random_state,
    n_jobs=None, regression=False, progress=False,
) -> dict[str, PermutationTestResult]:  # fmt: skip
    """One permutation test per statistic, from the same permuted nested CVs.

    AUC and balanced accuracy; for a regressor (``regression=True``) r and r2.
    Permutations are drawn in one stream before any work, so the null does not
    depend on ``n_jobs``.
    """
    if not isinstance(n_permutations, int | np.integer) or n_permutations < 1:
        raise TxpredictError(
            f"n_permutations must be a positive integer; got {n_permutations!r}."
        )
    check_permutable(y, groups)
    names = REGRESSION_STATISTICS if regression else STATISTICS
    (values,) = _scores_of(runner, [y], split_kwargs, inner_groups, regression)
    observed = dict(zip(names, values, strict=True))
    rng = np.random.default_rng(np.random.SeedSequence(random_state).spawn(1)[0])
    permuted = [permute(y, rng, groups) for _ in range(n_permutations)]
    # Chunks amortise shipping the runner (features, Gram matrix) to workers.
    n_chunks = min(n_permutations, max(1, 4 * joblib.effective_n_jobs(n_jobs)))
    chunks = np.array_split(np.arange(n_permutations), n_chunks)
    results = joblib.Parallel(n_jobs=n_jobs, return_as="generator")(
        joblib.delayed(_scores_of)(
            runner, [permuted[i] for i in chunk], split_kwargs, inner_groups, regression
        )
        for chunk in chunks
    )
    if progress:
        with tqdm(total=n_permutations, desc="permutations", unit="perm") as bar:
            blocks = []
            for block in results:
                blocks.append(block)
                bar.update(len(block))
        results = blocks
    null = np.array([row for block in results for row in block])
    out = {}
    for k, name in enumerate(names):
        p_value = (1 + np.sum(null[:, k] >= observed[name])) / (1 + n_permutations)
        out[name] = PermutationTestResult(
            float(observed[name]), null[:, k], float(p_value), name, groups is not None
        )
    return out


def permutation_test(
    estimator,
    X,
    y,
    *,
    n_permutations=1000,
    scoring=None,
    outer_cv=5,
    inner_cv=None,
    n_repeats=1,
    groups=None,
    inner_groups=True,
    stratify=True,
    fast_path="auto",
    n_jobs=None,
    random_state=0,
):
    """Permutation test that re-runs the whole nested procedure on permuted labels.

    What does not depend on labels is built once and reused: the extracted
    features and, on the fast paths, the Gram matrix or the encoded design.
    ``nested_cross_validate(..., n_permutations=...)`` runs the same test and
    shows its p-values in the summary.

    Parameters
    ----------
    estimator, X, y, outer_cv, inner_cv, groups, inner_groups, stratify, fast_path
        As in :func:`nested_cross_validate`. With ``groups``, labels are
        permuted within groups (each group keeps its own outcomes) and the
        splits keep groups whole; a group of a single outcome class then cannot
        change, and too few possible arrangements is an error.
    n_permutations : int, default=1000
    scoring : {"auc", "balanced_accuracy"} or {"r", "r2"}, default=None
        The statistic; None: "auc" for a classifier, "r" for a regressor.
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
    ...                            cohort.X, cohort.y, n_permutations=19)
    >>> len(test.null_distribution)
    19
    """
    regression = is_regressor(estimator)
    allowed = REGRESSION_STATISTICS if regression else STATISTICS
    scoring = allowed[0] if scoring is None else scoring
    if scoring not in allowed:
        raise TxpredictError(
            f"The 'scoring' parameter of permutation_test must be one of "
            f"{list(allowed)} for this {'regressor' if regression else 'classifier'}."
            f" Got {scoring!r} instead."
        )
    estimator, _, y, outer_cv, groups = prepare_inputs(
        estimator,
        X,
        y,
        outer_cv=outer_cv,
        inner_cv=inner_cv,
        n_repeats=n_repeats,
        groups=groups,
        allow_loo=False,
        continuous=regression,
        n_jobs=n_jobs,
    )
    stratify = stratify and not regression
    split_kwargs = {
        "outer_cv": outer_cv,
        "n_repeats": n_repeats,
        "groups": groups,
        "stratify": stratify,
        "random_state": random_state,
    }
    inner = groups if inner_groups else None
    if inner is not None and isinstance(getattr(estimator, "inner_cv", None), int):
        check_inner_groups(groups, outer_splits(y, **split_kwargs), estimator.inner_cv)
    runner = Runner(estimator, X, fast_path=fast_path)
    return permutation_tests(
        runner,
        y,
        split_kwargs=split_kwargs,
        groups=groups,
        inner_groups=inner,
        n_permutations=n_permutations,
        random_state=random_state,
        n_jobs=n_jobs,
        regression=regression,
    )[scoring]
