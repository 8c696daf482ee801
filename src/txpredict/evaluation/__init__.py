"""Evaluation of cross-validated models: comparisons and permutation tests."""

from txpredict.evaluation._compare import Comparison, compare
from txpredict.model_selection._permutation import (
    PermutationTestResult,
    permutation_test,
)

__all__ = [
    "Comparison",
    "PermutationTestResult",
    "compare",
    "permutation_test",
]
