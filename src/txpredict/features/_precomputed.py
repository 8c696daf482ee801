"""Per-subject features that are already columns of the participants table."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from txpredict.errors import TxpredictError


class PrecomputedFeatures(TransformerMixin, BaseEstimator):
    """Numeric columns of ``X`` that already are per-subject brain features.

    For ROI values exported by another tool (SPM/MarsBaR, FreeSurfer volumes,
    a previous extraction), kept in the participants table. Like the image
    extractors it is stateless: ``fit`` only checks the columns, nothing is
    learnt, so the harness may take them once for the whole cohort; scaling
    and imputation of missing values are fitted by the learner inside each
    training fold.

    Parameters
    ----------
    columns : list of str
        Columns of ``X`` to use, in this order.

    Attributes
    ----------
    feature_names_in_ : ndarray of str
        The columns used.

    Examples
    --------
    >>> import pandas as pd
    >>> import txpredict as tp
    >>> X = pd.DataFrame({"dACC": [0.2, -0.1, None], "cuneus": [1.0, 0.3, 0.5]})
    >>> tp.PrecomputedFeatures(["dACC", "cuneus"]).fit_transform(X).shape
    (3, 2)
    """

    # The harness may take these once for a whole cohort: nothing is learnt.
    _txpredict_stateless = True

    def __init__(self, columns):
        self.columns = columns

    def _check(self, X) -> list[str]:
        if not isinstance(X, pd.DataFrame):
            raise TxpredictError(
                "PrecomputedFeatures needs X as a DataFrame holding the columns "
                f"{list(self.columns)}."
            )
        columns = [self.columns] if isinstance(self.columns, str) else self.columns
        columns = list(columns)
        if not columns:
            raise TxpredictError("PrecomputedFeatures needs at least one column.")
        missing = [c for c in columns if c not in X.columns]
        if missing:
            raise TxpredictError(
                f"PrecomputedFeatures: column(s) {missing} are not in X; its columns "
                f"are {list(map(str, X.columns))}. Fix 'columns'."
            )
        text = [c for c in columns if not pd.api.types.is_numeric_dtype(X[c])]
        if text:
            raise TxpredictError(
                f"PrecomputedFeatures: column(s) {text} are not numeric. Brain "
                "features must be numbers; put categorical columns among the "
                "demographics instead."
            )
        return columns

    def fit(self, X, y=None):
        """Check that the columns exist and are numeric.

        Parameters
        ----------
        X : DataFrame
            The cohort table: the columns named in ``columns``.
        y : None
            Ignored (scikit-learn's signature).

        Returns
        -------
        self
        """
        self.feature_names_in_ = np.asarray(self._check(X), dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def transform(self, X):
        """The columns as a float64 array (missing values stay NaN).

        Parameters
        ----------
        X : DataFrame
            The cohort table: the columns named in ``columns``.

        Returns
        -------
        ndarray of shape (n_subjects, n_columns)
        """
        check_is_fitted(self, "feature_names_in_")
        columns = self._check(X)
        if columns != list(self.feature_names_in_):
            raise TxpredictError(
                "PrecomputedFeatures was fitted on other columns "
                f"({list(self.feature_names_in_)}) than it is given ({columns})."
            )
        values = X[columns].to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isinf(values).any():
            bad = [c for c in columns if np.isinf(X[c].to_numpy(float)).any()]
            raise TxpredictError(
                f"PrecomputedFeatures: column(s) {bad} hold infinite values; replace "
                "them (missing values may stay empty: they are imputed in the folds)."
            )
        return values

    def get_feature_names_out(self, input_features=None):
        """The columns used.

        Parameters
        ----------
        input_features : None
            Ignored (scikit-learn's signature).
        """
        check_is_fitted(self, "feature_names_in_")
        return self.feature_names_in_.copy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        return tags
