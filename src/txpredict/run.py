"""``txpredict run CONFIG.toml``: a whole analysis, written to one output folder.

Example configuration (paths are relative to the configuration file)::

    [data]
    dataset = "my_study"
    image_pattern = "sub-{subject}/func/sub-{subject}_task-faces_bold.nii.gz"
    outcome = "responder"     # or: outcome = {pre = "lsas_pre", post = "lsas_post"}
    treatment = "treatment"

    [model]
    features = "roi"                   # roi, roi_voxels, wholebrain, ...
    classifier = "logistic"
    # param_grid = {C = [0.01, 0.1, 1]}

    [cv]
    outer_cv = 5
    inner_cv = 5
    n_repeats = 10
    random_state = 0
    n_permutations = 1000     # the permutation test's p-values (0: none)
    # groups = "site"

    [output]
    folder = "results"
    n_jobs = 2
"""

from __future__ import annotations

import contextlib
import os
import re
import tomllib
import warnings
from pathlib import Path

import pandas as pd
from sklearn.base import clone

from txpredict._inputs import check_n_jobs
from txpredict._io import (
    INCOMPLETE,
    check_output_folder,
    check_writable,
    results_folder,
)
from txpredict.cohort import (
    DEFAULT_IMAGE_PATTERN,
    SymptomChange,
    SymptomReduction,
    load_cohort,
)
from txpredict.errors import TxpredictError
from txpredict.evaluation import compare
from txpredict.features import Sphere, default_rois
from txpredict.leakage import LeakageWarning, checks_frame, describe_pairs
from txpredict.model_selection import (
    GridEdgeWarning,
    NestedCVResult,
    is_leave_site_out,
    nested_cross_validate,
)
from txpredict.models import ResponseClassifier, make_image_extractor, why_no_fold_maps
from txpredict.persistence import save_model
from txpredict.report import render_report

_SECTIONS = {
    "data": {
        "dataset",
        "image_pattern",
        "outcome",
        "treatment",
        "arms",
        "missing_images",
        # Column roles: kept out of every model, predictors whatever the
        # leakage screens say, or not read at all.
        "post_treatment",
        "baseline",
        "ignored",
    },
    "model": {
        "features",
        "classifier",
        "regressor",
        "param_grid",
        "scaling",
        "select_percentile",
        "pca_components",
        "demographic_columns",
        "confounds",
        "deconfound",
        "harmonize",
        "sites",
        "protected",
        "unseen_sites",
        "threshold",
    },
    "cv": {
        "outer_cv",
        "inner_cv",
        "n_repeats",
        "random_state",
        "groups",
        "inner_groups",
        "n_permutations",
    },
    "output": {"folder", "n_jobs", "overwrite", "cache"},
    # Parameters of the image extractor of [model] features (feature_options).
    "features": {
        "nonfinite",
        "mask",
        "rois",
        "summary",
        "smoothing_fwhm",
        "downsample",
    },
    "modality": {"strategy", "arms", "scoring"},
    # Permutation importance on the outer test folds (task = "response", ROI or
    # tabular features): shuffles per feature and fold, optional groups.
    "importance": {"n_permutations", "features"},
}
_PREPARATION_KEYS = _SECTIONS["model"] - {"classifier", "regressor", "threshold"}
#: The [model] keys each task uses (a key another task uses is refused, not
#: silently dropped).
_MODEL_KEYS = {
    "response": _PREPARATION_KEYS | {"classifier"},
    "regression": _PREPARATION_KEYS | {"regressor", "threshold"},
    "modality": {"features", "classifier", "param_grid", "demographic_columns"},
}
#: Shuffles per feature and outer fold of an [importance] section that names none.
DEFAULT_IMPORTANCE_PERMUTATIONS = 20
#: Feature sets with few enough columns to permute one by one.
_PERMUTABLE_FEATURES = ("roi", "roi+demographics", "demographics")
_TASKS = ("response", "modality", "regression")
#: Maps a linear model on voxels writes: (kind, statistic) of its outer-fold
#: models, or the final model's own ("final").
MAP_FILES = {
    "weights": ("weights", "final"),
    "pattern": ("pattern", "final"),
    "fold_pattern_mean": ("pattern", "mean"),
    "fold_pattern_ratio": ("pattern", "ratio"),
    "fold_pattern_jackknife_z": ("pattern", "jackknife_z"),
    "fold_pattern_sign_consistency": ("pattern", "sign_consistency"),
}
#: A voxel selector's outer-fold moderation maps (the difference of the two
#: arms' patterns): statistic across the folds.
FOLD_MODERATION_FILES = {
    "fold_moderation_pattern_mean": "mean",
    "fold_moderation_pattern_jackknife_z": "jackknife_z",
    "fold_moderation_pattern_sign_consistency": "sign_consistency",
}
#: Permutations of the whole nested procedure behind the summary's p-values.
DEFAULT_PERMUTATIONS = 1000
#: Files each task writes into its output folder.
_OUTPUTS = {
    "response": (
        "summary.csv",
        "predictions.csv",
        "folds.csv",
        "calibration.csv",
        "decision_curve.csv",
        "result.json",
        *(f"{name}.nii.gz" for name in MAP_FILES),
        "fold_weights.csv",
        "permutation_importance.csv",
        "summaries.csv",
        "comparison.csv",
        "model.skops",
        "report.html",
        "config.toml",
        "leakage_checks.csv",
    ),
    "regression": (
        "summary.csv",
        "predictions.csv",
        "folds.csv",
        "responders.csv",
        "comparison.csv",
        "result.json",
        "model.skops",
        "report.html",
        "config.toml",
        "leakage_checks.csv",
    ),
    "modality": (
        "selection_summary.csv",
        "selection_predictions.csv",
        "selection_calibration.csv",
        "pai_correlations.csv",
        "selector_coefficients.csv",
        "pai_intervals.csv",
        "moderation_pattern.nii.gz",
        "moderation_weights.nii.gz",
        *(f"{name}.nii.gz" for name in FOLD_MODERATION_FILES),
        "selection_comparison.csv",
        "selector.skops",
        "report.html",
        "config.toml",
        "leakage_checks.csv",
    ),
}


def read_config(path) -> dict:
    """Read and check a run configuration; paths become absolute."""
    path = Path(path)
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TxpredictError(f"No configuration file at {str(path)!r}.") from None
    except tomllib.TOMLDecodeError as exc:
        hint = ""
        if "\\" in path.read_text(encoding="utf-8", errors="replace"):
            # "C:\Users\..." in double quotes: \U starts an escape sequence.
            hint = (
                " A backslash inside double quotes starts an escape sequence "
                "(\\U, \\x, ...): write Windows paths with forward slashes "
                "(\"C:/Users/me/study\") or in single quotes ('C:\\Users\\me\\study')."
            )
        raise TxpredictError(f"{path}: invalid TOML ({exc}).{hint}") from None
    task = config.get("task", "response")
    if task not in _TASKS:
        raise TxpredictError(
            f"{path}: task must be one of {list(_TASKS)}; got {task!r}."
        )
    for section, values in config.items():
        if section == "task":
            continue
        if section not in _SECTIONS:
            raise TxpredictError(
                f"{path}: unknown section [{section}]; use {sorted(_SECTIONS)}."
            )
        unknown = set(values) - _SECTIONS[section]
        if unknown:
            raise TxpredictError(
                f"{path}: unknown key(s) {sorted(unknown)} in [{section}]; allowed: "
                f"{sorted(_SECTIONS[section])}."
            )
    unused = sorted(set(config.get("model", {})) - _MODEL_KEYS[task])
    if unused:
        raise TxpredictError(
            f"{path}: task = {task!r} does not use [model] {unused}; remove them "
            f"(it takes {sorted(_MODEL_KEYS[task])})."
            + (
                " A modality run has no harmonisation or confound removal: "
                "harmonise the images before, or evaluate response with "
                "task = 'response'."
                if task == "modality"
                else ""
            )
        )
    data = config.get("data", {})
    if "dataset" not in data:
        raise TxpredictError(f"{path}: [data] needs 'dataset', the cohort folder.")
    base = path.parent
    data["dataset"] = str((base / data["dataset"]).resolve())
    output = config.setdefault("output", {})
    try:
        check_n_jobs(output.get("n_jobs"))
    except TxpredictError as exc:
        raise TxpredictError(f"{path}: [output] {exc}") from None
    output["folder"] = str((base / output.get("folder", "txpredict_results")).resolve())
    if "cache" in output:
        output["cache"] = str((base / output["cache"]).resolve())
    features = config.get("features", {})
    if isinstance(features.get("mask"), str) and features["mask"] != "mni":
        features["mask"] = str((base / features["mask"]).resolve())
    if "rois" in features:
        _spheres(features["rois"], path)  # checked now, before any work
    _check_importance(config, path)
    return config


def _check_importance(config, path):
    """Refuse, before any work, an [importance] section the run cannot honour."""
    importance = config.get("importance")
    if not importance:
        return
    n = importance.get("n_permutations", DEFAULT_IMPORTANCE_PERMUTATIONS)
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise TxpredictError(
            f"{path}: [importance] n_permutations must be a non-negative integer "
            f"(shuffles per feature and fold; 0 turns it off); got {n!r}."
        )
    if config.get("task", "response") != "response":
        raise TxpredictError(f"{path}: [importance] applies to task = 'response' only.")
    features = config.get("model", {}).get("features", "roi")
    if n and features not in _PERMUTABLE_FEATURES:
        raise TxpredictError(
            f"{path}: [importance] permutes features one by one, which needs few "
            f"of them ([model] features in {list(_PERMUTABLE_FEATURES)}); "
            f"{features!r} has a column per voxel: its maps are written instead."
        )
    groups = importance.get("features", {})
    if not isinstance(groups, dict) or not all(
        isinstance(v, list) and all(isinstance(x, str) for x in v)
        for v in groups.values()
    ):
        raise TxpredictError(
            f"{path}: [importance] features must map a name to a list of feature "
            'names, e.g. features = {dACC = ["dACC_L_mean", "dACC_R_mean"]}.'
        )


def _spheres(rois, path):
    """[features] rois = [{name = "dACC_R", center = [5, 19, 24], radius = 8}, ...]."""
    if rois == "default":
        return rois
    try:
        return [Sphere(**roi) for roi in rois]
    except (TypeError, ValueError, TxpredictError) as exc:
        raise TxpredictError(
            f"{path}: [features] rois must be a list of spheres such as "
            '{name = "dACC_R", center = [5, 19, 24], radius = 8}; '
            f"{exc}"
        ) from None


def _outcome(value, task):
    """The outcome rule of [data] outcome: a column, or {pre, post, ...}."""
    if isinstance(value, dict):
        rule = SymptomChange if task == "regression" else SymptomReduction
        try:
            return rule(**value)
        except TypeError:
            keys = (
                "pre, post, scale"
                if task == "regression"
                else "pre, post, min_reduction"
            )
            raise TxpredictError(
                f"[data] outcome = {value!r}: an outcome rule takes the keys {keys} "
                '(e.g. outcome = {pre = "lsas_pre", post = "lsas_post"}).'
            ) from None
    return value


def _prepare(config, progress):
    """Defaults, the output-folder check, the cohort and its leakage checks.

    Shared by every task. Returns the configuration's sections, the output
    folder, the cohort and, for image models, its ROI means (read once for
    the site-confounding check; the modality run's PAI correlations reuse
    them), else None.
    """
    data, output = config["data"], config["output"]
    cv = {
        "outer_cv": 5,
        "inner_cv": 5,
        "n_repeats": 10,
        "random_state": 0,
        "n_permutations": DEFAULT_PERMUTATIONS,
        **config.get("cv", {}),
    }
    learner = "regressor" if config.get("task") == "regression" else "classifier"
    model_options = {
        "features": "roi",
        learner: "ridge" if learner == "regressor" else "logistic",
        **config.get("model", {}),
    }
    if config.get("features"):
        options = dict(config["features"])
        if "rois" in options:
            options["rois"] = _spheres(options["rois"], "the configuration")
        model_options["feature_options"] = options
        # Checked now, not after the cohort is loaded and the folds have run.
        make_image_extractor(
            model_options["features"],
            image_column="image",
            n_jobs=None,
            memory=None,
            options=options,
        )
    folder = Path(output["folder"])
    # Before any work: a run must not fail at its end on the folders it writes to.
    check_writable(folder, "[output] folder")
    check_output_folder(
        folder,
        overwrite=bool(output.get("overwrite")),
        will_write=(*_OUTPUTS[config.get("task", "response")], INCOMPLETE),
        option="overwrite = true in [output]",
    )
    if output.get("cache"):
        check_writable(output["cache"], "[output] cache")
    task = config.get("task", "response")
    with warnings.catch_warnings():
        # The run says what the leakage screens found itself, below and in
        # its report; as a warning it would say it twice.
        warnings.simplefilter("ignore", LeakageWarning)
        cohort = load_cohort(
            data["dataset"],
            data.get("image_pattern", DEFAULT_IMAGE_PATTERN),
            outcome=_outcome(data.get("outcome", "responder"), task),
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
    features = model_options["features"]
    if isinstance(features, str) and features != "demographics":
        # One header: the ROIs and the mask placed on the data grid (a mask that
        # covers none of the images is refused here, not after the first CV).
        make_image_extractor(
            features,
            image_column="image",
            n_jobs=None,
            memory=None,
            options=model_options.get("feature_options"),
        ).fit(cohort.X)
    roi = None
    if isinstance(features, str) and features.startswith(("roi", "wholebrain")):
        progress("Reading the ROI means (site confounding, PAI correlations) ...")
        roi = roi_means(
            cohort.X, model_options.get("feature_options"), output.get("cache")
        )
    cohort.checks = [*cohort.checks, _run_site_check(cohort, roi, model_options, cv)]
    progress(checks_text(cohort.checks))
    return data, output, cv, model_options, folder, cohort, roi


def roi_means(X, feature_options=None, cache=None) -> pd.DataFrame:
    """Each patient's ROI means (with the run's ROIs, mask and NaN policy)."""
    from txpredict.features import RoiFeatures

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
    """Site confounding of a cohort, on its image ``features`` (or None)."""
    from txpredict.leakage import Check, site_column, site_confounding

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


def _write_checks(folder, cohort) -> None:
    """``leakage_checks.csv``: each check, its status and what it found."""
    checks_frame(cohort.checks).to_csv(folder / "leakage_checks.csv", index=False)


def checks_text(checks) -> str:
    """The leakage and confounding checks, one line each, for the console."""
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


def _write_maps(folder, result, final):
    """The maps of :data:`MAP_FILES` (voxels) or the ROI weight table, if kept."""
    if result.maps is None:
        return
    if not result.maps.are_voxels:  # ROI features
        result.maps.table("weights").to_csv(folder / "fold_weights.csv")
        return
    for name, (kind, statistic) in MAP_FILES.items():
        if statistic == "final":
            image = final.coef_img_ if kind == "weights" else final.pattern_img_
        else:
            image = result.maps.to_img(kind, statistic)
        image.to_filename(folder / f"{name}.nii.gz")


def has_maps(model) -> bool:
    """Whether ``model`` (unfitted) will have weights of its image features."""
    return why_no_fold_maps(model, model.make_extractor()) is None


def selector_has_maps(selector) -> bool:
    """Whether a ModalitySelector (unfitted) will have voxel maps of each fold."""
    return (
        selector.features == "wholebrain"  # voxels only, no table columns
        and selector.strategy != "interaction"
        and has_maps(selector.base_model())
    )


def run_analysis(config: dict, *, progress=print) -> Path:
    """Run the analysis of a configuration; returns the output folder.

    Writes ``summary.csv``, ``predictions.csv``, ``folds.csv``,
    ``calibration.csv``, ``decision_curve.csv``, ``comparison.csv``,
    ``result.json``, ``model.skops`` (the final model fitted on all
    patients), ``report.html`` and a copy of the configuration; for a linear
    model on voxels also its maps (:data:`MAP_FILES`: the final model's
    weights and pattern, the outer-fold models' mean pattern, CV ratio,
    jackknife z and sign consistency) as NIfTI, for one on ROIs
    ``fold_weights.csv`` (each ROI's weight across the outer-fold models).
    Nothing is written unless everything succeeds. An existing non-empty
    folder is refused unless ``overwrite = true``, and even then only the files
    an earlier txpredict run wrote there are replaced: a file of the user's own
    is never deleted or overwritten.
    """
    if config.get("task", "response") == "modality":
        return run_modality(config, progress=progress)
    if config.get("task") == "regression":
        return run_regression(config, progress=progress)
    data, output, cv, model_options, folder, cohort, _ = _prepare(config, progress)
    X, y = cohort.X, cohort.y
    groups = X[cv["groups"]] if cv.get("groups") else None
    n_jobs = output.get("n_jobs")
    cache = output.get("cache")
    # Built once: the nested CV, the combined model and the final fit all use it.
    model = ResponseClassifier(
        **model_options,
        inner_cv=cv["inner_cv"],
        memory=cache,
        n_jobs=n_jobs,
        random_state=cv["random_state"],
    )
    demographic_columns = model_options["demographic_columns"]
    baseline = ResponseClassifier(
        "demographics",
        "logistic",
        demographic_columns=demographic_columns,
        random_state=cv["random_state"],
    )
    models = {"model": model, "demographics only": baseline}
    features = model_options["features"]
    if isinstance(features, str) and features in ("roi", "roi_voxels", "wholebrain"):
        models["model + demographics"] = clone(model).set_params(
            features=f"{features}+demographics"
        )
    cv_options = _cv_options(cv, groups, n_jobs)
    results = {}
    for name, estimator in models.items():
        # txpredict's "better than chance" for the model itself: a permutation
        # test of the whole nested procedure; the baselines are compared with it.
        permutations = cv["n_permutations"] if name == "model" else 0
        maps = name == "model" and has_maps(estimator)
        progress(
            f"Nested cross-validation: {name}"
            + (f" (+ {permutations} permutations)" if permutations else "")
            + " ..."
        )
        with _grid_notes(name, progress):
            results[name] = nested_cross_validate(
                estimator,
                X,
                y,
                **cv_options,
                n_permutations=permutations,
                return_maps=maps,
            )
        progress(f"  {results[name]!r}")
    comparisons = {
        "model vs demographics only": compare(
            results["model"],
            results["demographics only"],
            names=("model", "demographics"),
        )
    }
    if "model + demographics" in results:
        comparisons["model + demographics vs demographics only"] = compare(
            results["model + demographics"],
            results["demographics only"],
            names=("model + demographics", "demographics"),
        )
    importance = _permutation_importance(config, model, X, y, cv, groups, progress)
    custom = model_options.get("feature_options", {}).get("rois", "default")
    rois = (
        (default_rois() if custom == "default" else custom)
        if isinstance(features, str) and features.startswith("roi")
        else ()
    )
    with results_folder(
        folder, overwrite=bool(output.get("overwrite")), report=progress
    ) as out:
        tmp = out.path
        main = results["model"]
        main.info["checks"] = [c.as_dict() for c in cohort.checks]
        _write_checks(tmp, cohort)
        main.summary().to_csv(tmp / "summary.csv")
        main.predictions.to_csv(tmp / "predictions.csv", index=False)
        main.folds.to_csv(tmp / "folds.csv", index=False)
        main.calibration().to_csv(tmp / "calibration.csv")
        if main.predictions["probability"].notna().any():
            main.decision_curve().to_csv(tmp / "decision_curve.csv")
        main.save(tmp / "result.json")
        pd.concat(
            {name: r.summary() for name, r in results.items()}, names=["model"]
        ).to_csv(tmp / "summaries.csv")
        pd.concat(
            {name: c.table for name, c in comparisons.items()}, names=["comparison"]
        ).to_csv(tmp / "comparison.csv")
        if importance is not None:
            importance.to_csv(tmp / "permutation_importance.csv")
        (tmp / "config.toml").write_text(_as_toml(config), encoding="utf-8")
        # After the analysis: a failure here keeps the results above.
        _attempt_report(
            out,
            render_report,
            data,
            cohort,
            cv,
            results=results,
            comparisons=comparisons,
            model=model,
            rois=rois,
            importance=importance,
        )
        _write_final_model(out, model, X, y, main, progress)
    progress(f"Wrote {folder}")
    progress(_final_tables(results["model"], comparisons))
    progress(checks_text(cohort.checks))
    return folder


def _write_final_model(out, model, X, y, result, progress):
    """Fit the final model on every patient; write it and its maps (may fail)."""
    progress("Fitting the final model on all patients ...")
    final = out.attempt("the final model's fit", clone(model).fit, X, y)
    if final is not None:
        path = out.path / "model.skops"
        out.attempt("the model file (model.skops)", save_model, final, path)
        out.attempt("the maps", _write_maps, out.path, result, final)


def _attempt_report(out, render, data, cohort, cv, **content):
    """Render and write ``report.html``; a failure is recorded, the results kept."""
    out.attempt(
        "the report (report.html)",
        _write_report,
        out.path,
        render,
        title=Path(data["dataset"]).name,
        cohort=cohort,
        cv_text=_cv_text(cv),
        **content,
    )


def _write_report(folder, render, **content):
    """Render a report and write it as ``report.html``."""
    (folder / "report.html").write_text(render(**content), encoding="utf-8")


def _permutation_importance(config, model, X, y, cv, groups, progress):
    """[importance]: each feature's AUC drop on the outer test folds, or None."""
    from txpredict.evaluation import permutation_importance

    importance = config.get("importance") or {}
    n = (
        importance.get("n_permutations", DEFAULT_IMPORTANCE_PERMUTATIONS)
        if importance
        else 0
    )
    if not n:
        return None
    progress(f"Permutation importance ({n} shuffles per feature and fold) ...")
    return permutation_importance(
        model,
        X,
        y,
        groups_of_features=importance.get("features") or None,
        n_permutations=n,
        outer_cv=cv["outer_cv"],
        n_repeats=cv["n_repeats"],
        groups=groups,
        n_jobs=config["output"].get("n_jobs"),
        random_state=cv["random_state"],
    )


def _as_toml(config) -> str:
    def value(v):
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list | tuple):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + "}"
        return repr(v)

    lines = [f"task = {value(config['task'])}", ""] if "task" in config else []
    for section, values in config.items():
        if section == "task":
            continue
        lines.append(f"[{section}]")
        lines += [f"{k} = {value(v)}" for k, v in values.items()]
        lines.append("")
    return "\n".join(lines)


def subject_labels(paths) -> list[str]:
    """A label per image: its BIDS subject, else its file name, else its path.

    SPM and fMRIPrep layouts give every subject the same file name
    (``sub-01/con_0001.nii``), so the ``sub-<label>`` part of the path names the
    row when there is one; otherwise the file name, if the names differ, else
    the path below the images' common folder.

    Examples
    --------
    >>> subject_labels(["spm/sub-01/con_0001.nii", "spm/sub-02/con_0001.nii"])
    ['sub-01', 'sub-02']
    >>> subject_labels(["a/x.nii", "b/x.nii"])
    ['a/x.nii', 'b/x.nii']
    """
    paths = [Path(p) for p in paths]
    subjects = [
        next((m.group(0) for m in map(_BIDS_SUBJECT.search, p.parts[::-1]) if m), None)
        for p in paths
    ]
    if all(subjects) and len(set(subjects)) == len(paths):
        return subjects
    names = [p.name for p in paths]
    if len(set(names)) == len(names):
        return names
    common = Path(os.path.commonpath([p.resolve() for p in paths]))
    return [p.resolve().relative_to(common).as_posix() for p in paths]


_BIDS_SUBJECT = re.compile(r"sub-[A-Za-z0-9]+")


def predict_images(model_path, images, *, image_column="image") -> pd.DataFrame:
    """Response probabilities of new subjects' images from a saved model.

    Only image-only models can predict from images alone; a model that also
    uses demographics needs the participants table (use the library). A saved
    :class:`ModalitySelector` (``selector.skops`` of a modality run) gives
    :func:`selection_table`'s columns.
    """
    from txpredict.modality import ModalitySelector
    from txpredict.persistence import load_model

    model, provenance = load_model(model_path)
    if (
        isinstance(model, ResponseClassifier | ModalitySelector)
        and isinstance(model.features, str)
        and (model.features.endswith("demographics"))
    ):
        raise TxpredictError(
            f"The model in {model_path} uses demographic columns "
            f"({list(model.demographic_columns)}); predict with the library on a "
            "participants table, not from images alone."
        )
    index = pd.Index(subject_labels(images), name="participant_id")
    X = pd.DataFrame({image_column: [str(p) for p in images]}, index=index)
    seen = model.training_scans_in(X) if hasattr(model, "training_scans_in") else []
    seen_warning = (
        f"Warning: {len(seen)} image(s) are scans the model was trained on "
        f"(training id and here): {describe_pairs(seen)}. Their predictions are not "
        "out of sample: the model has seen these patients."
        if seen
        else None
    )
    if isinstance(model, ModalitySelector):
        table = selection_table(model, X)
        table.attrs["provenance"] = provenance
        table.attrs["warning"] = _joined(selection_warning(model_path), seen_warning)
        return table
    table = pd.DataFrame(index=index)
    if hasattr(model, "predict_proba"):
        try:
            table["p_response"] = model.predict_proba(X)[:, 1]
        except AttributeError:  # an SVM: decision scores only
            pass
    table["decision"] = model.decision_function(X)
    table["predicted"] = model.predict(X)
    table.attrs["provenance"] = provenance
    table.attrs["warning"] = _joined(chance_warning(model_path), seen_warning)
    return table


def _joined(*warnings_) -> str | None:
    """Warnings one per line, or None when there is none."""
    present = [w for w in warnings_ if w]
    return "\n".join(present) if present else None


#: What ``predict`` recommends for a patient whose PAI interval includes 0.
NO_PREFERENCE = "no preference"


def selection_table(selector, X) -> pd.DataFrame:
    """A selector's predictions for new patients, one row each.

    The response probability under each arm, the PAI and, when the selector
    has them (two arms, few features), the unshrunk models' PAI and its 95%
    interval (:meth:`ModalitySelector.pai_interval`); the ``favoured`` arm
    (the higher predicted probability) and the ``recommended`` one: the
    favoured arm when the patient's PAI interval excludes 0, else
    :data:`NO_PREFERENCE` (the data do not tell the arms apart for them).
    Without intervals (voxel features) the favoured arm is recommended.
    """
    table = selector.predict_response_proba(X).add_prefix("p_")
    favoured = selector.recommend(X)
    recommended = favoured.copy()
    if len(selector.arms_) == 2:
        try:
            intervals = selector.pai_interval(X)
        except TxpredictError:  # voxel features: no unshrunk models
            table["pai"] = selector.pai(X)
        else:
            table["pai"] = intervals["pai"]
            table["pai_unshrunk"] = intervals["pai_unshrunk"]
            table["pai_ci_low"] = intervals["ci_low"]
            table["pai_ci_high"] = intervals["ci_high"]
            undecided = (intervals["ci_low"] <= 0) & (intervals["ci_high"] >= 0)
            recommended = recommended.where(~undecided, NO_PREFERENCE)
    table["favoured"] = favoured
    table["recommended"] = recommended
    return table


def selection_warning(model_path) -> str | None:
    """A warning when the saved selector gained nothing in its own evaluation.

    ``txpredict run`` with ``task = "modality"`` writes
    ``selection_summary.csv`` beside ``selector.skops``; when the policy
    gain's interval (the recommendation vs everyone on the best single arm)
    includes 0, the recommendations are not shown to help anyone.
    """
    path = Path(model_path).with_name("selection_summary.csv")
    try:
        row = pd.read_csv(path, index_col=0).loc["policy_gain"]
        low, high = float(row["ci_low"]), float(row["ci_high"])
    except (OSError, KeyError, ValueError):
        return None
    if not (low <= 0 <= high):
        return None
    return (
        f"Warning: in its own evaluation ({path}) this selector's recommendations "
        f"changed the response rate by {float(row['estimate']):+.3f} "
        f"[{low:+.3f}, {high:+.3f}] against everyone on the best single arm, an "
        "interval that includes 0: following them is not shown to help. Where a "
        f"patient's own PAI interval includes 0 the table says {NO_PREFERENCE!r}."
    )


def chance_warning(model_path) -> str | None:
    """A warning when the saved model was no better than chance in its own CV.

    ``txpredict run`` writes the nested-CV result (``result.json``) beside
    ``model.skops``; when its balanced-accuracy interval includes 0.5, the
    model's predictions for new patients are no better than chance.
    """
    path = Path(model_path).with_name("result.json")
    if not path.exists():
        return None
    try:
        summary = NestedCVResult.load(path).summary()
    except (OSError, ValueError, KeyError, TxpredictError):
        return None
    row = summary.loc["balanced_accuracy"]
    if row["ci_low"] > 0.5:
        return None
    return (
        f"Warning: in its own nested cross-validation ({path}) this model's "
        f"balanced accuracy was {row['estimate']:.2f} "
        f"[{row['ci_low']:.2f}, {row['ci_high']:.2f}], an interval that includes "
        "chance (0.5): its predictions for new patients may be no better than "
        "chance."
    )


def run_modality(config: dict, *, progress=print) -> Path:
    """``task = "modality"``: evaluate treatment selection; write results and report.

    Writes ``selection_summary.csv``, ``selection_predictions.csv``,
    ``selection_calibration.csv`` (each arm's out-of-fold probabilities),
    ``pai_correlations.csv`` (ROI models: the out-of-fold PAI vs each ROI),
    ``selector_coefficients.csv`` (the final selector's, linear models),
    ``pai_intervals.csv`` (the final selector's per-patient PAI intervals),
    ``moderation_{pattern,weights}.nii.gz`` (voxel selectors: the maps of
    the difference of the arms' scores),
    ``selection_comparison.csv`` (scan vs demographics-only selection),
    ``selector.skops``, ``report.html`` and the configuration.
    """
    from txpredict.modality import (
        ModalitySelector,
        compare_selections,
        evaluate_selection,
    )
    from txpredict.report import render_modality_report

    data, output, cv, model_options, folder, cohort, roi = _prepare(config, progress)
    if cohort.treatment is None:
        raise TxpredictError("task = 'modality' needs a treatment column in the data.")
    modality = config.get("modality", {})
    X, y = cohort.X, cohort.y
    options = {
        "features": model_options["features"],
        "classifier": model_options["classifier"],
        "param_grid": model_options.get("param_grid"),
        "feature_options": model_options.get("feature_options"),
        "demographic_columns": model_options["demographic_columns"],
        "inner_cv": cv["inner_cv"],
        "random_state": cv["random_state"],
        "strategy": modality.get("strategy", "t_learner"),
        "arms": modality.get("arms", cohort.arms),
        "scoring": modality.get("scoring", "auto"),
    }
    selector = ModalitySelector(**options)
    baseline = ModalitySelector(
        **{
            **options,
            "features": "demographics",
            "strategy": "t_learner",
            "param_grid": {},
        }
    )
    evaluation = {
        "outer_cv": cv["outer_cv"],
        "n_repeats": cv["n_repeats"],
        "groups": cv.get("groups"),
        "random_state": cv["random_state"],
        "n_jobs": output.get("n_jobs"),
        "truth": cohort.ground_truth,
    }
    treatment = cohort.treatment_column
    progress(
        "Evaluating the selector (nested"
        + (f", + {cv['n_permutations']} permutations" if cv["n_permutations"] else "")
        + ") ..."
    )
    result = evaluate_selection(
        selector,
        X,
        y,
        treatment,
        **evaluation,
        n_permutations=cv["n_permutations"],
        return_maps=selector_has_maps(selector),
    )
    progress("Evaluating the demographics-only selector ...")
    demo = evaluate_selection(baseline, X, y, treatment, **evaluation)
    comparison = compare_selections(result, demo, names=("scan", "demographics"))
    if not str(options["features"]).startswith("roi"):
        roi = None  # the PAI correlations are of ROI models (their ROI means)
    with results_folder(
        folder, overwrite=bool(output.get("overwrite")), report=progress
    ) as out:
        tmp = out.path
        _write_checks(tmp, cohort)
        result.summary().to_csv(tmp / "selection_summary.csv")
        result.predictions.to_csv(tmp / "selection_predictions.csv", index=False)
        result.calibration().to_csv(tmp / "selection_calibration.csv")
        comparison.to_csv(tmp / "selection_comparison.csv")
        if roi is not None and len(result.arms) == 2:
            result.pai_correlations(roi).to_csv(tmp / "pai_correlations.csv")
        (tmp / "config.toml").write_text(_as_toml(config), encoding="utf-8")
        # After the analysis: a failure here keeps the results above.
        if result.maps is not None and len(result.arms) == 2:
            out.attempt("the fold moderation maps", _write_fold_moderation, tmp, result)
        progress("Fitting the final selector on all patients ...")
        final = out.attempt(
            "the final selector's fit", clone(selector).fit, X, y, treatment=treatment
        )
        pai_intervals = None
        if final is not None:
            pai_intervals = out.attempt(
                "the final selector's coefficients, PAI intervals and maps",
                _write_final_selector,
                tmp,
                final,
                X,
            )
            out.attempt(
                "the selector file (selector.skops)",
                save_model,
                final,
                tmp / "selector.skops",
            )
        _attempt_report(
            out,
            render_modality_report,
            data,
            cohort,
            cv,
            result=result,
            comparison=comparison,
            selector=final,
            roi_features=roi,
            pai_intervals=pai_intervals,
        )
    progress(f"Wrote {folder}")
    progress(_selection_tables(result, comparison))
    progress(checks_text(cohort.checks))
    return folder


def _selection_tables(result, comparison) -> str:
    """The selection summary and the scan-vs-demographics comparison, whole."""
    columns = ["estimate", "ci_low", "ci_high", "p_value"]
    summary = result.summary()[columns].round(3).to_string()
    return "\n".join(
        [
            "",
            "Treatment selection (out of fold; see report.html for what each row is):",
            summary,
            "",
            "Scan vs demographics-only selection (a - b):",
            comparison.round(3).to_string(),
        ]
    )


def _write_fold_moderation(folder, result):
    """The outer-fold selectors' moderation maps (:data:`FOLD_MODERATION_FILES`)."""
    folds = result.maps[f"{result.arms[1]} - {result.arms[0]}"]
    for name, statistic in FOLD_MODERATION_FILES.items():
        folds.to_img("pattern", statistic).to_filename(folder / f"{name}.nii.gz")


def _write_final_selector(folder, final, X):
    """The final selector's coefficients, PAI intervals and moderation maps.

    Returns the PAI intervals (None when the selector has none: voxel
    features, or more than two arms).
    """
    from txpredict.modality import selector_coefficients
    from txpredict.models import linear_family

    if final.strategy == "interaction" or linear_family(
        final.base_model().final_estimator()[0]
    ):
        selector_coefficients(final).to_csv(
            folder / "selector_coefficients.csv", index=False
        )
    if final.maps_ is not None and len(final.arms_) == 2:
        for kind in ("pattern", "weights"):
            final.map_img(kind=kind).to_filename(folder / f"moderation_{kind}.nii.gz")
    if len(final.arms_) != 2 or final.interval_models_ is None:
        return None  # voxel features: no unshrunk per-arm models
    pai_intervals = final.pai_interval(X)
    pai_intervals.to_csv(folder / "pai_intervals.csv")
    return pai_intervals


def run_regression(config: dict, *, progress=print) -> Path:
    """``task = "regression"``: predict the symptom change; write results and report.

    The model (a ResponseRegressor), the demographics-only baseline on the same
    splits and their comparison, the responders read off the predictions at
    ``[model] threshold`` (default 50, a 50% reduction), the final model and
    a report.
    """
    from txpredict.models import ResponseRegressor
    from txpredict.report import render_regression_report

    data, output, cv, model_options, folder, cohort, _ = _prepare(config, progress)
    threshold = model_options.pop("threshold", 50.0)
    X, y = cohort.X, cohort.y
    groups = X[cv["groups"]] if cv.get("groups") else None
    n_jobs = output.get("n_jobs")
    model = ResponseRegressor(
        **model_options,
        inner_cv=cv["inner_cv"],
        memory=output.get("cache"),
        n_jobs=n_jobs,
        random_state=cv["random_state"],
    )
    baseline = ResponseRegressor(
        "demographics",
        demographic_columns=model.demographic_columns,
        random_state=cv["random_state"],
    )
    cv_options = _cv_options(cv, groups, n_jobs)
    permutations = cv["n_permutations"]
    progress(
        "Nested cross-validation: model"
        + (f" (+ {permutations} permutations)" if permutations else "")
        + " ..."
    )
    with _grid_notes("model", progress):
        result = nested_cross_validate(
            model, X, y, **cv_options, n_permutations=cv["n_permutations"]
        )
    progress(f"  {result!r}")
    progress("Nested cross-validation: demographics only ...")
    with _grid_notes("demographics only", progress):
        demographics = nested_cross_validate(baseline, X, y, **cv_options)
    progress(f"  {demographics!r}")
    comparison = compare(result, demographics, names=("model", "demographics"))
    with results_folder(
        folder, overwrite=bool(output.get("overwrite")), report=progress
    ) as out:
        tmp = out.path
        result.info["checks"] = [c.as_dict() for c in cohort.checks]
        _write_checks(tmp, cohort)
        result.summary().to_csv(tmp / "summary.csv")
        result.predictions.to_csv(tmp / "predictions.csv", index=False)
        result.folds.to_csv(tmp / "folds.csv", index=False)
        result.responders(threshold).to_csv(tmp / "responders.csv")
        comparison.table.to_csv(tmp / "comparison.csv")
        result.save(tmp / "result.json")
        (tmp / "config.toml").write_text(_as_toml(config), encoding="utf-8")
        # After the analysis: a failure here keeps the results above.
        _attempt_report(
            out,
            render_regression_report,
            data,
            cohort,
            cv,
            result=result,
            comparison=comparison,
            model=model,
            threshold=threshold,
            n_permutations=cv["n_permutations"],
        )
        _write_final_model(out, model, X, y, result, progress)
    progress(f"Wrote {folder}")
    progress(_final_tables(result, {"model vs demographics only": comparison}))
    responders = result.responders(threshold)
    progress(
        f"\nResponders read off the predicted change (>= {threshold:g}), model:\n"
        + responders[["estimate", "ci_low", "ci_high"]].round(3).to_string()
    )
    progress(checks_text(cohort.checks))
    return folder


@contextlib.contextmanager
def _grid_notes(name, progress):
    """Print the nested CV's grid-edge warnings as notes naming the model."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GridEdgeWarning)
        yield
    for warning in caught:
        if issubclass(warning.category, GridEdgeWarning):
            progress(f"  Note ({name}): {warning.message}")
        else:  # not ours to swallow
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )


def _cv_options(cv, groups, n_jobs) -> dict:
    """The [cv] section as nested_cross_validate's keywords (same for every model)."""
    return {
        "outer_cv": cv["outer_cv"],
        "inner_cv": cv["inner_cv"],
        "n_repeats": cv["n_repeats"],
        "random_state": cv["random_state"],
        "groups": groups,
        "inner_groups": cv.get("inner_groups", True),
        "n_jobs": n_jobs,
        # Folds and permutations done, with the time left (stderr).
        "progress": True,
    }


def _cv_text(cv) -> str:
    """The cross-validation scheme in words, for the reports.

    Leave-site-out has no shuffle, so it runs once whatever ``n_repeats`` says.

    Examples
    --------
    >>> _cv_text({"outer_cv": 5, "inner_cv": 5, "n_repeats": 10, "random_state": 0})
    '5-fold outer x 5-fold inner, 10 repeats, seed 0'
    >>> _cv_text({"outer_cv": "leave-site-out", "inner_cv": 3, "n_repeats": 10,
    ...           "random_state": 0, "groups": "site"})
    'leave-site-out outer (one site held out at a time) x 3-fold inner, groups = site'
    """
    inner = f"{cv['inner_cv']}-fold inner"
    if is_leave_site_out(cv["outer_cv"]):
        outer = "leave-site-out outer (one site held out at a time)"
        return f"{outer} x {inner}, groups = {cv['groups']}"
    return (
        f"{cv['outer_cv']}-fold outer x {inner}, "
        f"{cv['n_repeats']} repeats, seed {cv['random_state']}"
        + (f", groups = {cv['groups']}" if cv.get("groups") else "")
    )


def _final_tables(result, comparisons) -> str:
    """The summary and the comparisons, whole (pandas would cut them at 80 columns)."""
    columns = ["estimate", "ci_low", "ci_high", "ci_method", "p_value"]
    parts = ["", "Summary (model):", result.summary()[columns].round(3).to_string()]
    for label, comparison in comparisons.items():
        table = comparison.table[["difference", "ci_low", "ci_high", "p_value"]]
        parts += ["", f"{label} (a - b):", table.round(3).to_string()]
    # Classifiers only: a regressor's predictions are not probabilities.
    calibration = result.calibration() if hasattr(result, "calibration") else None
    if calibration is not None and not calibration.empty:
        parts += [
            "",
            "Calibration of the out-of-fold probabilities (model):",
            calibration.round(3).to_string(),
        ]
    return "\n".join(parts)
