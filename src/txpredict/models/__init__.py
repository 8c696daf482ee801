"""Response models over the cohort table: responder classifiers, change regressors."""

from txpredict.models._presets import (
    CLASSIFIER_NAMES,
    DEFAULT_DEMOGRAPHIC_COLUMNS,
    FEATURE_SETS,
    REGRESSOR_NAMES,
)
from txpredict.models._regressor import ResponseRegressor
from txpredict.models._response import ResponseClassifier

__all__ = [
    "CLASSIFIER_NAMES",
    "DEFAULT_DEMOGRAPHIC_COLUMNS",
    "FEATURE_SETS",
    "REGRESSOR_NAMES",
    "ResponseClassifier",
    "ResponseRegressor",
]
