"""txpredict: predict psychotherapy response, and which treatment suits whom.

From pre-treatment brain scans and demographics, with cross-validation a methods
reviewer would accept. See the README for a tour.
"""

from importlib.metadata import PackageNotFoundError, version

from txpredict._images import Grid
from txpredict.cohort import Cohort, SymptomReduction, load_cohort
from txpredict.cv_schemes import CVSchemesResult, compare_cv_schemes
from txpredict.datasets import make_synthetic_cohort
from txpredict.evaluation import (
    Comparison,
    PermutationTestResult,
    compare,
    permutation_test,
)
from txpredict.features import (
    AtlasRegion,
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
    LeaveOneOutWarning,
    NestedCVResult,
    nested_cross_validate,
)
from txpredict.models import ResponseClassifier
from txpredict.persistence import load_model, save_model
from txpredict.stats import sensitivity_score, specificity_score

try:
    __version__ = version("txpredict")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"

__all__ = [
    "AtlasRegion",
    "CVSchemesResult",
    "Cohort",
    "Comparison",
    "DemographicFeatures",
    "Grid",
    "ImageFeatures",
    "LeaveOneOutWarning",
    "ModalitySelector",
    "NestedCVResult",
    "PermutationTestResult",
    "PrecomputedFeatures",
    "ResponseClassifier",
    "RoiFeatures",
    "SelectionResult",
    "Sphere",
    "SymptomReduction",
    "WholeBrainFeatures",
    "__version__",
    "compare",
    "compare_cv_schemes",
    "compare_selections",
    "default_rois",
    "evaluate_selection",
    "load_cohort",
    "load_model",
    "make_synthetic_cohort",
    "nested_cross_validate",
    "permutation_test",
    "rois_from_atlas",
    "save_model",
    "sensitivity_score",
    "specificity_score",
]
