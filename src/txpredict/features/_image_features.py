"""scikit-learn transformers that turn each subject's image into features.

All of them are *stateless*: ``fit`` looks at one image header to learn the data
grid and puts the ROIs and mask on it; nothing is learnt from voxel values or
labels. That is what allows the harness to extract once for a whole cohort.
"""

from __future__ import annotations

from itertools import combinations

import joblib
import nibabel as nib
import numpy as np
from scipy.ndimage import gaussian_filter1d
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from txpredict._docs import fill_doc
from txpredict._images import Grid, mni_brain_mask, read_header, resample_mask_to_grid
from txpredict.errors import DimensionError, ImageError, TxpredictError
from txpredict.features._extract import (
    extract,
    extract_to_store,
    images_from_input,
    output_dtype,
)
from txpredict.features._rois import check_rois, masked_voxel_indices, resolve_rois
from txpredict.features._timeseries import (
    falff,
    fisher_z_correlations,
    repetition_time,
)

_NONFINITE = ("raise", "ignore")


def _check_choice(estimator, name, value, allowed):
    if value not in allowed:
        allowed_text = " or ".join(repr(a) for a in allowed)
        raise TxpredictError(
            f"The {name!r} parameter of {type(estimator).__name__} must be "
            f"{allowed_text}. Got {value!r} instead."
        )


def _brain_mask(mask, grid: Grid) -> np.ndarray | None:
    if mask is None:
        return None
    if isinstance(mask, str) and mask == "mni":
        return mni_brain_mask(grid)
    return resample_mask_to_grid(mask, grid, "brain mask") > 0


def _handle_nonfinite(values, policy, subject, image, where):
    finite = np.isfinite(values)
    if finite.all():
        return values
    if policy == "raise":
        from txpredict._images import subject_label

        raise ImageError(
            f"The image of {subject_label(subject, image)} has "
            f"{int((~finite).sum())} non-finite (NaN/inf) voxel(s) inside {where}. "
            "Fix the image (SPM writes NaN outside its analysis mask: use a mask "
            "that excludes those voxels), or pass nonfinite='ignore' to summarise "
            "finite voxels only (voxel features then keep NaN, which the learner "
            "imputes inside each training fold)."
        )
    values = values.astype(np.float64 if values.dtype == np.float64 else np.float32)
    values[~finite] = np.nan
    return values


class _RoiSpec:
    """ROI summaries of one image (3D: mean/median/peak/voxels; 4D: time series)."""

    def __init__(self, names, indices, summary, nonfinite, ndim, t_r, grid):
        self.names, self.indices, self.summary = names, indices, summary
        self.nonfinite, self.ndim, self.t_r = nonfinite, ndim, t_r
        self.dtype = np.float32 if summary == "voxels" and ndim == 3 else np.float64
        self.n_features = len(feature_names_for_rois(names, indices, summary, ndim))
        # Everything that changes the output changes the cache key.
        self.key = joblib.hash(
            (
                "roi",
                1,
                names,
                indices,
                summary,
                nonfinite,
                ndim,
                t_r,
                grid.shape,
                grid.affine,
            )
        )

    def compute(self, data, img, subject, image):
        if data.ndim != self.ndim:
            raise DimensionError(
                f"The image of subject {subject!r} is {data.ndim}D but the extractor "
                f"was fitted on {self.ndim}D images. Use one kind of image per "
                "image column."
            )
        if self.ndim == 3:
            return self._compute_3d(data.ravel(order="F"), subject, image)
        return self._compute_4d(data, img, subject, image)

    def _compute_3d(self, flat, subject, image):
        out = []
        for name, idx in zip(self.names, self.indices, strict=True):
            values = _handle_nonfinite(
                flat[idx], self.nonfinite, subject, image, f"ROI {name!r}"
            )
            if self.summary == "voxels":
                out.append(values.astype(np.float32))
            elif self.summary == "mean":
                out.append([np.nanmean(values, dtype=np.float64)])
            elif self.summary == "median":
                out.append([np.nanmedian(values)])
            else:  # peak: robust to a single outlying voxel, unlike max
                out.append([np.nanpercentile(values, 90)])
        dtype = np.float32 if self.summary == "voxels" else np.float64
        return np.concatenate([np.asarray(o, dtype=dtype) for o in out])

    def _compute_4d(self, data, img, subject, image):
        t_r = self.t_r or repetition_time(img)
        if not t_r:
            raise ImageError(
                f"The 4D image of subject {subject!r} has no repetition time in its "
                "header (pixdim[4]); pass t_r= (seconds) to RoiFeatures."
            )
        voxels_by_time = data.reshape(-1, data.shape[3], order="F")
        means, sds, falffs, signals = [], [], [], []
        for name, idx in zip(self.names, self.indices, strict=True):
            ts = _handle_nonfinite(
                voxels_by_time[idx].astype(np.float64),
                self.nonfinite,
                subject,
                image,
                f"ROI {name!r}",
            )
            signal = np.nanmean(ts, axis=0)
            signals.append(signal)
            means.append(signal.mean())
            sds.append(signal.std())
            falffs.append(np.nanmean(falff(ts, t_r)))
        per_roi = np.column_stack([means, sds, falffs]).ravel()
        return np.concatenate([per_roi, fisher_z_correlations(np.array(signals))])


def feature_names_for_rois(names, indices, summary, ndim):
    """Output feature names of :class:`RoiFeatures`."""
    if ndim == 4:
        per_roi = [f"{n}_{stat}" for n in names for stat in ("mean", "sd", "falff")]
        pairs = [f"{a}-{b}_fisher_z" for a, b in combinations(names, 2)]
        return per_roi + pairs
    if summary == "voxels":
        return [
            f"{n}_v{k}"
            for n, idx in zip(names, indices, strict=True)
            for k in range(len(idx))
        ]
    return [f"{n}_{summary}" for n in names]


class _BaseImageFeatures(TransformerMixin, BaseEstimator):
    # The harness may extract these once for a whole cohort (see module docstring).
    _txpredict_stateless = True

    def fit(self, X, y=None):
        """Learn the data grid from the first image and place ROIs/mask on it.

        Parameters
        ----------
        X : DataFrame, Series or list of images
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        images, subjects = images_from_input(X, self.image_column)
        if not images:
            raise TxpredictError("Cannot fit on 0 images.")
        img = read_header(images[0], subjects[0])
        shape = (
            img.shape if not (img.ndim == 4 and img.shape[3] == 1) else img.shape[:3]
        )
        if len(shape) not in (3, 4):
            raise DimensionError(
                f"The image of subject {subjects[0]!r} is {len(shape)}D with shape "
                f"{shape}; expected a 3D or 4D image."
            )
        self.grid_ = Grid.of(img)
        self.image_ndim_ = len(shape)
        self._fit_spec()
        return self

    def transform(self, X):
        """Extract the features of each subject (one read per image).

        Parameters
        ----------
        X : DataFrame, Series or list of images

        Returns
        -------
        ndarray of shape (n_subjects, n_features)
        """
        check_is_fitted(self, "spec_")
        images, subjects = images_from_input(X, self.image_column)
        return extract(
            images,
            subjects,
            [self.spec_],
            self.grid_,
            n_jobs=self.n_jobs,
            memory=self.memory,
            verbose=self.verbose,
        )

    def transform_to_store(self, X, root=None):
        """:meth:`transform`, written to a :class:`VoxelStore` on disk.

        For designs too large for memory (whole-brain voxels of thousands of
        patients): the linear models' Gram route reads them a block of
        voxels at a time. ``root``: the folder the store goes in (a feature
        cache: an interrupted extraction resumes there); None: a temporary
        folder, removed when the store is dropped.

        Returns
        -------
        VoxelStore of shape (n_subjects, n_features)
        """
        check_is_fitted(self, "spec_")
        images, subjects = images_from_input(X, self.image_column)
        return extract_to_store(
            images,
            subjects,
            [self.spec_],
            self.grid_,
            root,
            n_jobs=self.n_jobs,
            verbose=self.verbose,
        )

    def get_feature_names_out(self, input_features=None):
        """Names of the output features (after ROIs, statistics or voxels)."""
        check_is_fitted(self, "spec_")
        return np.asarray(self._feature_names(), dtype=object)

    def __sklearn_tags__(self):
        return _image_input_tags(super().__sklearn_tags__())


def _image_input_tags(tags):
    # Input is a column of image paths or images, not a numeric matrix.
    tags.input_tags.two_d_array = False
    tags.input_tags.string = True
    return tags


@fill_doc
class RoiFeatures(_BaseImageFeatures):
    """Summaries of regions of interest (anterior cingulate, cuneus, ...) per subject.

    On 3D images (contrast, beta, t, ALFF maps) each ROI gives its mean (or
    median, or 90th-percentile "peak"), or with ``summary="voxels"`` its
    multivoxel pattern. On 4D resting-state images each ROI gives the mean and
    standard deviation of its average time series and its fALFF, and each pair
    of ROIs their Fisher-z correlation (e.g. ``dACC_L-amygdala_L_fisher_z``).

    ROIs and mask are put on the data grid once, in ``fit``; images are read
    once each and never resampled.

    Parameters
    ----------
    rois : "default" or list of Sphere / AtlasRegion, default="default"
        ``"default"`` is :func:`txpredict.default_rois` (dACC, pgACC, sgACC,
        cuneus, amygdala).
    summary : {"mean", "median", "peak", "voxels"}, default="mean"
        Statistic of each ROI on 3D images. Ignored on 4D images.
    mask : "mni", str, nibabel image or None, default="mni"
        Brain mask intersected with every ROI. ``"mni"`` is the MNI152 brain
        mask shipped with nilearn.
    nonfinite : {"raise", "ignore"}, default="raise"
        Policy for NaN/inf voxels inside a ROI: raise an error naming the
        subject, or summarise the finite voxels only (a ROI with no finite
        voxel yields NaN, imputed later inside each training fold).
    t_r : float or None, default=None
        Repetition time (s) of 4D images; read from the header when None.
    %(image_column)s
    %(n_jobs)s
    %(memory)s
    %(verbose)s

    Attributes
    ----------
    grid_ : Grid
        The data grid learnt from the first image.
    image_ndim_ : int
        3 or 4.
    roi_indices_ : dict of str to ndarray
        Voxel indices of each ROI on ``grid_`` (into the Fortran-order flat
        volume, listed in nilearn's C order).

    Examples
    --------
    >>> import txpredict as tp
    >>> cohort = tp.make_synthetic_cohort(12, grid="fsl6", random_state=0)
    >>> roi = tp.RoiFeatures(verbose=0).fit(cohort.X)
    >>> roi.transform(cohort.X).shape
    (12, 9)
    >>> list(roi.get_feature_names_out()[:2])
    ['dACC_L_mean', 'dACC_R_mean']
    """

    def __init__(
        self,
        rois="default",
        summary="mean",
        *,
        mask="mni",
        nonfinite="raise",
        t_r=None,
        image_column="image",
        n_jobs=None,
        memory=None,
        verbose=1,
    ):
        self.rois = rois
        self.summary = summary
        self.mask = mask
        self.nonfinite = nonfinite
        self.t_r = t_r
        self.image_column = image_column
        self.n_jobs = n_jobs
        self.memory = memory
        self.verbose = verbose

    def _check_params(self):
        _check_choice(
            self, "summary", self.summary, ("mean", "median", "peak", "voxels")
        )
        _check_choice(self, "nonfinite", self.nonfinite, _NONFINITE)

    def _fit_spec(self):
        if self.image_ndim_ == 4 and self.summary == "voxels":
            raise TxpredictError(
                "RoiFeatures(summary='voxels') needs 3D images; the images are 4D. "
                "Use summary='mean' for time-series features, or derive a 3D map."
            )
        rois = check_rois(self.rois)
        self.roi_indices_ = resolve_rois(
            rois, self.grid_, _brain_mask(self.mask, self.grid_)
        )
        names = list(self.roi_indices_)
        indices = list(self.roi_indices_.values())
        self.spec_ = _RoiSpec(
            names,
            indices,
            self.summary,
            self.nonfinite,
            self.image_ndim_,
            self.t_r,
            self.grid_,
        )

    def _feature_names(self):
        return feature_names_for_rois(
            list(self.roi_indices_),
            list(self.roi_indices_.values()),
            self.summary,
            self.image_ndim_,
        )


class _WholeBrainSpec:
    """Masked voxels of one 3D image, optionally smoothed and block-downsampled."""

    ndim = 3
    dtype = np.float32

    def __init__(self, mask, grid, smoothing_fwhm, downsample, nonfinite):
        self.mask, self.grid = mask, grid
        self.smoothing_fwhm, self.downsample = smoothing_fwhm, downsample
        self.nonfinite = nonfinite
        self.indices = masked_voxel_indices(mask)
        # Everything that changes the output changes the cache key (the voxel
        # indices stand for the mask, whatever image it came from).
        self.key = joblib.hash(
            (
                "wholebrain",
                2,
                self.indices,
                smoothing_fwhm,
                downsample,
                nonfinite,
                grid.shape,
                grid.affine,
            )
        )
        self.coarse_mask, self.coarse_indices = None, None
        if downsample > 1:
            counts = _block_sum(mask.astype(np.float32), downsample)
            # A coarse voxel is kept when at least half of its block is brain.
            self.coarse_mask = counts >= 0.5 * downsample**3
            self.coarse_indices = masked_voxel_indices(self.coarse_mask)
        self.n_features = len(
            self.indices if self.coarse_indices is None else self.coarse_indices
        )

    def compute(self, data, img, subject, image):
        if data.ndim != 3:
            raise DimensionError(
                f"WholeBrainFeatures needs 3D images (contrast, ALFF or ReHo maps); "
                f"the image of subject {subject!r} is {data.ndim}D with shape "
                f"{data.shape}. Derive a 3D map first (nilearn.image.mean_img), or "
                "use RoiFeatures for time-series features."
            )
        flat = data.ravel(order="F")
        values = _handle_nonfinite(
            flat[self.indices], self.nonfinite, subject, image, "the brain mask"
        )
        if self.smoothing_fwhm is None and self.downsample == 1:
            return values.astype(np.float32)
        finite = np.isfinite(values)
        volume = np.zeros(self.grid.n_voxels, dtype=np.float32)
        # Non-finite voxels (kept only with nonfinite="ignore") are zero while
        # smoothing so that they cannot spread, and are left out of block means.
        volume[self.indices] = np.where(finite, values, 0.0)
        volume = volume.reshape(self.grid.shape, order="F")
        if self.smoothing_fwhm is not None:
            volume = smooth_volume(volume, self.grid, self.smoothing_fwhm)
        if self.downsample == 1:
            out = volume.ravel(order="F")[self.indices]
            out[~finite] = np.nan
            return out
        weights = np.zeros(self.grid.n_voxels, dtype=np.float32)
        weights[self.indices] = finite
        weights = weights.reshape(self.grid.shape, order="F")
        sums = _block_sum(volume * weights, self.downsample)
        counts = _block_sum(weights, self.downsample)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(counts > 0, sums / counts, np.nan)
        return means.ravel(order="F")[self.coarse_indices].astype(np.float32)


def smooth_volume(volume: np.ndarray, grid: Grid, fwhm) -> np.ndarray:
    """Gaussian smoothing with FWHM in mm (as ``nilearn.image.smooth_img``)."""
    sigma = np.broadcast_to(np.asarray(fwhm, float), (3,)) / (
        np.sqrt(8 * np.log(2)) * grid.voxel_size
    )
    out = np.array(volume, dtype=np.float32, copy=True)
    for axis, s in enumerate(sigma):
        if s > 0:
            gaussian_filter1d(out, s, output=out, axis=axis)
    return out


def _block_sum(volume: np.ndarray, k: int) -> np.ndarray:
    pad = [(0, (-s) % k) for s in volume.shape]
    v = np.pad(volume, pad)
    x, y, z = (s // k for s in v.shape)
    return v.reshape(x, k, y, k, z, k).sum(axis=(1, 3, 5))


@fill_doc
class WholeBrainFeatures(_BaseImageFeatures):
    """Every brain voxel of each subject's 3D map (the whole-brain pattern).

    Parameters
    ----------
    mask : "mni", str or nibabel image, default="mni"
        Brain mask, put on the data grid once (nearest neighbour). ``"mni"`` is
        the MNI152 brain mask shipped with nilearn.
    smoothing_fwhm : float or None, default=None
        Gaussian smoothing (mm FWHM) of each image before masking, computed as
        :func:`nilearn.image.smooth_img` does.
    downsample : int, default=1
        Average cubes of ``downsample`` voxels a side (within the mask) to
        cut the number of features; 2 turns 2 mm voxels into 4 mm ones.
    nonfinite : {"raise", "ignore"}, default="raise"
        Policy for NaN/inf voxels inside the mask (see :class:`RoiFeatures`).
    %(image_column)s
    %(n_jobs)s
    %(memory)s
    %(verbose)s

    Attributes
    ----------
    grid_ : Grid
        The data grid learnt from the first image.
    mask_img_ : nibabel.Nifti1Image
        The mask of the output features (on the coarse grid if downsampled).
    output_mask_ : ndarray of bool
        The same mask as an array.
    n_voxels_ : int
        Number of output features.

    Examples
    --------
    >>> import txpredict as tp
    >>> cohort = tp.make_synthetic_cohort(10, grid="fsl6", random_state=0)
    >>> wb = tp.WholeBrainFeatures(verbose=0).fit(cohort.X)
    >>> Z = wb.transform(cohort.X)
    >>> Z.dtype.name, Z.shape[0]
    ('float32', 10)
    >>> wb.inverse_transform(Z[0]).shape
    (31, 37, 31)
    """

    def __init__(
        self,
        mask="mni",
        smoothing_fwhm=None,
        *,
        downsample=1,
        nonfinite="raise",
        image_column="image",
        n_jobs=None,
        memory=None,
        verbose=1,
    ):
        self.mask = mask
        self.smoothing_fwhm = smoothing_fwhm
        self.downsample = downsample
        self.nonfinite = nonfinite
        self.image_column = image_column
        self.n_jobs = n_jobs
        self.memory = memory
        self.verbose = verbose

    def _check_params(self):
        _check_choice(self, "nonfinite", self.nonfinite, _NONFINITE)
        if self.mask is None:
            raise TxpredictError(
                "The 'mask' parameter of WholeBrainFeatures cannot be None: give "
                "'mni' or a brain mask image."
            )
        if not (isinstance(self.downsample, int | np.integer) and self.downsample >= 1):
            raise TxpredictError(
                "The 'downsample' parameter of WholeBrainFeatures must be an integer "
                f">= 1. Got {self.downsample!r} instead."
            )
        if self.smoothing_fwhm is not None and not np.all(
            np.asarray(self.smoothing_fwhm, float) >= 0
        ):
            raise TxpredictError(
                "The 'smoothing_fwhm' parameter of WholeBrainFeatures must be None "
                f"or a non-negative number of mm. Got {self.smoothing_fwhm!r} instead."
            )

    def _fit_spec(self):
        if self.image_ndim_ != 3:
            raise DimensionError(
                "WholeBrainFeatures needs 3D images (contrast, ALFF or ReHo maps); "
                "the first image is 4D. Derive a 3D map first, or use RoiFeatures."
            )
        mask = _brain_mask(self.mask, self.grid_)
        if not mask.any():
            raise TxpredictError(
                f"The brain mask has no voxel on the data grid {self.grid_}. Is the "
                "mask in the same (MNI) space as the images?"
            )
        smoothing = None if not self.smoothing_fwhm else self.smoothing_fwhm
        self.spec_ = _WholeBrainSpec(
            mask, self.grid_, smoothing, int(self.downsample), self.nonfinite
        )
        self.n_voxels_ = self.spec_.n_features
        self.output_mask_ = self.spec_.coarse_mask if self.downsample > 1 else mask

    @property
    def mask_img_(self):
        """The mask of the output features (on the coarse grid if downsampled)."""
        check_is_fitted(self, "spec_")
        return nib.Nifti1Image(
            self.output_mask_.astype(np.uint8), self._output_affine()
        )

    def _feature_names(self):
        return [f"voxel_{i}" for i in range(self.n_voxels_)]

    def _output_affine(self):
        k = int(self.downsample)
        if k == 1:
            return self.grid_.affine
        # Coarse voxel I covers fine voxels k*I .. k*I+k-1: its centre is k*I+(k-1)/2.
        scale = np.diag([k, k, k, 1.0])
        scale[:3, 3] = (k - 1) / 2
        return self.grid_.affine @ scale

    def inverse_transform(self, X):
        """Put voxel features back into brain images (e.g. weight maps).

        Parameters
        ----------
        X : array of shape (n_voxels,) or (n_images, n_voxels)

        Returns
        -------
        nibabel.Nifti1Image
            3D for a 1D input, 4D (one volume per row) for a 2D input.
        """
        check_is_fitted(self, "spec_")
        X = np.asarray(X, dtype=np.float32)
        if X.shape[-1] != self.n_voxels_:
            raise TxpredictError(
                f"inverse_transform expects {self.n_voxels_} features per row (the "
                f"fitted mask); got {X.shape[-1]}."
            )
        mask = self.output_mask_
        rows = np.atleast_2d(X)
        flat_idx = masked_voxel_indices(mask)
        volumes = np.zeros((mask.size, rows.shape[0]), dtype=np.float32)
        volumes[flat_idx] = rows.T
        data = volumes.reshape(*mask.shape, rows.shape[0], order="F")
        if X.ndim == 1:
            data = data[..., 0]
        return nib.Nifti1Image(data, self._output_affine())


class ImageFeatures(TransformerMixin, BaseEstimator):
    """Several image extractors served by ONE read of each image.

    Equivalent to ``sklearn.pipeline.FeatureUnion`` of the extractors, but each
    image file is read and decompressed once for all of them (extractors on
    different image columns, e.g. a contrast map and a resting-state run, read
    their own column). The output is float32 when an extractor yields voxels
    (whole-brain matrices are large), float64 otherwise.

    Parameters
    ----------
    extractors : list of RoiFeatures / WholeBrainFeatures
        Their ``n_jobs``, ``memory`` and ``verbose`` are overridden by this
        object's.
    n_jobs, memory, verbose
        As in :class:`RoiFeatures`.

    Examples
    --------
    >>> import txpredict as tp
    >>> cohort = tp.make_synthetic_cohort(10, grid="fsl6", random_state=0)
    >>> both = tp.ImageFeatures([tp.RoiFeatures(), tp.WholeBrainFeatures()], verbose=0)
    >>> both.fit_transform(cohort.X).shape[1] > 9
    True
    """

    _txpredict_stateless = True

    def __init__(self, extractors, *, n_jobs=None, memory=None, verbose=1):
        self.extractors = extractors
        self.n_jobs = n_jobs
        self.memory = memory
        self.verbose = verbose

    def fit(self, X, y=None):
        """Fit every extractor (each reads one image header).

        Parameters
        ----------
        X : DataFrame, sequence of paths or images
            The cohort table (its image column) or the images themselves.
        y : None
            Ignored (scikit-learn's signature).
        """
        from sklearn.base import clone

        if not self.extractors:
            raise TxpredictError("ImageFeatures needs at least one extractor.")
        self.extractors_ = [clone(e).fit(X) for e in self.extractors]
        return self

    def transform(self, X):
        """Extract all features, reading each image once.

        Parameters
        ----------
        X : DataFrame, sequence of paths or images
            The cohort table (its image column) or the images themselves.
        """
        check_is_fitted(self, "extractors_")
        by_column: dict[str, list[int]] = {}
        for i, e in enumerate(self.extractors_):
            by_column.setdefault(e.image_column, []).append(i)
        blocks = {}
        for column, members in by_column.items():
            images, subjects = images_from_input(X, column)
            grids = {self.extractors_[i].grid_ for i in members}
            if len(grids) > 1:
                raise TxpredictError(
                    f"Extractors on the image column {column!r} were fitted on "
                    "different grids; fit them on the same images."
                )
            specs = [self.extractors_[i].spec_ for i in members]
            features = extract(
                images,
                subjects,
                specs,
                grids.pop(),
                n_jobs=self.n_jobs,
                memory=self.memory,
                verbose=self.verbose,
            )
            if len(by_column) == 1:
                return features  # the usual case: no copy
            offsets = np.cumsum([0, *(spec.n_features for spec in specs)])
            for k, i in enumerate(members):
                blocks[i] = features[:, offsets[k] : offsets[k + 1]]
        dtype = output_dtype([e.spec_ for e in self.extractors_])
        return np.hstack([blocks[i].astype(dtype) for i in range(len(blocks))])

    def get_feature_names_out(self, input_features=None):
        """Names of all output features, extractor by extractor.

        Parameters
        ----------
        input_features : None
            Ignored (scikit-learn's signature).
        """
        check_is_fitted(self, "extractors_")
        names = np.concatenate([e.get_feature_names_out() for e in self.extractors_])
        if len(np.unique(names)) != len(names):
            raise TxpredictError(
                "The extractors of ImageFeatures produce duplicate feature names; "
                "give their ROIs distinct names."
            )
        return names

    def __sklearn_tags__(self):
        return _image_input_tags(super().__sklearn_tags__())
