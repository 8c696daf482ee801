"""The fold-wise preparation of tabular designs, in numpy, for the batched fits.

A ResponseClassifier on demographic columns (or ROI means plus demographics)
fits, on every training set of nested CV, the steps before its classifier:
median imputation and standardisation of numeric columns, most-frequent
imputation and one-hot encoding of categorical ones (:class:`DemographicFeatures`),
and for image columns mean imputation and scaling. scikit-learn spends ~40 ms
per training set validating inputs for that (benchmarks/nested_cv.py, the
demographics baseline), which capped the batched route at 10x the plain one.
:class:`FoldPreparation` learns the same statistics from a label-free numeric
encoding of the design made once per cohort (:func:`encode_design`), and is
tested equal to the scikit-learn steps it replaces.

Whole-brain designs with table columns (voxels harmonised by ComBat,
residualised on confounds, or beside demographic covariates) take the Gram
route: :class:`BlockPreparation` runs the model's own ComBat / confound
regression on the voxels held as one array, apart from the table, and scales
them as the pipeline would. The scikit-learn route, on the DataFrame, spent
7 s per training set of 192 x 235,000 selecting, copying and checking
columns by name.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from txpredict.errors import TxpredictError
from txpredict.features import DemographicFeatures, StoredDesign
from txpredict.models import AsArray, ReplaceColumns, weights_and_pattern


def _scaling_of(steps) -> str | None:
    """The scaling ("standard", "center" or None) of an [impute, scale] pipeline."""
    scaler = dict(steps.steps).get("scale")
    if scaler is None:
        return None
    return "standard" if scaler.with_std else "center"


def encode_design(design, preparation):
    """Encode ``design`` as numbers; the FoldPreparation reproducing ``preparation``.

    Returns (encoding, FoldPreparation), or None when ``preparation`` is of
    another kind.

    The encoding is label-free and learns nothing from the cohort: image
    columns and numeric demographics as floats (NaN where missing), each
    categorical column as the position of its value among the cohort's
    values sorted as text (NaN where missing). Which categories a model uses
    is decided by :class:`FoldPreparation` from its training rows only.
    """
    if not isinstance(design, pd.DataFrame) or len(preparation.steps) != 1:
        return None
    step = preparation.steps[0][1]
    image_scaling, n_image = "standard", 0
    if isinstance(step, ColumnTransformer):
        (_, image_steps, image_columns), (_, demographic, _) = step.transformers
        if not isinstance(demographic, DemographicFeatures):
            return None
        n_image = image_columns.stop
        image_scaling = _scaling_of(image_steps)
    elif isinstance(step, DemographicFeatures):
        demographic = step
    else:
        return None
    if demographic.categorical is not None or demographic.columns is None:
        return None
    columns = list(demographic.columns)
    frame = design[columns]
    categorical = [
        c
        for c in columns
        if not pd.api.types.is_numeric_dtype(frame[c])
        or pd.api.types.is_bool_dtype(frame[c])
    ]
    numeric = [c for c in columns if c not in categorical]
    blocks = [design.iloc[:, :n_image].to_numpy(dtype=np.float64, na_value=np.nan)]
    blocks.append(
        frame[numeric]
        .apply(pd.to_numeric, errors="coerce")
        .to_numpy(dtype=np.float64, na_value=np.nan)
    )
    levels = []
    for column in categorical:
        # As DemographicFeatures: categories as text, so 1 and "1" are one.
        text = frame[column].map(lambda v: np.nan if pd.isna(v) else str(v))
        values = sorted(text.dropna().unique())
        codes = text.map({v: float(k) for k, v in enumerate(values)})
        blocks.append(codes.to_numpy(dtype=np.float64, na_value=np.nan)[:, None])
        levels.append(len(values))
    preparation = FoldPreparation(
        n_image=n_image,
        image_scaling=image_scaling,
        numeric=tuple(numeric),
        n_levels=tuple(levels),
    )
    return np.hstack(blocks), preparation


def _nanmedian(block):
    """Median of each column over its observed values.

    ``np.nanmedian`` goes through masked arrays on small inputs, which cost
    most of a fold preparation; columns with no gap take ``np.median``.
    """
    missing = np.isnan(block)
    out = np.median(np.where(missing, 0.0, block), axis=0)
    for j in np.flatnonzero(missing.any(axis=0)):
        out[j] = np.median(block[~missing[:, j], j])
    return out


def _is_constant(variance, mean, n):
    """scikit-learn's test for a constant feature (StandardScaler keeps it at 0)."""
    eps = np.finfo(np.float64).eps
    return variance <= n * eps * variance + (n * mean * eps) ** 2


def _scale_statistics(block, with_std):
    mean = block.mean(axis=0)
    if not with_std:
        return mean, np.ones(block.shape[1])
    variance = block.var(axis=0)
    scale = np.sqrt(variance)
    scale[_is_constant(variance, mean, len(block))] = 1.0
    return mean, scale


class FoldPreparation(TransformerMixin, BaseEstimator):
    """Imputation, scaling and one-hot encoding learnt from training rows only.

    Works on the encoding of :func:`encode_design`: ``n_image`` image columns,
    then the numeric demographic columns, then one column of codes per
    categorical column (``n_levels`` values each). Equal to the scikit-learn
    steps it replaces (tested): image columns mean-imputed and scaled as
    ``image_scaling``; numeric ones median-imputed and standardised;
    categorical ones imputed with their most frequent training value (ties:
    the first in text order) and one-hot encoded over the categories of the
    training rows, unseen categories encoding as zeros.
    """

    def __init__(self, n_image=0, image_scaling="standard", numeric=(), n_levels=()):
        self.n_image = n_image
        self.image_scaling = image_scaling
        self.numeric = numeric
        self.n_levels = n_levels

    def _split(self, A):
        a, b = self.n_image, self.n_image + len(self.numeric)
        return A[:, :a], A[:, a:b], A[:, b:]

    def fit(self, A, y=None):
        """Learn the imputation values, scales and categories of ``A``'s rows."""
        image, numeric, codes = self._split(np.asarray(A, dtype=np.float64))
        # SimpleImputer(keep_empty_features=True): an all-missing column is 0.
        observed = ~np.isnan(image)
        counts = observed.sum(axis=0)
        totals = np.where(observed, image, 0.0).sum(axis=0)
        self.image_fill_ = np.divide(
            totals, counts, out=np.zeros(image.shape[1]), where=counts > 0
        )
        filled = np.where(np.isnan(image), self.image_fill_, image)
        self.image_mean_, self.image_scale_ = _scale_statistics(
            filled, self.image_scaling == "standard"
        )
        if self.image_scaling is None:
            self.image_mean_ = np.zeros_like(self.image_mean_)
        empty = [
            c
            for c, gone in zip(self.numeric, np.isnan(numeric).all(axis=0), strict=True)
            if gone
        ]
        if empty:
            raise TxpredictError(
                f"DemographicFeatures: column {empty[0]!r} has no value in the "
                "training data; drop it from 'columns'."
            )
        self.numeric_fill_ = _nanmedian(numeric)
        filled = np.where(np.isnan(numeric), self.numeric_fill_, numeric)
        self.numeric_mean_, self.numeric_scale_ = _scale_statistics(filled, True)
        self.categories_, self.category_fill_ = [], []
        for j in range(codes.shape[1]):
            present = codes[:, j][~np.isnan(codes[:, j])].astype(int)
            if present.size == 0:
                # SimpleImputer drops an all-missing column: it encodes nothing.
                self.categories_.append(np.zeros(0, dtype=int))
                self.category_fill_.append(np.nan)
                continue
            counts = np.bincount(present, minlength=self.n_levels[j])
            fill = int(np.argmax(counts))  # the first (in text order) of ties
            self.category_fill_.append(fill)
            self.categories_.append(np.flatnonzero(counts))
        return self

    def transform(self, A):
        """The prepared features: image block, numeric block, one-hot block."""
        image, numeric, codes = self._split(np.asarray(A, dtype=np.float64))
        parts = [
            (np.where(np.isnan(image), self.image_fill_, image) - self.image_mean_)
            / self.image_scale_,
            (
                np.where(np.isnan(numeric), self.numeric_fill_, numeric)
                - self.numeric_mean_
            )
            / self.numeric_scale_,
        ]
        for j, categories in enumerate(self.categories_):
            column = np.where(
                np.isnan(codes[:, j]), self.category_fill_[j], codes[:, j]
            )
            parts.append((column[:, None] == categories[None, :]).astype(np.float64))
        return np.hstack(parts)


class BlockPreparation:
    """The preparation of an image + table design, run on the image block as an array.

    The steps of ``ResponseModel._table_steps``: ComBat and/or confound
    regression of the image columns (each fitted on the training rows, as
    ``ReplaceColumns`` does), then the image columns mean-imputed and scaled
    and the demographic columns encoded (the ``ColumnTransformer``). Its
    output, as two blocks (image, demographics), is the pipeline's output
    split in two: tested equal on identical training sets.

    Build it with :meth:`of`, which returns None for another structure or
    for image columns with gaps (their imputation stays with the pipeline).
    """

    def __init__(self, replacers, with_mean, with_std, demographics, image, table):
        self.replacers = replacers
        self.with_mean = with_mean
        self.with_std = with_std
        self.demographics = demographics
        self.image = image
        self.table = table

    @classmethod
    def of(cls, preparation, design):
        """The array form of ``preparation`` (an unfitted Pipeline) on ``design``."""
        steps = [step for _, step in preparation.steps]
        replacers = []
        while steps and isinstance(steps[0], ReplaceColumns):
            replacers.append(steps.pop(0).transformer)
        if len(steps) != 1 or not isinstance(steps[0], ColumnTransformer):
            return None
        (_, image_steps, image_columns), *others = steps[0].transformers
        if not isinstance(image_steps, Pipeline) or not isinstance(
            image_columns, slice
        ):
            return None
        kinds = [type(step) for _, step in image_steps.steps]
        if kinds not in (
            [AsArray, SimpleImputer],
            [AsArray, SimpleImputer, StandardScaler],
        ):
            return None
        scaler = dict(image_steps.steps).get("scale")
        demographics = None
        if others:
            (_, demographics, _), *rest = others
            if rest or not isinstance(demographics, DemographicFeatures):
                return None
        if not all(hasattr(step, "fit_features") for step in replacers):
            return None
        with_mean = scaler is not None
        with_std = scaler is not None and scaler.with_std
        if isinstance(design, StoredDesign):
            if design.store.has_missing_values():
                return None
            return StreamedPreparation(
                replacers, with_mean, with_std, demographics, design.store, design.table
            )
        # Row-major: pandas hands a block's values column-major, and gathering
        # training rows from that costs a second per fold on a whole brain.
        image = np.ascontiguousarray(design.iloc[:, image_columns].to_numpy())
        if not np.isfinite(image).all():
            return None
        return cls(
            replacers,
            with_mean,
            with_std,
            demographics,
            image,
            design.iloc[:, image_columns.stop :],
        )

    def prepare(self, train, rows):
        """Fit on the rows ``train``; both sets prepared, as (image, demographics).

        Returns
        -------
        (image_train, demographics_train), (image_rows, demographics_rows), scale
            Float arrays; demographics blocks have zero columns without
            demographics; ``scale``: what each image feature was divided by
            (the training SDs, or ones).
        """
        image_train, image_rows = self.image[train], self.image[rows]
        table_train, table_rows = self.table.iloc[train], self.table.iloc[rows]
        for step in self.replacers:
            fitted = clone(step).fit_features(image_train, table_train)
            image_train = fitted.transform_features(image_train, table_train)
            image_rows = fitted.transform_features(image_rows, table_rows)
        # Copies in float64 (no-ops after ComBat or confound regression), then
        # scaled in place.
        image_train = np.asarray(image_train, dtype=np.float64)
        image_rows = np.asarray(image_rows, dtype=np.float64)
        scale = np.ones(image_train.shape[1])
        if self.with_mean:
            mean, scale = _scale_statistics(image_train, self.with_std)
            for block in (image_train, image_rows):
                block -= mean
                if self.with_std:
                    block /= scale
        demographics_train, demographics_rows = self.demographic_blocks(train, rows)
        return (
            (image_train, demographics_train),
            (image_rows, demographics_rows),
            scale,
        )

    def demographic_blocks(self, train, rows):
        """The demographic columns encoded on ``train``: (train block, rows block)."""
        if self.demographics is None:
            return np.zeros((len(train), 0)), np.zeros((len(rows), 0))
        table_train, table_rows = self.table.iloc[train], self.table.iloc[rows]
        encoder = clone(self.demographics).fit(table_train)
        return encoder.transform(table_train), encoder.transform(table_rows)


class StreamedPreparation(BlockPreparation):
    """:class:`BlockPreparation` on image features in a :class:`VoxelStore`.

    For each training set, one pass over the store's column blocks per ComBat
    or confound step (each is fitted from per-voxel statistics, the
    empirical-Bayes priors pooled at the end: ``start_columns``,
    ``column_statistics``, ``finish_columns``), then one pass that applies
    the steps, scales each block by its training statistics and accumulates
    the Gram matrices. Memory is O(n^2 + n x block), never n x voxels; the
    numbers are BlockPreparation's (tested to 1e-6).
    """

    def kernels(self, train, rows):
        """(K_train, K_rows_train, image) of a training set and other rows.

        ``image``: a :class:`StreamedImage`, which forms the maps of a model
        fitted on ``K_train``.
        """
        steps = self._fitted_steps(train, rows)
        K_train = np.zeros((len(train), len(train)))
        K_rows = np.zeros((len(rows), len(train)))
        n_features = self.image.shape[1]
        mean, scale = np.zeros(n_features), np.ones(n_features)
        for start, block in self.image.column_blocks():
            columns = slice(start, start + block.shape[1])
            a_train, a_rows = self._apply(steps, block, columns, train, rows)
            if self.with_mean:
                mean[columns], scale[columns] = _scale_statistics(
                    a_train, self.with_std
                )
                for part in (a_train, a_rows):
                    part -= mean[columns]
                    part /= scale[columns]
            K_train += a_train @ a_train.T
            K_rows += a_rows @ a_train.T
        d_train, d_rows = self.demographic_blocks(train, rows)
        K_train += d_train @ d_train.T
        K_rows += d_rows @ d_train.T
        return K_train, K_rows, StreamedImage(self, steps, train, mean, scale)

    def _fitted_steps(self, train, rows):
        """The ComBat / confound steps fitted on ``train``, a pass over the store each.

        ``rows`` are given to each step's fit for what it estimates from the
        rows it will transform (ComBat: the sites absent from training).
        """
        table_train, table_rows = self.table.iloc[train], self.table.iloc[rows]
        fitted = []
        for step in self.replacers:
            step = clone(step).start_columns(table_train, table_rows)
            statistics = []
            for start, block in self.image.column_blocks():
                columns = slice(start, start + block.shape[1])
                a_train, a_rows = self._apply(fitted, block, columns, train, rows)
                statistics.append(step.column_statistics(a_train, a_rows))
            fitted.append(step.finish_columns(statistics))
        return fitted

    def _apply(self, steps, block, columns, train, rows=None):
        """A block's training rows and other rows, through the fitted ``steps``.

        ``rows=None``: the training rows only (the other block is None).
        """
        a_train = self._through(steps, block, columns, train)
        return a_train, None if rows is None else self._through(
            steps, block, columns, rows
        )

    def _through(self, steps, block, columns, rows):
        out, table = block[rows].astype(np.float64), self.table.iloc[rows]
        for step in steps:
            out = step.transform_features(out, table, columns)
        return out


class StreamedImage:
    """A training set's prepared voxels, read again from the store for the maps."""

    def __init__(self, preparation, steps, train, mean, scale):
        self.preparation = preparation
        self.steps = steps
        self.train = train
        self.mean = mean
        self.scale = scale

    def weights_and_pattern(self, alpha, score):
        """The maps of a model whose weights are ``alpha`` @ prepared training rows.

        As :func:`txpredict.models.weights_and_pattern` on the prepared rows,
        a block of voxels at a time (each voxel's weight and pattern are its
        own column's).
        """
        store = self.preparation.image
        weights = np.empty(store.shape[1], dtype=np.float32)
        pattern = np.empty_like(weights)
        for start, block in store.column_blocks():
            columns = slice(start, start + block.shape[1])
            a_train, _ = self.preparation._apply(self.steps, block, columns, self.train)
            a_train -= self.mean[columns]
            a_train /= self.scale[columns]
            weights[columns], pattern[columns] = weights_and_pattern(
                a_train, a_train.T @ alpha, score, self.scale[columns]
            )
        return weights, pattern


def width_bound(design, encoder) -> int:
    """Most columns the classifier can see after the final encoding step.

    Counted, not fitted (no step may see the whole cohort): image columns one
    each; demographic columns one per number, one per category present.
    """

    def demographic(columns):
        frame = design[list(columns)]
        return sum(
            1
            if pd.api.types.is_numeric_dtype(frame[c])
            and not pd.api.types.is_bool_dtype(frame[c])
            else frame[c].nunique()
            for c in columns
        )

    if isinstance(encoder, DemographicFeatures):
        return demographic(encoder.columns)
    width = 0
    for _, _, columns in encoder.transformers:
        if isinstance(columns, slice):
            width += len(range(*columns.indices(design.shape[1])))
        else:
            width += demographic(columns)
    return width
