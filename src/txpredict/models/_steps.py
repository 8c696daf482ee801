"""Pipeline steps that replace some columns of the design and keep the others.

A ResponseClassifier's design holds the image features and the table columns
later steps need (demographics, confounds, the site). Harmonisation and
confound regression rewrite the image features only; the site and confound
columns must reach the steps after them unchanged.
"""

from __future__ import annotations

from sklearn.base import BaseEstimator, TransformerMixin, clone
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
        out = X.copy()
        out[list(self.columns)] = self.transformer_.transform(X)
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
