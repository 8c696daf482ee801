"""Demographic and clinical columns as model features, fitted inside each fold."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from txpredict.errors import TxpredictError

#: Columns never used as predictors by default: images, and arm/outcome bookkeeping.
NON_PREDICTOR_COLUMNS = ("image", "rest")


class DemographicFeatures(TransformerMixin, BaseEstimator):
    """Scaled numeric and one-hot categorical columns of the participants table.

    Numeric columns are imputed with their median and standardised; categorical
    columns (text, category, boolean) are imputed with their most frequent value
    and one-hot encoded (categories unseen in ``fit`` encode as all zeros). Every
    statistic comes from the data given to ``fit``: inside cross-validation that
    is the training part of the fold, never the whole cohort.

    Parameters
    ----------
    columns : list of str or None, default=None
        Columns to use. None uses every column except image columns
        (``"image"``, ``"rest"``).
    categorical : list of str or None, default=None
        Columns to one-hot encode. None treats text, category and boolean
        columns as categorical and the others as numeric; give it for codes
        stored as numbers (e.g. site 1, 2, 3).

    Attributes
    ----------
    columns_ : list of str
        Columns used.
    categorical_ : list of str
        Columns one-hot encoded.
    numeric_transformer_ : sklearn.pipeline.Pipeline
        Median imputation and standardisation of the numeric columns.
    categorical_transformer_ : sklearn.pipeline.Pipeline
        Most-frequent imputation and one-hot encoding of the categorical ones.
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> import pandas as pd
    >>> import txpredict as tp
    >>> X = pd.DataFrame({"age": [30, 40, None], "sex": ["F", "M", "F"]})
    >>> tp.DemographicFeatures().fit_transform(X).shape
    (3, 3)
    """

    def __init__(self, columns=None, *, categorical=None):
        self.columns = columns
        self.categorical = categorical

    def _as_frame(self, X, *, reset):
        if isinstance(X, pd.DataFrame):
            validate_data(
                self,
                X,
                dtype=None,
                ensure_all_finite=False,
                reset=reset,
                skip_check_array=True,
            )
            return X
        # A plain array is a numeric matrix (no categories to detect).
        X = validate_data(
            self, X, dtype="numeric", ensure_all_finite="allow-nan", reset=reset
        )
        return pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # missing values are imputed in fit
        tags.input_tags.string = True
        return tags

    def fit(self, X, y=None):
        """Learn imputation values, scaling and categories from ``X``.

        Parameters
        ----------
        X : DataFrame of shape (n_subjects, n_columns)
        y : ignored

        Returns
        -------
        self
        """
        frame = self._as_frame(X, reset=True)
        if self.columns is None:
            columns = [c for c in frame.columns if c not in NON_PREDICTOR_COLUMNS]
        else:
            columns = list(self.columns)
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise TxpredictError(
                    f"DemographicFeatures: column(s) {missing} not found in X; its "
                    f"columns are {list(map(str, frame.columns))}. Fix 'columns'."
                )
        if not columns:
            raise TxpredictError("DemographicFeatures has no column to use.")
        if self.categorical is None:
            categorical = [
                c
                for c in columns
                if not pd.api.types.is_numeric_dtype(frame[c])
                or pd.api.types.is_bool_dtype(frame[c])
            ]
        else:
            categorical = list(self.categorical)
            unknown = [c for c in categorical if c not in columns]
            if unknown:
                raise TxpredictError(
                    f"DemographicFeatures: categorical column(s) {unknown} are not "
                    f"among the columns used {columns}."
                )
        numeric = [c for c in columns if c not in categorical]
        for c in numeric:
            values = pd.to_numeric(frame[c], errors="coerce")
            if np.isinf(values).any():
                raise TxpredictError(
                    f"DemographicFeatures: column {c!r} has infinite values; replace "
                    "them (missing values may be left empty: they are imputed)."
                )
            if frame[c].isna().all():
                raise TxpredictError(
                    f"DemographicFeatures: column {c!r} has no value in the training "
                    "data; drop it from 'columns'."
                )
        self.columns_ = columns
        self.categorical_ = categorical
        self.numeric_ = numeric
        # Plain arrays through scikit-learn's imputers, scaler and encoder: a
        # ColumnTransformer over the DataFrame did the same 2x slower, and this
        # runs for every candidate of every fold of nested CV and permutations.
        self.numeric_transformer_ = make_pipeline(
            SimpleImputer(strategy="median"), StandardScaler()
        )
        self.categorical_transformer_ = make_pipeline(
            SimpleImputer(strategy="most_frequent"),
            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
        )
        numeric_block, categorical_block = self._blocks(frame)
        if numeric:
            self.numeric_transformer_.fit(numeric_block)
        if categorical:
            self.categorical_transformer_.fit(categorical_block)
        return self

    def _blocks(self, frame):
        numeric = frame[self.numeric_].apply(pd.to_numeric, errors="coerce")
        numeric = numeric.to_numpy(dtype=np.float64, na_value=np.nan)
        # Categories as text so that mixed codes (1, "1") cannot split a category.
        categorical = np.empty((len(frame), len(self.categorical_)), dtype=object)
        for j, column in enumerate(self.categorical_):
            values = frame[column].astype(object).to_numpy()
            categorical[:, j] = [np.nan if pd.isna(v) else str(v) for v in values]
        return numeric, categorical

    def transform(self, X):
        """Encode ``X`` with what ``fit`` learnt.

        Parameters
        ----------
        X : DataFrame
            Rows to encode, with the columns ``fit`` saw.

        Returns
        -------
        ndarray of shape (n_subjects, n_features)
        """
        check_is_fitted(self, "numeric_transformer_")
        frame = self._as_frame(X, reset=False)
        missing = [c for c in self.columns_ if c not in frame.columns]
        if missing:
            raise TxpredictError(
                f"DemographicFeatures: column(s) {missing} seen in fit are missing "
                "from X."
            )
        numeric_block, categorical_block = self._blocks(frame)
        parts = []
        if self.numeric_:
            parts.append(self.numeric_transformer_.transform(numeric_block))
        if self.categorical_:
            parts.append(self.categorical_transformer_.transform(categorical_block))
        return np.hstack(parts).astype(np.float64)

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns (one-hot columns as ``column_value``).

        Parameters
        ----------
        input_features : None
            Ignored (scikit-learn's signature).
        """
        check_is_fitted(self, "numeric_transformer_")
        names = list(self.numeric_)
        if self.categorical_:
            encoder = self.categorical_transformer_[-1]
            names += [
                f"{column}_{category}"
                for column, categories in zip(
                    self.categorical_, encoder.categories_, strict=True
                )
                for category in categories
            ]
        return np.asarray(names, dtype=object)
