"""Permutation importance on the outer test folds of a nested CV.

Each outer-fold model is fitted on its training part only (inner CV and
all); on its test part, the columns of one feature (or group: both dACC
spheres) are shuffled together across the test patients, breaking their link
with the outcome and with the other features, and the drop in test AUC is
the feature's importance for that fold (Breiman 2001; Fisher et al. 2019's
model reliance, here of each fold's model on patients it never saw). The
folds' drops are summarised by their mean and a Nadeau-Bengio corrected
interval (the folds share training patients, so their spread understates the
uncertainty).

Unlike :func:`drop_one_importance`, no model is refitted without the feature:
it measures how much *this* model relies on it, not whether a model could do
as well without it (a correlated feature can stand in after a refit).
"""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils import _safe_indexing

from txpredict.errors import TxpredictError
from txpredict.model_selection import Runner, outer_splits, prepare_inputs
from txpredict.models import ResponseClassifier
from txpredict.stats import (
    check_n_permutations,
    corrected_resampled_interval,
    fast_auc,
)


def permutation_importance(
    model,
    X,
    y,
    *,
    groups_of_features=None,
    n_permutations=20,
    outer_cv=5,
    n_repeats=5,
    groups=None,
    confidence=0.95,
    fast_path="auto",
    n_jobs=None,
    random_state=0,
):
    """Each feature's (or group's) permutation importance on the outer test folds.

    Parameters
    ----------
    model : ResponseClassifier
        On few features (ROI means, demographics): every feature or group is
        permuted ``n_permutations`` times in every test fold.
    X, y
        As in :func:`nested_cross_validate`.
    groups_of_features : dict of str to list of str, or None
        Features permuted together, by the model's feature names (e.g.
        ``{"dACC": ["dACC_L_mean", "dACC_R_mean"]}``). None: each alone.
    n_permutations : int, default=20
        Shuffles per feature and fold; their AUCs are averaged.
    outer_cv, n_repeats, groups, random_state
        The splits, as :func:`nested_cross_validate` makes them (the same
        arguments give the same splits); with ``groups`` (e.g. the site) the
        inner CV keeps them whole too.
    confidence : float, default=0.95
    fast_path : "auto" or False, default="auto"
        For the default logistic model on numeric features (ROI means), every
        fold's fit and all its shuffled test sets go through the batched
        logistic route of the nested CV in one pass (the same tuning; decision
        values agree with the fold-by-fold scikit-learn route to ~1e-4,
        tested); False always fits fold by fold.
    n_jobs : int or None
        Parallel folds (fold-by-fold route); the result does not depend on it.

    Returns
    -------
    DataFrame
        One row per feature or group: ``auc_drop`` (mean over folds of the
        fold's AUC minus its AUC with the feature shuffled), ``ci_low``,
        ``ci_high`` (corrected resampled t: it excludes 0 for at most 4% of
        features that do not matter, but covers a non-zero true drop less
        often than stated, 92% for a strong feature and 73% for a weak one,
        ``benchmarks/importance.py``), ``sd_across_folds``, ``folds_positive``
        (share of folds whose model lost AUC). ``attrs["folds"]`` holds
        every fold's drop.

    Examples
    --------
    >>> import txpredict as tp
    >>> cohort = tp.make_synthetic_cohort(60, effect="prognostic", grid="fsl6",
    ...                                   random_state=0)
    >>> table = tp.permutation_importance(
    ...     tp.ResponseClassifier("roi", param_grid={"C": [0.1]}), cohort.X,
    ...     cohort.y, n_repeats=1, n_permutations=5,
    ...     groups_of_features={"cuneus": ["cuneus_L_mean", "cuneus_R_mean"]})
    >>> list(table.index), list(table.columns[:3])
    (['cuneus'], ['auc_drop', 'ci_low', 'ci_high'])
    """
    if not isinstance(model, ResponseClassifier):
        raise TxpredictError(
            f"permutation_importance needs a ResponseClassifier; got {model!r}."
        )
    if not 0 < confidence < 1:
        raise TxpredictError(f"confidence must be in (0, 1); got {confidence!r}.")
    check_n_permutations(n_permutations)
    model, _, y, outer_cv, groups = prepare_inputs(
        model,
        X,
        y,
        outer_cv=outer_cv,
        inner_cv=None,
        n_repeats=n_repeats,
        groups=groups,
        allow_loo=False,
        n_jobs=n_jobs,
    )
    # Shuffling a feature is shuffling a column of the design: the batched
    # route only where it works on the design's own columns.
    runner = Runner(
        model,
        X,
        fast_path="auto" if fast_path else False,
        routes=("batched",),
        same_columns=True,
    )
    names = feature_names(model, runner)
    columns = _group_columns(groups_of_features, names)
    splits = outer_splits(
        y,
        outer_cv=outer_cv,
        n_repeats=n_repeats,
        groups=groups,
        stratify=True,
        random_state=random_state,
    )
    seeds = np.random.SeedSequence(random_state).generate_state(len(splits))
    if runner.route.name == "batched":
        drops = _batched_drops(
            runner.route, y, splits, groups, columns, n_permutations, seeds
        )
    else:
        drops = _fold_by_fold_drops(
            model, runner, y, splits, groups, columns, n_permutations, seeds, n_jobs
        )
    folds = pd.DataFrame(drops, columns=list(columns))
    folds.insert(0, "fold", [f for _, f, _, _ in splits])
    folds.insert(0, "repeat", [r for r, _, _, _ in splits])
    n_train = np.mean([len(train) for _, _, train, _ in splits])
    n_test = np.mean([len(test) for _, _, _, test in splits])
    table = pd.DataFrame(
        [
            _summary(folds[name].to_numpy(), n_train, n_test, confidence)
            for name in columns
        ],
        index=pd.Index(list(columns), name="feature"),
    )
    table.attrs["folds"] = folds
    return table


def _fold_by_fold_drops(
    model, runner, y, splits, groups, columns, n_permutations, seeds, n_jobs
):
    return joblib.Parallel(n_jobs=n_jobs)(
        joblib.delayed(_fold_drops)(
            model,
            runner,
            y,
            train,
            test,
            None if groups is None else groups[train],
            columns,
            n_permutations,
            int(seed),
        )
        for (_, _, train, test), seed in zip(splits, seeds, strict=True)
    )


def _batched_drops(route, y, splits, groups, columns, n_permutations, seeds):
    """Every fold's drops from one batched fit per fold, all shuffles at once."""
    search, design = route.search, route.design
    tasks, sizes = [], []
    for (_, _, train, test), seed in zip(splits, seeds, strict=True):
        rng = np.random.default_rng(int(seed))
        test_design = design[test]
        # The shuffles in the order of the fold-by-fold route (same seeds).
        blocks = [test_design] + [
            _shuffle_columns(test_design, positions, rng.permutation(len(test)))
            for positions in columns.values()
            for _ in range(n_permutations)
        ]
        task = (design[train], y[train], np.vstack(blocks))
        tasks.append(task if groups is None else (*task, groups[train]))
        sizes.append(len(test))
    drops = []
    for ((_, _, _, test), n), (decision, _) in zip(
        zip(splits, sizes, strict=True), search.fit_decision(tasks), strict=True
    ):
        aucs = [fast_auc(y[test], block) for block in decision.reshape(-1, n)]
        base, shuffled = aucs[0], np.reshape(aucs[1:], (len(columns), -1))
        drops.append([base - float(row.mean()) for row in shuffled])
    return drops


def feature_names(model, runner) -> list[str]:
    """The names of the design's columns: image features, then table columns."""
    image = list(runner.extractor.get_feature_names_out()) if runner.extractor else []
    design = runner.design
    if isinstance(design, pd.DataFrame):
        return image + [str(c) for c in design.columns[len(image) :]]
    return image


def _group_columns(groups, names) -> dict[str, list[int]]:
    if groups is None:
        groups = {name: [name] for name in names}
    if not groups:
        raise TxpredictError("groups_of_features is empty: name at least one feature.")
    out = {}
    for group, members in groups.items():
        unknown = [m for m in members if m not in names]
        if unknown:
            raise TxpredictError(
                f"Feature(s) {unknown} of group {group!r} are not among the model's "
                f"features: {names[:20]}{' ...' if len(names) > 20 else ''}."
            )
        out[group] = [names.index(m) for m in members]
    return out


def _fold_drops(model, runner, y, train, test, groups, columns, n_permutations, seed):
    """One outer fold: its model's AUC drop with each group shuffled."""
    fitted = clone(model).fit_design(
        _safe_indexing(runner.design, train), y[train], runner.extractor, groups=groups
    )
    predictor = fitted.search_
    test_design = _safe_indexing(runner.design, test)
    y_test = y[test]
    base = fast_auc(y_test, _score(predictor, test_design))
    rng = np.random.default_rng(seed)
    drops = []
    for positions in columns.values():
        aucs = []
        for _ in range(n_permutations):
            shuffled = _shuffle_columns(
                test_design, positions, rng.permutation(len(test))
            )
            aucs.append(fast_auc(y_test, _score(predictor, shuffled)))
        drops.append(base - float(np.mean(aucs)))
    return drops


def _shuffle_columns(design, positions, order):
    """``design`` with the columns at ``positions`` taken in ``order`` (rows)."""
    if isinstance(design, pd.DataFrame):
        shuffled = design.copy()
        for p in positions:
            shuffled.iloc[:, p] = design.iloc[order, p].to_numpy()
        return shuffled
    shuffled = np.array(design, copy=True)
    shuffled[:, positions] = design[order][:, positions]
    return shuffled


def _score(predictor, design):
    if hasattr(predictor, "decision_function"):
        return predictor.decision_function(design)
    return predictor.predict_proba(design)[:, 1]


def _summary(drops, n_train, n_test, confidence) -> dict:
    """Mean, Nadeau-Bengio corrected interval and spread of the folds' drops."""
    mean, low, high = corrected_resampled_interval(drops, n_train, n_test, confidence)
    return {
        "auc_drop": mean,
        "ci_low": low,
        "ci_high": high,
        "sd_across_folds": float(drops.std(ddof=1)) if len(drops) > 1 else np.nan,
        "folds_positive": float(np.mean(drops > 0)),
    }
