"""Classification metrics: confusion counts and the scores computed from them.

Numpy versions for the hot loops of nested CV and permutation tests (tested
equal to scikit-learn's, whose input validation costs 20x the computation
there), and the public ``*_score`` functions with scikit-learn's signature.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import recall_score

#: The metrics of a responder classifier, in the order txpredict reports them.
METRICS = ("sensitivity", "specificity", "balanced_accuracy", "auc", "ppv", "npv")


def sensitivity_score(y_true, y_pred, *, pos_label=1, sample_weight=None) -> float:
    """Proportion of responders predicted as responders (true positive rate).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_subjects,)
    pos_label : int or str, default=1
        The responder label.
    sample_weight : array-like or None, default=None

    Returns
    -------
    float

    Examples
    --------
    >>> from txpredict import sensitivity_score
    >>> sensitivity_score([1, 1, 0, 0], [1, 0, 0, 0])
    0.5
    """
    return float(
        recall_score(
            y_true,
            y_pred,
            pos_label=pos_label,
            sample_weight=sample_weight,
            zero_division=np.nan,
        )
    )


def specificity_score(y_true, y_pred, *, pos_label=1, sample_weight=None) -> float:
    """Proportion of non-responders predicted as non-responders (true negative rate).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_subjects,)
    pos_label : int or str, default=1
        The responder label; every other label counts as negative.
    sample_weight : array-like or None, default=None

    Returns
    -------
    float

    Examples
    --------
    >>> from txpredict import specificity_score
    >>> specificity_score([1, 1, 0, 0], [1, 0, 1, 0])
    0.5
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    # Specificity is the sensitivity of "non-responder".
    return sensitivity_score(
        (y_true != pos_label).astype(int),
        (y_pred != pos_label).astype(int),
        pos_label=1,
        sample_weight=sample_weight,
    )


def fast_auc(y_true, score) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count half), for 0/1 labels.

    Equals ``sklearn.metrics.roc_auc_score`` (tested) without its input
    validation, which cost 20x the computation in the fast paths' inner loops.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 outcomes (1: responder).
    score : array-like of shape (n,)
        Decision values or probabilities (higher: responder).
    """
    y_true = np.asarray(y_true, dtype=bool)
    score = np.asarray(score)
    n_pos = int(y_true.sum())
    n_neg = len(y_true) - n_pos
    if n_pos * n_neg <= 65536:
        # Small folds: counting pairs beats ranking (the same exact count).
        pos, neg = score[y_true, None], score[None, ~y_true]
        wins = np.count_nonzero(pos > neg) + 0.5 * np.count_nonzero(pos == neg)
        return float(wins / (n_pos * n_neg))
    ranks = rankdata(score)
    return float((ranks[y_true].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def fast_balanced_accuracy(y_true, y_pred) -> float:
    """Balanced accuracy for 0/1 labels (as ``balanced_accuracy_score``).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 outcomes (1: responder).
    y_pred : array-like of shape (n,)
        0/1 predictions.
    """
    y_true = np.asarray(y_true, dtype=bool)
    y_pred = np.asarray(y_pred, dtype=bool)
    return float((y_pred[y_true].mean() + (~y_pred[~y_true]).mean()) / 2)


def confusion_counts(y_true, y_pred) -> dict[str, int]:
    """``tp``, ``fn``, ``tn``, ``fp`` of 0/1 labels and predictions.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 outcomes (1: responder).
    y_pred : array-like of shape (n,)
        0/1 predictions.
    """
    y_true = np.asarray(y_true, dtype=bool)
    y_pred = np.asarray(y_pred, dtype=bool)
    return {
        "tp": int(np.count_nonzero(y_pred & y_true)),
        "fn": int(np.count_nonzero(~y_pred & y_true)),
        "tn": int(np.count_nonzero(~y_pred & ~y_true)),
        "fp": int(np.count_nonzero(y_pred & ~y_true)),
    }


def _ratio(a, b):
    return a / b if b else np.nan


def metrics_from_counts(tp, fn, tn, fp) -> dict[str, float]:
    """Sensitivity, specificity, balanced accuracy, PPV, NPV from counts.

    A ratio whose denominator is 0 (no responder, no positive prediction) is
    NaN: undefined, not 0.

    Parameters
    ----------
    tp, fn, tn, fp : float
        Confusion counts: true positives, false negatives, true negatives,
        false positives.
    """
    sensitivity = _ratio(tp, tp + fn)
    specificity = _ratio(tn, tn + fp)
    return {
        "sensitivity": float(sensitivity),
        "specificity": float(specificity),
        "balanced_accuracy": float((sensitivity + specificity) / 2),
        "ppv": float(_ratio(tp, tp + fp)),
        "npv": float(_ratio(tn, tn + fn)),
    }


def binary_metrics(y_true, y_pred, score=None) -> dict[str, float]:
    """Every metric of :data:`METRICS` on one test set (AUC needs ``score``).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 outcomes (1: responder).
    y_pred : array-like of shape (n,)
        0/1 predictions.
    score : array-like or None, default=None
        Decision values for the AUC; None: no AUC.

    Examples
    --------
    >>> m = binary_metrics([1, 1, 0, 0], [1, 0, 0, 0], [0.9, 0.4, 0.3, 0.1])
    >>> m["sensitivity"], m["specificity"], m["auc"]
    (0.5, 1.0, 1.0)
    """
    y_true = np.asarray(y_true, dtype=bool)
    out = metrics_from_counts(**confusion_counts(y_true, y_pred))
    both = 0 < y_true.sum() < len(y_true)
    out["auc"] = fast_auc(y_true, score) if both and score is not None else np.nan
    return {name: out[name] for name in METRICS}
