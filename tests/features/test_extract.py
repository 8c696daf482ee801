import os
import tempfile

import joblib
import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from nilearn.image import smooth_img
from nilearn.maskers import NiftiMasker, NiftiSpheresMasker

import txpredict as tp
import txpredict.features._extract as extract_module
from txpredict._images import mni_brain_mask
from txpredict.errors import (
    DimensionError,
    GridMismatchError,
    ImageError,
    TxpredictError,
)

from ..conftest import TINY_SHAPE, write_nifti


def mask_img_for(grid):
    return nib.Nifti1Image(mni_brain_mask(grid).astype(np.uint8), grid.affine)


def test_roi_means_match_nilearn_spheres_masker(small_cohort):
    roi = tp.RoiFeatures(verbose=0).fit(small_cohort.X)
    ours = roi.transform(small_cohort.X)
    rois = tp.default_rois()
    masker = NiftiSpheresMasker(
        [r.center for r in rois],
        radius=8.0,
        mask_img=mask_img_for(roi.grid_),
        allow_overlap=True,
        standardize=None,
    )
    # nilearn has one radius per masker: compare the 8 mm spheres.
    eight = [i for i, r in enumerate(rois) if r.radius == 8.0]
    masker.set_params(seeds=[rois[i].center for i in eight])
    theirs = np.vstack([masker.fit_transform(img) for img in small_cohort.X["image"]])
    np.testing.assert_allclose(ours[:, eight], theirs, atol=1e-5)


def test_whole_brain_matches_nilearn_masker(small_cohort):
    wb = tp.WholeBrainFeatures(verbose=0).fit(small_cohort.X)
    ours = wb.transform(small_cohort.X)
    theirs = NiftiMasker(
        mask_img=mask_img_for(wb.grid_), standardize=None
    ).fit_transform(list(small_cohort.X["image"]))
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_smoothing_matches_nilearn(small_cohort):
    X = small_cohort.X.iloc[:3]
    wb = tp.WholeBrainFeatures(smoothing_fwhm=8.0, verbose=0).fit(X)
    ours = wb.transform(X)
    masker = NiftiMasker(mask_img=mask_img_for(wb.grid_), standardize=None)
    masked = mni_brain_mask(wb.grid_)
    expected = []
    for path in X["image"]:
        img = nib.load(path)
        # Our policy: voxels outside the mask are zero before smoothing.
        data = np.where(masked, img.get_fdata(), 0.0)
        smoothed = smooth_img(nib.Nifti1Image(data, img.affine), 8.0)
        expected.append(np.ravel(masker.fit_transform(smoothed)))
    np.testing.assert_allclose(ours, np.array(expected), atol=1e-4)


def test_one_read_per_image_for_rois_and_whole_brain(small_cohort, monkeypatch):
    calls = []
    original = extract_module.load_image

    def counting(image, subject, **kwargs):
        calls.append(subject)
        return original(image, subject, **kwargs)

    monkeypatch.setattr(extract_module, "load_image", counting)
    both = tp.ImageFeatures([tp.RoiFeatures(), tp.WholeBrainFeatures()], verbose=0)
    features = both.fit_transform(small_cohort.X)
    assert sorted(calls) == sorted(small_cohort.X.index)
    roi = tp.RoiFeatures(verbose=0).fit_transform(small_cohort.X)
    assert features.dtype == np.float32  # voxels present: float32 halves memory
    np.testing.assert_allclose(features[:, :9], roi, rtol=1e-6)
    assert len(both.get_feature_names_out()) == features.shape[1]


def test_cache_serves_without_reading_and_notices_changed_files(
    small_cohort, tmp_path, monkeypatch
):
    X = small_cohort.X.iloc[:4].copy()
    cold = tp.RoiFeatures(memory=tmp_path / "cache", verbose=0).fit_transform(X)
    calls = []
    original = extract_module.load_image
    monkeypatch.setattr(
        extract_module,
        "load_image",
        lambda im, sub, **kw: calls.append(sub) or original(im, sub, **kw),
    )
    warm = tp.RoiFeatures(memory=tmp_path / "cache", verbose=0).fit_transform(X)
    assert calls == []
    np.testing.assert_array_equal(cold, warm)
    # Other parameters are another cache entry, not a stale hit.
    tp.RoiFeatures(
        summary="median", memory=tmp_path / "cache", verbose=0
    ).fit_transform(X)
    assert len(calls) == 4
    # A rewritten file (new content, new mtime) is read again.
    calls.clear()
    path = X["image"].iloc[0]
    img = nib.load(path)
    nib.Nifti1Image(img.get_fdata() + 1.0, img.affine).to_filename(path)
    os.utime(path, ns=(1, 1))
    changed = tp.RoiFeatures(memory=tmp_path / "cache", verbose=0).fit_transform(X)
    assert calls == [X.index[0]]
    np.testing.assert_allclose(changed[0], cold[0] + 1.0, atol=1e-5)
    np.testing.assert_array_equal(changed[1:], cold[1:])


def test_cache_notices_a_file_replaced_with_its_size_and_mtime(small_cohort, tmp_path):
    """``cp -p`` / ``rsync -t`` keep the size and modification time of another
    file: the cache must not serve the old file's features for it."""
    paths = []
    for k in range(2):  # uncompressed, same grid: files of the same size
        img = nib.load(small_cohort.X["image"].iloc[k])
        paths.append(tmp_path / f"scan{k}.nii")
        nib.Nifti1Image(img.get_fdata(), img.affine).to_filename(paths[k])
    assert paths[0].stat().st_size == paths[1].stat().st_size
    X = pd.DataFrame({"image": [str(paths[0])]}, index=["sub-x"])
    extractor = tp.RoiFeatures(memory=tmp_path / "cache", verbose=0)
    first = extractor.fit_transform(X)
    stat = paths[0].stat()
    paths[0].write_bytes(paths[1].read_bytes())
    os.utime(paths[0], ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert paths[0].stat().st_mtime_ns == stat.st_mtime_ns
    replaced = tp.RoiFeatures(memory=tmp_path / "cache", verbose=0).fit_transform(X)
    uncached = tp.RoiFeatures(verbose=0).fit_transform(X)
    np.testing.assert_array_equal(replaced, uncached)
    assert not np.allclose(replaced, first)


def test_images_are_read_without_isal(small_cohort, tmp_path):
    """isal only speeds gzip up: without it the standard library reads the same."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['isal'] = None\n"
        "import numpy as np, pandas as pd, txpredict as tp\n"
        "from txpredict._images import gzip_codec\n"
        "assert gzip_codec.__name__ == 'gzip', gzip_codec\n"
        f"X = pd.read_pickle({str(tmp_path / 'X.pkl')!r})\n"
        "np.save(sys.argv[1], tp.RoiFeatures(verbose=0).fit_transform(X))\n"
    )
    X = small_cohort.X.iloc[:3][["image"]]
    X.to_pickle(tmp_path / "X.pkl")
    out = tmp_path / "features.npy"
    subprocess.run([sys.executable, "-c", code, str(out)], check=True)
    expected = tp.RoiFeatures(verbose=0).fit_transform(X)
    np.testing.assert_array_equal(np.load(out), expected)


@pytest.mark.parametrize("extractor", [tp.RoiFeatures, tp.WholeBrainFeatures])
def test_parallel_equals_serial_and_leaves_no_shared_file(
    small_cohort, extractor, tmp_path, monkeypatch
):
    # Workers write into a shared file, unlinked once written; here in a
    # folder of the test's own (as when /dev/shm has no room).
    monkeypatch.setattr(os, "statvfs", lambda path: os.statvfs_result((0,) * 10))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    serial = extractor(verbose=0, n_jobs=1).fit_transform(small_cohort.X)
    parallel = extractor(verbose=0, n_jobs=2).fit_transform(small_cohort.X)
    np.testing.assert_array_equal(serial, parallel)
    assert list(tmp_path.iterdir()) == []
    parallel[0] = 0  # an ordinary writable array, the shared file gone
    assert parallel.flags.writeable and np.all(parallel[0] == 0)
    # It can go to workers later (a permutation test ships the design): joblib
    # sends an np.memmap-backed array as its file name, and the file is gone.
    sums = joblib.Parallel(n_jobs=2)(joblib.delayed(np.sum)(parallel) for _ in "ab")
    assert sums == [parallel.sum()] * 2


def test_inputs_dataframe_series_list_agree(small_cohort):
    X = small_cohort.X.iloc[:3]
    roi = tp.RoiFeatures(verbose=0).fit(X)
    a = roi.transform(X)
    np.testing.assert_array_equal(a, roi.transform(X["image"]))
    np.testing.assert_array_equal(a, roi.transform(list(X["image"])))
    with pytest.raises(TxpredictError, match="single path"):
        roi.transform(X["image"].iloc[0])
    with pytest.raises(TxpredictError, match="no image column 'scan'"):
        tp.RoiFeatures(image_column="scan").fit(X)


def test_pandas_output(small_cohort):
    X = small_cohort.X.iloc[:3]
    out = tp.RoiFeatures(verbose=0).set_output(transform="pandas").fit_transform(X)
    assert isinstance(out, pd.DataFrame)
    assert list(out.index) == list(X.index)
    assert out.columns[0] == "dACC_L_mean"


@pytest.mark.parametrize("summary", ["median", "peak", "voxels"])
def test_other_summaries(small_cohort, summary):
    X = small_cohort.X.iloc[:2]
    roi = tp.RoiFeatures(summary=summary, verbose=0).fit(X)
    out = roi.transform(X)
    flat = nib.load(X["image"].iloc[0]).get_fdata().ravel(order="F")
    values = flat[roi.roi_indices_["dACC_L"]]
    if summary == "voxels":
        n = len(values)
        np.testing.assert_allclose(out[0, :n], values, atol=1e-6)
        assert roi.get_feature_names_out()[n - 1] == f"dACC_L_v{n - 1}"
    else:
        stat = np.median(values) if summary == "median" else np.percentile(values, 90)
        assert out[0, 0] == pytest.approx(stat)


def test_nonfinite_policy(tmp_path, tiny_affine):
    data = np.ones(TINY_SHAPE)
    data[3, 4, 4] = np.nan
    images = [
        write_nifti(tmp_path / f"s{i}.nii.gz", data * (i + 1), tiny_affine)
        for i in range(2)
    ]
    rois = [tp.Sphere("centre", (0, 0, 0), 4.0)]
    X = pd.DataFrame(
        {"image": images}, index=pd.Index(["s1", "s2"], name="participant_id")
    )
    with pytest.raises(
        ImageError, match=r"subject 's1'.*1 non-finite.*ROI 'centre'.*'ignore'"
    ):
        tp.RoiFeatures(rois, mask=None, verbose=0).fit_transform(X)
    out = tp.RoiFeatures(rois, mask=None, nonfinite="ignore", verbose=0).fit_transform(
        X
    )
    np.testing.assert_allclose(out[:, 0], [1.0, 2.0])
    brain = tp.Sphere("x", (0, 0, 0), 100).voxel_mask(tp.Grid(TINY_SHAPE, tiny_affine))
    mask = nib.Nifti1Image(brain.astype(np.uint8), tiny_affine)
    voxels = tp.WholeBrainFeatures(
        mask=mask, nonfinite="ignore", verbose=0
    ).fit_transform(X)
    assert np.isnan(voxels).sum() == 2  # kept as NaN for the in-fold imputer
    with pytest.raises(ImageError, match="inside the brain mask"):
        tp.WholeBrainFeatures(mask=mask, verbose=0).fit_transform(X)


def test_grid_mismatch_at_transform_names_subject(tiny_images, tiny_affine, tmp_path):
    odd = write_nifti(tmp_path / "odd.nii.gz", np.zeros((9, 8, 7)), tiny_affine)
    roi = tp.RoiFeatures([tp.Sphere("c", (0, 0, 0), 4)], mask=None, verbose=0)
    roi.fit(tiny_images)
    with pytest.raises(GridMismatchError, match="odd.nii.gz.*resample_to_img"):
        roi.transform([*tiny_images, odd])


def test_whole_brain_inverse_transform_round_trip(small_cohort):
    X = small_cohort.X.iloc[:2]
    wb = tp.WholeBrainFeatures(verbose=0).fit(X)
    Z = wb.transform(X)
    img = wb.inverse_transform(Z)
    assert img.shape == (*wb.grid_.shape, 2)
    np.testing.assert_allclose(
        wb.transform([nib.Nifti1Image(img.get_fdata()[..., 1], img.affine)])[0], Z[1]
    )
    with pytest.raises(TxpredictError, match="expects"):
        wb.inverse_transform(Z[:, :5])


def test_downsampling_averages_blocks(tmp_path):
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    data = np.arange(4 * 4 * 2, dtype=float).reshape(4, 4, 2)
    image = write_nifti(tmp_path / "a.nii.gz", data, affine)
    mask = nib.Nifti1Image(np.ones((4, 4, 2), np.uint8), affine)
    wb = tp.WholeBrainFeatures(mask=mask, downsample=2, verbose=0).fit([image])
    out = wb.transform([image])
    assert out.shape == (1, 4)
    np.testing.assert_allclose(out[0, 0], data[:2, :2, :2].mean())
    assert wb.mask_img_.shape == (2, 2, 1)
    np.testing.assert_allclose(wb.mask_img_.affine[:3, 3], [1.0, 1.0, 1.0])


def test_parameter_errors_name_the_parameter(tiny_images):
    with pytest.raises(
        TxpredictError, match="'summary' parameter of RoiFeatures.*'avg'"
    ):
        tp.RoiFeatures(summary="avg").fit(tiny_images)
    with pytest.raises(TxpredictError, match="'downsample'"):
        tp.WholeBrainFeatures(downsample=0).fit(tiny_images)


def test_4d_features_fallf_and_coupling(rest_cohort_dir):
    cohort = tp.load_cohort(
        rest_cohort_dir,
        {
            "image": "{participant_id}/func/{participant_id}_task-faces_"
            "stat-effect_statmap.nii.gz",
            "rest": "{participant_id}/func/{participant_id}_task-rest_bold.nii.gz",
        },
    )
    roi = tp.RoiFeatures(image_column="rest", verbose=0).fit(cohort.X)
    out = pd.DataFrame(
        roi.transform(cohort.X),
        columns=roi.get_feature_names_out(),
        index=cohort.X.index,
    )
    assert "dACC_L-amygdala_L_fisher_z" in out.columns
    assert {"dACC_L_mean", "dACC_L_sd", "dACC_L_falff"} <= set(out.columns)
    truth = cohort.ground_truth
    # The generator couples dACC and amygdala as tanh(0.5 + 0.4 * coupling).
    r = np.corrcoef(out["dACC_R-amygdala_R_fisher_z"], truth["coupling"])[0, 1]
    assert r > 0.5
    # Band-limited regional signal raises fALFF above white noise's ~0.3.
    assert (out["cuneus_L_falff"] > 0.35).all()
    with pytest.raises(DimensionError, match="WholeBrainFeatures needs 3D"):
        tp.WholeBrainFeatures(image_column="rest").fit(cohort.X)
    with pytest.raises(TxpredictError, match="needs 3D images"):
        tp.RoiFeatures(summary="voxels", image_column="rest").fit(cohort.X)


def test_falff_matches_definition():
    t_r, n = 2.0, 200
    t = np.arange(n) * t_r
    rng = np.random.default_rng(0)
    x = np.sin(2 * np.pi * 0.05 * t) + 0.5 * rng.standard_normal(n)
    amplitude = np.abs(np.fft.rfft(x - x.mean()))
    freqs = np.fft.rfftfreq(n, t_r)
    band = (freqs >= 0.01) & (freqs <= 0.08)
    expected = amplitude[band].sum() / amplitude[freqs > 0].sum()
    assert tp.features.falff(x[None], t_r)[0] == pytest.approx(expected)


def test_missing_repetition_time_is_explained(tmp_path, tiny_affine, rng):
    img = nib.Nifti1Image(
        rng.standard_normal((*TINY_SHAPE, 20)).astype(np.float32), tiny_affine
    )
    img.header.set_zooms((3.0, 3.0, 3.0, 0.0))
    img.to_filename(tmp_path / "bold.nii.gz")
    roi = tp.RoiFeatures([tp.Sphere("c", (0, 0, 0), 4)], mask=None, verbose=0)
    with pytest.raises(ImageError, match="no repetition time.*t_r="):
        roi.fit_transform([tmp_path / "bold.nii.gz"])
    out = roi.set_params(t_r=2.0).fit_transform([tmp_path / "bold.nii.gz"])
    assert out.shape == (1, 3)


def test_damaged_cache_entry_is_recomputed_not_served(small_cohort, tmp_path):
    X = small_cohort.X.iloc[:2]
    roi = tp.RoiFeatures(memory=tmp_path, verbose=0)
    expected = roi.fit_transform(X)
    entries = sorted((tmp_path / "txpredict_features").rglob("*.bin"))
    assert len(entries) == 2
    entries[0].write_bytes(entries[0].read_bytes()[:-8])  # truncated
    entries[1].write_bytes(entries[1].read_bytes() + b"\0" * 8)  # too long
    np.testing.assert_array_equal(roi.fit_transform(X), expected)
    assert all(e.stat().st_size == 9 * 8 for e in entries)  # rewritten whole
