"""Nested cross-validation and its fast path for linear models."""

from txpredict.model_selection._fold_maps import FoldMaps
from txpredict.model_selection._nested import NestedCVResult, nested_cross_validate
from txpredict.model_selection._regression_result import RegressionCVResult
from txpredict.model_selection._schemes import LeaveOneOutWarning

__all__ = [
    "FoldMaps",
    "LeaveOneOutWarning",
    "NestedCVResult",
    "RegressionCVResult",
    "nested_cross_validate",
]
