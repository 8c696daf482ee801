"""The configuration of ``txpredict run``: its schema, reading, checks and writing.

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
    added_value_permutations = 200   # does the scan add to demographics? (0: none)
    # groups = "site"

    [output]
    folder = "results"
    n_jobs = 2
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import tomli_w

from txpredict._inputs import check_n_jobs
from txpredict.cohort import SymptomChange, SymptomReduction
from txpredict.errors import TxpredictError
from txpredict.evaluation import DEFAULT_FRACTIONS
from txpredict.features import Sphere
from txpredict.models import ResponseClassifier, check_calibration

#: Each section's keys: anything else is refused, with the allowed keys listed.
SECTIONS = {
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
        "calibration",
    },
    "cv": {
        "outer_cv",
        "inner_cv",
        "n_repeats",
        "random_state",
        "groups",
        "inner_groups",
        "n_permutations",
        "added_value_permutations",
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
    # The learning curve (task = "response"): nested CV on subsamples.
    "learning_curve": {"fractions", "n_subsamples", "n_repeats", "half_width"},
}
_PREPARATION_KEYS = SECTIONS["model"] - {
    "classifier",
    "regressor",
    "threshold",
    "calibration",
}
#: The [model] keys each task uses (a key another task uses is refused, not
#: silently dropped).
_MODEL_KEYS = {
    "response": _PREPARATION_KEYS | {"classifier", "calibration"},
    "regression": _PREPARATION_KEYS | {"regressor", "threshold"},
    "modality": {"features", "classifier", "param_grid", "demographic_columns"},
}

#: Shuffles per feature and outer fold of an [importance] section that names none.
DEFAULT_IMPORTANCE_PERMUTATIONS = 20
#: Feature sets with few enough columns to permute one by one.
PERMUTABLE_FEATURES = ("roi", "roi+demographics", "demographics")
TASKS = ("response", "modality", "regression")

#: Permutations of the whole nested procedure behind the summary's p-values.
DEFAULT_PERMUTATIONS = 1000
#: The most permutations of the test of what the scan adds to demographics
#: (task = "response", ROI features): p resolves to 1/201, enough to decide at
#: 0.05, at a fifth of the cost where the scan adds (the test then runs to its
#: cap; where it adds nothing it stops after ~20).
DEFAULT_ADDED_VALUE_PERMUTATIONS = 200


def read_config(path) -> dict:
    """Read and check a run configuration; paths become absolute.

    Parameters
    ----------
    path : str or pathlib.Path
        The TOML file.
    """
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
    if task not in TASKS:
        raise TxpredictError(
            f"{path}: task must be one of {list(TASKS)}; got {task!r}."
        )
    for section, values in config.items():
        if section == "task":
            continue
        if section not in SECTIONS:
            raise TxpredictError(
                f"{path}: unknown section [{section}]; use {sorted(SECTIONS)}."
            )
        unknown = set(values) - SECTIONS[section]
        if unknown:
            raise TxpredictError(
                f"{path}: unknown key(s) {sorted(unknown)} in [{section}]; allowed: "
                f"{sorted(SECTIONS[section])}."
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
    if "calibration" in config.get("model", {}):  # checked before any work
        check_calibration(
            config["model"]["calibration"], f"{path}: [model] calibration"
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
        spheres(features["rois"], path)  # checked now, before any work
    _check_importance(config, path)
    _check_learning_curve(config, path)
    for key in ("n_permutations", "added_value_permutations"):
        n = config.get("cv", {}).get(key, 0)
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise TxpredictError(
                f"{path}: [cv] {key} must be a non-negative integer (0 turns the "
                f"test off); got {n!r}."
            )
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
    if n and features not in PERMUTABLE_FEATURES:
        raise TxpredictError(
            f"{path}: [importance] permutes features one by one, which needs few "
            f"of them ([model] features in {list(PERMUTABLE_FEATURES)}); "
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


def learning_curve_settings(config) -> dict | None:
    """The [learning_curve] section with its defaults, or None without one."""
    if "learning_curve" not in config:
        return None
    return {
        "fractions": list(DEFAULT_FRACTIONS),
        "n_subsamples": 5,
        "n_repeats": 2,
        "half_width": 0.05,
        **config["learning_curve"],
    }


def _check_learning_curve(config, path):
    """Refuse, before any work, a [learning_curve] section the run cannot honour."""
    settings = learning_curve_settings(config)
    if settings is None:
        return
    if config.get("task", "response") != "response":
        raise TxpredictError(
            f"{path}: [learning_curve] applies to task = 'response' only."
        )
    fractions = settings["fractions"]
    if (
        not isinstance(fractions, list)
        or len(fractions) < 3
        or not all(isinstance(f, int | float) and 0 < f <= 1 for f in fractions)
    ):
        raise TxpredictError(
            f"{path}: [learning_curve] fractions must be at least three shares of "
            f"the cohort in (0, 1], e.g. [0.5, 0.75, 1.0]; got {fractions!r}."
        )
    for key, least in (("n_subsamples", 2), ("n_repeats", 1)):
        n = settings[key]
        if not isinstance(n, int) or isinstance(n, bool) or n < least:
            raise TxpredictError(
                f"{path}: [learning_curve] {key} must be an integer >= {least}; "
                f"got {n!r}."
            )
    width = settings["half_width"]
    if not isinstance(width, int | float) or not 0 < width < 0.5:
        raise TxpredictError(
            f"{path}: [learning_curve] half_width is the AUC interval asked for "
            f"(+-half_width), in (0, 0.5); got {width!r}."
        )


def spheres(rois, path):
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


def outcome_rule(value, task):
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


def schema() -> dict:
    """What a configuration may hold, for its reference page.

    Returns
    -------
    dict
        ``tasks``; ``sections``, each section's accepted keys (the table
        :func:`read_config` checks files against); ``model_keys``, the
        ``[model]`` keys of each task; ``defaults``, the values a run fills in
        for ``[cv]`` and a response run's ``[model]``.

    Examples
    --------
    >>> sorted(schema()["sections"]["cv"])[:2]
    ['added_value_permutations', 'groups']
    """
    return {
        "tasks": TASKS,
        "sections": {name: sorted(keys) for name, keys in SECTIONS.items()},
        "model_keys": {task: sorted(keys) for task, keys in _MODEL_KEYS.items()},
        "defaults": {
            "cv": cv_settings({}),
            "model": {
                **model_settings({"task": "response"}),
                "calibration": ResponseClassifier().calibration,
            },
        },
    }


def cv_settings(config) -> dict:
    """The [cv] section with its defaults made explicit."""
    return {
        "outer_cv": 5,
        "inner_cv": 5,
        "n_repeats": 10,
        "random_state": 0,
        "n_permutations": DEFAULT_PERMUTATIONS,
        "added_value_permutations": DEFAULT_ADDED_VALUE_PERMUTATIONS,
        **config.get("cv", {}),
    }


def model_settings(config) -> dict:
    """The [model] section with its defaults, and [features] as feature_options."""
    learner = "regressor" if config.get("task") == "regression" else "classifier"
    settings = {
        "features": "roi",
        learner: "ridge" if learner == "regressor" else "logistic",
        **config.get("model", {}),
    }
    if config.get("features"):
        options = dict(config["features"])
        if "rois" in options:
            options["rois"] = spheres(options["rois"], "the configuration")
        settings["feature_options"] = options
    return settings


def as_toml(config) -> str:
    """The configuration as TOML (the copy a run writes beside its results).

    TOML has no null: a setting that is None (the default, e.g. ``n_jobs``
    of a configuration built in Python) is left out, which reads back as
    the same default.

    Parameters
    ----------
    config : dict
        A configuration (as :func:`read_config` returns it).

    Examples
    --------
    >>> print(as_toml({"task": "response", "cv": {"n_repeats": 10, "groups": None}}))
    task = "response"
    <BLANKLINE>
    [cv]
    n_repeats = 10
    <BLANKLINE>
    """

    def present(value):
        if isinstance(value, dict):
            return {k: present(v) for k, v in value.items() if v is not None}
        if isinstance(value, list | tuple):
            return [present(v) for v in value]
        return value

    task = {"task": config["task"]} if "task" in config else {}
    sections = {k: v for k, v in config.items() if k != "task"}
    return tomli_w.dumps(present({**task, **sections}))
