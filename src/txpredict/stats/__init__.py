"""Metrics, confidence intervals and tests: the one home of txpredict's inference.

It imports nothing from txpredict but its errors, so every other package
(model selection, evaluation, modality prediction, the benchmarks) calls it
and a fix lands once.
"""

from txpredict.stats._intervals import (
    cohens_h,
    delong_auc_ci,
    delong_components,
    difference_se,
    wilson_interval,
)
from txpredict.stats._metrics import (
    METRICS,
    binary_metrics,
    confusion_counts,
    fast_auc,
    fast_balanced_accuracy,
    metrics_from_counts,
    sensitivity_score,
    specificity_score,
)
from txpredict.stats._tests import (
    corrected_resampled_ttest,
    delong_test,
    mcnemar_test,
)

__all__ = [
    "METRICS",
    "binary_metrics",
    "cohens_h",
    "confusion_counts",
    "corrected_resampled_ttest",
    "delong_auc_ci",
    "delong_components",
    "delong_test",
    "difference_se",
    "fast_auc",
    "fast_balanced_accuracy",
    "mcnemar_test",
    "metrics_from_counts",
    "sensitivity_score",
    "specificity_score",
    "wilson_interval",
]
