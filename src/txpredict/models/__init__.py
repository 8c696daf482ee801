"""Response models over the cohort table: responder classifiers, change regressors.

Besides the public estimators, the face other packages use: the presets'
questions about a classifier (its linear family, class weights), the steps
a model's pipeline is built of, and the maps of a fitted linear model.
"""

from txpredict.models._base import ResponseModel
from txpredict.models._maps import (
    haufe_pattern,
    image_scale,
    image_weights_and_pattern,
    weights_and_pattern,
    why_no_fold_maps,
)
from txpredict.models._presets import (
    CLASSIFIER_NAMES,
    DEFAULT_DEMOGRAPHIC_COLUMNS,
    FEATURE_SETS,
    REGRESSOR_NAMES,
    class_balanced,
    linear_family,
    make_classifier,
    make_image_extractor,
)
from txpredict.models._regressor import ResponseRegressor
from txpredict.models._response import (
    CALIBRATIONS,
    ResponseClassifier,
    check_calibration,
)
from txpredict.models._steps import AsArray, ReplaceColumns

__all__ = [
    "CALIBRATIONS",
    "CLASSIFIER_NAMES",
    "DEFAULT_DEMOGRAPHIC_COLUMNS",
    "FEATURE_SETS",
    "REGRESSOR_NAMES",
    "AsArray",
    "ReplaceColumns",
    "ResponseClassifier",
    "ResponseModel",
    "ResponseRegressor",
    "check_calibration",
    "class_balanced",
    "haufe_pattern",
    "image_scale",
    "image_weights_and_pattern",
    "linear_family",
    "make_classifier",
    "make_image_extractor",
    "weights_and_pattern",
    "why_no_fold_maps",
]
