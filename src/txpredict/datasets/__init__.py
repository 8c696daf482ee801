"""Synthetic cohorts with known ground truth, and standard MNI grids."""

from txpredict.datasets._grids import GRIDS, fsl_grid, get_grid
from txpredict.datasets._sites import SiteProfile, site_profile
from txpredict.datasets._synthetic import (
    EFFECTS,
    make_synthetic_cohort,
    population_prevalence,
)

__all__ = [
    "EFFECTS",
    "GRIDS",
    "SiteProfile",
    "fsl_grid",
    "get_grid",
    "make_synthetic_cohort",
    "population_prevalence",
    "site_profile",
]
