"""Outer cross-validation schemes: repeated stratified k-fold, never LOO by default.

Leave-one-out is refused as an outer scheme unless asked for explicitly: its
estimates are unstable and biased (Varoquaux et al. 2017, NeuroImage 145:166),
and on null data each training fold's label mean is anti-correlated with the
held-out label, so accuracy falls far below chance (Austin et al. 2025; here: 1%
balanced accuracy at n = 20 for a strongly regularised linear model).
"""

from __future__ import annotations

import functools
import hashlib
import warnings

import numpy as np
import pandas as pd
from sklearn.model_selection import (
    GroupKFold,
    KFold,
    LeaveOneGroupOut,
    LeaveOneOut,
    StratifiedGroupKFold,
    StratifiedKFold,
)

from txpredict.errors import TxpredictError


class LeaveOneOutWarning(UserWarning):
    """Leave-one-out was used as an outer scheme (allowed for benchmarks only)."""


_LOO_WHY = (
    "Leave-one-out cross-validation is unstable and biased (Varoquaux et al. 2017, "
    "NeuroImage 145:166): on null data its balanced accuracy falls far below 0.5 "
    "because each training fold's label mean is anti-correlated with the held-out "
    "label (a prior-only classifier scores 0%)."
)


#: The named outer scheme holding out one site (a group) at a time.
LEAVE_SITE_OUT = "leave-site-out"


def is_leave_site_out(outer_cv) -> bool:
    """Whether ``outer_cv`` holds out one site (group) at a time."""
    if isinstance(outer_cv, str):
        return outer_cv.lower() in (LEAVE_SITE_OUT, "leave-one-site-out", "loso")
    return isinstance(outer_cv, LeaveOneGroupOut)


def is_leave_one_out(outer_cv, n_subjects) -> bool:
    """Whether ``outer_cv`` holds out one subject at a time."""
    if isinstance(outer_cv, str):
        return outer_cv.lower() in ("loo", "leave-one-out", "leaveoneout")
    if isinstance(outer_cv, LeaveOneOut):
        return True
    if isinstance(outer_cv, int | np.integer):
        return int(outer_cv) >= n_subjects
    return False


def check_outer_cv(outer_cv, n_subjects, *, allow_loo, groups=None):
    """Validate ``outer_cv``; refuse leave-one-out unless ``allow_loo``."""
    if is_leave_site_out(outer_cv):
        if groups is None:
            raise TxpredictError(
                "outer_cv='leave-site-out' holds out one site at a time: pass the "
                "sites as groups= (a column name of X, e.g. groups='site', or an "
                "array)."
            )
        return LEAVE_SITE_OUT
    if is_leave_one_out(outer_cv, n_subjects):
        if not allow_loo:
            raise TxpredictError(
                f"{_LOO_WHY} txpredict refuses it as an outer scheme; use "
                "outer_cv=5 or 10 (repeated k-fold). To reproduce the bias in a "
                "benchmark, pass allow_loo=True."
            )
        warnings.warn(_LOO_WHY, LeaveOneOutWarning, stacklevel=3)
        return "loo"
    if isinstance(outer_cv, int | np.integer):
        if outer_cv < 2:
            raise TxpredictError(
                f"outer_cv must be at least 2 folds; got {outer_cv!r}."
            )
        return int(outer_cv)
    if isinstance(outer_cv, str) or not hasattr(outer_cv, "split"):
        raise TxpredictError(
            "outer_cv must be a number of folds or a scikit-learn splitter; got "
            f"{outer_cv!r}."
        )
    return outer_cv


def n_folds(outer_cv, n_subjects, groups=None) -> int:
    """Number of outer folds of one repeat."""
    if outer_cv == LEAVE_SITE_OUT:
        return len(pd.unique(np.asarray(groups)))
    if outer_cv == "loo":
        return n_subjects if groups is None else len(np.unique(groups))
    if isinstance(outer_cv, int):
        return outer_cv
    return outer_cv.get_n_splits(np.zeros((n_subjects, 1)), None, groups)


def check_class_sizes(y, k, *, what="outer_cv", fraction=1.0):
    """Each class needs at least one subject per fold (``fraction`` of y is used)."""
    labels, counts = np.unique(y, return_counts=True)
    if len(labels) < 2:
        raise TxpredictError(
            f"y has a single class ({labels.tolist()}); a responder classifier needs "
            "both responders (1) and non-responders (0)."
        )
    for label, count in zip(labels.tolist(), counts, strict=True):
        usable = int(np.floor(count * fraction))
        if usable < k:
            name = "responders" if label == 1 else "non-responders"
            suggestion = max(2, usable)
            raise TxpredictError(
                f"Class {label!r} ({name}) has {usable} subject(s) in the data a fold "
                f"is split from, fewer than {what}={k} folds. Use {what}="
                f"{suggestion} or fewer, or gather more {name}."
            )


def check_groups(groups, k):
    """Group-aware splitting needs at least as many groups as folds."""
    n_groups = len(pd.unique(np.asarray(groups)))
    if n_groups < k:
        raise TxpredictError(
            f"groups has {n_groups} distinct value(s), fewer than the {k} folds; "
            f"use outer_cv={max(2, n_groups)} or fewer, or leave groups=None."
        )


def check_inner_groups(groups, splits, inner_cv):
    """A group-aware inner CV needs ``inner_cv`` groups in every outer-training part."""
    fewest = min(len(pd.unique(groups[train])) for _, _, train, _ in splits)
    if fewest < inner_cv:
        raise TxpredictError(
            f"An outer-training part holds only {fewest} distinct group(s), fewer than "
            f"inner_cv={inner_cv} folds for the group-aware inner CV. Use "
            f"inner_cv={max(2, fewest)} or fewer, more groups, or inner_groups=False "
            "to keep groups whole in the outer loop only. (The inner CV tunes the "
            "hyperparameters and recalibrates a logistic model's probabilities; a "
            'model with one candidate and calibration="prior_shift" runs none.)'
        )


@functools.lru_cache(maxsize=1024)
def _fold_labels(k, seed, counts) -> tuple[np.ndarray, ...]:
    """Each class's fold labels, in scikit-learn's order, for class ``counts``.

    They depend on the labels only through the counts, which a permutation
    test keeps: cached, a split is a few assignments.
    """
    sorted_classes = np.repeat(np.arange(len(counts)), counts)
    allocation = np.array(
        [np.bincount(sorted_classes[i::k], minlength=len(counts)) for i in range(k)]
    )
    rng = None if seed is None else np.random.RandomState(seed)
    labels = []
    for c in range(len(counts)):
        folds = np.arange(k).repeat(allocation[:, c])
        if rng is not None:
            rng.shuffle(folds)
        folds.flags.writeable = False
        labels.append(folds)
    return tuple(labels)


def split(splitter, y, groups=None):
    """``splitter.split(X, y, groups)`` as a list of (train, test) index arrays.

    A shuffled ``StratifiedKFold`` with an integer seed is split here, by
    scikit-learn's own allocation (round robin over the sorted classes, then
    each class's fold labels shuffled by ``RandomState(seed)``), without its
    input validation: in a permutation test of a batched nested CV that
    validation took 40% of the time. Tested equal to scikit-learn's splits;
    anything else goes to ``splitter.split``.
    """
    y = np.asarray(y)
    if not (
        type(splitter) is StratifiedKFold
        and groups is None
        and (
            isinstance(splitter.random_state, int | np.integer) or not splitter.shuffle
        )
    ):
        return list(splitter.split(np.zeros((len(y), 1)), y, groups))
    k = splitter.n_splits
    _, first, inverse = np.unique(y, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    encoded = order[inverse]  # classes numbered by first appearance, as sklearn
    if np.bincount(encoded).min() < k:  # sklearn warns or raises: let it
        return list(splitter.split(np.zeros((len(y), 1)), y))
    seed = int(splitter.random_state) if splitter.shuffle else None
    labels = _fold_labels(k, seed, tuple(np.bincount(encoded).tolist()))
    test_folds = np.empty(len(y), dtype=int)
    for c, folds in enumerate(labels):
        test_folds[encoded == c] = folds
    return [
        (np.flatnonzero(test_folds != i), np.flatnonzero(test_folds == i))
        for i in range(k)
    ]


def repeat_seeds(random_state, n_repeats) -> list[int]:
    """One seed per repeat, derived from ``random_state`` (reproducible)."""
    return [
        int(s) for s in np.random.SeedSequence(random_state).generate_state(n_repeats)
    ]


def outer_splits(y, *, outer_cv, n_repeats, groups, stratify, random_state):
    """All (repeat, fold, train, test) of a repeated outer CV, in a fixed order."""
    if outer_cv in ("loo", LEAVE_SITE_OUT):
        splitter = LeaveOneOut() if groups is None else LeaveOneGroupOut()
        seeds = [None]  # deterministic: repeats would all be the same
    else:
        seeds = repeat_seeds(random_state, n_repeats)
    splits = []
    for repeat, seed in enumerate(seeds):
        if outer_cv in ("loo", LEAVE_SITE_OUT):
            pass
        elif isinstance(outer_cv, int):
            if groups is not None:
                splitter = (
                    StratifiedGroupKFold(outer_cv, shuffle=True, random_state=seed)
                    if stratify
                    else GroupKFold(outer_cv, shuffle=True, random_state=seed)
                )
            elif stratify:
                splitter = StratifiedKFold(outer_cv, shuffle=True, random_state=seed)
            else:
                splitter = KFold(outer_cv, shuffle=True, random_state=seed)
        else:
            from sklearn.base import clone

            splitter = clone(outer_cv) if hasattr(outer_cv, "get_params") else outer_cv
            if getattr(splitter, "shuffle", False) and hasattr(
                splitter, "random_state"
            ):
                splitter.random_state = seed
        for fold, (train, test) in enumerate(split(splitter, y, groups)):
            splits.append((repeat, fold, train, test))
    return splits


def splits_hash(index, splits) -> str:
    """Fingerprint of the subjects and their fold membership in every repeat."""
    h = hashlib.sha256()
    h.update("\x1f".join(map(str, index)).encode())
    for repeat, fold, _, test in splits:
        h.update(f"|{repeat}:{fold}:".encode())
        h.update(np.sort(np.asarray(test, dtype=np.int64)).tobytes())
    return h.hexdigest()[:16]
