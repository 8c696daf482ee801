"""The cross-validation schemes under comparison, on one replicate's features.

Every scheme estimates the balanced accuracy and AUC of the same L2 logistic
model (class-balanced, standardised ROI features). Out-of-fold decision values
of one repetition are pooled before scoring, as most papers do (and as LOO
forces); repeated schemes average the pooled scores over repetitions.

- ``loo``: leave-one-out, C fixed.
- ``loo_tuned``: leave-one-out for every C, the best reported (tuned on the
  folds that score it: the "LOO with tuning" of Varma & Simon 2006).
- ``loo_unweighted``: leave-one-out of the same model without class weights,
  the setting of the literature's LOO demonstrations (its unpenalised
  intercept learns the training prevalence, which LOO anti-correlates with the
  held-out label).
- ``loo_prior_only``: leave-one-out of a classifier that predicts the training
  majority and scores the training prevalence (no features at all).
- ``kfold5``, ``kfold10``: one stratified k-fold, C fixed.
- ``kfold5_repeated``, ``kfold10_repeated``: 10 repetitions, C fixed.
- ``kfold5_tuned``: 10 x 5-fold for every C, the best reported (non-nested).
- ``nested``: 10 x 5-fold outer, C tuned by 5-fold inner CV on each outer
  training set only (txpredict's default).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr
from sklearn.model_selection import LeaveOneOut, StratifiedKFold

from txpredict.errors import TxpredictError
from txpredict.model_selection import (
    MAX_BATCHED_FEATURES,
    LogisticTuning,
    batched_route,
    decision_of,
    fit_problems,
)
from txpredict.stats import fast_auc, fast_balanced_accuracy

SCHEMES = (
    "loo",
    "loo_tuned",
    "loo_unweighted",
    "loo_prior_only",
    "kfold5",
    "kfold10",
    "kfold5_repeated",
    "kfold10_repeated",
    "kfold5_tuned",
    "nested",
)
#: Schemes whose reported model is tuned (their true accuracy is the tuned model's).
TUNED_SCHEMES = ("loo_tuned", "kfold5_tuned", "nested")
C_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0)
N_REPETITIONS = 10


def _scores(y, decision):
    """(balanced accuracy of the labels ``decision > 0``, AUC)."""
    decision = np.asarray(decision)
    return fast_balanced_accuracy(y, decision > 0), fast_auc(y, decision)


def _splits(y, k, seeds):
    if k == "loo":
        return [list(LeaveOneOut().split(y))]
    return [
        list(
            StratifiedKFold(k, shuffle=True, random_state=int(seed)).split(
                np.zeros(len(y)), y
            )
        )
        for seed in seeds
    ]


def _pooled_scores(A, y, repetitions, Cs, *, balanced=True):
    """(len(Cs), n_repetitions, 2) array of pooled (BA, AUC) per C and repetition."""
    problems, where = [], []
    for r, splits in enumerate(repetitions):
        for train, test in splits:
            for k, C in enumerate(Cs):
                problems.append((A[train], y[train], C, "standard"))
                where.append((k, r, test))
    coef, intercept, stats = fit_problems(problems, balanced=balanced)
    decision = np.zeros((len(Cs), len(repetitions), len(y)))
    for b, (k, r, test) in enumerate(where):
        decision[k, r, test] = decision_of(A[test], coef[b], intercept[b], stats[b])
    return np.array(
        [
            [_scores(y, decision[k, r]) for r in range(len(repetitions))]
            for k in range(len(Cs))
        ]
    )


def estimate_schemes(A, y, *, fixed_C, seed) -> dict:
    """Each scheme's (balanced accuracy, AUC) estimate on one cohort.

    Parameters
    ----------
    A : ndarray of shape (n, p)
        Features (extracted once, reused by every scheme).
    y : ndarray of 0/1
    fixed_C : float
        C of the untuned schemes.
    seed : int
        Seed of the k-fold shuffles (the same folds for every scheme of a kind).

    Returns
    -------
    dict of scheme name to (balanced_accuracy, auc)
    """
    y = np.asarray(y, dtype=int)
    seeds = np.random.SeedSequence(seed).generate_state(N_REPETITIONS)
    loo = _splits(y, "loo", None)
    five = _splits(y, 5, seeds)
    ten = _splits(y, 10, seeds)
    out = {}
    # The fixed C is usually one of the grid's: each C is fitted once.
    Cs = list(dict.fromkeys([fixed_C, *C_GRID]))
    fixed, grid = 0, [Cs.index(C) for C in C_GRID]
    loo_all = _pooled_scores(A, y, loo, Cs)
    out["loo"] = tuple(loo_all[fixed, 0])
    # Tuned on the same folds: the best C's estimate is reported (each metric
    # picks its own best C, as a paper tuning for that metric would).
    out["loo_tuned"] = tuple(loo_all[grid, 0].max(axis=0))
    unweighted = _pooled_scores(A, y, loo, [fixed_C], balanced=False)
    out["loo_unweighted"] = tuple(unweighted[0, 0])
    prior = np.array([y[train].mean() - 0.5 for train, _ in loo[0]])
    out["loo_prior_only"] = _scores(y, prior)  # LOO test sets are subjects 0..n-1
    five_all = _pooled_scores(A, y, five, Cs)
    out["kfold5"] = tuple(five_all[fixed, 0])
    out["kfold5_repeated"] = tuple(five_all[fixed].mean(axis=0))
    out["kfold5_tuned"] = tuple(five_all[grid].mean(axis=1).max(axis=0))
    ten_all = _pooled_scores(A, y, ten, [fixed_C])
    out["kfold10"] = tuple(ten_all[0, 0])
    out["kfold10_repeated"] = tuple(ten_all[0].mean(axis=0))
    out["nested"] = _nested(A, y, five, seed)
    return out


def tuned_search(A, seed):
    """The benchmark's tuned model, as the nested CV's route dispatcher fits it.

    L2 class-balanced logistic regression on standardised features, C tuned
    by ROC AUC over a seeded stratified 5-fold inner CV.
    """
    inner = StratifiedKFold(5, shuffle=True, random_state=int(seed) % 2**31)
    tuning = LogisticTuning(C_GRID, inner, "roc_auc", width=A.shape[1])
    route = batched_route(tuning, A)
    if route.search is None:
        raise TxpredictError(
            "The CV-scheme benchmark fits its tuned model in batches: at most "
            f"{MAX_BATCHED_FEATURES} features without missing values; got "
            f"{A.shape[1]} features."
        )
    return route.search


def _nested(A, y, repetitions, seed):
    search = tuned_search(A, seed)
    tasks, where = [], []
    for r, splits in enumerate(repetitions):
        for train, test in splits:
            tasks.append((A[train], y[train], A[test]))
            where.append((r, test))
    decision = np.zeros((len(repetitions), len(y)))
    for (r, test), (d, _) in zip(where, search.fit_decision(tasks), strict=True):
        decision[r, test] = d
    return tuple(np.mean([_scores(y, d) for d in decision], axis=0))


def true_scores(A, y, A_true, y_true, *, fixed_C, seed) -> dict:
    """True (BA, AUC) on a large independent sample of the models a study reports.

    Untuned schemes report the fixed-C model fitted on the whole cohort
    ("fixed", "unweighted"); tuned ones the model tuned by 5-fold CV on the
    whole cohort ("tuned"). The prior-only classifier is at chance ("prior").
    """
    y = np.asarray(y)
    out = {"prior": (0.5, 0.5)}
    for name, balanced in (("fixed", True), ("unweighted", False)):
        coef, intercept, stats = fit_problems(
            [(A, y, fixed_C, "standard")], balanced=balanced
        )
        out[name] = _scores(
            y_true, decision_of(A_true, coef[0], intercept[0], stats[0])
        )
    ((decision, _),) = tuned_search(A, seed).fit_decision([(A, y, A_true)])
    out["tuned"] = _scores(y_true, decision)
    return out


def truth_of(scheme) -> str:
    """Which of :func:`true_scores`' models a scheme's estimate is about."""
    if scheme in TUNED_SCHEMES:
        return "tuned"
    return {"loo_unweighted": "unweighted", "loo_prior_only": "prior"}.get(
        scheme, "fixed"
    )


def confidence_and_p(balanced_accuracy, auc, n_positive, n_negative):
    """95% intervals and the one-sided p-value of "above chance" of an estimate.

    What a paper would report from its one cohort, treating the out-of-fold
    predictions as an independent test set (which they are not, hence the
    undercoverage this benchmark measures). Balanced accuracy: +- 1.96 SE with
    Var = (sens (1 - sens) / n1 + spec (1 - spec) / n0) / 4, sensitivity and
    specificity both taken as the (add-one smoothed) estimate; AUC: Hanley &
    McNeil (1982). The p-value tests balanced accuracy > 0.5 against its null
    SE, 0.5 sqrt(0.25 / n1 + 0.25 / n0) (normal approximation).
    """
    n1, n0 = n_positive, n_negative
    p = (balanced_accuracy * (n1 + n0) + 1) / (n1 + n0 + 2)
    se_ba = 0.5 * np.sqrt(p * (1 - p) / n1 + p * (1 - p) / n0)
    q1 = auc / (2 - auc)
    q2 = 2 * auc**2 / (1 + auc)
    se_auc = np.sqrt(
        (auc * (1 - auc) + (n1 - 1) * (q1 - auc**2) + (n0 - 1) * (q2 - auc**2))
        / (n1 * n0)
    )
    se_null = 0.5 * np.sqrt(0.25 / n1 + 0.25 / n0)
    p_value = 1 - ndtr((balanced_accuracy - 0.5) / se_null)
    return {
        "ba_ci_low": balanced_accuracy - 1.96 * se_ba,
        "ba_ci_high": balanced_accuracy + 1.96 * se_ba,
        "auc_ci_low": auc - 1.96 * se_auc,
        "auc_ci_high": auc + 1.96 * se_auc,
        "p_value": float(p_value),
    }
