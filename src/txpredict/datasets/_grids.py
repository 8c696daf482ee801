"""Standard MNI voxel grids: FSL, nilearn, fMRIPrep and SPM grids differ."""

from __future__ import annotations

import math

import numpy as np

from txpredict._images import Grid
from txpredict.errors import TxpredictError


def _affine(voxel, origin, flip_x):
    affine = np.diag([-voxel if flip_x else voxel, voxel, voxel, 1.0])
    affine[:3, 3] = origin
    return affine


def fsl_grid(voxel_size: float) -> Grid:
    """FSL's MNI152 bounding box (182 x 218 x 182 mm) at any voxel size.

    ``fsl_grid(2)`` is FSL's MNI152 2 mm grid: 91 x 109 x 91, affine
    diag(-2, 2, 2), origin (90, -126, -72).

    Parameters
    ----------
    voxel_size : float
        The voxel size in mm.
    """
    shape = tuple(math.ceil(extent / voxel_size) for extent in (182, 218, 182))
    return Grid(shape, _affine(voxel_size, (90, -126, -72), flip_x=True))


#: Named grids accepted by ``make_synthetic_cohort(grid=...)``.
GRIDS: dict[str, Grid] = {
    "fsl2": fsl_grid(2),
    "fsl4": fsl_grid(4),
    # Coarse, for tests and docs: small and fast, still anatomically placed.
    "fsl6": fsl_grid(6),
    # nilearn's own ICBM 2009 template/mask grid, NOT the FSL one.
    "nilearn2": Grid((99, 117, 95), _affine(2, (-98, -134, -72), flip_x=False)),
    # fMRIPrep MNI152NLin2009cAsym res-2.
    "fmriprep2": Grid((97, 115, 97), _affine(2, (-96, -132, -78), flip_x=False)),
    # SPM's default bounding box at 2 mm.
    "spm2": Grid((79, 95, 79), _affine(2, (78, -112, -70), flip_x=True)),
}


def get_grid(grid) -> Grid:
    """A :class:`Grid` from a name of :data:`GRIDS`, a Grid or (shape, affine).

    Parameters
    ----------
    grid : str, Grid or (shape, affine)
        A name of :data:`GRIDS`, a grid, or its shape and affine.
    """
    if isinstance(grid, Grid):
        return grid
    if isinstance(grid, str):
        if grid not in GRIDS:
            raise TxpredictError(
                f"Unknown grid {grid!r}; choose one of {sorted(GRIDS)} or pass "
                "(shape, affine)."
            )
        return GRIDS[grid]
    shape, affine = grid
    return Grid(tuple(shape), np.asarray(affine, float))
