"""ResponseClassifier: a treatment-response classifier on the cohort table."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.feature_selection import SelectPercentile, f_classif
from sklearn.impute import SimpleImputer
from sklearn.model_selection import (
    GridSearchCV,
    ParameterGrid,
    StratifiedGroupKFold,
    StratifiedKFold,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from txpredict.errors import TxpredictError
from txpredict.features import DemographicFeatures
from txpredict.models._presets import (
    DEFAULT_DEMOGRAPHIC_COLUMNS,
    default_scaling,
    is_stateless,
    make_classifier,
    make_image_extractor,
    prefix_grid,
    uses_demographics,
)

_SCALINGS = ("standard", "center", None)


class ResponseClassifier(ClassifierMixin, BaseEstimator):
    """Classify treatment responders from brain features and/or demographics.

    A scikit-learn classifier whose ``X`` is the cohort table (one row per
    participant, an image column and demographic columns). Image features are
    extracted per subject by a stateless extractor (the harness may do it once
    per cohort); everything that learns from data (imputation, scaling, ANOVA
    feature selection, PCA, the classifier and its hyperparameter search) is
    fitted in ``fit`` only, i.e. inside the training part of each fold.

    ``fit`` tunes the hyperparameters by an inner stratified k-fold CV
    (``GridSearchCV``) and refits the best model on all the data it was given.

    Parameters
    ----------
    features : str or transformer, default="roi"
        "roi" (default ROI means), "roi_voxels" (multivoxel patterns in the
        ROIs), "wholebrain" (all brain voxels), "demographics",
        "roi+demographics", "wholebrain+demographics", or a transformer of
        ``X`` (e.g. ``RoiFeatures(rois=...)``; one not marked stateless is
        fitted inside the folds).
    classifier : str or classifier, default="logistic"
        "logistic" (L2), "linear_svm" (``SVC(kernel="linear")``),
        "logistic_l1", "logistic_elasticnet", "ridge", "random_forest", or any
        scikit-learn classifier. Named classifiers use balanced class weights.
        The default gives response probabilities, which clinicians ask for; an
        SVM gives only decision scores (enough for AUC).
    param_grid : dict or None, default=None
        Grid of the inner search; keys name classifier parameters (``"C"``) or
        pipeline steps (``"select__percentile"``). None uses the defaults:
        C in {0.001, 0.01, 0.1, 1, 10} for SVM and L2 logistic; C in
        {0.01, ..., 100} for L1 logistic; C in {0.01, 0.1, 1, 10} x l1_ratio in
        {0.2, 0.5, 0.8} for elastic net; alpha in {0.1, ..., 1000} for ridge;
        max_depth in {None, 3} x min_samples_leaf in {1, 5} for random forests.
        ``{}`` disables tuning.
    inner_cv : int, default=5
        Folds of the inner (tuning) stratified k-fold CV.
    scoring : str, default="roc_auc"
        Criterion of the inner search (a scikit-learn scorer name).
    scaling : {"auto", "standard", "center", None}, default="auto"
        Per-feature scaling fitted on training data. "auto" centres voxel
        patterns and standardises ROI summaries (see
        :func:`txpredict.models._presets.default_scaling`).
    select_percentile : float or None, default=None
        Keep this percentile of features by ANOVA F (fitted in the folds).
    pca_components : int, float or None, default=None
        PCA after scaling (fitted in the folds).
    demographic_columns : sequence of str, default=("age", "sex", "baseline_severity")
        Columns of the "demographics" feature sets.
    image_column : str, default="image"
    memory : str, pathlib.Path or None, default=None
        Feature cache folder of the image extractor.
    n_jobs : int or None, default=None
        Processes for feature extraction.
    random_state : int, default=0
        Seed of the inner CV shuffling and of random classifiers.

    Attributes
    ----------
    extractor_ : transformer or None
        The fitted stateless image extractor.
    search_ : GridSearchCV or Pipeline
        The inner search refitted on all training data (the pipeline itself
        when the grid has a single candidate: there is nothing to tune).
    best_params_ : dict
        Chosen hyperparameters (classifier parameters without prefix).
    training_hash_ : str
        Hash of the training subjects' ids and outcomes (set by ``fit``).
    classes_ : ndarray

    Examples
    --------
    >>> import txpredict as tp
    >>> cohort = tp.make_synthetic_cohort(40, grid="fsl6", random_state=0)
    >>> model = tp.ResponseClassifier(features="roi")
    >>> model.fit(cohort.X, cohort.y).predict_proba(cohort.X).shape
    (40, 2)
    >>> sorted(model.best_params_)
    ['C']
    """

    def __init__(
        self,
        features="roi",
        classifier="logistic",
        *,
        param_grid=None,
        inner_cv=5,
        scoring="roc_auc",
        scaling="auto",
        select_percentile=None,
        pca_components=None,
        demographic_columns=DEFAULT_DEMOGRAPHIC_COLUMNS,
        image_column="image",
        memory=None,
        n_jobs=None,
        random_state=0,
    ):
        self.features = features
        self.classifier = classifier
        self.param_grid = param_grid
        self.inner_cv = inner_cv
        self.scoring = scoring
        self.scaling = scaling
        self.select_percentile = select_percentile
        self.pca_components = pca_components
        self.demographic_columns = demographic_columns
        self.image_column = image_column
        self.memory = memory
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- the two stages -------------------------------------------------------
    def make_extractor(self):
        """The stateless image extractor (run once per cohort), or None."""
        if isinstance(self.features, str):
            return make_image_extractor(
                self.features,
                image_column=self.image_column,
                n_jobs=self.n_jobs,
                memory=self.memory,
            )
        if is_stateless(self.features):
            return clone(self.features)
        return None

    def design(self, X, extractor):
        """Input of the learner: extracted image features (+ demographic columns)."""
        if extractor is None:
            if isinstance(self.features, str):  # "demographics"
                return self._demographics(X)
            return X  # a stateful user transformer, fitted inside the folds
        image = np.asarray(extractor.transform(X))
        if not uses_demographics(self.features):
            return image
        frame = pd.DataFrame(image, index=X.index).set_axis(
            [f"image_{i}" for i in range(image.shape[1])], axis=1
        )
        return pd.concat([frame, self._demographics(X)], axis=1)

    def _demographics(self, X):
        if not isinstance(X, pd.DataFrame):
            raise TxpredictError(
                "Demographic features need X as a DataFrame with the columns "
                f"{list(self.demographic_columns)}."
            )
        missing = [c for c in self.demographic_columns if c not in X.columns]
        if missing:
            raise TxpredictError(
                f"Demographic column(s) {missing} are not in X; its columns are "
                f"{list(map(str, X.columns))}. Set demographic_columns=."
            )
        return X[list(self.demographic_columns)]

    def resolved_scaling(self):
        """The scaling actually used ("auto" resolved)."""
        if self.scaling not in (*_SCALINGS, "auto"):
            raise TxpredictError(
                "The 'scaling' parameter of ResponseClassifier must be 'auto', "
                f"'standard', 'center' or None. Got {self.scaling!r} instead."
            )
        return (
            default_scaling(self.features) if self.scaling == "auto" else self.scaling
        )

    def inner_splitter(self, groups=None):
        """The inner CV splitter (stratified; group-aware when groups are given)."""
        if groups is not None:
            return StratifiedGroupKFold(
                self.inner_cv, shuffle=True, random_state=self.random_state
            )
        return StratifiedKFold(
            self.inner_cv, shuffle=True, random_state=self.random_state
        )

    def build_search(self, design) -> GridSearchCV:
        """The unfitted learner: pipeline + inner grid search, for ``design``."""
        classifier, default_grid, _ = make_classifier(
            self.classifier, self.random_state
        )
        steps = []
        if isinstance(design, pd.DataFrame) and not isinstance(self.features, str):
            steps.append(("features", clone(self.features)))
        elif isinstance(design, pd.DataFrame):
            demographic = DemographicFeatures(list(self.demographic_columns))
            n_image = design.shape[1] - len(self.demographic_columns)
            if n_image == 0:
                steps.append(("features", demographic))
            else:
                steps.append(
                    (
                        "features",
                        ColumnTransformer(
                            [
                                ("image", self._numeric_steps(), slice(0, n_image)),
                                (
                                    "demographics",
                                    demographic,
                                    list(self.demographic_columns),
                                ),
                            ]
                        ),
                    )
                )
        else:
            steps.extend(self._numeric_steps().steps)
        if self.select_percentile is not None:
            steps.append(
                (
                    "select",
                    SelectPercentile(f_classif, percentile=self.select_percentile),
                )
            )
        if self.pca_components is not None:
            steps.append(
                ("pca", PCA(self.pca_components, random_state=self.random_state))
            )
        steps.append(("classifier", classifier))
        pipeline = Pipeline(steps)
        grid = default_grid if self.param_grid is None else self.param_grid
        grid = prefix_grid(grid, set(pipeline.get_params()))
        return GridSearchCV(
            pipeline,
            grid,  # {} is one candidate: no tuning
            scoring=self.scoring,
            cv=self.inner_splitter(),
            error_score="raise",
        )

    def _numeric_steps(self) -> Pipeline:
        scaling = self.resolved_scaling()
        # Mean imputation of missing voxels/ROIs (nonfinite="ignore"), fitted on
        # training rows; a no-op when nothing is missing.
        steps = [("impute", SimpleImputer(strategy="mean", keep_empty_features=True))]
        if scaling is not None:
            steps.append(("scale", StandardScaler(with_std=scaling == "standard")))
        return Pipeline(steps)

    # -- scikit-learn API -----------------------------------------------------
    def fit(self, X, y, groups=None):
        """Extract features, tune by inner CV and refit on all of ``X``.

        Parameters
        ----------
        X : DataFrame of shape (n_subjects, n_columns)
        y : array-like of shape (n_subjects,)
            Responder flag (1 = responder).
        groups : array-like or None, default=None
            Groups (e.g. site) kept whole in the inner CV folds.

        Returns
        -------
        self
        """
        extractor = self.make_extractor()
        if extractor is not None:
            extractor.fit(X)
        self.fit_design(self.design(X, extractor), y, extractor, groups=groups)
        index = X.index if isinstance(X, pd.DataFrame) else range(len(y))
        # Identifies the training cohort in saved models (subjects and outcomes).
        self.training_hash_ = joblib.hash(([str(i) for i in index], np.asarray(y)))
        return self

    def fit_design(self, design, y, extractor, groups=None):
        """Fit the learner on an already extracted design (used by the harness)."""
        self.extractor_ = extractor
        search = self.build_search(design)
        y = np.asarray(y)
        candidates = list(ParameterGrid(search.param_grid))
        if len(candidates) == 1:
            # Nothing to choose: an inner CV would only cost inner_cv fits.
            self.search_ = search.estimator.set_params(**candidates[0]).fit(design, y)
            best = candidates[0]
        else:
            if groups is not None:
                search.set_params(cv=self.inner_splitter(groups))
            self.search_ = search.fit(design, y, groups=groups)
            best = search.best_params_
        self.classes_ = self.search_.classes_
        self.best_params_ = {k.removeprefix("classifier__"): v for k, v in best.items()}
        return self

    def _design_for(self, X):
        check_is_fitted(self, "search_")
        return self.design(X, self.extractor_)

    def predict(self, X):
        """Predicted responder flag of each subject."""
        return self.search_.predict(self._design_for(X))

    def predict_proba(self, X):
        """Probability of each class (column 1: responder), if the classifier has it."""
        return self.search_.predict_proba(self._design_for(X))

    def decision_function(self, X):
        """Signed distance to the decision boundary (positive: responder)."""
        return self.search_.decision_function(self._design_for(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
