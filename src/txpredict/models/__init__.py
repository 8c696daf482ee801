"""Response models: classifiers over the cohort table."""

from txpredict.models._presets import CLASSIFIER_NAMES, FEATURE_SETS
from txpredict.models._response import ResponseClassifier

__all__ = ["CLASSIFIER_NAMES", "FEATURE_SETS", "ResponseClassifier"]
