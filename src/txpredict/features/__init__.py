"""Feature extraction: ROI summaries, whole-brain patterns, demographics."""

from txpredict.features._confounds import ConfoundRemover
from txpredict.features._demographics import DemographicFeatures
from txpredict.features._extract import images_from_input
from txpredict.features._harmonize import ComBat
from txpredict.features._image_features import (
    ImageFeatures,
    RoiFeatures,
    WholeBrainFeatures,
)
from txpredict.features._precomputed import PrecomputedFeatures
from txpredict.features._rois import (
    AtlasRegion,
    Sphere,
    default_rois,
    rois_from_atlas,
)
from txpredict.features._store import StoredDesign, VoxelStore, fits_in_memory
from txpredict.features._timeseries import falff

__all__ = [
    "AtlasRegion",
    "ComBat",
    "ConfoundRemover",
    "DemographicFeatures",
    "ImageFeatures",
    "PrecomputedFeatures",
    "RoiFeatures",
    "Sphere",
    "StoredDesign",
    "VoxelStore",
    "WholeBrainFeatures",
    "default_rois",
    "falff",
    "fits_in_memory",
    "images_from_input",
    "rois_from_atlas",
]
