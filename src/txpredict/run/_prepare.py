"""The first step of every task: settings, output folder, cohort and its checks."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from txpredict._io import check_output_folder, check_writable
from txpredict.cohort import DEFAULT_IMAGE_PATTERN, load_cohort
from txpredict.errors import TxpredictError
from txpredict.features import RoiFeatures
from txpredict.leakage import (
    Check,
    LeakageWarning,
    checks_frame,
    site_column,
    site_confounding,
)
from txpredict.model_selection import is_leave_site_out
from txpredict.models import make_image_extractor
from txpredict.run._config import cv_settings, model_settings, outcome_rule
from txpredict.run._outputs import will_write


class Prepared(NamedTuple):
    """What every task starts from."""

    data: dict
    output: dict
    cv: dict
    model_options: dict
    folder: Path
    cohort: object
    roi: pd.DataFrame | None  # ROI means of image models, read once
    plan: dict | None = None  # the preregistered plan the run was checked against


def prepare(config, progress, cache=None, plan=None) -> Prepared:
    """Defaults, the output-folder check, the cohort and its leakage checks.

    Shared by every task. Everything the configuration names is checked here,
    before any work: the feature options, the output and cache folders, the
    columns. For image models the ROI means are read once (the
    site-confounding check; the modality run's PAI correlations reuse them),
    through ``cache`` (the run's feature cache; default ``[output] cache``).
    ``plan``: (plan, check) of a run checked against its preregistered plan
    (:func:`check_plan`); the check joins the cohort's.
    """
    data, output = config["data"], config["output"]
    task = config.get("task", "response")
    cv = cv_settings(config)
    model_options = model_settings(config)
    features = model_options["features"]
    # Built now, its options checked before the cohort is loaded and the folds
    # have run; placed on the data grid once the images are known (None: no
    # image features).
    extractor = make_image_extractor(
        features,
        image_column="image",
        n_jobs=None,
        memory=None,
        options=model_options.get("feature_options"),
    )
    folder = Path(output["folder"])
    # Before any work: a run must not fail at its end on the folders it writes to.
    check_writable(folder, "[output] folder")
    check_output_folder(
        folder,
        overwrite=bool(output.get("overwrite")),
        will_write=will_write(task),
        option="overwrite = true in [output]",
    )
    if output.get("cache"):
        check_writable(output["cache"], "[output] cache")
    with warnings.catch_warnings():
        # The run says what the leakage screens found itself, below and in
        # its report; as a warning it would say it twice.
        warnings.simplefilter("ignore", LeakageWarning)
        cohort = load_cohort(
            data["dataset"],
            data.get("image_pattern", DEFAULT_IMAGE_PATTERN),
            outcome=outcome_rule(data.get("outcome", "responder"), task),
            treatment=data.get("treatment", "treatment"),
            arms=data.get("arms"),
            outcome_type="continuous" if task == "regression" else "binary",
            missing_images=data.get("missing_images", "refuse"),
            post_treatment=data.get("post_treatment", ()),
            baseline=data.get("baseline", ()),
            ignored=data.get("ignored", ()),
        )
    progress(f"Loaded {cohort!r}")
    if "demographic_columns" not in model_options:
        # Refused while columns that look post-treatment are undeclared.
        model_options["demographic_columns"] = cohort.baseline_columns()
        progress(
            f"Demographic columns: {model_options['demographic_columns']} (the "
            "cohort's own; narrow them with demographic_columns = [...] in [model])"
        )
    _check_roles(cohort, model_options)
    _check_columns(cohort.X, model_options, cv)
    if extractor is not None:
        # One header: the ROIs and the mask placed on the data grid (a mask that
        # covers none of the images is refused here, not after the first CV).
        extractor.fit(cohort.X)
    roi = None
    if isinstance(features, str) and features.startswith(("roi", "wholebrain")):
        progress("Reading the ROI means (site confounding, PAI correlations) ...")
        roi = roi_means(
            cohort.X,
            model_options.get("feature_options"),
            cache or output.get("cache"),
        )
    planned, plan_check = plan if plan is not None else (None, None)
    cohort.checks = [
        *([plan_check] if plan_check is not None else []),
        *cohort.checks,
        _run_site_check(cohort, roi, model_options, cv),
    ]
    progress(checks_text(cohort.checks))
    return Prepared(data, output, cv, model_options, folder, cohort, roi, planned)


def roi_means(X, feature_options=None, cache=None) -> pd.DataFrame:
    """Each patient's ROI means (with the run's ROIs, mask and NaN policy).

    Parameters
    ----------
    X : DataFrame
        The cohort table.
    feature_options : dict or None, default=None
        The run's ``[features]`` (ROIs, mask, NaN policy).
    cache : str, pathlib.Path or None, default=None
        The feature cache folder.
    """
    chosen = feature_options or {}
    return (
        RoiFeatures(memory=cache, verbose=0)
        .set_params(
            **{k: chosen[k] for k in ("rois", "mask", "nonfinite") if k in chosen}
        )
        .set_output(transform="pandas")
        .fit_transform(X)
    )


def site_check(cohort, features, *, configured=None, handled=None):
    """Site confounding of a cohort, on its image ``features`` (or None).

    Parameters
    ----------
    cohort : Cohort
        The run's cohort.
    features : ndarray or None
        Its image features (ROI means), or None.
    configured : str or None, default=None
        The ``[cv] groups`` column, if any.
    handled : str or None, default=None
        How the model handles sites (harmonisation, confounds), if it does.
    """
    column = site_column(cohort.X, configured)
    if column is None:
        return Check("site confounding", "skipped", "no site column in the table")
    return site_confounding(
        cohort.X[column].fillna("n/a"),
        cohort.y,
        features,
        column=column,
        handled=handled,
    )


def _run_site_check(cohort, roi, model_options, cv):
    """Site confounding before a run, saying how the run deals with sites."""
    sites = model_options.get("sites") if model_options.get("harmonize") else None
    handled = []
    if model_options.get("harmonize"):
        handled.append("ComBat is fitted inside the folds")
    if is_leave_site_out(cv["outer_cv"]):
        handled.append("each site is held out in turn")
    elif cv.get("groups"):
        handled.append("sites are kept whole in the folds")
    return site_check(
        cohort,
        roi,
        configured=cv.get("groups") or sites,
        handled="; ".join(handled) or None,
    )


def write_checks(outputs, prepared) -> None:
    """``leakage_checks.csv``: each check, its status and what it found.

    And ``plan.json``, the preregistered plan the run was checked against
    (as deposited: its SHA-256 still verifies).
    """
    checks = checks_frame(prepared.cohort.checks)
    outputs.table("leakage_checks.csv", checks, index=False)
    if prepared.plan is not None:
        text = json.dumps(prepared.plan, indent=2, sort_keys=True) + "\n"
        outputs.text("plan.json", text)


def checks_text(checks) -> str:
    """The leakage and confounding checks, one line each, for the console.

    Parameters
    ----------
    checks : iterable of Check
        The leakage and confounding checks of a run.
    """
    lines = ["Leakage and confounding checks:"]
    lines += [f"  [{c.status}] {c.name}: {c.finding}" for c in checks]
    return "\n".join(lines)


def _check_roles(cohort, model_options) -> None:
    """No column that is (or looks) post-treatment among the ones a model reads."""
    named = [
        *model_options["demographic_columns"],
        *(model_options.get("confounds") or ()),
        *(model_options.get("protected") or ()),
    ]
    for column in dict.fromkeys(named):
        role = cohort.roles.get(column)
        if role == "suspected_post_treatment":
            why = " and ".join(cohort.info["suspected_post_treatment"][column])
            raise TxpredictError(
                f"[model] names column {column!r}, which looks measured after "
                f"treatment ({why}): as a predictor it would hand the model the "
                "outcome's own ingredient. If it was measured before treatment, "
                f'declare it: baseline = ["{column}"] in [data]; otherwise remove '
                "it from [model]."
            )
        if role in ("post_treatment", "ignored", "outcome"):
            raise TxpredictError(
                f"[model] names column {column!r}, whose role is {role}: no model "
                "may read it. Remove it from [model]."
            )


def _check_columns(X, model_options, cv):
    """Every table column the configuration names is in the cohort, before any work.

    Otherwise the run would fail on it only after the first nested CV.
    """
    named = {
        "[model] demographic_columns": model_options["demographic_columns"],
        "[model] confounds": model_options.get("confounds") or (),
        "[cv] groups": [cv["groups"]] if cv.get("groups") else (),
    }
    if model_options.get("harmonize"):
        named["[model] sites"] = [model_options.get("sites", "site")]
        named["[model] protected"] = model_options.get("protected", ())
    missing = {
        key: [c for c in columns if c not in X.columns]
        for key, columns in named.items()
    }
    missing = {key: columns for key, columns in missing.items() if columns}
    if missing:
        listed = "; ".join(f"{key}: {columns}" for key, columns in missing.items())
        raise TxpredictError(
            f"The configuration names column(s) the participants table does not "
            f"have ({listed}). Its columns are "
            f"{[c for c in X.columns if c != 'image']}. Name your own columns in "
            "the TOML (for the demographics baseline: demographic_columns = "
            '["age", "sex", ...] in [model]).'
        )
    # A site is needed for every patient: to keep sites whole, to harmonise.
    sites = {"[cv] groups": cv.get("groups")}
    if model_options.get("harmonize"):
        sites["[model] sites"] = model_options.get("sites", "site")
    for key, column in sites.items():
        if column and X[column].isna().any():
            absent = X.index[X[column].isna()].tolist()
            raise TxpredictError(
                f"{key} = {column!r}: the column is missing (n/a) for "
                f"{len(absent)} participant(s): {absent[:10]}. Fill in their "
                "site in participants.tsv, or remove them."
            )
