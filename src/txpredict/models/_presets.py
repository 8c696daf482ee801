"""Named feature sets and classifiers of :class:`ResponseClassifier`, with grids.

Default grids are deliberately small (5 values of the main regularisation
parameter): with 20-200 patients, an inner 5-fold CV cannot tell finer grids
apart, and every extra candidate adds optimism to non-nested estimates.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import (
    ClassifierMixin,
    RegressorMixin,
    clone,
    is_classifier,
    is_regressor,
)
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge, RidgeClassifier
from sklearn.svm import SVC

from txpredict.errors import TxpredictError
from txpredict.features import ImageFeatures, RoiFeatures, WholeBrainFeatures

FEATURE_SETS = (
    "roi",
    "roi_voxels",
    "wholebrain",
    "demographics",
    "roi+demographics",
    "wholebrain+demographics",
)

#: Columns used by the "demographics" feature sets unless told otherwise.
DEFAULT_DEMOGRAPHIC_COLUMNS = ("age", "sex", "baseline_severity")

_C_GRID = [1e-3, 1e-2, 1e-1, 1.0, 10.0]

# name -> (classifier, default grid)
_CLASSIFIERS = {
    "linear_svm": (
        SVC(kernel="linear", class_weight="balanced"),
        {"C": _C_GRID},
    ),
    "logistic": (
        LogisticRegression(l1_ratio=0.0, class_weight="balanced", max_iter=5000),
        {"C": _C_GRID},
    ),
    "logistic_l1": (
        LogisticRegression(
            l1_ratio=1.0, solver="liblinear", class_weight="balanced", max_iter=5000
        ),
        {"C": [1e-2, 1e-1, 1.0, 10.0, 100.0]},
    ),
    "logistic_elasticnet": (
        LogisticRegression(
            l1_ratio=0.5, solver="saga", class_weight="balanced", max_iter=10000
        ),
        {"C": [1e-2, 1e-1, 1.0, 10.0], "l1_ratio": [0.2, 0.5, 0.8]},
    ),
    "ridge": (
        RidgeClassifier(class_weight="balanced"),
        {"alpha": [1e-1, 1.0, 10.0, 100.0, 1000.0]},
    ),
    "random_forest": (
        RandomForestClassifier(n_estimators=200, class_weight="balanced"),
        {"max_depth": [None, 3], "min_samples_leaf": [1, 5]},
    ),
}
CLASSIFIER_NAMES = tuple(_CLASSIFIERS)


def make_classifier(
    classifier, random_state
) -> tuple[ClassifierMixin, dict, str | None]:
    """Classifier instance, its default grid and its linear family (or None).

    The family says whether the Gram fast path reproduces the classifier exactly:
    a linear-kernel SVC ("svm"), an L2 LogisticRegression ("logistic") or a
    RidgeClassifier ("ridge"), whether named or given as an instance.
    """
    if isinstance(classifier, str):
        if classifier not in _CLASSIFIERS:
            raise TxpredictError(
                f"The 'classifier' parameter of ResponseClassifier must be one of "
                f"{list(CLASSIFIER_NAMES)} or a scikit-learn classifier. Got "
                f"{classifier!r} instead."
            )
        estimator, grid = _CLASSIFIERS[classifier]
        estimator = clone(estimator)
        if "random_state" in estimator.get_params():
            estimator.set_params(random_state=random_state)
        return estimator, dict(grid), linear_family(estimator)
    if not is_classifier(classifier):
        raise TxpredictError(
            "The 'classifier' parameter of ResponseClassifier must be a name or a "
            f"scikit-learn classifier; got {type(classifier).__name__}."
        )
    return clone(classifier), {}, linear_family(classifier)


# name -> (regressor, default grid)
_REGRESSORS = {
    "ridge": (Ridge(), {"alpha": [1e-1, 1.0, 10.0, 100.0, 1000.0]}),
    "random_forest": (
        RandomForestRegressor(n_estimators=200),
        {"max_depth": [None, 3], "min_samples_leaf": [1, 5]},
    ),
}
REGRESSOR_NAMES = tuple(_REGRESSORS)


def make_regressor(regressor, random_state) -> tuple[RegressorMixin, dict]:
    """Regressor instance and its default grid (a name, or any regressor)."""
    if isinstance(regressor, str):
        if regressor not in _REGRESSORS:
            raise TxpredictError(
                "The 'regressor' parameter of ResponseRegressor must be one of "
                f"{list(REGRESSOR_NAMES)} or a scikit-learn regressor. Got "
                f"{regressor!r} instead."
            )
        estimator, grid = _REGRESSORS[regressor]
        estimator = clone(estimator)
        if "random_state" in estimator.get_params():
            estimator.set_params(random_state=random_state)
        return estimator, dict(grid)
    if not is_regressor(regressor):
        raise TxpredictError(
            "The 'regressor' parameter of ResponseRegressor must be a name or a "
            f"scikit-learn regressor; got {type(regressor).__name__}."
        )
    return clone(regressor), {}


def class_balanced(classifier) -> bool:
    """Whether ``classifier`` weights the classes to a balanced cohort.

    Its probabilities then describe a cohort of prevalence 0.5 and are
    shifted back to the training prevalence (:func:`txpredict.stats.prior_shift`).
    """
    return getattr(classifier, "class_weight", None) == "balanced"


def linear_family(classifier) -> str | None:
    """The fast-path family ("svm", "logistic", "ridge") of a classifier, or None."""
    if type(classifier) is SVC and classifier.kernel == "linear":
        return "svm"
    if type(classifier) is LogisticRegression and classifier.l1_ratio in (0, 0.0, None):
        if classifier.penalty in ("deprecated", "l2"):
            return "logistic"
    if type(classifier) is RidgeClassifier:
        return "ridge"
    return None


def make_image_extractor(features, *, image_column, n_jobs, memory, options=None):
    """The stateless image extractor of a feature set, or None.

    ``options`` are further parameters of the extractor (``nonfinite``,
    ``mask``, ``rois``, ...); a name it does not take is an error.
    """
    if not isinstance(features, str):
        return None
    if features not in FEATURE_SETS:
        raise TxpredictError(
            f"The 'features' parameter of ResponseClassifier must be one of "
            f"{list(FEATURE_SETS)} or a transformer. Got {features!r} instead."
        )
    image = features.split("+")[0]
    common = {
        "image_column": image_column,
        "n_jobs": n_jobs,
        "memory": memory,
        "verbose": 0,
    }
    if image == "roi":
        extractor = RoiFeatures(**common)
    elif image == "roi_voxels":
        extractor = RoiFeatures(summary="voxels", **common)
    elif image == "wholebrain":
        extractor = WholeBrainFeatures(**common)
    else:
        return None  # demographics only
    if options:
        allowed = set(extractor.get_params()) - set(common)
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise TxpredictError(
                f"feature_options {unknown} are not parameters of "
                f"{type(extractor).__name__} (features={features!r}); it takes "
                f"{sorted(allowed)}."
            )
        extractor.set_params(**options)
    return extractor


def uses_demographics(features) -> bool:
    """Whether a named feature set includes demographic columns."""
    return isinstance(features, str) and features.endswith("demographics")


def is_stateless(transformer) -> bool:
    """Whether a transformer learns nothing from the data (may run before CV)."""
    if isinstance(transformer, ImageFeatures | RoiFeatures | WholeBrainFeatures):
        return True
    return bool(getattr(transformer, "_txpredict_stateless", False))


def default_scaling(features) -> str:
    """Voxel patterns are centred; ROI and demographic features standardised.

    Voxels of one contrast map share units, so centring keeps their relative
    variances (voxels with more signal weigh more) and lets one cohort-wide Gram
    matrix serve every fold and permutation (the fast path). Summaries of
    different regions have different scales and are standardised.
    """
    voxels = isinstance(features, str) and features.split("+")[0] in (
        "wholebrain",
        "roi_voxels",
    )
    return "center" if voxels else "standard"


def prefix_grid(param_grid: dict, valid: set[str], step="classifier") -> dict:
    """Grid keys as pipeline parameters: ``C`` means ``classifier__C``."""
    out = {}
    for key, values in param_grid.items():
        full = key if "__" in key else f"{step}__{key}"
        if full not in valid:
            short = sorted(
                k.removeprefix(f"{step}__") for k in valid if k.startswith(f"{step}__")
            )
            raise TxpredictError(
                f"param_grid key {key!r} is not a parameter of the model. "
                f"{step.capitalize()} parameters: {short}; other steps are addressed "
                f"as 'step__param' "
                f"({sorted({k.split('__')[0] for k in valid if '__' in k})})."
            )
        values = list(values) if not isinstance(values, np.ndarray) else values.tolist()
        if not values:
            raise TxpredictError(f"param_grid key {key!r} has no value to try.")
        out[full] = values
    return out
