"""compare_cv_schemes: how much each cross-validation scheme misleads, measured.

Synthetic cohorts come from :func:`make_synthetic_cohort` (the same generator,
so the same population, for every replicate). For each effect setting, images of
a pool of patients are generated and their ROI features extracted once, in
chunks; each replicate cohort is a random sample of the pool with the
population's responder proportion (fixed class counts, as in a study of a known
response rate: null cohorts are exactly balanced, as in the literature's
demonstrations, and 10-fold CV stays defined at n = 20). A disjoint sample
of ``n_true`` patients measures each replicate model's true performance.
"""

from __future__ import annotations

import time

import joblib
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from txpredict.cv_schemes._result import CVSchemesResult
from txpredict.cv_schemes._schemes import (
    SCHEMES,
    confidence_and_p,
    estimate_schemes,
    true_scores,
    truth_of,
)
from txpredict.datasets import EFFECTS, make_synthetic_cohort, population_prevalence
from txpredict.errors import TxpredictError
from txpredict.features import RoiFeatures

_CHUNK = 1000  # subjects generated (as images) and extracted at a time

#: Settings of ``--quick`` runs (tests, notebook): well under a minute.
QUICK = {
    "sample_sizes": (20, 40),
    "n_replicates": 10,
    "n_true": 500,
    "pool_size": 500,
}


def _chunk(effect, size, grid, seed):
    cohort = make_synthetic_cohort(size, effect=effect, grid=grid, random_state=seed)
    features = RoiFeatures(verbose=0).fit_transform(cohort.X).astype(np.float64)
    return features, cohort.y.to_numpy()


def _population(effect, n_subjects, grid, seed, n_jobs):
    """ROI features and outcomes of ``n_subjects`` synthetic patients.

    Generated (as images) and extracted a chunk at a time, so memory stays small.
    """
    seeds = seed.generate_state(-(-n_subjects // _CHUNK))
    sizes = [min(_CHUNK, n_subjects - k * _CHUNK) for k in range(len(seeds))]
    chunks = joblib.Parallel(n_jobs=n_jobs)(
        joblib.delayed(_chunk)(effect, size, grid, int(s))
        for size, s in zip(sizes, seeds, strict=True)
    )
    return np.vstack([f for f, _ in chunks]), np.concatenate([y for _, y in chunks])


def _draw(rng, y_pool, n, prevalence):
    """A cohort of n pool patients with the population's responder proportion."""
    # At least 10 of each class, so that stratified 10-fold CV is defined.
    n_pos = int(np.clip(round(n * prevalence), 10, n - 10))
    positives = rng.choice(np.flatnonzero(y_pool == 1), n_pos, replace=False)
    negatives = rng.choice(np.flatnonzero(y_pool == 0), n - n_pos, replace=False)
    return rng.permutation(np.concatenate([positives, negatives]))


def _run_chunk(pool, truth, prevalence, jobs, fixed_C):
    A_pool, y_pool = pool
    A_true, y_true = truth
    rows = []
    for effect, n, replicate, seed in jobs:
        rng = np.random.default_rng(seed)
        rows_of = _draw(rng, y_pool, n, prevalence)
        A, y = A_pool[rows_of], y_pool[rows_of]
        scheme_seed = int(rng.integers(2**31))
        estimates = estimate_schemes(A, y, fixed_C=fixed_C, seed=scheme_seed)
        true = true_scores(A, y, A_true, y_true, fixed_C=fixed_C, seed=scheme_seed)
        n1 = int(y.sum())
        for scheme, (ba, auc) in estimates.items():
            true_ba, true_auc = true[truth_of(scheme)]
            rows.append(
                {
                    "effect": effect,
                    "n": n,
                    "replicate": replicate,
                    "scheme": scheme,
                    "balanced_accuracy": ba,
                    "auc": auc,
                    "true_balanced_accuracy": true_ba,
                    "true_auc": true_auc,
                    **confidence_and_p(ba, auc, n1, n - n1),
                }
            )
    return rows


def compare_cv_schemes(
    *,
    sample_sizes=(20, 40, 100, 200),
    effects=("none", "prognostic"),
    n_replicates=200,
    n_true=5000,
    pool_size=20000,
    fixed_C=1e-3,
    grid="fsl6",
    n_jobs=None,
    random_state=0,
    progress=True,
) -> CVSchemesResult:
    """Estimate one model's accuracy with each CV scheme on many replicate cohorts.

    The model is txpredict's default responder classifier on ROI features: L2
    logistic regression, class-balanced, standardised features; untuned schemes
    use ``C=fixed_C``, tuned ones choose among 1e-3 ... 10. The schemes are
    listed in :data:`txpredict.cv_schemes.SCHEMES` (leave-one-out with and
    without tuning on the same folds, single and repeated 5- and 10-fold,
    non-nested tuned 5-fold, nested 5 x 5-fold). Each estimate is compared with
    the TRUE performance of the model the study would report (fitted on the
    whole replicate cohort), measured on ``n_true`` independent patients.

    Parameters
    ----------
    sample_sizes : sequence of int, default=(20, 40, 100, 200)
    effects : sequence of str, default=("none", "prognostic")
        Settings of :func:`make_synthetic_cohort`: "none" is null data,
        "prognostic" a planted cuneus effect.
    n_replicates : int, default=200
        Replicate cohorts per effect and sample size.
    n_true : int, default=5000
        Size of the independent sample measuring true performance.
    pool_size : int, default=20000
        Patients generated per effect from which replicates are drawn (disjoint
        from the ``n_true`` sample).
    fixed_C : float, default=1e-3
        C of the untuned schemes (strong regularisation, as in the literature's
        demonstrations of LOO's bias).
    grid : str, default="fsl6"
        Image grid of the synthetic scans (6 mm: the ROI means barely change
        with resolution, and generation is 30x faster than at 2 mm).
    n_jobs : int or None, default=None
        Replicates run in parallel (joblib); results do not depend on it.
    random_state : int, default=0
    progress : bool, default=True
        Show a progress bar over replicates.

    Returns
    -------
    CVSchemesResult

    Examples
    --------
    >>> import txpredict as tp
    >>> result = tp.compare_cv_schemes(
    ...     sample_sizes=(20,), effects=("none",), n_replicates=2, n_true=200,
    ...     pool_size=200, progress=False)
    >>> sorted(result.estimates["scheme"].unique())[:3]
    ['kfold10', 'kfold10_repeated', 'kfold5']
    """
    unknown = [e for e in effects if e not in EFFECTS]
    if unknown:
        raise TxpredictError(
            f"Unknown effect(s) {unknown}; choose among {list(EFFECTS)}."
        )
    sizes = [int(n) for n in sample_sizes]
    if min(sizes) < 20:
        raise TxpredictError(
            f"sample_sizes must be at least 20 (10-fold CV needs 10 patients of each "
            f"class); got {min(sizes)}."
        )
    if max(sizes) > pool_size // 2:
        raise TxpredictError(
            f"pool_size={pool_size} is too small for n={max(sizes)}: replicates are "
            "drawn from it by class; use pool_size >= 2 x the largest sample size."
        )
    start = time.perf_counter()
    root = np.random.SeedSequence(random_state)
    population_seeds = root.spawn(2 * len(effects))
    job_seeds = iter(root.spawn(len(effects) * len(sizes) * n_replicates))
    tasks = []
    for e, effect in enumerate(effects):
        pool = _population(effect, pool_size, grid, population_seeds[2 * e], n_jobs)
        truth = _population(effect, n_true, grid, population_seeds[2 * e + 1], n_jobs)
        prevalence = population_prevalence(effect)
        jobs = [
            (effect, n, r, next(job_seeds)) for n in sizes for r in range(n_replicates)
        ]
        # A few replicates per task: the pool is shipped once per task.
        for chunk in np.array_split(np.arange(len(jobs)), max(1, len(jobs) // 5)):
            tasks.append((pool, truth, prevalence, [jobs[i] for i in chunk]))
    generated = time.perf_counter() - start
    results = joblib.Parallel(n_jobs=n_jobs, return_as="generator")(
        joblib.delayed(_run_chunk)(*task, fixed_C) for task in tasks
    )
    rows = []
    with tqdm(
        total=len(effects) * len(sizes) * n_replicates,
        desc="cv schemes",
        unit="replicate",
        disable=not progress,
    ) as bar:
        for chunk_rows in results:
            rows.extend(chunk_rows)
            bar.update(len(chunk_rows) // len(SCHEMES))
    estimates = pd.DataFrame(rows)
    info = {
        "sample_sizes": sizes,
        "effects": list(effects),
        "n_replicates": n_replicates,
        "n_true": n_true,
        "pool_size": pool_size,
        "fixed_C": fixed_C,
        "grid": grid,
        "random_state": random_state,
        "schemes": list(SCHEMES),
        "generation_seconds": generated,
        "wall_seconds": time.perf_counter() - start,
        "n_jobs": n_jobs,
    }
    return CVSchemesResult(estimates, info)
