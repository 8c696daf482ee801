"""txpredict: predict psychotherapy response, and which treatment suits whom.

From pre-treatment brain scans and demographics, with cross-validation a methods
reviewer would accept. ``make docs`` builds the documentation: a user guide
by task, the API reference and an executed gallery of examples.
"""

from importlib.metadata import PackageNotFoundError, version

from txpredict import leakage
from txpredict._images import Grid
from txpredict.cohort import Cohort, SymptomChange, SymptomReduction, load_cohort
from txpredict.cv_schemes import CVSchemesResult, compare_cv_schemes
from txpredict.datasets import make_synthetic_cohort
from txpredict.evaluation import (
    AddedValue,
    Comparison,
    ExternalValidation,
    LearningCurve,
    PermutationTestResult,
    added_value,
    compare,
    drop_one_importance,
    learning_curve,
    permutation_importance,
    permutation_test,
    scan_permutation_test,
    validate_external,
)
from txpredict.features import (
    AtlasRegion,
    ComBat,
    ConfoundRemover,
    DemographicFeatures,
    ImageFeatures,
    PrecomputedFeatures,
    RoiFeatures,
    Sphere,
    WholeBrainFeatures,
    default_rois,
    rois_from_atlas,
)
from txpredict.modality import (
    ModalitySelector,
    SelectionResult,
    compare_selections,
    evaluate_selection,
)
from txpredict.model_selection import (
    GridEdgeWarning,
    LeaveOneOutWarning,
    ModelMaps,
    NestedCVResult,
    RegressionCVResult,
    bootstrap_maps,
    nested_cross_validate,
)
from txpredict.models import ResponseClassifier, ResponseRegressor
from txpredict.persistence import load_model, save_model
from txpredict.stats import (
    minimum_sample_size,
    sensitivity_score,
    specificity_score,
)

try:
    __version__ = version("txpredict")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"

__all__ = [
    "AddedValue",
    "AtlasRegion",
    "CVSchemesResult",
    "Cohort",
    "ComBat",
    "Comparison",
    "ConfoundRemover",
    "DemographicFeatures",
    "ExternalValidation",
    "Grid",
    "GridEdgeWarning",
    "ImageFeatures",
    "LearningCurve",
    "LeaveOneOutWarning",
    "ModalitySelector",
    "ModelMaps",
    "NestedCVResult",
    "PermutationTestResult",
    "PrecomputedFeatures",
    "RegressionCVResult",
    "ResponseClassifier",
    "ResponseRegressor",
    "RoiFeatures",
    "SelectionResult",
    "Sphere",
    "SymptomChange",
    "SymptomReduction",
    "WholeBrainFeatures",
    "__version__",
    "added_value",
    "bootstrap_maps",
    "compare",
    "compare_cv_schemes",
    "compare_selections",
    "default_rois",
    "drop_one_importance",
    "evaluate_selection",
    "leakage",
    "learning_curve",
    "load_cohort",
    "load_model",
    "make_synthetic_cohort",
    "minimum_sample_size",
    "nested_cross_validate",
    "permutation_importance",
    "permutation_test",
    "rois_from_atlas",
    "save_model",
    "scan_permutation_test",
    "sensitivity_score",
    "specificity_score",
    "validate_external",
]
