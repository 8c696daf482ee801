"""Nested cross-validation, the routes that fit it fast, and its permutation test.

Besides the public functions, the face other packages use: the route
dispatcher (:func:`choose_route`, :func:`batched_route`), the
:class:`Runner` that fits a model on given splits, the batched logistic
solver, the sequential permutation loop, and the splits and input checks
every nested procedure shares.
"""

from txpredict.model_selection._batched_logistic import decision_of, fit_problems
from txpredict.model_selection._model_maps import ModelMaps, bootstrap_maps
from txpredict.model_selection._nested import (
    LEAVE_SITE_OUT_NOTE,
    NestedCVResult,
    nested_cross_validate,
)
from txpredict.model_selection._permutation import (
    PermutationTestResult,
    permutation_test,
    sequential_null,
)
from txpredict.model_selection._regression_result import RegressionCVResult
from txpredict.model_selection._routes import (
    MAX_BATCHED_FEATURES,
    LogisticTuning,
    Route,
    batched_route,
    choose_route,
)
from txpredict.model_selection._runner import Runner, split_scores
from txpredict.model_selection._schemes import (
    LEAVE_SITE_OUT,
    LeaveOneOutWarning,
    check_groups,
    check_outer_cv,
    is_leave_site_out,
    outer_splits,
    splits_hash,
)
from txpredict.model_selection._summary import GridEdgeWarning, grid_edge_warnings
from txpredict.model_selection._validation import (
    check_sites,
    inner_groups_of,
    prepare_inputs,
)

__all__ = [
    "LEAVE_SITE_OUT",
    "LEAVE_SITE_OUT_NOTE",
    "MAX_BATCHED_FEATURES",
    "GridEdgeWarning",
    "LeaveOneOutWarning",
    "LogisticTuning",
    "ModelMaps",
    "NestedCVResult",
    "PermutationTestResult",
    "RegressionCVResult",
    "Route",
    "Runner",
    "batched_route",
    "bootstrap_maps",
    "check_groups",
    "check_outer_cv",
    "check_sites",
    "choose_route",
    "decision_of",
    "fit_problems",
    "grid_edge_warnings",
    "inner_groups_of",
    "is_leave_site_out",
    "nested_cross_validate",
    "outer_splits",
    "permutation_test",
    "prepare_inputs",
    "sequential_null",
    "split_scores",
    "splits_hash",
]
