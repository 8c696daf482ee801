"""Evaluation of cross-validated models: comparisons and permutation tests."""

from txpredict.evaluation._added_value import AddedValue, added_value
from txpredict.evaluation._compare import Comparison, compare
from txpredict.evaluation._external import (
    ExternalValidation,
    recalibrated,
    validate_external,
)
from txpredict.evaluation._importance import drop_one_importance
from txpredict.evaluation._learning_curve import (
    DEFAULT_FRACTIONS,
    LearningCurve,
    learning_curve,
)
from txpredict.evaluation._permutation_importance import permutation_importance
from txpredict.evaluation._scan_permutation import scan_permutation_test
from txpredict.model_selection import (  # kept here for existing scripts
    PermutationTestResult,
    permutation_test,
)
from txpredict.stats import calibration_measures  # kept here for existing scripts

__all__ = [
    "DEFAULT_FRACTIONS",
    "AddedValue",
    "Comparison",
    "ExternalValidation",
    "LearningCurve",
    "PermutationTestResult",
    "added_value",
    "calibration_measures",
    "compare",
    "drop_one_importance",
    "learning_curve",
    "permutation_importance",
    "permutation_test",
    "recalibrated",
    "scan_permutation_test",
    "validate_external",
]
