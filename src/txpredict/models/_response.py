"""ResponseClassifier: a treatment-response classifier on the cohort table."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, clone
from sklearn.feature_selection import f_classif
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    StratifiedGroupKFold,
    StratifiedKFold,
    cross_val_predict,
)

from txpredict.errors import TxpredictError
from txpredict.models._base import ResponseModel
from txpredict.models._presets import (
    DEFAULT_DEMOGRAPHIC_COLUMNS,
    class_balanced,
    make_classifier,
)
from txpredict.stats import apply_recalibration, fit_recalibration, prior_shift

#: How a ResponseClassifier turns its decision values into probabilities.
CALIBRATIONS = ("inner_platt", "prior_shift")


def check_calibration(
    calibration, where="The 'calibration' parameter of ResponseClassifier"
):
    """Refuse a ``calibration`` that is not one of :data:`CALIBRATIONS`.

    Parameters
    ----------
    calibration : object
        The value given.
    where : str
        Who gave it, at the start of the message (a parameter, a
        configuration key).
    """
    if calibration not in CALIBRATIONS:
        raise TxpredictError(
            f"{where} must be one of {list(CALIBRATIONS)}. Got {calibration!r} instead."
        )


class ResponseClassifier(ClassifierMixin, ResponseModel):
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
    scoring : str, default="auto"
        Criterion of the inner search (a scikit-learn scorer name). "auto":
        "neg_log_loss" for logistic regressions, whose probabilities are
        reported, and "roc_auc" for the others. ROC AUC ignores the size of
        the coefficients, so on AUC ties the strongest shrinkage wins and the
        probabilities come out too timid (calibration slope ~2 out of fold,
        benchmarks/probability_calibration.py); log-loss judges the
        probabilities themselves.
    calibration : {"inner_platt", "prior_shift"}, default="inner_platt"
        How the probabilities of a classifier with decision values and
        probabilities (the logistic ones) are made. "inner_platt": a logistic
        recalibration of the decision values, fitted on the inner CV's
        out-of-fold decision values of the chosen hyperparameters, with the
        slope clipped to [0, 1] (:func:`txpredict.stats.fit_recalibration`):
        it softens a fit that is too confident for its sample size and
        accounts for the response rate; the inner CV runs even for a single
        candidate. "prior_shift": the class-balanced fit's probabilities
        shifted to the training prevalence (:func:`txpredict.stats.prior_shift`),
        the former default; they are too extreme in small cohorts (mean
        out-of-fold calibration slope at n = 200: 0.86 against 0.96, and 0.74
        against 0.88 at a 30% response rate;
        ``benchmarks/probability_calibration.py``). Either way the decision
        (:meth:`predict`, balanced accuracy, AUC) is unchanged. Other
        classifiers keep the prior shift of a class-balanced fit.
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
    confounds : sequence of str or None, default=None
        Columns whose effect on the image features is handled as
        ``deconfound`` says (e.g. ``["age", "sex", "site", "motion"]``).
    deconfound : {"residualize", "augment"}, default="residualize"
        With ``confounds``: "residualize" regresses each image feature on the
        confounds, fitted on the training part of each fold only and applied
        to its test patients with the training coefficients
        (:class:`ConfoundRemover`); "augment" adds the confounds to the
        model as covariates. Cross-validated residualisation can bias
        estimates below chance at small n (Snoek et al. 2019);
        ``benchmarks/multisite.py`` measured -0.012 +- 0.009 on null data at
        n = 240.
    harmonize : {"combat"} or None, default=None
        Remove site (scanner) effects from the image features with
        :class:`ComBat`, fitted on the training part of each fold.
    sites : str, default="site"
        Column of each patient's site, for ``harmonize``.
    protected : sequence of str, default=()
        Covariates whose effects ComBat keeps (e.g. age, sex); never the
        outcome.
    unseen_sites : {"estimate", "refuse"}, default="estimate"
        ComBat's policy for a test site absent from training (leave-site-out):
        estimate its effect from its own patients' images, or refuse.
    image_column : str, default="image"
    feature_options : dict or None, default=None
        Further parameters of the named feature set's extractor
        (:class:`RoiFeatures` or :class:`WholeBrainFeatures`), e.g.
        ``{"nonfinite": "ignore"}`` for SPM maps with NaN outside the brain,
        ``{"mask": "my_mask.nii.gz"}`` or ``{"rois": [tp.Sphere(...), ...]}``.
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
    training_summary_ : dict
        Size and prevalence of the training cohort, and the range or the
        categories of each table column the model reads (set by ``fit``), for
        :func:`txpredict.validate_external`.
    classes_ : ndarray
    training_prevalence_ : float
        The training cohort's response rate.
    recalibration_ : tuple of float or None
        (intercept, slope) mapping decision values to probabilities, fitted
        on the inner CV's out-of-fold decision values
        (``calibration="inner_platt"``); None when the probabilities are
        prior-shifted.
    coef_img_, pattern_img_ : nibabel.Nifti1Image
        Linear models on voxel features (``features="wholebrain"``, with or
        without demographics): the weight map, in the units of the extracted
        voxels, and the activation pattern of Haufe et al. (2014), each
        voxel's covariance with the model's score over the score's variance
        on the training patients. Weights show what the model leans on
        (including voxels that only cancel noise), the pattern where the
        score's signal is. Built on access from ``coef_voxels_`` and
        ``pattern_voxels_`` (arrays of shape (n_voxels,)). Other models say
        why they have none.

    Examples
    --------
    >>> import txpredict as tp
    >>> cohort = tp.make_synthetic_cohort(40, grid="fsl6", random_state=0)
    >>> model = tp.ResponseClassifier(features="roi")
    >>> model.fit(cohort.X, cohort.y).predict_proba(cohort.X).shape
    (40, 2)
    >>> sorted(model.best_params_)
    ['C']
    >>> voxels = tp.ResponseClassifier("wholebrain", param_grid={"C": [0.01]})
    >>> voxels.fit(cohort.X, cohort.y).pattern_img_.shape  # the 6 mm FSL grid
    (31, 37, 31)
    """

    def __init__(
        self,
        features="roi",
        classifier="logistic",
        *,
        param_grid=None,
        inner_cv=5,
        scoring="auto",
        calibration="inner_platt",
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
        self.classifier = classifier
        self.param_grid = param_grid
        self.inner_cv = inner_cv
        self.scoring = scoring
        self.calibration = calibration
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

    _final_step = "classifier"
    _score_function = staticmethod(f_classif)

    def final_estimator(self):
        """(unfitted classifier, its default grid)."""
        classifier, grid, _ = make_classifier(self.classifier, self.random_state)
        return classifier, grid

    def resolved_scoring(self) -> str:
        """The inner-search criterion actually used ("auto" resolved)."""
        if self.scoring != "auto":
            return self.scoring
        classifier, _, _ = make_classifier(self.classifier, self.random_state)
        return (
            "neg_log_loss" if isinstance(classifier, LogisticRegression) else "roc_auc"
        )

    def inner_splitter(self, groups=None):
        """The inner CV splitter (stratified; group-aware when groups are given).

        Parameters
        ----------
        groups : array-like or None, default=None
            Group labels kept whole in the inner folds.
        """
        if groups is not None:
            return StratifiedGroupKFold(
                self.inner_cv, shuffle=True, random_state=self.random_state
            )
        return StratifiedKFold(
            self.inner_cv, shuffle=True, random_state=self.random_state
        )

    def recalibrates(self) -> bool:
        """Whether probabilities come from the inner-CV recalibration.

        ``calibration="inner_platt"`` and a classifier with both decision
        values and probabilities (the logistic ones).
        """
        check_calibration(self.calibration)
        classifier = self.final_estimator()[0]
        return (
            self.calibration == "inner_platt"
            and hasattr(classifier, "decision_function")
            and hasattr(classifier, "predict_proba")
        )

    def fit_design(self, design, y, extractor, groups=None):
        """Fit the learner on an already extracted design (used by the harness).

        Parameters
        ----------
        design : array or DataFrame
            The extracted design (:meth:`design`).
        y : array-like
            The outcome of each row.
        extractor : transformer or None
            The fitted stateless image extractor that made ``design``.
        groups : array-like or None, default=None
            Group labels kept whole in the inner CV.
        """
        recalibrate = self.recalibrates()  # checked before any fit
        super().fit_design(design, y, extractor, groups=groups)
        self.classes_ = self.search_.classes_
        responder = np.asarray(y) == self.classes_[1]
        self.training_prevalence_ = float(np.mean(responder))
        self.recalibration_ = None
        if recalibrate:
            # The chosen candidate's decision values on the inner CV's splits
            # (the same splits as the search, by the same seed): each patient
            # scored by a model that did not see them.
            inner = cross_val_predict(
                clone(self.fitted_pipeline()),
                design,
                np.asarray(y),
                groups=groups,
                cv=self.inner_splitter(groups),
                method="decision_function",
            )
            self.recalibration_ = fit_recalibration(inner, responder)
        return self

    def predict_proba(self, X):
        """Probability of each class (column 1: responder), if the classifier has it.

        Probabilities of the population the model was trained on: recalibrated
        on the inner CV's out-of-fold decision values (``calibration=
        "inner_platt"``), or a class-balanced classifier's shifted back to the
        training prevalence (:func:`txpredict.stats.prior_shift`), so that they
        average to about the response rate instead of 0.5. :meth:`predict`
        keeps the balanced decision: a responder is predicted when the
        decision value is positive.

        Parameters
        ----------
        X : DataFrame
            The cohort table (an image column and the columns the model reads),
            indexed by participant.
        """
        return self.design_probabilities(self._design_for(X))

    def design_probabilities(self, design):
        """:meth:`predict_proba` of an extracted design (used by the harness).

        Parameters
        ----------
        design : array or DataFrame
            An extracted design (:meth:`design`).
        """
        recalibration = getattr(self, "recalibration_", None)
        if recalibration is not None:
            responder = apply_recalibration(
                self.search_.decision_function(design), recalibration
            )
            return np.column_stack([1 - responder, responder])
        probability = self.search_.predict_proba(design)
        if not class_balanced(self.final_estimator()[0]):
            return probability
        prevalence = getattr(self, "training_prevalence_", None)
        if prevalence is None:  # saved before txpredict stored it
            prevalence = self.training_summary_["prevalence"]
        responder = prior_shift(probability[:, 1], prevalence)
        return np.column_stack([1 - responder, responder])

    def decision_function(self, X):
        """Signed distance to the decision boundary (positive: responder).

        Parameters
        ----------
        X : DataFrame
            The cohort table (an image column and the columns the model reads),
            indexed by participant.
        """
        return self.search_.decision_function(self._design_for(X))
