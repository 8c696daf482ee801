import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from nilearn.maskers.nifti_spheres_masker import apply_mask_and_get_affinity

import txpredict as tp
from txpredict._images import Grid
from txpredict.errors import RoiError
from txpredict.features._rois import check_rois, resolve_rois

from ..conftest import TINY_SHAPE


@pytest.fixture
def tiny_grid(tiny_affine):
    return Grid(TINY_SHAPE, tiny_affine)


@pytest.mark.parametrize(
    ("center", "radius"), [((0, 0, 0), 4.0), ((3, -3, 6), 6.5), ((1.4, 2.2, -0.7), 2.0)]
)
def test_sphere_voxels_match_nilearn(tiny_grid, center, radius):
    mask_img = nib.Nifti1Image(np.ones(TINY_SHAPE, np.uint8), tiny_grid.affine)
    _, adjacency = apply_mask_and_get_affinity([center], None, radius, True, mask_img)
    expected = np.zeros(TINY_SHAPE, bool)
    coords = np.argwhere(np.ones(TINY_SHAPE, bool))  # nilearn's C-order coordinates
    expected[tuple(coords[adjacency.rows[0]].T)] = True
    got = tp.Sphere("s", center, radius).voxel_mask(tiny_grid)
    np.testing.assert_array_equal(got, expected)


def test_small_sphere_keeps_its_nearest_voxel(tiny_grid):
    # 0.5 mm radius on a 3 mm grid: no voxel centre within it, the nearest one counts.
    mask = tp.Sphere("s", (1.0, 1.0, 1.0), 0.5).voxel_mask(tiny_grid)
    assert mask.sum() == 1
    assert mask[tiny_grid.nearest_voxel((1.0, 1.0, 1.0))]


def test_sphere_outside_grid_is_an_error_naming_it(tiny_grid):
    with pytest.raises(RoiError, match="ROI 'far_away' has no voxel"):
        resolve_rois([tp.Sphere("far_away", (500, 0, 0), 5)], tiny_grid, None)


def test_sphere_outside_brain_mask_is_an_error_naming_it(tiny_grid):
    brain = np.zeros(TINY_SHAPE, bool)
    brain[:2] = True
    with pytest.raises(
        RoiError, match="ROI 'dacc' falls entirely outside the brain mask"
    ):
        resolve_rois([tp.Sphere("dacc", (9, 9, 12), 3)], tiny_grid, brain)


def test_roi_indices_address_fortran_data_in_nilearn_order(tiny_grid):
    (indices,) = resolve_rois(
        [tp.Sphere("s", (0, 0, 0), 0.1)], tiny_grid, None
    ).values()
    i, j, k = tiny_grid.nearest_voxel((0, 0, 0))
    assert indices.tolist() == [i + TINY_SHAPE[0] * (j + TINY_SHAPE[1] * k)]
    mask = np.zeros(TINY_SHAPE, bool)
    mask[0, 1, 0] = mask[1, 0, 0] = True  # C order lists (0, 1, 0) first
    (indices,) = resolve_rois(
        [
            tp.AtlasRegion(
                "two", nib.Nifti1Image(mask.astype(np.int16), tiny_grid.affine)
            )
        ],
        tiny_grid,
        None,
    ).values()
    assert indices.tolist() == [TINY_SHAPE[0], 1]


def test_atlas_region_on_another_grid_is_resampled_once(tiny_grid):
    labels = np.zeros((14, 16, 18), np.int16)
    labels[4:8, 6:10, 8:12] = 5  # world: same box, 1.5 mm voxels
    affine = np.diag([1.5, 1.5, 1.5, 1.0])
    affine[:3, 3] = tiny_grid.affine[:3, 3] - 0.75
    region = tp.AtlasRegion("box", nib.Nifti1Image(labels, affine), label=5)
    mask = region.voxel_mask(tiny_grid)
    assert mask.sum() == 8  # 6 mm cube of 3 mm voxels
    assert mask[2:4, 3:5, 4:6].all()


def test_atlas_region_label_must_be_integer(tiny_grid, tiny_affine):
    atlas = nib.Nifti1Image(np.zeros(TINY_SHAPE, np.int16), tiny_affine)
    with pytest.raises(RoiError, match="integer label"):
        tp.AtlasRegion("x", atlas, label=1.5)


def test_rois_from_atlas_reads_a_bids_label_table(tmp_path, tiny_affine):
    labels = np.zeros(TINY_SHAPE, np.int16)
    labels[1, 1, 1], labels[5, 5, 5] = 1, 2
    tsv = tmp_path / "dseg.tsv"
    pd.DataFrame({"index": [1, 2], "name": ["a", "b"]}).to_csv(
        tsv, sep="\t", index=False
    )
    rois = tp.rois_from_atlas(nib.Nifti1Image(labels, tiny_affine), tsv)
    assert [r.name for r in rois] == ["a", "b"] and rois[1].label == (2,)
    bad = tmp_path / "bad.tsv"
    pd.DataFrame({"label": [1]}).to_csv(bad, sep="\t", index=False)
    with pytest.raises(RoiError, match="'index' and 'name'"):
        tp.rois_from_atlas(nib.Nifti1Image(labels, tiny_affine), bad)


def test_check_rois_errors():
    with pytest.raises(RoiError, match="'default' or a list"):
        check_rois("acc")
    with pytest.raises(RoiError, match="unique"):
        check_rois([tp.Sphere("a", (0, 0, 0)), tp.Sphere("a", (1, 1, 1))])
    with pytest.raises(RoiError, match="Sphere or AtlasRegion"):
        check_rois([(0, 0, 0)])
    with pytest.raises(RoiError, match="positive"):
        tp.Sphere("a", (0, 0, 0), radius=0)


def test_default_rois_lie_in_the_mni_brain_on_standard_grids():
    from txpredict._images import mni_brain_mask
    from txpredict.datasets import GRIDS

    names = [r.name for r in tp.default_rois()]
    assert {"dACC_L", "dACC_R", "cuneus_L", "amygdala_R", "sgACC"} <= set(names)
    for grid_name in ("fsl2", "nilearn2", "spm2"):
        grid = GRIDS[grid_name]
        resolved = resolve_rois(tp.default_rois(), grid, mni_brain_mask(grid))
        # An 8 mm sphere of 2 mm voxels holds about 250 voxels.
        assert 200 < len(resolved["dACC_R"]) < 300
