"""Permutation test of what the scan adds to a baseline of table columns.

The null hypothesis of "does the scan add to demographics?": given the
baseline columns (age, sex, severity, site ...), the outcome does not depend
on the scan. Each permutation keeps the outcome, the baseline columns and the
cross-validation splits, and gives every patient the scan features the
baseline columns predict for them plus another patient's residual (Freedman
& Lane 1983; Anderson & Robinson 2001, Aust N Z J Stat 43:75; Winkler et al.
2014, NeuroImage 92:381): the scan's association with the baseline columns
(age shrinks grey matter, scanners shift intensities) is kept, only its part
independent of them is shuffled. With sites as ``groups``, residuals are
shuffled within each site. The model's whole nested procedure is refitted
on each permuted design; the baseline, which never sees the scan, is fitted
once. The statistic is the model's score minus the baseline's (AUC and
balanced accuracy, as :func:`~txpredict.compare` reports them), and the
p-value Besag & Clifford's sequential one. Its level and power, against
:func:`~txpredict.compare`'s variance-based test, are measured in
``benchmarks/calibration.py`` (part ``added_value``).

The residuals are taken from a least-squares fit of the scan features on
the encoded baseline columns over all patients: a device to build the null
distribution, never part of the model, which is fitted inside the folds as
always.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
from sklearn.base import clone

from txpredict.errors import TxpredictError
from txpredict.features import DemographicFeatures
from txpredict.model_selection import (
    PermutationTestResult,
    Runner,
    inner_groups_of,
    outer_splits,
    prepare_inputs,
    sequential_null,
    split_scores,
)
from txpredict.stats import (
    DEFAULT_EXCEEDANCES,
    check_exceedances,
    check_n_permutations,
    permute,
)

STATISTICS = ("auc", "balanced_accuracy")
#: The options of nested_cross_validate that decide the splits and the fits.
SPLIT_OPTIONS = (
    "outer_cv",
    "inner_cv",
    "n_repeats",
    "groups",
    "inner_groups",
    "stratify",
    "fast_path",
    "n_jobs",
    "random_state",
    "progress",
)


def scan_permutation_test(
    model,
    baseline,
    X,
    y,
    *,
    baseline_columns,
    n_permutations=1000,
    n_exceedances=DEFAULT_EXCEEDANCES,
    outer_cv=5,
    inner_cv=None,
    n_repeats=10,
    groups=None,
    inner_groups=True,
    stratify=True,
    fast_path="auto",
    n_jobs=None,
    random_state=0,
    progress=False,
) -> dict[str, PermutationTestResult]:
    """Does the scan add to ``baseline``? Scan residuals permuted, outcome kept.

    Parameters
    ----------
    model : ResponseClassifier
        The model with the scan (image features, usually beside the baseline
        columns).
    baseline : ResponseClassifier
        The model of ``baseline_columns`` alone.
    X, y, outer_cv, inner_cv, n_repeats, groups, inner_groups, stratify
        As in :func:`~txpredict.nested_cross_validate`: the same splits as
        the two models' nested CVs. With ``groups``, residuals are permuted
        within groups.
    fast_path, n_jobs, random_state
        As in :func:`~txpredict.nested_cross_validate`.
    baseline_columns : list of str
        The columns the null hypothesis conditions on.
    n_permutations : int, default=1000
        The most permutations the test runs.
    progress : bool, default=False
        A bar of the permutations evaluated (stderr).
    n_exceedances : int or None, default=10
        Besag & Clifford's h: stop at the h-th permuted difference reaching
        the observed one (p = h / L). None: all ``n_permutations``.

    Returns
    -------
    dict of str to PermutationTestResult
        For "auc" and "balanced_accuracy": ``statistic`` is the model's
        score minus the baseline's, ``null_distribution`` the same with the
        scan residuals permuted.

    Examples
    --------
    >>> import txpredict as tp
    >>> from txpredict.evaluation import scan_permutation_test
    >>> study = tp.make_synthetic_cohort(40, effect="prognostic", grid="fsl6",
    ...                                   random_state=0)
    >>> columns = ["age", "sex"]
    >>> model = tp.ResponseClassifier("roi+demographics", demographic_columns=columns)
    >>> baseline = tp.ResponseClassifier("demographics", demographic_columns=columns)
    >>> tests = scan_permutation_test(model, baseline, study.X, study.y,
    ...                               baseline_columns=columns, n_permutations=19,
    ...                               n_repeats=2)
    >>> tests["auc"].max_permutations
    19
    """
    check_n_permutations(n_permutations)
    check_exceedances(n_exceedances)
    model, _, y, outer_cv, groups = prepare_inputs(
        model,
        X,
        y,
        outer_cv=outer_cv,
        inner_cv=inner_cv,
        n_repeats=n_repeats,
        groups=groups,
        allow_loo=False,
        n_jobs=n_jobs,
    )
    baseline = clone(baseline).set_params(inner_cv=model.inner_cv)
    splits = outer_splits(
        y,
        outer_cv=outer_cv,
        n_repeats=n_repeats,
        groups=groups,
        stratify=stratify,
        random_state=random_state,
    )
    # Decisions only (no probabilities): an inner CV only where one tunes.
    inner = inner_groups_of(model, groups, splits, inner_groups, probabilities=False)
    inner_groups_of(baseline, groups, splits, inner_groups, probabilities=False)
    # In memory: each permutation builds a design with other scan features.
    runner = Runner(model, X, fast_path=fast_path, on_disk=False, probabilities=False)
    scan, rebuild = _scan_block(runner.design, model)
    fitted, residuals = _residualised(scan, X, list(baseline_columns))
    base = split_scores(
        y, splits, Runner(baseline, X, probabilities=False).run(y, splits, inner)
    )
    observed = split_scores(y, splits, runner.run(y, splits, inner))
    difference = [observed[s] - base[s] for s in STATISTICS]
    rng = np.random.default_rng(np.random.SeedSequence(random_state).spawn(2)[1])
    rows = np.arange(len(y))
    orders = [permute(rows, rng, groups) for _ in range(n_permutations)]
    tests = sequential_null(
        partial(
            _permuted_scores,
            model=model,
            extractor=runner.extractor,
            rebuild=rebuild,
            fitted=fitted,
            residuals=residuals,
            y=y,
            splits=splits,
            inner=inner,
            base=base,
            fast_path=fast_path,
        ),
        orders,
        difference,
        n_exceedances=n_exceedances,
        n_jobs=n_jobs,
        progress=progress,
    )
    return {
        name: PermutationTestResult(
            float(value),
            null,
            float(p_value),
            f"{name} difference",
            groups is not None,
            int(n_permutations),
            n_exceedances,
        )
        for name, value, (p_value, null) in zip(
            STATISTICS, difference, tests, strict=True
        )
    }


def _scan_block(design, model):
    """The scan features of a design, and how to put others in their place."""
    if isinstance(design, np.ndarray):
        return np.asarray(design, dtype=np.float64), lambda scan: scan
    table = model.table_columns()
    n_scan = design.shape[1] - len(table)
    if not isinstance(design, pd.DataFrame) or n_scan == 0:
        raise TxpredictError(
            "The permutation test of added value needs image features extracted "
            "once per cohort (a named feature set such as 'roi+demographics')."
        )
    rest = design.iloc[:, n_scan:]
    names = design.columns[:n_scan]

    def rebuild(scan):
        frame = pd.DataFrame(scan, index=design.index, columns=names)
        return pd.concat([frame, rest], axis=1)

    return design.iloc[:, :n_scan].to_numpy(dtype=np.float64), rebuild


def _residualised(scan, X, baseline_columns):
    """What the baseline columns predict of each scan feature, and the rest."""
    if np.isnan(scan).any():
        raise TxpredictError(
            "The permutation test of added value needs scan features without "
            "missing values (NaN in the extracted features)."
        )
    encoded = DemographicFeatures(baseline_columns).fit_transform(X)
    design = np.hstack([np.ones((len(scan), 1)), np.asarray(encoded, dtype=float)])
    fitted = design @ (np.linalg.pinv(design) @ scan)
    return fitted, scan - fitted


def _permuted_scores(
    orders, *, model, extractor, rebuild, fitted, residuals, y, splits, inner, base,
    fast_path,
):  # fmt: skip
    """The differences (model - baseline) with each order of scan residuals."""
    out = []
    for order in orders:
        design = rebuild(fitted + residuals[order])
        runner = Runner(
            model,
            None,
            fast_path=fast_path,
            extracted=(extractor, design),
            probabilities=False,
        )
        scores = split_scores(y, splits, runner.run(y, splits, inner))
        out.append([scores[s] - base[s] for s in STATISTICS])
    return out
