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
from functools import partial

import joblib
import numpy as np
from sklearn.base import is_regressor
from tqdm.auto import tqdm

from txpredict.errors import TxpredictError
from txpredict.model_selection._runner import Runner, regression_scores, split_scores
from txpredict.model_selection._schemes import check_inner_groups, outer_splits
from txpredict.model_selection._validation import prepare_inputs
from txpredict.stats import (
    DEFAULT_EXCEEDANCES,
    check_exceedances,
    check_n_permutations,
    check_permutable,
    monte_carlo_error,
    permute,
    sequential_p_value,
)

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
    null_distribution : ndarray of shape (n_used,)
        The permuted statistics the p-value rests on, in the order drawn.
    p_value : float
        Sequential (Besag & Clifford 1991): h / L when the L-th permuted
        statistic is the h-th (``n_exceedances``) to reach the observed one;
        otherwise (1 + #null >= observed) / (1 + max_permutations), never 0
        (Phipson & Smyth 2010). Valid either way.
    scoring : str
    within_groups : bool
        Whether labels were permuted within groups.
    max_permutations : int or None
        The permutations allowed (None: as many as the null distribution).
    n_exceedances : int or None
        Besag & Clifford's h (None: a fixed-size test).
    """

    statistic: float
    null_distribution: np.ndarray
    p_value: float
    scoring: str
    within_groups: bool = False
    max_permutations: int | None = None
    n_exceedances: int | None = None

    @property
    def stopped_early(self) -> bool:
        """Whether the test stopped at its h-th exceedance (its p-value is h / L)."""
        return self.n_exceedances is not None and (
            np.sum(self.null_distribution >= self.statistic) >= self.n_exceedances
        )

    @property
    def monte_carlo_error(self) -> float:
        """Standard error of the p-value from drawing permutations at random."""
        return monte_carlo_error(
            self.p_value,
            len(self.null_distribution),
            self.n_exceedances if self.stopped_early else None,
        )

    def rule(self) -> str:
        """The stopping rule and where it stopped, in words."""
        n = len(self.null_distribution)
        if self.stopped_early:
            return (
                f"{n} permutations: stopped at the {self.n_exceedances}th permuted "
                f"{self.scoring} reaching the observed one, of at most "
                f"{self.max_permutations} (sequential p = {self.n_exceedances}/{n}; "
                "Besag & Clifford 1991)"
            )
        rest = (
            f", fewer than {self.n_exceedances} reaching the observed {self.scoring}"
            if self.n_exceedances is not None
            else ""
        )
        return f"all {n} permutations{rest}"

    def __repr__(self) -> str:
        return (
            f"PermutationTestResult({self.scoring}={self.statistic:.3f}, "
            f"p={self.p_value:.4g}, {self.rule()}"
            f"{', within groups' if self.within_groups else ''}, "
            f"null mean {self.null_distribution.mean():.3f})"
        )


#: The statistics tested for a regressor (both: higher is better).
REGRESSION_STATISTICS = ("r", "r2")

#: Permutations per parallel task in the first round. With several workers the
#: tasks grow by half each round (each round ships the runner to the workers);
#: in one process they stay this small, so a test settled early wastes little.
FIRST_BLOCK = 10
GROWTH = 1.5


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


def sequential_null(
    evaluate, permuted, observed, *, n_exceedances, n_jobs=None, progress=False
):
    """The null statistics of ``permuted``, drawn until every p-value is settled.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(some_permutations)`` gives one row per permutation: its
        statistics, in the order of ``observed`` (larger is more extreme).
    permuted : list
        Every permutation the tests may use, drawn in one stream before any work.
    observed : sequence of float
        The statistics on the data.
    n_exceedances : int or None
        Besag & Clifford's h; None: every permutation is evaluated.
    n_jobs : int or None, default=None
        Blocks of permutations run in parallel (joblib).
    progress : bool, default=False
        A bar of the permutations evaluated (stderr).

    Returns
    -------
    list of (p_value, null)
        Per statistic: its sequential p-value and the null statistics it rests
        on. Each is decided on the permutations in the order drawn, so the
        results do not depend on ``n_jobs``.
    """
    n, k = len(permuted), len(observed)
    workers = joblib.effective_n_jobs(n_jobs)
    rows: list = []
    block = FIRST_BLOCK
    bar = tqdm(total=n, desc="permutations", unit="perm") if progress else None
    with joblib.Parallel(n_jobs=n_jobs) as parallel:
        while True:
            null = np.asarray(rows, dtype=np.float64).reshape(len(rows), k)
            tests = [
                sequential_p_value(null[:, j], observed[j], n, n_exceedances)
                for j in range(k)
            ]
            if all(p is not None for p, _ in tests):
                break
            start = len(rows)
            size = workers * int(block)
            if n_exceedances is not None and start:
                # No further than the unsettled tests are expected to need.
                size = min(
                    size,
                    max(
                        workers * FIRST_BLOCK,
                        _expected_rest(
                            null, observed, n_exceedances, [p is None for p, _ in tests]
                        ),
                    ),
                )
            stop = min(n, start + size)
            chunks = [
                c for c in np.array_split(np.arange(start, stop), workers) if c.size
            ]
            for part in parallel(
                joblib.delayed(evaluate)([permuted[i] for i in chunk])
                for chunk in chunks
            ):
                rows.extend(part)
            if bar is not None:
                bar.update(stop - start)
            if workers > 1:
                block *= GROWTH
    if bar is not None:
        bar.close()
    return [(p, null[:used, j]) for j, (p, used) in enumerate(tests)]


def _expected_rest(null, observed, n_exceedances, unsettled) -> int:
    """Permutations the unsettled tests are expected to need, at their rates so far."""
    drawn = len(null)
    rest = 0.0
    for j in np.flatnonzero(unsettled):
        reached = np.sum(null[:, j] >= observed[j])
        rate = (reached + 1) / (drawn + 1)
        rest = max(rest, (n_exceedances - reached) / rate)
    return int(np.ceil(rest))


def permutation_tests(
    runner, y, *, split_kwargs, groups, inner_groups, n_permutations, random_state,
    n_jobs=None, regression=False, progress=False, n_exceedances=DEFAULT_EXCEEDANCES,
) -> dict[str, PermutationTestResult]:  # fmt: skip
    """One permutation test per statistic, from the same permuted nested CVs.

    AUC and balanced accuracy; for a regressor (``regression=True``) r and r2.
    Permutations are drawn in one stream before any work, and each test stops
    by Besag & Clifford's rule (``n_exceedances``) applied in that order, so
    the tests do not depend on ``n_jobs``. The permutations run until every
    statistic's test has stopped.
    """
    check_n_permutations(n_permutations)
    check_exceedances(n_exceedances)
    check_permutable(y, groups)
    names = REGRESSION_STATISTICS if regression else STATISTICS
    (observed,) = _scores_of(runner, [y], split_kwargs, inner_groups, regression)
    rng = np.random.default_rng(np.random.SeedSequence(random_state).spawn(1)[0])
    permuted = [permute(y, rng, groups) for _ in range(n_permutations)]
    tests = sequential_null(
        partial(
            _scores_of,
            runner,
            split_kwargs=split_kwargs,
            inner_groups=inner_groups,
            regression=regression,
        ),
        permuted,
        observed,
        n_exceedances=n_exceedances,
        n_jobs=n_jobs,
        progress=progress,
    )
    return {
        name: PermutationTestResult(
            float(value),
            null,
            float(p_value),
            name,
            groups is not None,
            int(n_permutations),
            n_exceedances,
        )
        for name, value, (p_value, null) in zip(names, observed, tests, strict=True)
    }


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
    n_exceedances=DEFAULT_EXCEEDANCES,
    on_disk="auto",
):
    """Permutation test that re-runs the whole nested procedure on permuted labels.

    What does not depend on labels is built once and reused: the extracted
    features and, on the fast paths, the Gram matrix or the encoded design.
    ``nested_cross_validate(..., n_permutations=...)`` runs the same test and
    shows its p-values in the summary.

    Parameters
    ----------
    estimator, X, y, outer_cv, inner_cv, groups, inner_groups, stratify
        As in :func:`nested_cross_validate`. With ``groups``, labels are
        permuted within groups (each group keeps its own outcomes) and the
        splits keep groups whole; a group of a single outcome class then cannot
        change, and too few possible arrangements is an error.
    fast_path, on_disk
        As in :func:`nested_cross_validate`.
    n_permutations : int, default=1000
        The most permutations the test runs.
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
    n_exceedances : int or None, default=10
        Stop at the permutation whose statistic is the ``n_exceedances``-th to
        reach the observed one (Besag & Clifford 1991; p = h / L). None: run
        all ``n_permutations``.

    Returns
    -------
    PermutationTestResult

    Examples
    --------
    >>> import txpredict as tp
    >>> cohort = tp.make_synthetic_cohort(30, grid="fsl6", random_state=0)
    >>> test = tp.permutation_test(tp.ResponseClassifier("roi", param_grid={"C": [1]}),
    ...                            cohort.X, cohort.y, n_permutations=19)
    >>> len(test.null_distribution) <= 19
    True
    >>> test.max_permutations
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
    runner = Runner(
        estimator, X, fast_path=fast_path, on_disk=on_disk, probabilities=False
    )
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
        n_exceedances=n_exceedances,
    )[scoring]
