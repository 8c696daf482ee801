"""SelectionResult: a selector's out-of-fold recommendations and their evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from txpredict.errors import TxpredictError
from txpredict.modality._coefficients import summarise_coefficients
from txpredict.modality._uplift import qini_coefficient
from txpredict.stats import (
    DEFAULT_POLICY_METHODS,
    MEASURES,
    METHODS,
    binary_metrics,
    calibration_over_repeats,
    cohens_h,
    policy_intervals,
    policy_measures,
)


@dataclass
class SelectionResult:
    """Out-of-fold recommendations and their evaluation.

    Attributes
    ----------
    predictions : DataFrame
        One row per patient and repeat: predicted response probability under
        each arm (``p_<arm>``), received and recommended arm, outcome, the absolute PAI,
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
        within 93-97% (the documentation's benchmarks page), and for
        ``number_needed_to_treat``
        (1 / policy gain: patients treated by the recommendation instead of
        the best single arm per extra responder), the reciprocal of the gain's
        interval when that excludes 0; ``sd_across_repeats`` is the spread due
        to the fold shuffle alone, not an interval.

        Parameters
        ----------
        confidence : float, default=0.95
            Level of the intervals.
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
            most = self.permutation.get("max_permutations", n)
            run = f"{n} permutations" if n == most else f"{n} of at most {most} "
            run += "" if n == most else "permutations, stopped once settled"
            blocks = (
                "outcome and site"
                if self.permutation.get("within_sites")
                else "outcome"
            )
            table.loc["policy_gain_first_repeat"] = {
                "estimate": self.permutation["policy_gain"],
                "ci_method": f"the first repeat's gain; permutation test ({run}; "
                f"arms permuted within {blocks} strata)",
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
