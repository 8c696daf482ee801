"""Metrics, confidence intervals and tests: the one home of txpredict's inference.

It imports nothing from txpredict but its errors, so every other package
(model selection, evaluation, modality prediction, the benchmarks) calls it
and a fix lands once.
"""

from txpredict.stats._calibration import coverage_note, false_positive_note
from txpredict.stats._cv import (
    DEFAULT_COMPARISON_METHODS,
    DEFAULT_METHODS,
    DESCRIPTIONS,
    METHODS,
    CVPredictions,
    cv_estimates,
    cv_intervals,
    cv_paired_test,
    design_effect,
)
from txpredict.stats._detectable import (
    DetectableGain,
    detectable_auc_gain,
    patients_to_detect,
)
from txpredict.stats._effects import firth_logistic, logit_interval, mover_difference
from txpredict.stats._intervals import (
    cohens_h,
    delong_auc_ci,
    delong_components,
    difference_se,
    wilson_interval,
)
from txpredict.stats._meta import heterogeneity
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
from txpredict.stats._policy import (
    DEFAULT_POLICY_METHODS,
    MEASURES,
    hajek,
    policy_intervals,
    policy_measures,
)
from txpredict.stats._probability import (
    CALIBRATION_MEASURES,
    apply_recalibration,
    calibration_measures,
    calibration_over_repeats,
    decision_curve,
    fit_recalibration,
    prior_shift,
)
from txpredict.stats._regression import (
    DEFAULT_REGRESSION_METHODS,
    REGRESSION_METHODS,
    REGRESSION_METRICS,
    regression_intervals,
    regression_metrics,
    regression_paired_test,
)
from txpredict.stats._resampling import check_permutable, n_arrangements, permute
from txpredict.stats._sample_size import (
    SampleSize,
    cox_snell_r2_from_c,
    max_cox_snell_r2,
    minimum_sample_size,
)
from txpredict.stats._sequential import (
    DEFAULT_EXCEEDANCES,
    check_exceedances,
    check_n_permutations,
    monte_carlo_error,
    sequential_p_value,
)
from txpredict.stats._tests import (
    corrected_resampled_interval,
    corrected_resampled_ttest,
    delong_test,
)

__all__ = [
    "CALIBRATION_MEASURES",
    "DEFAULT_COMPARISON_METHODS",
    "DEFAULT_EXCEEDANCES",
    "DEFAULT_METHODS",
    "DEFAULT_POLICY_METHODS",
    "DEFAULT_REGRESSION_METHODS",
    "DESCRIPTIONS",
    "MEASURES",
    "METHODS",
    "METRICS",
    "REGRESSION_METHODS",
    "REGRESSION_METRICS",
    "CVPredictions",
    "DetectableGain",
    "SampleSize",
    "apply_recalibration",
    "binary_metrics",
    "calibration_measures",
    "calibration_over_repeats",
    "check_exceedances",
    "check_n_permutations",
    "check_permutable",
    "cohens_h",
    "confusion_counts",
    "corrected_resampled_interval",
    "corrected_resampled_ttest",
    "coverage_note",
    "cox_snell_r2_from_c",
    "cv_estimates",
    "cv_intervals",
    "cv_paired_test",
    "decision_curve",
    "delong_auc_ci",
    "delong_components",
    "delong_test",
    "design_effect",
    "detectable_auc_gain",
    "difference_se",
    "false_positive_note",
    "fast_auc",
    "fast_balanced_accuracy",
    "firth_logistic",
    "fit_recalibration",
    "hajek",
    "heterogeneity",
    "logit_interval",
    "max_cox_snell_r2",
    "metrics_from_counts",
    "minimum_sample_size",
    "monte_carlo_error",
    "mover_difference",
    "n_arrangements",
    "patients_to_detect",
    "permute",
    "policy_intervals",
    "policy_measures",
    "prior_shift",
    "regression_intervals",
    "regression_metrics",
    "regression_paired_test",
    "sensitivity_score",
    "sequential_p_value",
    "specificity_score",
    "wilson_interval",
]
