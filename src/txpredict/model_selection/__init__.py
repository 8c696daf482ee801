"""Nested cross-validation and its fast path for linear models."""

from txpredict.model_selection._model_maps import ModelMaps, bootstrap_maps
from txpredict.model_selection._nested import NestedCVResult, nested_cross_validate
from txpredict.model_selection._regression_result import RegressionCVResult
from txpredict.model_selection._schemes import LeaveOneOutWarning

__all__ = [
    "LeaveOneOutWarning",
    "ModelMaps",
    "NestedCVResult",
    "RegressionCVResult",
    "bootstrap_maps",
    "nested_cross_validate",
]
