"""Shared fixtures: seeded RNG, tiny asymmetric images, small synthetic cohorts."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

import txpredict as tp

# Asymmetric on purpose: a swapped axis changes the shape and gets caught.
TINY_SHAPE = (7, 8, 9)


@pytest.fixture
def rng():
    return np.random.default_rng(42)


@pytest.fixture
def tiny_affine():
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    affine[:3, 3] = (-9.0, -12.0, -12.0)
    return affine


def write_nifti(path, data, affine):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.Nifti1Image(np.asarray(data, dtype=np.float32), affine).to_filename(path)
    return path


@pytest.fixture
def tiny_images(tmp_path, rng, tiny_affine):
    """Five 3D images on a (7, 8, 9) grid of 3 mm voxels, as files."""
    return [
        write_nifti(
            tmp_path / f"img{i}.nii.gz", rng.standard_normal(TINY_SHAPE), tiny_affine
        )
        for i in range(5)
    ]


@pytest.fixture(scope="session")
def small_cohort_dir(tmp_path_factory):
    """A 24-subject synthetic cohort on the coarse 6 mm FSL grid, on disk."""
    out = tmp_path_factory.mktemp("cohort") / "study"
    tp.make_synthetic_cohort(24, grid="fsl6", random_state=0, out_dir=out)
    return out


@pytest.fixture
def small_cohort(small_cohort_dir):
    return tp.load_cohort(small_cohort_dir)


@pytest.fixture(scope="session")
def rest_cohort_dir(tmp_path_factory):
    """A 12-subject cohort with 4D resting-state runs on the 6 mm grid."""
    out = tmp_path_factory.mktemp("rest") / "study"
    tp.make_synthetic_cohort(
        12,
        grid="fsl6",
        rest=True,
        rest_grid="fsl6",
        n_timepoints=120,
        random_state=1,
        out_dir=out,
    )
    return out
