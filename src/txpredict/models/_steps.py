"""Pipeline steps that replace some columns of the design and keep the others.

A ResponseClassifier's design holds the image features and the table columns
later steps need (demographics, confounds, the site). Harmonisation and
confound regression rewrite the image features only; the site and confound
columns must reach the steps after them unchanged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted


class ReplaceColumns(TransformerMixin, BaseEstimator):
    """Apply ``transformer`` and put its output in place of ``columns``.

    Parameters
    ----------
    transformer : transformer
        Fitted on the whole design (it may read other columns, e.g. the
        site); its output has one column per entry of ``columns``.
    columns : list of str
    """

    def __init__(self, transformer, columns):
        self.transformer = transformer
        self.columns = columns

    def fit(self, X, y=None):
        """Fit the transformer on the rows of ``X``."""
        self.transformer_ = clone(self.transformer).fit(X, y)
        return self

    def transform(self, X):
        """``X`` with ``columns`` replaced by the transformer's output."""
        check_is_fitted(self, "transformer_")
        columns = pd.Index(self.columns)
        new = pd.DataFrame(
            self.transformer_.transform(X), index=X.index, columns=columns
        )
        # One block for the new values, then the original order: pandas sets
        # ``out[columns] = values`` one column at a time (1.4 s for 8,700
        # voxels, a minute for a whole brain).
        return pd.concat([new, X.drop(columns=columns)], axis=1)[X.columns]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags


class AsArray(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """The columns it is given as one float array (learns nothing).

    scikit-learn's imputer and scaler check a DataFrame's dtypes column by
    column: 0.2 s a call for 8,700 voxels, seconds for a whole brain. As an
    array the same steps check one dtype.
    """

    def fit(self, X, y=None):
        """Nothing to learn but the column names."""
        self.n_features_in_ = X.shape[1]
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def transform(self, X):
        """``X`` as a dense float array."""
        if hasattr(X, "toarray"):  # a sparse one-hot encoding
            X = X.toarray()
        return np.asarray(X, dtype=np.float64)
