"""Regions of interest: spheres around MNI coordinates and atlas labels.

A ROI is defined in world (MNI mm) space and turned into voxels of the data grid
once (:func:`resolve_rois`); the data are never resampled to the ROI.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from txpredict._images import Grid, ImageLike, resample_mask_to_grid, stat_identity
from txpredict.errors import RoiError


@dataclass(frozen=True)
class Sphere:
    """A spherical ROI around an MNI coordinate.

    Voxels whose centre lies within ``radius`` mm of ``center`` belong to it; the
    voxel nearest to the centre always does, so a small sphere on a coarse grid is
    never empty. This is the rule of nilearn's ``NiftiSpheresMasker``, and
    txpredict's ROI means match nilearn's (tested).

    Parameters
    ----------
    name : str
        Feature name prefix, e.g. ``"dACC_R"``.
    center : tuple of float
        MNI coordinate (x, y, z) in mm.
    radius : float, default=8.0
        Radius in mm. Spheres of 6-10 mm are usual in the literature.

    Examples
    --------
    >>> import txpredict as tp
    >>> tp.Sphere("dACC_R", center=(5, 19, 24), radius=8)
    Sphere(name='dACC_R', center=(5.0, 19.0, 24.0), radius=8.0)
    """

    name: str
    center: tuple[float, float, float]
    radius: float = 8.0

    def __post_init__(self):
        center = tuple(float(c) for c in self.center)
        if len(center) != 3:
            raise RoiError(
                f"The center of Sphere {self.name!r} must be 3 MNI coordinates "
                f"(x, y, z). Got {self.center!r} instead."
            )
        if not float(self.radius) > 0:
            raise RoiError(
                f"The radius of Sphere {self.name!r} must be a positive number of "
                f"mm. Got {self.radius!r} instead."
            )
        object.__setattr__(self, "center", center)
        object.__setattr__(self, "radius", float(self.radius))

    def voxel_mask(self, grid: Grid) -> np.ndarray:
        """Boolean array of ``grid.shape``: the sphere's voxels.

        Parameters
        ----------
        grid : Grid
            The image grid.
        """
        mask = np.zeros(grid.shape, dtype=bool)
        # Only voxels in the sphere's bounding box can be inside it: searching that
        # box instead of the whole grid makes fitting ~100x cheaper on 2 mm grids.
        inverse = np.linalg.inv(grid.affine)
        centre_ijk = inverse[:3, :3] @ np.asarray(self.center) + inverse[:3, 3]
        reach = self.radius * np.sqrt((inverse[:3, :3] ** 2).sum(axis=1)) + 1
        low = np.clip(np.floor(centre_ijk - reach), 0, grid.shape).astype(int)
        high = np.clip(np.ceil(centre_ijk + reach) + 1, 0, grid.shape).astype(int)
        if np.all(high > low):
            box = np.indices(high - low).reshape(3, -1) + low[:, None]
            xyz = (grid.affine[:3, :3] @ box).T + grid.affine[:3, 3]
            inside = np.sqrt(((xyz - np.asarray(self.center)) ** 2).sum(axis=1))
            inside = inside <= self.radius
            mask[tuple(box[:, inside])] = True
        nearest = grid.nearest_voxel(self.center)
        if all(0 <= n < s for n, s in zip(nearest, grid.shape, strict=True)):
            mask[nearest] = True
        return mask

    def cache_key(self) -> tuple:
        """Parameters that define the ROI's voxels (for the feature cache)."""
        return ("sphere", self.name, self.center, self.radius)


@dataclass(frozen=True, eq=False)
class AtlasRegion:
    """The voxels of an atlas image carrying one or several labels.

    Parameters
    ----------
    name : str
        Feature name prefix, e.g. ``"cuneus"``.
    atlas_img : str, pathlib.Path or nibabel image
        3D label image in MNI space (any grid: it is resampled to the data grid
        once, nearest neighbour).
    label : int or sequence of int
        Label value(s) of the region in ``atlas_img``.

    Examples
    --------
    >>> import numpy as np, nibabel as nib
    >>> import txpredict as tp
    >>> labels = np.zeros((7, 8, 9), dtype="int16"); labels[2:4, 3:5, 4:6] = 3
    >>> atlas = nib.Nifti1Image(labels, np.eye(4))
    >>> tp.AtlasRegion("my_region", atlas, label=3).label
    (3,)
    """

    name: str
    atlas_img: ImageLike = field(repr=False)
    label: int | Sequence[int] = 1

    def __post_init__(self):
        labels = np.atleast_1d(np.asarray(self.label))
        if labels.dtype.kind not in "iu" and not np.all(labels == np.round(labels)):
            raise RoiError(
                f"The label of AtlasRegion {self.name!r} must be integer label "
                f"value(s) of the atlas image. Got {self.label!r} instead."
            )
        object.__setattr__(self, "label", tuple(int(v) for v in labels))

    def voxel_mask(self, grid: Grid) -> np.ndarray:
        """Boolean array of ``grid.shape``: voxels carrying the region's labels.

        Parameters
        ----------
        grid : Grid
            The image grid.
        """
        data = resample_mask_to_grid(
            self.atlas_img, grid, f"atlas of ROI {self.name!r}"
        )
        return np.isin(np.round(data).astype(np.int64), self.label)

    def cache_key(self) -> tuple:
        """Parameters that define the ROI's voxels (for the feature cache)."""
        atlas = self.atlas_img
        if isinstance(atlas, str | os.PathLike):
            stat = os.stat(atlas)
            ident = (os.path.abspath(atlas), *stat_identity(stat))
        else:
            import joblib

            ident = joblib.hash((np.asanyarray(atlas.dataobj), atlas.affine))
        return ("atlas", self.name, ident, self.label)

    def __repr__(self) -> str:
        return f"AtlasRegion(name={self.name!r}, label={self.label!r})"


Roi = Sphere | AtlasRegion

# (name, centre in MNI mm, radius in mm): sources in default_rois' docstring.
_DEFAULT_SPHERES = [
    ("dACC_L", (-4, 18, 25), 8.0),
    ("dACC_R", (5, 19, 24), 8.0),
    ("pgACC_L", (-8, 41, 5), 5.0),
    ("pgACC_R", (8, 41, 5), 5.0),
    ("sgACC", (0, 21, -10), 5.0),
    ("cuneus_L", (-7, -80, 27), 8.0),
    ("cuneus_R", (9, -78, 28), 8.0),
    ("amygdala_L", (-24, -2, -18), 6.0),
    ("amygdala_R", (27, -1, -19), 6.0),
]


def default_rois() -> list[Sphere]:
    """The anterior cingulate, cuneus and amygdala ROIs used by default.

    ============ ========================= ====== =================================
    name         centre (MNI mm)           radius source
    ============ ========================= ====== =================================
    dACC_L/R     (-4,18,25), (5,19,24)     8 mm   Harvard-Oxford anterior cingulate
    pgACC_L/R    (-8,41,5), (8,41,5)       5 mm   literature 5 mm spheres
    sgACC        (0,21,-10)                5 mm   literature 5 mm sphere
    cuneus_L/R   (-7,-80,27), (9,-78,28)   8 mm   Harvard-Oxford cuneal cortex
    amygdala_L/R (-24,-2,-18), (27,-1,-19) 6 mm   AAL2 amygdala
    ============ ========================= ====== =================================

    Harvard-Oxford centres are the per-hemisphere centroids of the thresholded
    (25%) maximum-probability regions.

    Why these regions: pre-treatment dorsal ACC function relates to CBT response in
    panic disorder, social anxiety, PTSD and depression (Lueken et al. 2016;
    Picó-Pérez et al. 2023), and moderates SSRI + CBT vs CBT response (Frick et
    al. 2018); cuneus activation predicted symptom change in the meta-analysis of
    Marwood et al. 2018; dACC-amygdala coupling predicted internet-CBT response
    (Månsson et al. 2015).

    Returns
    -------
    list of Sphere

    Examples
    --------
    >>> import txpredict as tp
    >>> [roi.name for roi in tp.default_rois()][:3]
    ['dACC_L', 'dACC_R', 'pgACC_L']
    """
    return [Sphere(name, center, radius) for name, center, radius in _DEFAULT_SPHERES]


def rois_from_atlas(
    atlas_img: ImageLike, labels: Mapping[str, int] | str | os.PathLike
) -> list[AtlasRegion]:
    """One :class:`AtlasRegion` per named label of a label atlas.

    Parameters
    ----------
    atlas_img : str, pathlib.Path or nibabel image
        3D label image.
    labels : mapping of str to int, or path to a TSV file
        Region names and their label values. A TSV file needs the columns
        ``index`` and ``name`` (the BIDS ``dseg.tsv`` convention).

    Returns
    -------
    list of AtlasRegion
    """
    if not isinstance(labels, Mapping):
        table = pd.read_csv(labels, sep="\t")
        missing = {"index", "name"} - set(table.columns)
        if missing:
            raise RoiError(
                f"The label table {os.fspath(labels)!r} lacks the column(s) "
                f"{sorted(missing)}; it needs 'index' and 'name' (BIDS dseg.tsv)."
            )
        labels = dict(zip(table["name"].astype(str), table["index"], strict=True))
    return [AtlasRegion(name, atlas_img, int(value)) for name, value in labels.items()]


def check_rois(rois: str | Iterable[Roi]) -> list[Roi]:
    """Validate the ``rois`` parameter of the feature extractors."""
    if isinstance(rois, str):
        if rois != "default":
            raise RoiError(
                f"The 'rois' parameter must be 'default' or a list of Sphere / "
                f"AtlasRegion. Got {rois!r} instead."
            )
        return default_rois()
    rois = list(rois)
    if not rois:
        raise RoiError("The 'rois' parameter is an empty list; give at least one ROI.")
    for roi in rois:
        if not isinstance(roi, Sphere | AtlasRegion):
            raise RoiError(
                "Each ROI must be a txpredict Sphere or AtlasRegion. "
                f"Got {roi!r} ({type(roi).__name__}) instead."
            )
    names = [roi.name for roi in rois]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise RoiError(
            f"ROI names must be unique; repeated: {duplicated}. Rename them."
        )
    return rois


def resolve_rois(
    rois: list[Roi], grid: Grid, brain_mask: np.ndarray | None
) -> dict[str, np.ndarray]:
    """Voxel indices of each ROI on ``grid`` (see :func:`masked_voxel_indices`).

    ROIs are intersected with ``brain_mask`` when one is given. An empty ROI, or
    one entirely outside the brain mask, is an error naming it.
    """
    resolved = {}
    for roi in rois:
        voxels = roi.voxel_mask(grid)
        if not voxels.any():
            raise RoiError(
                f"ROI {roi.name!r} has no voxel on the data grid {grid}. Check its "
                "centre or label, and that the images are in MNI space."
            )
        if brain_mask is not None:
            inside = voxels & brain_mask
            if not inside.any():
                raise RoiError(
                    f"ROI {roi.name!r} falls entirely outside the brain mask on the "
                    f"data grid {grid}. Check its centre or label, that the images "
                    "are in MNI space, or pass mask=None."
                )
            voxels = inside
        resolved[roi.name] = masked_voxel_indices(voxels)
    return resolved


def masked_voxel_indices(mask: np.ndarray) -> np.ndarray:
    """Indices into the Fortran-order flat volume of ``mask``'s voxels.

    Voxels are listed in C order (x slowest), as nilearn's maskers list them, so
    feature vectors are interchangeable with nilearn's; the indices address the
    Fortran-order ravel, which is a free view of NIfTI data.
    """
    # 1D flatnonzero on the C-order view is ~2x faster than a 3D np.nonzero.
    c_order = np.flatnonzero(np.ascontiguousarray(mask).ravel())
    return np.ravel_multi_index(
        np.unravel_index(c_order, mask.shape), mask.shape, order="F"
    )
