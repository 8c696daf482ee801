"""txpredict: predict psychotherapy response, and which treatment suits whom.

From pre-treatment brain scans and demographics, with cross-validation a methods
reviewer would accept. See the README for a tour.
"""

from importlib.metadata import PackageNotFoundError, version

from txpredict._images import Grid
from txpredict.cohort import Cohort, SymptomReduction, load_cohort
from txpredict.datasets import make_synthetic_cohort
from txpredict.evaluation import sensitivity_score, specificity_score
from txpredict.features import (
    AtlasRegion,
    DemographicFeatures,
    ImageFeatures,
    RoiFeatures,
    Sphere,
    WholeBrainFeatures,
    default_rois,
    rois_from_atlas,
)
from txpredict.model_selection import (
    LeaveOneOutWarning,
    NestedCVResult,
    nested_cross_validate,
)
from txpredict.models import ResponseClassifier

try:
    __version__ = version("txpredict")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"

__all__ = [
    "AtlasRegion",
    "Cohort",
    "DemographicFeatures",
    "Grid",
    "ImageFeatures",
    "LeaveOneOutWarning",
    "NestedCVResult",
    "ResponseClassifier",
    "RoiFeatures",
    "Sphere",
    "SymptomReduction",
    "WholeBrainFeatures",
    "__version__",
    "default_rois",
    "load_cohort",
    "make_synthetic_cohort",
    "nested_cross_validate",
    "rois_from_atlas",
    "sensitivity_score",
    "specificity_score",
]
