"""External validation: a frozen model scored on a new, independent cohort.

The strongest evidence a prediction model can have (the seed review's
"validation in new samples"): the model is fitted once, on the development
cohort, and applied unchanged to patients of other sites. Here the
predictions come from ONE fixed model on independent patients, so the
test-set intervals (Wilson, DeLong) are valid, unlike after cross-validation.
Calibration is reported as TRIPOD recommends: calibration-in-the-large
(observed minus mean predicted response) and the calibration slope and
intercept of a logistic recalibration (Van Calster et al. 2019).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit, logit

from txpredict._images import Grid, read_header
from txpredict._inputs import check_X_y
from txpredict.errors import TxpredictError
from txpredict.features import images_from_input
from txpredict.leakage import describe_pairs
from txpredict.stats import (
    METRICS,
    binary_metrics,
    calibration_measures,
    confusion_counts,
    delong_auc_ci,
    wilson_interval,
)


@dataclass
class ExternalValidation:
    """Performance of a frozen model on an independent cohort.

    Attributes
    ----------
    table : DataFrame
        Sensitivity, specificity, balanced accuracy, AUC, PPV and NPV with
        test-set 95% intervals (valid for one fixed model on new patients).
    calibration : dict
        ``observed`` and ``mean_predicted`` response rate, their difference
        ``in_the_large``, the calibration ``intercept`` (0 when perfect) and
        ``slope`` (1 when perfect), the ``recalibration`` (intercept, slope)
        and the ``brier`` score (see :func:`calibration_measures`); empty for
        a model without probabilities.
    predictions : DataFrame
        One row per patient: outcome, decision, probability, prediction.
    checks : list of str
        Where the new cohort differs from the development cohort.
    """

    table: pd.DataFrame
    calibration: dict
    predictions: pd.DataFrame
    checks: list = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        """The metrics table."""
        return self.table.copy()

    def __repr__(self) -> str:
        t = self.table
        text = (
            f"ExternalValidation(n={len(self.predictions)}: balanced_accuracy "
            f"{t.at['balanced_accuracy', 'estimate']:.2f} "
            f"[{t.at['balanced_accuracy', 'ci_low']:.2f}, "
            f"{t.at['balanced_accuracy', 'ci_high']:.2f}], auc "
            f"{t.at['auc', 'estimate']:.2f} [{t.at['auc', 'ci_low']:.2f}, "
            f"{t.at['auc', 'ci_high']:.2f}]"
        )
        if self.calibration:
            text += f", calibration slope {self.calibration['slope']:.2f}"
        return text + f", {len(self.checks)} check note(s))"


def _check_new_cohort(model, X) -> list[str]:
    """Refuse what cannot be scored; describe what differs and can be."""
    notes = []
    summary = getattr(model, "training_summary_", None)
    if summary is None:
        raise TxpredictError(
            "validate_external needs a ResponseClassifier fitted by txpredict "
            "(model.fit or txpredict run's model.skops)."
        )
    extractor = getattr(model, "extractor_", None)
    grid = getattr(extractor, "grid_", None)
    if grid is not None:
        images, subjects = images_from_input(X, extractor.image_column)
        new = Grid.of(read_header(images[0], subjects[0]))
        if new != grid:
            raise TxpredictError(
                f"The new cohort's images are on {new}; the model was trained on "
                f"images on {grid}. txpredict never resamples silently: resample "
                "the new images to the training grid (nilearn.image.resample_to_img) "
                "first."
            )
    columns = summary["columns"]
    missing = [c for c in columns if c not in X.columns]
    if missing:
        raise TxpredictError(
            f"The new cohort lacks the column(s) {missing} the model reads (it was "
            f"trained with {list(columns)}). Add them to the new participants "
            "table, under the same names."
        )
    for column, seen in columns.items():
        values = X[column].dropna()
        if "categories" in seen:
            new = sorted(set(values.astype(str)) - set(seen["categories"]))
            if new:
                notes.append(
                    f"{column}: value(s) {new} were not in the development cohort "
                    f"({seen['categories']})"
                    + (
                        "; ComBat estimates their site effect from their own images"
                        if column == getattr(model, "sites", None) and model.harmonize
                        else "; they encode as no category"
                    )
                    + "."
                )
        else:
            numbers = pd.to_numeric(values, errors="coerce")
            outside = int(((numbers < seen["min"]) | (numbers > seen["max"])).sum())
            if outside:
                notes.append(
                    f"{column}: {outside} patient(s) outside the development range "
                    f"[{seen['min']:g}, {seen['max']:g}] (the model extrapolates)."
                )
    return notes


def validate_external(model, X, y=None, *, confidence=0.95) -> ExternalValidation:
    """Score a frozen model on a new, independent cohort.

    Parameters
    ----------
    model : ResponseClassifier
        Fitted on the development cohort (``model.fit``, or the ``model.skops``
        of ``txpredict run`` loaded with :func:`txpredict.load_model`). It is
        not refitted.
    X : Cohort or DataFrame
        The new cohort (``load_cohort``), or its participants table.
    y : array-like or None, default=None
        The new patients' outcomes (taken from the Cohort when X is one).
    confidence : float, default=0.95

    Returns
    -------
    ExternalValidation

    Examples
    --------
    >>> import txpredict as tp
    >>> development = tp.make_synthetic_cohort(
    ...     60, effect="prognostic", n_sites=2, grid="fsl6", random_state=0)
    >>> new = tp.make_synthetic_cohort(
    ...     40, effect="prognostic", site_names=["clinic_b"], grid="fsl6",
    ...     random_state=1)
    >>> model = tp.ResponseClassifier("roi").fit(development.X, development.y)
    >>> check = tp.validate_external(model, new)
    >>> list(check.table.index)[:3]
    ['sensitivity', 'specificity', 'balanced_accuracy']
    """
    if y is None:
        if not hasattr(X, "participants"):
            raise TxpredictError(
                "validate_external needs the new patients' outcomes: pass a Cohort "
                "(load_cohort) or X and y."
            )
        X, y = X.X, X.y
    index, y = check_X_y(X, y)
    checks = _check_new_cohort(model, X)
    seen = model.training_scans_in(X)
    if seen:
        raise TxpredictError(
            f"{len(seen)} patient(s) of the new cohort have a scan the model was "
            f"trained on (training id and new id): {describe_pairs(seen)}. An "
            "external validation must not score patients on their own training "
            "scans: remove them from the new cohort."
        )
    for note in checks:
        warnings.warn(f"validate_external: {note}", UserWarning, stacklevel=2)
    decision = np.asarray(model.decision_function(X), dtype=float)
    predicted = np.asarray(model.predict(X)).astype(int)
    probability = (
        np.asarray(model.predict_proba(X))[:, 1]
        if hasattr(model.search_, "predict_proba")
        else np.full(len(y), np.nan)
    )
    metrics = binary_metrics(y, predicted, decision)
    counts = confusion_counts(y, predicted)
    n_pos, n_neg = counts["tp"] + counts["fn"], counts["tn"] + counts["fp"]
    z = stats.norm.ppf(0.5 + confidence / 2)
    intervals = {
        "sensitivity": wilson_interval(counts["tp"], n_pos, confidence),
        "specificity": wilson_interval(counts["tn"], n_neg, confidence),
        "ppv": wilson_interval(counts["tp"], counts["tp"] + counts["fp"], confidence),
        "npv": wilson_interval(counts["tn"], counts["tn"] + counts["fn"], confidence),
    }
    sens, spec = metrics["sensitivity"], metrics["specificity"]
    half = z * np.sqrt(sens * (1 - sens) / n_pos + spec * (1 - spec) / n_neg) / 2
    intervals["balanced_accuracy"] = (
        metrics["balanced_accuracy"] - half,
        metrics["balanced_accuracy"] + half,
    )
    intervals["auc"] = delong_auc_ci(y, decision, confidence)[1:]
    table = pd.DataFrame(
        [(m, metrics[m], *intervals[m]) for m in METRICS],
        columns=["metric", "estimate", "ci_low", "ci_high"],
    ).set_index("metric")
    table["ci_method"] = "test set (one frozen model, independent patients)"
    predictions = pd.DataFrame(
        {
            "y_true": y,
            "decision": decision,
            "probability": probability,
            "y_pred": predicted,
        },
        index=pd.Index(np.asarray(index).astype(str), name="participant_id"),
    )
    calibration = (
        {} if np.isnan(probability).all() else calibration_measures(y, probability)
    )
    return ExternalValidation(table, calibration, predictions, checks)


def recalibrated(validation: ExternalValidation) -> pd.Series:
    """The new cohort's probabilities after logistic recalibration on it.

    ``expit(intercept + slope * logit(p))``: what the frozen model would
    predict once recalibrated to the new setting (its ranking, hence its AUC,
    is unchanged). The recalibration is fitted on the same patients, so
    judge it on yet another cohort.
    """
    if not validation.calibration:
        raise TxpredictError("The model has no probabilities to recalibrate.")
    intercept, slope = validation.calibration["recalibration"]
    p = np.clip(validation.predictions["probability"], 1e-12, 1 - 1e-12)
    return pd.Series(
        expit(intercept + slope * logit(p)),
        index=validation.predictions.index,
        name="recalibrated_probability",
    )
