"""Nested cross-validation and its fast path for linear models."""

from txpredict.model_selection._model_maps import ModelMaps, bootstrap_maps
from txpredict.model_selection._nested import NestedCVResult, nested_cross_validate
from txpredict.model_selection._regression_result import RegressionCVResult
from txpredict.model_selection._schemes import LeaveOneOutWarning, is_leave_site_out
from txpredict.model_selection._summary import GridEdgeWarning

__all__ = [
    "GridEdgeWarning",
    "LeaveOneOutWarning",
    "ModelMaps",
    "NestedCVResult",
    "RegressionCVResult",
    "bootstrap_maps",
    "is_leave_site_out",
    "nested_cross_validate",
]
