"""Confound regression: what age, sex or site explain removed from each feature.

Fitted on training rows only: inside cross-validation each fold regresses the
features on the confounds of its training patients and applies those
coefficients to its test patients. Cross-validated confound regression is
still known to bias estimates below chance at small n (Snoek, Miletic &
Scholte 2019, NeuroImage 184:741): the residuals of the training patients
and of the test patients are not exchangeable. ``benchmarks/multisite.py``
measured -0.012 +- 0.009 on null data at n = 240 (not at smaller n); Dinga et
al. (2020) recommend asking instead
whether the scan adds to a model of the confounds alone
(:func:`txpredict.added_value`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from txpredict.errors import TxpredictError
from txpredict.features._columns import present_columns
from txpredict.features._demographics import DemographicFeatures


class ConfoundRemover(TransformerMixin, BaseEstimator):
    """Residualise features on confounds, learnt on training rows only.

    Confounds are encoded as :class:`DemographicFeatures` does (median /
    most-frequent imputation, standardised numbers, one-hot categories),
    fitted on the same rows; every feature is regressed on them by least
    squares (with an intercept), and the confounds' part is subtracted. The
    features' mean is kept.

    Parameters
    ----------
    features : list of str
        Columns of ``X`` to residualise.
    confounds : list of str
        Columns of ``X`` whose effect is removed (e.g. age, sex, site, motion).

    Attributes
    ----------
    encoder_ : DemographicFeatures
        The confounds' encoding, fitted on the training rows.
    coef_ : ndarray of shape (n_confound_columns, n_features)
        Each feature's coefficients on the encoded confounds.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import txpredict as tp
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"age": rng.uniform(20, 60, 50)})
    >>> X["roi"] = 0.1 * X["age"] + rng.normal(size=50)
    >>> clean = tp.ConfoundRemover(["roi"], confounds=["age"]).fit_transform(X)
    >>> bool(abs(np.corrcoef(clean[:, 0], X["age"])[0, 1]) < 1e-10)
    True
    """

    def __init__(self, features, *, confounds):
        self.features = features
        self.confounds = confounds

    def _check(self, X):
        if not isinstance(X, pd.DataFrame):
            raise TxpredictError(
                "ConfoundRemover needs X as a DataFrame holding the features and "
                f"the confound columns {list(self.confounds)}."
            )
        confounds = list(self.confounds)
        if not confounds:
            raise TxpredictError("ConfoundRemover needs at least one confound column.")
        present_columns(X, confounds, "ConfoundRemover", "Fix 'confounds'.")
        features = present_columns(X, self.features, "ConfoundRemover")
        return features, confounds

    def fit(self, X, y=None):
        """Learn the confounds' encoding and each feature's coefficients.

        Parameters
        ----------
        X : DataFrame
            The image features and the columns this step reads, by name.
        y : None
            Ignored (scikit-learn's signature).
        """
        features, _ = self._check(X)
        self._fit_arrays(X[features].to_numpy(), X)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        """The features minus their confounds' part (other columns dropped).

        Parameters
        ----------
        X : DataFrame
            The image features and the columns this step reads, by name.

        Returns
        -------
        ndarray of shape (n_patients, n_features)
        """
        check_is_fitted(self, "coef_")
        features, _ = self._check(X)
        return self.transform_features(X[features].to_numpy(), X)

    def fit_features(self, data, table):
        """``fit`` with the features as one array and the confounds apart.

        For whole-brain designs, where selecting 235,000 columns of a
        DataFrame by name costs more than the regression.

        Parameters
        ----------
        data : ndarray of shape (n_patients, n_features)
            The columns ``features``, in that order.
        table : DataFrame
            The same patients' confound columns.
        """
        return self._fit_arrays(data, table)

    def _fit_arrays(self, data, table):
        self.start_columns(table)
        return self.finish_columns([self.column_statistics(data)])

    # -- fitting a block of columns at a time ----------------------------------
    # Each feature's regression is its own: a design too large for memory (a
    # voxel store) is fitted in one pass over its column blocks, as ComBat.
    def start_columns(self, table, rows_table=None):
        """Begin a fit on the rows of ``table``.

        Parameters
        ----------
        table : DataFrame
            The training patients' confound columns.
        rows_table : DataFrame or None, default=None
            Not needed (ComBat's signature): the regression is the training
            rows' only.
        """
        confounds = list(self.confounds)
        present_columns(table, confounds, "ConfoundRemover")
        constant = [c for c in confounds if table[c].nunique(dropna=True) < 2]
        if constant:
            raise TxpredictError(
                f"Confound column(s) {constant} take a single value in the training "
                "data: there is nothing to remove. Drop them from 'confounds' (a "
                "site column with one site, say)."
            )
        self.encoder_ = DemographicFeatures(confounds).fit(table)
        # The pseudo-inverse of the small design, then one product with the
        # data: lstsq factorises with every feature as a right-hand side.
        self._pinv = np.linalg.pinv(self._design(table))
        return self

    def column_statistics(self, data, rows_data=None) -> dict:
        """The regression coefficients of a block of columns of the training rows.

        Parameters
        ----------
        data : ndarray of shape (n_training_patients, n_block_features)
            A block of the features of :meth:`start_columns`' patients.
        rows_data : ndarray or None, default=None
            Not needed (ComBat's signature).
        """
        data = np.asarray(data, dtype=np.float64)
        if not np.isfinite(data).all():
            raise TxpredictError(
                "ConfoundRemover: the features have missing values; impute them first."
            )
        return {"coef": self._pinv @ data}

    def finish_columns(self, statistics):
        """End the fit.

        Parameters
        ----------
        statistics : list of dict
            :meth:`column_statistics` of every block, in column order.
        """
        del self._pinv
        coef = np.concatenate([block["coef"] for block in statistics], axis=1)
        self.intercept_, self.coef_ = coef[0], coef[1:]
        return self

    def _design(self, X):
        encoded = self.encoder_.transform(X)
        return np.hstack([np.ones((len(X), 1)), encoded])

    def transform_features(self, data, table, columns=None):
        """``transform`` with the features as one array and the confounds apart.

        Parameters
        ----------
        data : ndarray of shape (n_patients, n_features)
            The features (or ``columns`` of them).
        table : DataFrame
            The same patients' confound columns.
        columns : slice or None, default=None
            The features ``data`` holds (a block of a design too large for
            memory); None: all of them.

        Returns
        -------
        ndarray of shape (n_patients, n_features)
        """
        check_is_fitted(self, "coef_")
        coef = self.coef_ if columns is None else self.coef_[:, columns]
        explained = self._design(table)[:, 1:] @ coef
        return np.subtract(np.asarray(data, dtype=np.float64), explained, out=explained)

    def get_feature_names_out(self, input_features=None):
        """The residualised features.

        Parameters
        ----------
        input_features : None
            Ignored (scikit-learn's signature).
        """
        check_is_fitted(self, "coef_")
        return np.asarray(self.features, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
