"""Evaluate treatment selection the way the literature does, with nested CV.

Every patient's recommendation comes from models that never saw the patient.
Reported (means over repeats):

- response rate of patients who received the recommended arm ("matched") vs
  those who did not, the difference (with a confidence interval) and Cohen's
  h (DeRubeis et al. 2014; Webb et al. 2019), also among the half with the
  largest |PAI|;
- policy value: the inverse-probability-weighted (Hajek) response rate had
  everyone received their recommendation, and its gain over the best single
  arm (both with intervals), vs everyone on one arm and random allocation;
- each arm's prognostic AUC, sensitivity and specificity (its model, on the
  patients who received that arm);
- with synthetic ground truth: agreement with the truly better arm and the true
  policy value against the oracle's.

Assignment probabilities: in a randomised trial the arm proportions (the
default) or the allocation ratio (``propensity={"CBT": 1/3, ...}``); in a
non-randomised study one probability per patient, from a propensity model
(``propensity="p_received"``, a column of X, or an array): the probability that
the patient received the arm they did.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import joblib
import numpy as np
import pandas as pd

from txpredict._inputs import (
    aligned_values,
    check_group_labels,
    check_n_jobs,
    check_treatment,
    check_X_y,
)
from txpredict.cohort import ground_truth_problems
from txpredict.errors import TxpredictError
from txpredict.modality._coefficients import (
    check_coefficients,
    summarise_coefficients,
)
from txpredict.modality._folds import SelectionRunner
from txpredict.modality._maps import fold_selector_maps, why_no_selector_maps
from txpredict.modality._selector import PER_ARM_STRATEGIES, check_arm_sizes
from txpredict.modality._uplift import qini_coefficient
from txpredict.model_selection._schemes import (
    LEAVE_SITE_OUT,
    check_groups,
    check_outer_cv,
    outer_splits,
    splits_hash,
)
from txpredict.model_selection._validation import check_sites
from txpredict.stats import (
    DEFAULT_POLICY_METHODS,
    MEASURES,
    METHODS,
    binary_metrics,
    calibration_over_repeats,
    cohens_h,
    corrected_resampled_ttest,
    policy_intervals,
    policy_measures,
)


def _fold_frame(p, ids, test, arm, y, arms, repeat, fold):
    """One outer test fold's rows of ``SelectionResult.predictions``."""
    out = pd.DataFrame(p, columns=[f"p_{a}" for a in arms])
    out.insert(0, "participant_id", ids[test])
    out.insert(0, "fold", fold)
    out.insert(0, "repeat", repeat)
    out["received"] = arm[test]
    out["y_true"] = y[test]
    out["recommended"] = np.asarray(arms)[p.argmax(axis=1)]  # first of ties
    ordered = np.sort(p, axis=1)
    out["pai_abs"] = ordered[:, -1] - ordered[:, -2]
    return out


def selection_splits(y, arm, *, outer_cv, n_repeats, groups, random_state):
    """Outer splits stratified on arm x outcome, so each fold has each arm's responders.

    Group-aware (sites kept whole) when ``groups`` is given; one site held
    out at a time for ``outer_cv="leave-site-out"``.

    Returns
    -------
    list of (repeat, fold, train, test)
    """
    strata = np.asarray(arm).astype(str) + "|" + np.asarray(y).astype(str)
    return outer_splits(
        strata,
        outer_cv=outer_cv,
        n_repeats=n_repeats,
        groups=groups,
        stratify=True,
        random_state=random_state,
    )


def _check_selection_cv(outer_cv, y, arm, arms, groups, selector):
    """The outer scheme of a selection, checked before any work."""
    outer_cv = check_outer_cv(outer_cv, len(y), allow_loo=False, groups=groups)
    if outer_cv == LEAVE_SITE_OUT:
        check_sites(y, groups)  # two sites or more, none of a single patient
        if selector.strategy in PER_ARM_STRATEGIES:
            for site in pd.unique(groups):
                rest = groups != site
                try:
                    check_arm_sizes(y[rest], arm[rest], arms, selector.inner_cv)
                except TxpredictError as exc:
                    raise TxpredictError(
                        f"With site {site!r} held out: {exc}"
                    ) from None
        return outer_cv
    if not isinstance(outer_cv, int):
        raise TxpredictError(
            "evaluate_selection's outer_cv must be a number of folds or "
            f"'leave-site-out'; got {outer_cv!r}."
        )
    strata = pd.Series(arm + "|" + y.astype(str))
    smallest = strata.value_counts()
    if smallest.min() < outer_cv:
        group = smallest.idxmin().replace("|", " with outcome ")
        raise TxpredictError(
            f"The arm x outcome group {group} has {smallest.min()} patient(s), "
            f"fewer than outer_cv={outer_cv} folds; use fewer folds or more patients."
        )
    if groups is not None:
        check_groups(groups, outer_cv)
    return outer_cv


def check_truth(truth, index, arms):
    """Synthetic ground truth of every patient and arm; or say what it lacks."""
    if truth is None:
        return None
    problems = ground_truth_problems(truth, index, arms)
    if "better_arm" not in truth.columns:
        problems.append("it lacks ['better_arm']")
    if problems:
        raise TxpredictError(
            "truth (the synthetic ground truth) lacks the columns or rows of these "
            f"patients and arms: {'; '.join(problems)}. Pass truth=None for a real "
            "study."
        )
    return truth.set_axis(truth.index.astype(str)).copy()


def evaluate_selection(
    selector,
    X,
    y,
    treatment="treatment",
    *,
    outer_cv=5,
    n_repeats=10,
    groups=None,
    propensity=None,
    randomized=True,
    truth=None,
    n_permutations=0,
    fast_path="auto",
    return_coefficients=False,
    return_maps=False,
    n_jobs=None,
    random_state=0,
):
    """Nested, repeated evaluation of a :class:`ModalitySelector`.

    Parameters
    ----------
    selector : ModalitySelector
    X : DataFrame
    y : Series or array-like of 0/1
        A Series is aligned to ``X`` by its index (participant ids).
    treatment : str, Series or array-like, default="treatment"
        A column of ``X``, a Series indexed like ``X``, or an array in the
        order of ``X``'s rows.
    outer_cv : int or "leave-site-out", default=5
        Folds stratified on arm x outcome; "leave-site-out" holds out one
        site (``groups``) at a time.
    n_repeats : int, default=10
        Repeats of the outer CV with different shuffles (one for
        leave-site-out, which has no shuffle).
    groups : str, Series, array-like or None, default=None
        The site (or family) of each patient, as a column of ``X``, a Series
        or an array: a site is never split between the training and test
        parts of an outer fold, and the permutation test permutes arms within
        sites. The inner CV that tunes each arm's model is not grouped (as
        ``inner_groups=False`` of :func:`nested_cross_validate`: three sites
        cannot fill five inner folds).
    propensity : dict, str, array-like or None, default=None
        Assignment probabilities for the inverse-probability weights. A dict
        (arm -> probability) for a randomised trial's allocation ratio; a
        column of X or an array with, for each patient, the probability of
        the arm they received (non-randomised data: from a propensity model
        fitted to the patients' pre-treatment characteristics). None takes the
        arm proportions, right for a randomised trial only.
    randomized : bool, default=True
        Whether arms were assigned at random. If not, and no per-patient
        ``propensity`` is given, the policy value is not interpretable and a
        warning says so; the permutation test needs randomised arms.
    n_permutations : int, default=0
        Permutation test of the policy gain (policy value minus the best single
        arm): arm labels are permuted within outcome strata (and within sites
        with ``groups``) and the whole
        nested evaluation re-run (``n_repeats=1`` each, like the observed
        statistic it is compared with). 0 skips it.
    truth : DataFrame or None, default=None
        Synthetic ground truth (``cohort.ground_truth``): ``p_response_<arm>``
        and ``better_arm`` columns.
    fast_path : "auto", True or False, default="auto"
        Fit the default logistic models of all folds in batches (exact optima,
        same splits and tuning as the fold-by-fold scikit-learn route, which
        stops lbfgs at its default tolerance; results agree to ~1e-4). True
        requires it; False always fits fold by fold.
    return_coefficients : bool, default=False
        Keep every outer-fold selector's coefficients
        (:attr:`SelectionResult.coefficients`, summarised by
        :meth:`SelectionResult.coefficient_summary`): which features drive
        the recommendation, and how stably. Fits fold by fold (the batched
        route keeps no models); linear response models only.
    return_maps : bool, default=False
        Keep every outer-fold selector's brain maps (voxel features,
        per-arm strategies): :attr:`SelectionResult.maps`, one
        :class:`~txpredict.ModelMaps` per term (each arm, and each arm minus
        the first: the moderation map), each fold's from its training
        patients only; their mean, jackknife z and sign consistency say how
        stable the moderation map is. Fits fold by fold.
    n_jobs : int or None, default=None
        Parallel folds (fold-by-fold route) or permutations. Results do not
        depend on it.
    random_state : int, default=0

    Returns
    -------
    SelectionResult
    """
    index, y = check_X_y(X, y)
    check_n_jobs(n_jobs)
    arm, arms = check_treatment(X, treatment, getattr(selector, "arms", None))
    groups = check_group_labels(groups, X, index)
    outer_cv = _check_selection_cv(outer_cv, y, arm.to_numpy(), arms, groups, selector)
    truth = check_truth(truth, index, arms)
    received = check_propensity(propensity, X, arm, arms, randomized)
    if n_permutations and not (propensity is None or isinstance(propensity, dict)):
        raise TxpredictError(
            "The permutation test of the policy gain permutes the arms, which is "
            "valid only when they were assigned at random; with per-patient "
            "propensities (non-randomised data) use n_permutations=0 and the "
            "intervals of the summary."
        )
    if return_coefficients and return_maps:
        raise TxpredictError(
            "Ask for return_coefficients or return_maps, not both: coefficients "
            "are for ROI and tabular selectors, maps for voxel ones."
        )
    if return_coefficients:
        check_coefficients(selector)
    runner = SelectionRunner(
        selector, X, arms, fast_path=False if return_coefficients else fast_path
    )
    if return_maps:
        why = why_no_selector_maps(selector, runner.extractor, runner.design)
        if why is not None:
            raise TxpredictError(f"return_maps=True: {why}")
    arm = arm.to_numpy()
    ids = index.astype(str).to_numpy()
    scheme = {"outer_cv": outer_cv, "groups": groups, "random_state": random_state}
    repeated = selection_splits(y, arm, n_repeats=n_repeats, **scheme)
    splits = [(train, test) for _, _, train, test in repeated]
    keys = [(repeat, fold) for repeat, fold, _, _ in repeated]
    fingerprint = splits_hash(index, repeated)
    coefficients = maps = None
    if return_maps:
        fitted = runner.maps(y, arm, splits, n_jobs=n_jobs)
        probabilities = [p for p, _ in fitted]
        maps = fold_selector_maps([m for _, m in fitted], keys, runner.extractor)
    elif return_coefficients:
        fitted = runner.coefficients(y, arm, splits, n_jobs=n_jobs)
        probabilities = [p for p, _ in fitted]
        coefficients = pd.concat(
            [
                frame.assign(repeat=repeat, fold=fold)
                for (_, frame), (repeat, fold) in zip(fitted, keys, strict=True)
            ],
            ignore_index=True,
        )[["repeat", "fold", "term", "feature", "coefficient"]]
    else:
        probabilities = runner.probabilities(y, arm, splits, n_jobs=n_jobs)
    predictions = pd.concat(
        [
            _fold_frame(p, ids, test, arm, y, arms, repeat, fold)
            for p, (_, test), (repeat, fold) in zip(
                probabilities, splits, keys, strict=True
            )
        ],
        ignore_index=True,
    )
    predictions["propensity"] = received.to_numpy()[
        pd.Index(ids).get_indexer(predictions["participant_id"])
    ]
    result = SelectionResult(
        predictions,
        arms,
        truth,
        splits_hash=fingerprint,
        coefficients=coefficients,
        maps=maps,
    )
    if n_permutations:
        allocation = propensity or arm_proportions(pd.Series(arm))
        result.permutation = _policy_gain_permutation(
            runner, y, arm, scheme, n_permutations, allocation, n_jobs
        )
    return result


def arm_proportions(arm: pd.Series) -> dict:
    """Each arm's share of the patients (a randomised trial's allocation)."""
    return arm.value_counts(normalize=True).to_dict()


def check_propensity(propensity, X, arm, arms, randomized) -> pd.Series:
    """P(received arm) of each patient, from any accepted form of ``propensity``."""
    if propensity is None:
        if not randomized:
            warnings.warn(
                "Inverse-probability weighting needs known assignment probabilities; "
                "in a non-randomised study pass propensity= (one probability per "
                "patient, from a propensity model). The arm proportions used "
                "instead may bias the policy value.",
                UserWarning,
                stacklevel=3,
            )
        propensity = arm_proportions(arm)
    if isinstance(propensity, dict):
        missing = [a for a in arms if a not in propensity]
        if missing:
            raise TxpredictError(
                f"propensity must give a probability for each arm {list(arms)}; "
                f"missing: {missing}."
            )
        values = arm.map(propensity).astype(float)
        what = "propensity"
    else:  # a column of X, a Series aligned by index, or an array
        values = aligned_values(propensity, X, what="propensity", column_ok=True)
        values = pd.to_numeric(pd.Series(values, index=arm.index), errors="coerce")
        what = f"column {propensity!r}" if isinstance(propensity, str) else "propensity"
    bad = values.index[~((values > 0) & (values <= 1))].tolist()
    if bad:
        raise TxpredictError(
            f"The {what} must be a probability in (0, 1] for every patient (the "
            f"probability of the arm received); patient(s) {list(map(str, bad))[:5]}"
            " have other or missing values."
        )
    return values


def policy_gain(y, received, probabilities, arms, allocation):
    """Policy value of the recommendations minus the best single arm's.

    The summary's ``policy_gain`` for one repeat, with a randomised trial's
    ``allocation`` (arm -> probability) as the weights: the statistic of the
    permutation test.
    """
    recommended = np.asarray(arms)[probabilities.argmax(axis=1)]
    weights = 1.0 / np.array([allocation[a] for a in received])
    measures = policy_measures(y, received, recommended, weights, arms)
    return measures["policy_gain"][0]


def _permutation_gains(runner, y, arms_list, scheme, propensity):
    gains = []
    for arm in arms_list:
        splits = selection_splits(y, arm, n_repeats=1, **scheme)
        probabilities = np.empty((len(y), len(runner.arms)))
        tests = [test for _, _, _, test in splits]
        fitted = runner.probabilities(y, arm, [(tr, te) for _, _, tr, te in splits])
        for p, test in zip(fitted, tests, strict=True):
            probabilities[test] = p
        gains.append(policy_gain(y, arm, probabilities, runner.arms, propensity))
    return gains


def _policy_gain_permutation(
    runner, y, arm, scheme, n_permutations, propensity, n_jobs
):
    (observed,) = _permutation_gains(runner, y, [arm], scheme, propensity)
    random_state = scheme["random_state"]
    rng = np.random.default_rng(np.random.SeedSequence(random_state).spawn(2)[1])
    # Arms are exchangeable within outcome strata (each arm keeps its response
    # rate) and, with groups, within each site: randomisation is by site.
    blocks = y.astype(str)
    if scheme["groups"] is not None:
        blocks = blocks + "|" + np.asarray(scheme["groups"]).astype(str)
    permuted = []
    for _ in range(n_permutations):
        shuffled = arm.copy()
        for block in np.unique(blocks):
            rows = np.flatnonzero(blocks == block)
            shuffled[rows] = rng.permutation(arm[rows])
        permuted.append(shuffled)
    # Permutations are drawn above, in one stream: the null does not depend on
    # n_jobs. Chunks amortise the cost of shipping the runner to workers.
    n_chunks = max(1, min(len(permuted), 4 * joblib.effective_n_jobs(n_jobs)))
    chunks = [list(c) for c in np.array_split(np.arange(len(permuted)), n_chunks)]
    null = np.concatenate(
        joblib.Parallel(n_jobs=n_jobs)(
            joblib.delayed(_permutation_gains)(
                runner, y, [permuted[i] for i in chunk], scheme, propensity
            )
            for chunk in chunks
            if chunk
        )
    )
    p_value = (1 + np.sum(null >= observed)) / (1 + n_permutations)
    return {
        "policy_gain": float(observed),
        "p_value": float(p_value),
        "null_distribution": null,
        "within_sites": scheme["groups"] is not None,
    }


@dataclass
class SelectionResult:
    """Out-of-fold recommendations and their evaluation.

    Attributes
    ----------
    predictions : DataFrame
        One row per patient and repeat: predicted response probability under
        each arm (``p_<arm>``), received and recommended arm, outcome, |PAI|,
        and ``propensity``, the probability of the arm received (the inverse
        of the patient's weight in the policy values).
    arms : tuple of str
    truth : DataFrame or None
    permutation : dict or None
        ``policy_gain`` (policy value minus the best single arm, one repeat),
        its permutation ``p_value`` and ``null_distribution``.
    splits_hash : str
    coefficients : DataFrame or None
        With ``return_coefficients=True``: one row per repeat, fold, term and
        feature (:mod:`txpredict.modality._coefficients` says what the terms
        are).
    maps : dict of str to ModelMaps, or None
        With ``return_maps=True``: for each term (each arm, and each arm
        minus the first), the maps of every outer-fold selector.
    """

    predictions: pd.DataFrame
    arms: tuple
    truth: pd.DataFrame | None = None
    permutation: dict | None = None
    splits_hash: str = ""
    coefficients: pd.DataFrame | None = None
    maps: dict | None = field(default=None, repr=False, compare=False)

    def coefficient_summary(self) -> pd.DataFrame:
        """Each (term, feature)'s mean coefficient across the outer folds.

        Returns
        -------
        DataFrame
            Indexed by (term, feature): ``mean``, ``sd`` across folds,
            ``sign_consistency`` (share of folds whose coefficient has the
            mean's sign) and the number of ``folds``.
        """
        if self.coefficients is None:
            raise TxpredictError(
                "No coefficients: run evaluate_selection(..., "
                "return_coefficients=True)."
            )
        return summarise_coefficients(self.coefficients)

    def pai_correlations(self, features) -> pd.DataFrame:
        """Correlation of the out-of-fold PAI with each feature (two arms).

        Parameters
        ----------
        features : DataFrame
            One row per patient (indexed by participant id, as ``X``), e.g.
            the ROI means of ``tp.RoiFeatures().set_output(transform="pandas")``.

        Returns
        -------
        DataFrame
            One row per feature: Pearson ``r`` of the PAI (P(response | second
            arm) - P(response | first arm), from models that never saw the
            patient) with the feature, per repeat, then ``mean`` and ``min``
            and ``max`` across repeats. Descriptive: no interval.
        """
        if len(self.arms) != 2:
            raise TxpredictError("pai_correlations compares two arms.")
        first, second = (f"p_{a}" for a in self.arms)
        missing = set(self.predictions["participant_id"]) - set(
            map(str, features.index)
        )
        if missing:
            raise TxpredictError(
                f"features has no row for participant(s) {sorted(missing)[:10]}; "
                "index it by participant id, as the cohort."
            )
        table = features.set_axis(features.index.astype(str))
        values = []
        for _, part in self.predictions.groupby("repeat"):
            pai = part[second] - part[first]
            rows = table.loc[part["participant_id"]].apply(pd.to_numeric)
            values.append(rows.corrwith(pd.Series(pai.to_numpy(), rows.index)))
        per_repeat = pd.DataFrame(values)
        return pd.DataFrame(
            {
                "mean": per_repeat.mean(),
                "min": per_repeat.min(),
                "max": per_repeat.max(),
            }
        ).rename_axis("feature")

    def calibration(self) -> pd.DataFrame:
        """Calibration of each arm's out-of-fold probabilities of response.

        An arm's probabilities can only be checked against the patients who
        received it: per arm and repeat, their probability under that arm
        (from models that never saw them) against their outcome, then the
        measures averaged over repeats (as
        :meth:`txpredict.NestedCVResult.calibration`). Intervals are not
        given: their coverage has not been measured.

        Returns
        -------
        DataFrame
            Indexed by (arm, measure): ``observed`` response rate,
            ``mean_predicted``, calibration ``intercept`` (0 when perfect) and
            ``slope`` (1 when perfect; below 1: too extreme), ``brier``;
            columns ``estimate`` and ``sd_across_repeats``.
        """
        frames = {}
        for arm in self.arms:
            received = self.predictions[self.predictions["received"] == arm]
            frames[arm] = calibration_over_repeats(
                (part["y_true"], part[f"p_{arm}"])
                for _, part in received.groupby("repeat")
            )
        return pd.concat(frames, names=["arm"])

    @property
    def weights(self) -> np.ndarray:
        """Inverse-probability weight of each row of :attr:`predictions`."""
        return 1.0 / self.predictions["propensity"].to_numpy(dtype=float)

    def _per_repeat(self):
        rows = []
        weights = self.weights
        for repeat, frame in self.predictions.groupby("repeat"):
            y = frame["y_true"].to_numpy()
            received = frame["received"].to_numpy()
            matched = (frame["recommended"] == frame["received"]).to_numpy()
            top = frame["pai_abs"].to_numpy() >= np.median(frame["pai_abs"])
            measures = policy_measures(
                y, received, frame["recommended"], weights[frame.index], self.arms
            )
            row = {
                "repeat": repeat,
                "matched_rate": y[matched].mean() if matched.any() else np.nan,
                "unmatched_rate": y[~matched].mean() if (~matched).any() else np.nan,
                "top_half_matched_rate": y[matched & top].mean()
                if (matched & top).any()
                else np.nan,
                "top_half_unmatched_rate": y[~matched & top].mean()
                if (~matched & top).any()
                else np.nan,
                "n_matched": int(matched.sum()),
                **{name: value for name, (value, _) in measures.items()},
            }
            for a in self.arms:
                got = received == a
                p_arm = frame[f"p_{a}"].to_numpy()[got]
                # The balanced decision: probabilities are shifted to the arm's
                # training prevalence, so a responder is predicted above it
                # (here the arm's response rate, which each fold's is close to).
                metrics = binary_metrics(y[got], p_arm > y[got].mean(), p_arm)
                row[f"sensitivity_{a}"] = metrics["sensitivity"]
                row[f"specificity_{a}"] = metrics["specificity"]
                row[f"auc_{a}"] = metrics["auc"]
            if len(self.arms) == 2:
                second = received == self.arms[1]
                pai = (
                    frame[f"p_{self.arms[1]}"] - frame[f"p_{self.arms[0]}"]
                ).to_numpy()
                row["qini_coefficient"] = qini_coefficient(y, second, pai)
            if self.truth is not None:
                t = self.truth.loc[frame["participant_id"]]
                true_p = np.choose(
                    [self.arms.index(r) for r in frame["recommended"]],
                    [t[f"p_response_{a}"].to_numpy() for a in self.arms],
                )
                row["agreement_with_better_arm"] = (
                    frame["recommended"].to_numpy() == t["better_arm"].to_numpy()
                ).mean()
                row["true_policy_value"] = true_p.mean()
            rows.append(row)
        return pd.DataFrame(rows)

    def intervals(self, method=None, confidence=0.95) -> pd.DataFrame:
        """Intervals of the matched-unmatched difference, policy value and gain.

        Parameters
        ----------
        method : {"test_set", "corrected_folds", "corrected_test_set"} or None
            None: every method (see :func:`txpredict.stats.policy_intervals`
            and ``benchmarks/calibration.py`` for their measured coverage).
        confidence : float, default=0.95

        Returns
        -------
        DataFrame
            One row per measure and method.
        """
        methods = METHODS if method is None else [method]
        return (
            pd.concat(
                {
                    m: policy_intervals(
                        self.predictions, self.weights, self.arms, m, confidence
                    )
                    for m in methods
                },
                names=["method", "measure"],
            )
            .swaplevel()
            .sort_index(level=0, sort_remaining=False)
        )

    def summary(self, confidence=0.95) -> pd.DataFrame:
        """The evaluation table: estimate, interval where one is calibrated, SD.

        With a permutation test, ``policy_gain_first_repeat`` is its
        statistic (the first repeat's policy gain: each permutation re-runs
        one repeat) and ``p_value`` its p-value; ``policy_gain`` averages
        every repeat, so the two differ by the fold shuffle.

        ``ci_low``/``ci_high`` are given for the matched-minus-unmatched
        difference, the policy value and the policy gain, by the method
        (``ci_method``) whose coverage ``benchmarks/calibration.py`` measured
        within 93-97% (see the README), and for ``number_needed_to_treat``
        (1 / policy gain: patients treated by the recommendation instead of
        the best single arm per extra responder), the reciprocal of the gain's
        interval when that excludes 0; ``sd_across_repeats`` is the spread due
        to the fold shuffle alone, not an interval.
        """
        per_repeat = self._per_repeat()
        rows = {
            "matched_response_rate": per_repeat["matched_rate"],
            "unmatched_response_rate": per_repeat["unmatched_rate"],
            "matched_minus_unmatched": per_repeat["matched_minus_unmatched"],
            "top_half_pai_matched_minus_unmatched": per_repeat["top_half_matched_rate"]
            - per_repeat["top_half_unmatched_rate"],
            "policy_value_ipw": per_repeat["policy_value"],
            "policy_gain": per_repeat["policy_gain"],
        }
        if "qini_coefficient" in per_repeat:
            rows["qini_coefficient"] = per_repeat["qini_coefficient"]
        for a in self.arms:
            rows[f"everyone_{a}"] = per_repeat[f"everyone_{a}"]
            rows[f"prognostic_auc_{a}"] = per_repeat[f"auc_{a}"]
            rows[f"prognostic_sensitivity_{a}"] = per_repeat[f"sensitivity_{a}"]
            rows[f"prognostic_specificity_{a}"] = per_repeat[f"specificity_{a}"]
        rows["random_allocation"] = per_repeat[
            [f"everyone_{a}" for a in self.arms]
        ].mean(axis=1)
        if self.truth is not None:
            rows["agreement_with_better_arm"] = per_repeat["agreement_with_better_arm"]
            rows["true_policy_value"] = per_repeat["true_policy_value"]
            first = self.predictions[self.predictions["repeat"] == 0]
            t = self.truth.loc[first["participant_id"]]
            rows["oracle_policy_value"] = pd.Series(
                [t[[f"p_response_{a}" for a in self.arms]].max(axis=1).mean()]
            )
        table = pd.DataFrame(
            {
                "estimate": {k: v.mean() for k, v in rows.items()},
                "sd_across_repeats": {
                    k: v.std(ddof=1) if len(v) > 1 else np.nan for k, v in rows.items()
                },
            }
        )
        table["ci_low"], table["ci_high"], table["ci_method"] = np.nan, np.nan, ""
        for measure in MEASURES:
            method = DEFAULT_POLICY_METHODS[measure]
            interval = policy_intervals(
                self.predictions, self.weights, self.arms, method, confidence
            ).loc[measure]
            name = "policy_value_ipw" if measure == "policy_value" else measure
            table.loc[name, ["ci_low", "ci_high"]] = interval[["ci_low", "ci_high"]]
            table.loc[name, "ci_method"] = method
        table.loc["number_needed_to_treat"] = _number_needed_to_treat(
            table.loc["policy_gain"]
        )
        pa = table.at["matched_response_rate", "estimate"]
        pb = table.at["unmatched_response_rate", "estimate"]
        table.loc["cohens_h_matched_vs_unmatched", "estimate"] = cohens_h(pa, pb)
        table["p_value"] = np.nan
        if self.permutation is not None:
            # The test re-runs one repeat per permutation (all of them would
            # cost n_repeats times as much): its statistic is the first
            # repeat's gain, not the mean over repeats in "policy_gain".
            n = len(self.permutation["null_distribution"])
            blocks = (
                "outcome and site"
                if self.permutation.get("within_sites")
                else "outcome"
            )
            table.loc["policy_gain_first_repeat"] = {
                "estimate": self.permutation["policy_gain"],
                "ci_method": f"the first repeat's gain; permutation test ({n} "
                f"permutations of the arms within {blocks} strata)",
                "p_value": self.permutation["p_value"],
            }
        columns = ["estimate", "ci_low", "ci_high", "ci_method", "sd_across_repeats"]
        return table[[*columns, "p_value"]]


def _number_needed_to_treat(gain) -> pd.Series:
    """Number needed to treat by the recommendation for one more responder.

    Patients to treat by the recommendation, instead of everyone by the best
    single arm, for one more responder: 1 / policy gain (negative: the
    recommendation loses one responder per that many patients).

    Given only when the gain's interval (whose coverage was measured)
    excludes 0, with the reciprocal of that interval. When it includes 0 the
    NNT's interval runs through infinity (Altman 1998, BMJ 317:1309) and its
    estimate is the reciprocal of a gain indistinguishable from 0 (-14,382
    for a gain of -0.00007): neither is given, the row says why.
    """
    low, high = gain["ci_low"], gain["ci_high"]
    row = {
        "estimate": np.nan,
        "ci_low": np.nan,
        "ci_high": np.nan,
        "ci_method": "not given: the policy gain's interval includes 0",
        "sd_across_repeats": np.nan,
    }
    if np.isfinite(low) and np.isfinite(high) and low * high > 0:
        row["estimate"] = 1.0 / gain["estimate"]
        row["ci_low"], row["ci_high"] = 1.0 / high, 1.0 / low
        row["ci_method"] = "policy_gain's, inverted"
    return pd.Series(row)


def _fold_policy_values(result):
    weights = result.weights
    return np.array(
        [
            policy_measures(
                frame["y_true"],
                frame["received"],
                frame["recommended"],
                weights[frame.index],
                result.arms,
            )["policy_value"][0]
            for _, frame in result.predictions.groupby(["repeat", "fold"])
        ]
    )


def compare_selections(result_a, result_b, *, names=("a", "b")) -> pd.DataFrame:
    """Compare two selectors on the same splits (e.g. scan vs demographics).

    Both results must come from :func:`evaluate_selection` on the same patients
    and splits. The policy values of each outer test fold are compared with the
    Nadeau-Bengio corrected resampled t-test (see :func:`txpredict.compare`);
    that row's a and b are each selector's policy value averaged over the
    outer test folds, so that its difference is a - b and has the sign of t
    (the summaries' ``policy_value_ipw`` pools each repeat's folds). The
    matched-minus-unmatched row compares the summaries' estimates, untested.

    Returns
    -------
    DataFrame
        One row per measure: value for a and b, difference, t, p-value.
    """
    if result_a.splits_hash != result_b.splits_hash:
        raise TxpredictError(
            "The two selection results were computed on different splits; run both "
            "with the same X, y, treatment, outer_cv, n_repeats and random_state."
        )
    a, b = _fold_policy_values(result_a), _fold_policy_values(result_b)
    n = result_a.predictions["participant_id"].nunique()
    n_test = len(result_a.predictions) / len(a)
    test = corrected_resampled_ttest(a - b, n_train=n - n_test, n_test=n_test)
    measure = "matched_minus_unmatched"
    table = pd.DataFrame(
        {
            names[0]: [a.mean(), result_a.summary().at[measure, "estimate"]],
            names[1]: [b.mean(), result_b.summary().at[measure, "estimate"]],
        },
        index=pd.Index(["policy_value_ipw", measure], name="measure"),
    )
    table["difference"] = table[names[0]] - table[names[1]]
    table.loc["policy_value_ipw", ["t", "p_value"]] = (test["t"], test["p_value"])
    return table
