"""Image input: voxel grids, fast NIfTI reading and the checks every image passes.

All image input goes through :func:`load_image` (one read, one decompression) and
:func:`read_header` (header only), which turn every failure into an
:class:`~txpredict.errors.ImageError` naming the subject and the file.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from txpredict.errors import DimensionError, GridMismatchError, ImageError

try:  # isal (de)compresses gzip 1.5x faster than the standard library
    from isal import igzip as gzip_codec
except ImportError:  # a platform without isal's wheels: the same, slower
    import gzip as gzip_codec

ImageLike = str | os.PathLike | nib.spatialimages.SpatialImage


@dataclass(frozen=True)
class Grid:
    """A voxel grid: the first three dimensions of an image and its affine.

    Parameters
    ----------
    shape : tuple of int
        Number of voxels along x, y and z.
    affine : array of shape (4, 4)
        Voxel-to-world (MNI mm) transform.

    Examples
    --------
    >>> from txpredict.datasets import GRIDS
    >>> GRIDS["fsl2"].shape
    (91, 109, 91)
    """

    shape: tuple[int, int, int]
    affine: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape[:3]))
        affine = np.array(self.affine, dtype=float)
        affine.setflags(write=False)
        object.__setattr__(self, "affine", affine)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Grid):
            return NotImplemented
        # Affines written by different tools differ in the last float digits.
        return self.shape == other.shape and np.allclose(
            self.affine, other.affine, atol=1e-4
        )

    def __hash__(self) -> int:
        return hash((self.shape, tuple(np.round(self.affine, 4).ravel())))

    def __repr__(self) -> str:
        zooms = np.round(self.voxel_size, 3).tolist()
        origin = np.round(self.affine[:3, 3], 2).tolist()
        return f"Grid(shape={self.shape}, voxel_size={zooms}, origin={origin})"

    @property
    def voxel_size(self) -> np.ndarray:
        """Voxel edge lengths in mm."""
        return np.sqrt((self.affine[:3, :3] ** 2).sum(axis=0))

    @property
    def n_voxels(self) -> int:
        """Number of voxels of the 3D grid."""
        return int(np.prod(self.shape))

    def world_coordinates(self) -> np.ndarray:
        """MNI mm coordinates of every voxel centre, shape (n_voxels, 3), F order."""
        ijk = np.indices(self.shape).reshape(3, -1, order="F")
        return (self.affine[:3, :3] @ ijk).T + self.affine[:3, 3]

    def nearest_voxel(self, xyz) -> tuple[int, int, int]:
        """Voxel index nearest to the world coordinate ``xyz`` (may be outside).

        Parameters
        ----------
        xyz : sequence of float
            World (MNI) coordinates in mm.
        """
        ijk = np.linalg.inv(self.affine) @ np.append(np.asarray(xyz, float), 1.0)
        return tuple(int(v) for v in np.round(ijk[:3]))

    @classmethod
    def of(cls, img) -> Grid:
        """Grid of a nibabel image."""
        return cls(img.shape[:3], img.affine)


def subject_label(subject, image) -> str:
    """Text naming a subject (and its file) in error messages."""
    where = f" ({os.fspath(image)})" if isinstance(image, str | os.PathLike) else ""
    return f"subject {subject!r}{where}"


def _read_nifti_bytes(path: Path) -> nib.Nifti1Image:
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        # isal decompresses gzip 1.5x faster than the standard library, and
        # decompression is what reading a NIfTI file costs.
        raw = gzip_codec.decompress(raw)
    header_size = int.from_bytes(raw[:4], "little")
    if header_size == 540 or int.from_bytes(raw[:4], "big") == 540:
        return nib.Nifti2Image.from_bytes(raw)
    return nib.Nifti1Image.from_bytes(raw)


def read_header(image: ImageLike, subject) -> nib.spatialimages.SpatialImage:
    """Open ``image`` without reading its voxels (cheap for .nii.gz too)."""
    if isinstance(image, nib.spatialimages.SpatialImage):
        return image
    path = Path(image)
    if not path.is_file():
        raise ImageError(
            f"Image file of {subject_label(subject, image)} does not exist. "
            "Check the path, or the image_pattern used to find it."
        )
    try:
        return nib.load(path)
    except Exception as exc:
        raise ImageError(
            f"Cannot read the image of {subject_label(subject, image)}: {exc}. "
            "Is it a valid NIfTI file? Re-export it, or remove the subject."
        ) from exc


def load_image(
    image: ImageLike, subject, *, ndim: tuple[int, ...] = (3, 4)
) -> tuple[nib.spatialimages.SpatialImage, np.ndarray]:
    """Read an image and its voxels once, checking readability and dimensions.

    Returns the image and its data array (Fortran order, as stored), with
    scaling applied. A trailing singleton 4th dimension is dropped.
    """
    try:
        if isinstance(image, nib.spatialimages.SpatialImage):
            img = image
        else:
            path = Path(image)
            if not path.is_file():
                read_header(path, subject)  # raises the missing-file error
            if path.name.endswith((".nii", ".nii.gz")):
                img = _read_nifti_bytes(path)
            else:
                img = nib.load(path)
        data = np.asanyarray(img.dataobj)
    except ImageError:
        raise
    except Exception as exc:
        raise ImageError(
            f"Cannot read the image of {subject_label(subject, image)}: "
            f"{type(exc).__name__}: {exc}. The file may be truncated or corrupt; "
            "re-export or re-download it, or remove the subject."
        ) from exc
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim not in ndim:
        wanted = " or ".join(f"{n}D" for n in ndim)
        raise DimensionError(
            f"The image of {subject_label(subject, image)} is {data.ndim}D with "
            f"shape {data.shape}; expected a {wanted} image."
        )
    return img, data


def check_grid(img, expected: Grid, subject, image) -> None:
    """Refuse an image whose grid differs from the cohort's (never resample)."""
    grid = Grid.of(img)
    if grid != expected:
        raise GridMismatchError(
            f"The image of {subject_label(subject, image)} is on {grid}, but the "
            f"cohort's images are on {expected}. txpredict does not resample "
            "subjects' data silently: resample it to the others' grid first "
            "(nilearn.image.resample_to_img(img, reference_img)), or remove it."
        )


@functools.lru_cache(maxsize=8)
def mni_brain_mask(grid: Grid) -> np.ndarray:
    """Nilearn's MNI152 brain mask (ships with nilearn: no download) on ``grid``.

    The mask is resampled to the data grid once (nearest neighbour); the data
    are never resampled to the mask.
    """
    from nilearn.datasets import load_mni152_brain_mask
    from nilearn.image import resample_img

    mask = load_mni152_brain_mask(resolution=2)
    resampled = resample_img(
        mask,
        target_affine=grid.affine,
        target_shape=grid.shape,
        interpolation="nearest",
        force_resample=True,
        copy_header=True,
    )
    out = np.asarray(resampled.dataobj) > 0
    out.setflags(write=False)
    return out


def resample_mask_to_grid(mask_img: ImageLike, grid: Grid, what: str) -> np.ndarray:
    """A user's mask or label image as an array on ``grid`` (nearest neighbour)."""
    from nilearn.image import resample_img

    img = read_header(mask_img, what)
    if img.ndim != 3 and not (img.ndim == 4 and img.shape[3] == 1):
        raise DimensionError(f"The {what} must be a 3D image; got shape {img.shape}.")
    if Grid.of(img) == grid:
        data = np.asanyarray(img.dataobj)
    else:
        from nilearn.image.resampling import BoundingBoxError

        try:
            resampled = resample_img(
                img,
                target_affine=grid.affine,
                target_shape=grid.shape,
                interpolation="nearest",
                force_resample=True,
                copy_header=True,
            )
        except BoundingBoxError as error:
            source = f" {mask_img}" if isinstance(mask_img, str | Path) else ""
            raise ImageError(
                f"The {what}{source} covers none of the images' voxels (its grid "
                f"{Grid.of(img)} and the data's {grid} do not overlap in MNI space). "
                "Check that the mask and the images are in the same space."
            ) from error
        data = np.asanyarray(resampled.dataobj)
    return data.reshape(grid.shape)


def stat_identity(stat) -> tuple[int, ...]:
    """What says a file changed, without reading it.

    Size and modification time, which copying tools preserve (``cp -p``,
    ``rsync -t``, unpacking an archive), so also the inode and the status
    change time, which they cannot set: a file replaced by another of the same
    size and modification time is another entry. A file edited in place
    within the clock's resolution, keeping its size, would still be served
    from the cache: clear it (delete ``txpredict_features``) after such edits.
    """
    return stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_ctime_ns
