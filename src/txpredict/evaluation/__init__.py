"""Evaluation: metrics, confidence intervals and tests."""

from txpredict.evaluation._metrics import sensitivity_score, specificity_score
from txpredict.evaluation._statistics import (
    corrected_resampled_ttest,
    delong_auc_ci,
    delong_test,
    mcnemar_test,
    wilson_interval,
)

__all__ = [
    "corrected_resampled_ttest",
    "delong_auc_ci",
    "delong_test",
    "mcnemar_test",
    "sensitivity_score",
    "specificity_score",
    "wilson_interval",
]
