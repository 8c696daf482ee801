"""Evaluation: metrics, confidence intervals and tests."""

from txpredict.evaluation._compare import Comparison, compare
from txpredict.evaluation._metrics import sensitivity_score, specificity_score
from txpredict.evaluation._permutation import PermutationTestResult, permutation_test
from txpredict.evaluation._statistics import (
    corrected_resampled_ttest,
    delong_auc_ci,
    delong_test,
    mcnemar_test,
    wilson_interval,
)

__all__ = [
    "Comparison",
    "PermutationTestResult",
    "compare",
    "corrected_resampled_ttest",
    "delong_auc_ci",
    "delong_test",
    "mcnemar_test",
    "permutation_test",
    "sensitivity_score",
    "specificity_score",
    "wilson_interval",
]
