"""ResponseRegressor: the symptom change itself, not only responder or not.

Dichotomising a continuous outcome at 50% reduction throws information away
(Altman & Royston 2006); many trials report the change in a symptom scale.
The same features, confounds, harmonisation and nested CV as
:class:`ResponseClassifier`, with a regression model; the responders at any
threshold can still be read off its predictions.
"""

from __future__ import annotations

from sklearn.base import RegressorMixin
from sklearn.feature_selection import f_regression
from sklearn.model_selection import GroupKFold, KFold

from txpredict.models._base import ResponseModel
from txpredict.models._presets import DEFAULT_DEMOGRAPHIC_COLUMNS, make_regressor


class ResponseRegressor(RegressorMixin, ResponseModel):
    """Predict the change of a symptom score from brain features and/or demographics.

    Parameters
    ----------
    features : str or transformer, default="roi"
        As in :class:`ResponseClassifier`.
    regressor : str or regressor, default="ridge"
        "ridge" (L2, alpha tuned in {0.1, ..., 1000}), "random_forest", or any
        scikit-learn regressor.
    param_grid : dict or None, default=None
        Grid of the inner search (``{"alpha": [...]}``); ``{}`` disables tuning.
    inner_cv : int, default=5
        Folds of the inner (tuning) k-fold CV.
    scoring : str, default="neg_mean_squared_error"
        Criterion of the inner search (a scikit-learn scorer name).
    scaling, select_percentile, pca_components, demographic_columns, confounds, \
deconfound, harmonize, sites, protected, unseen_sites, image_column, \
feature_options, memory, n_jobs, random_state
        As in :class:`ResponseClassifier` (ANOVA selection uses the
        regression F statistic).

    Attributes
    ----------
    extractor_, search_, best_params_, training_hash_, training_summary_
        As in :class:`ResponseClassifier`.

    Examples
    --------
    >>> import txpredict as tp
    >>> cohort = tp.make_synthetic_cohort(40, grid="fsl6", random_state=0)
    >>> change = cohort.X["baseline_severity"] * 0.01 + cohort.y  # any number
    >>> model = tp.ResponseRegressor("roi").fit(cohort.X, change)
    >>> model.predict(cohort.X).shape
    (40,)
    """

    _final_step = "regressor"
    _score_function = staticmethod(f_regression)

    def __init__(
        self,
        features="roi",
        regressor="ridge",
        *,
        param_grid=None,
        inner_cv=5,
        scoring="neg_mean_squared_error",
        scaling="auto",
        select_percentile=None,
        pca_components=None,
        demographic_columns=DEFAULT_DEMOGRAPHIC_COLUMNS,
        confounds=None,
        deconfound="residualize",
        harmonize=None,
        sites="site",
        protected=(),
        unseen_sites="estimate",
        image_column="image",
        feature_options=None,
        memory=None,
        n_jobs=None,
        random_state=0,
    ):
        self.features = features
        self.regressor = regressor
        self.param_grid = param_grid
        self.inner_cv = inner_cv
        self.scoring = scoring
        self.scaling = scaling
        self.select_percentile = select_percentile
        self.pca_components = pca_components
        self.demographic_columns = demographic_columns
        self.confounds = confounds
        self.deconfound = deconfound
        self.harmonize = harmonize
        self.sites = sites
        self.protected = protected
        self.unseen_sites = unseen_sites
        self.image_column = image_column
        self.feature_options = feature_options
        self.memory = memory
        self.n_jobs = n_jobs
        self.random_state = random_state

    def final_estimator(self):
        """(unfitted regressor, its default grid)."""
        return make_regressor(self.regressor, self.random_state)

    def inner_splitter(self, groups=None):
        """The inner CV splitter (k-fold; group-aware when groups are given).

        Parameters
        ----------
        groups : array-like or None, default=None
            Group labels kept whole in the inner folds.
        """
        if groups is not None:
            return GroupKFold(
                self.inner_cv, shuffle=True, random_state=self.random_state
            )
        return KFold(self.inner_cv, shuffle=True, random_state=self.random_state)
