"""ModalitySelector: predicted response under each treatment, and a recommendation."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from txpredict._inputs import check_treatment, check_X_y
from txpredict.errors import TxpredictError
from txpredict.leakage import fingerprints_of, seen_scans
from txpredict.modality._maps import (
    check_map_request,
    selector_maps,
    why_no_selector_maps,
)
from txpredict.modality._pai_intervals import (
    check_interval_request,
    fit_or_explain,
    interval_frame,
)
from txpredict.modality._x_learner import fit_effects, predict_with_effects
from txpredict.models import DEFAULT_DEMOGRAPHIC_COLUMNS, ResponseClassifier
from txpredict.stats import prior_shift

_STRATEGIES = ("t_learner", "x_learner", "interaction")
#: Strategies whose first stage is one tuned response model per arm.
PER_ARM_STRATEGIES = ("t_learner", "x_learner")
_SCORINGS = ("auto", "roc_auc", "neg_log_loss")


def check_arm_sizes(y, arm, arms, inner_cv):
    """Each arm needs inner_cv patients of each outcome to tune its own model."""
    for name in arms:
        counts = np.bincount(y[arm == name], minlength=2)
        if counts.min() < inner_cv:
            raise TxpredictError(
                f"Arm {name!r} has {counts[1]} responder(s) and {counts[0]} "
                f"non-responder(s) in the training data: fewer than "
                f"inner_cv={inner_cv} of each to tune its model. Use a "
                "smaller inner_cv, strategy='interaction', or more patients."
            )


def interaction_design(design, arm, arms):
    """Features, indicators of arms[1:] and their products with the features."""
    indicators = np.column_stack([(arm == a).astype(float) for a in arms[1:]])
    products = [design * indicators[:, [k]] for k in range(indicators.shape[1])]
    return np.hstack([design, indicators, *products])


def check_interaction_design(design):
    """The interaction model multiplies features by arms: numbers only."""
    if not isinstance(design, np.ndarray):
        raise TxpredictError(
            "strategy='interaction' needs image features only (e.g. 'roi', "
            "'wholebrain'); use 't_learner' with demographic features."
        )


class ModalitySelector(BaseEstimator):
    """Predict each patient's response under each treatment arm; recommend one.

    Parameters
    ----------
    features : str or transformer, default="roi"
        As in :class:`ResponseClassifier`.
    classifier : str or classifier, default="logistic"
        The response model (per arm for "t_learner" and "x_learner").
    strategy : {"t_learner", "x_learner", "interaction"}, default="t_learner"
        "t_learner": one response model per arm, each tuned by inner CV on that
        arm's patients (the Personalized Advantage Index approach of DeRubeis et
        al. 2014). "x_learner": those models, then ridge regressions of the
        effects they impute against the first arm (Künzel et al. 2019; see
        :mod:`txpredict.modality._x_learner`). "interaction": one L2 logistic
        model on the features, arm indicators and arm x feature products, so
        the arms share the prognostic part (needs numeric image features, no
        demographics).
    arms : sequence of str or None, default=None
        Arm names; None takes them from the training data (sorted).
    scoring : {"auto", "roc_auc", "neg_log_loss"}, default="auto"
        What the inner CV maximises when it tunes C (each arm's model for
        "t_learner" and "x_learner", the one model for "interaction"). The
        AUC ignores the size of the coefficients, so a T-learner's arms end
        up shrunk very differently and their difference, the PAI, suffers;
        the log-loss judges the probabilities themselves. "auto": the
        log-loss for the per-arm strategies (agreement with the truly better
        arm 0.73 / 0.77 / 0.79 at n = 100 / 200 / 400 vs 0.65 / 0.69 / 0.71
        tuned by AUC for "t_learner"; 0.74 / 0.77 / 0.80 vs 0.72 / 0.75 /
        0.79 for "x_learner"; ``benchmarks/modality_strategies.py``), the AUC
        for "interaction" (0.72 / 0.76 / 0.79; the log-loss gave 0.74 / 0.77
        / 0.79, but the intervals of the calibration benchmark were measured
        with the AUC).
    param_grid, inner_cv, demographic_columns, feature_options, random_state
        As in :class:`ResponseClassifier`.

    Attributes
    ----------
    arms_ : tuple of str
    models_ : dict of str to ResponseClassifier
        One per arm ("t_learner", "x_learner").
    effects_ : dict of str to (RidgeCV, RidgeCV, float)
        "x_learner": per arm after the first, its effect regressions and the
        arm's share (:func:`txpredict.modality._x_learner.fit_effects`).
    interval_models_ : IntervalModels or None
        The unshrunk per-arm models behind :meth:`pai_interval` (None, with
        the reason in ``no_pai_intervals_``, when they cannot be fitted).
    extractor_ : transformer or None

    Examples
    --------
    >>> import txpredict as tp
    >>> cohort = tp.make_synthetic_cohort(60, grid="fsl6", random_state=0)
    >>> selector = tp.ModalitySelector("roi", param_grid={"C": [0.1]})
    >>> selector = selector.fit(cohort.X, cohort.y, treatment="treatment")
    >>> list(selector.predict_response_proba(cohort.X).columns)
    ['CBT', 'SSRI+CBT']
    """

    def __init__(
        self,
        features="roi",
        classifier="logistic",
        *,
        strategy="t_learner",
        arms=None,
        scoring="auto",
        param_grid=None,
        inner_cv=5,
        demographic_columns=DEFAULT_DEMOGRAPHIC_COLUMNS,
        feature_options=None,
        random_state=0,
    ):
        self.features = features
        self.demographic_columns = demographic_columns
        self.feature_options = feature_options
        self.classifier = classifier
        self.strategy = strategy
        self.arms = arms
        self.scoring = scoring
        self.param_grid = param_grid
        self.inner_cv = inner_cv
        self.random_state = random_state

    def base_model(self):
        """The ResponseClassifier behind each arm's model and the extractor."""
        return ResponseClassifier(
            self.features,
            self.classifier,
            param_grid=self.param_grid,
            scoring=self.resolved_scoring(),
            inner_cv=self.inner_cv,
            demographic_columns=self.demographic_columns,
            feature_options=self.feature_options,
            random_state=self.random_state,
        )

    def resolved_scoring(self) -> str:
        """The inner-CV scoring actually used ("auto" resolved)."""
        if self.scoring != "auto":
            return self.scoring
        return "neg_log_loss" if self.strategy in PER_ARM_STRATEGIES else "roc_auc"

    def fit(self, X, y, treatment="treatment"):
        """Fit the response model(s).

        Parameters
        ----------
        X : DataFrame of shape (n_subjects, n_columns)
        y : Series or array-like of shape (n_subjects,)
            Responder flag; a Series is aligned to ``X`` by its index.
        treatment : str, Series or array-like, default="treatment"
            Column of X, or the arm of each subject (a Series is aligned to
            ``X`` by its index, an array taken in ``X``'s row order).

        Returns
        -------
        self
        """
        self.check_strategy()
        _, y = check_X_y(X, y)
        arm, arms = check_treatment(X, treatment, self.arms)
        extractor = self.base_model().make_extractor()
        if extractor is not None:
            extractor.fit(X)
        design = self.base_model().design(X, extractor)
        self.fit_design(design, y, arm.to_numpy(), arms, extractor)
        # Only the final fit: the evaluation's folds never ask for intervals.
        self.interval_models_, self.no_pai_intervals_ = fit_or_explain(
            self.base_model(), design, np.asarray(y).astype(int), arm.to_numpy(), arms
        )
        self.scan_fingerprints_ = (
            fingerprints_of(design, X) if extractor is not None else None
        )
        self.no_maps_ = why_no_selector_maps(self, extractor, design)
        self.maps_ = (
            selector_maps(self, design, arm.to_numpy())
            if self.no_maps_ is None
            else None
        )
        return self

    def __sklearn_tags__(self):
        # A cohort table (images, demographics, the arm), not a numeric
        # matrix: scikit-learn's data checks do not apply (tests/test_common.py
        # runs table-based equivalents).
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

    def has_fold_maps(self) -> bool:
        """Whether each fold's selector (before any fit) will have voxel maps.

        They need whole-brain features alone, a per-arm strategy and linear
        models.
        """
        return (
            self.features == "wholebrain"  # voxels only, no table columns
            and self.strategy != "interaction"
            and self.base_model().has_fold_maps()
        )

    def map_img(self, term=None, kind="pattern"):
        """A brain map of the fitted selector (voxel features, per-arm strategies).

        Parameters
        ----------
        term : str or None, default=None
            An arm (its own response model's map), or ``"<arm> - <first arm>"``
            (the difference of their scores: where the predicted advantage
            lives, the moderation map). None: the difference of the two arms.
        kind : {"pattern", "weights"}, default="pattern"
            The Haufe activation pattern (Cov(voxel, score) / Var(score) on
            the training patients) or the weights (in the units of the
            extracted voxels). See :mod:`txpredict.modality._maps`.

        Returns
        -------
        Nifti1Image
        """
        check_is_fitted(self, "arms_")
        if term is None:
            term = f"{self.arms_[1]} - {self.arms_[0]}"
        values = check_map_request(self, term, kind)
        return self.extractor_.inverse_transform(values)

    def check_strategy(self):
        """Refuse an unknown ``strategy`` (before any work is done)."""
        if self.strategy not in _STRATEGIES:
            raise TxpredictError(
                f"The 'strategy' parameter of ModalitySelector must be one of "
                f"{list(_STRATEGIES)}. Got {self.strategy!r} instead."
            )
        if self.scoring not in _SCORINGS:
            raise TxpredictError(
                f"The 'scoring' parameter of ModalitySelector must be one of "
                f"{list(_SCORINGS)}. Got {self.scoring!r} instead."
            )

    def fit_design(self, design, y, arm, arms, extractor):
        """Fit on an already extracted design (used by :func:`evaluate_selection`).

        Parameters
        ----------
        design : array or DataFrame
            The extracted design of the training patients.
        y : array-like
            Their outcomes.
        arm : array of str
            The arm each row received (as checked by :func:`check_treatment`).
        arms : sequence of str
            The arm names, in order.
        extractor : transformer or None
            The fitted stateless image extractor that made ``design``.
        """
        self.check_strategy()
        self.arms_ = tuple(arms)
        self.extractor_ = extractor
        y = np.asarray(y).astype(int)
        base = self.base_model()
        if self.strategy in PER_ARM_STRATEGIES:
            check_arm_sizes(y, arm, self.arms_, self.inner_cv)
            self.models_ = {}
            for name in self.arms_:
                rows = np.flatnonzero(arm == name)
                part = (
                    design.iloc[rows]
                    if isinstance(design, pd.DataFrame)
                    else design[rows]
                )
                self.models_[name] = clone(base).fit_design(part, y[rows], extractor)
            if self.strategy == "x_learner":
                self.effect_preparation_ = base.preparation(design).fit(design, y)
                self.effects_ = fit_effects(
                    self.effect_preparation_.transform(design),
                    y,
                    arm,
                    self.arms_,
                    self._per_arm_probabilities(design),
                )
        else:
            check_interaction_design(design)
            self.training_prevalence_ = float(y.mean())
            self.interaction_model_ = GridSearchCV(
                make_pipeline(
                    StandardScaler(),
                    LogisticRegression(class_weight="balanced", max_iter=5000),
                ),
                self.interaction_grid(),
                scoring=self.resolved_scoring(),
                cv=base.inner_splitter(),
            ).fit(self.interactions(design, arm), y)
        return self

    def interaction_grid(self):
        """The grid of the interaction model, as pipeline parameters."""
        grid = (
            self.param_grid
            if self.param_grid is not None
            else {"C": [1e-3, 1e-2, 1e-1, 1.0, 10.0]}
        )
        return {
            k if "__" in k else f"logisticregression__{k}": list(v)
            for k, v in grid.items()
        }

    def interactions(self, design, arm):
        """Design of the interaction model for rows receiving ``arm``.

        Parameters
        ----------
        design : array
            An extracted design.
        arm : array of str
            The arm each row is to receive.
        """
        return interaction_design(design, arm, self.arms_)

    def predict_response_proba(self, X, arms=None) -> pd.DataFrame:
        """Probability of response under each arm (one column per arm).

        Parameters
        ----------
        X : DataFrame
        arms : sequence of str or None, default=None
            The arms to predict (e.g. those a clinic offers), among ``arms_``;
            None predicts all.
        """
        check_is_fitted(self, "arms_")
        arms = self._check_arms(arms)
        design = self.base_model().design(X, self.extractor_)
        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame(self.predict_design(design), index=index)[arms]

    def _check_arms(self, arms):
        if arms is None:
            return list(self.arms_)
        arms = [arms] if isinstance(arms, str) else list(arms)
        unknown = [a for a in arms if a not in self.arms_]
        if unknown:
            raise TxpredictError(
                f"Unknown treatment arm(s) {unknown}: this selector was trained on "
                f"{list(self.arms_)}. Arm names must match the training data exactly."
            )
        if not arms:
            raise TxpredictError(f"arms is empty; choose among {list(self.arms_)}.")
        return arms

    def predict_design(self, design) -> dict:
        """Response probability under each arm, for an extracted design.

        Parameters
        ----------
        design : array or DataFrame
            An extracted design (:meth:`design` of the cohort table).
        """
        if self.strategy == "t_learner":
            stage1 = self._per_arm_probabilities(design)
            return {name: stage1[:, k] for k, name in enumerate(self.arms_)}
        if self.strategy == "x_learner":
            reference = self._per_arm_probabilities(design)[:, 0]
            p = predict_with_effects(
                self.effect_preparation_.transform(design),
                reference,
                self.effects_,
                self.arms_,
            )
            return {name: p[:, k] for k, name in enumerate(self.arms_)}
        out = {}
        for name in self.arms_:
            arm = np.full(len(design), name)
            balanced = self.interaction_model_.predict_proba(
                self.interactions(design, arm)
            )[:, 1]
            # Shifted back to the training prevalence, as below.
            out[name] = prior_shift(balanced, self.training_prevalence_)
        return out

    def _per_arm_probabilities(self, design):
        """Each arm's own model's probabilities, shape (n_rows, n_arms)."""
        columns = []
        for name in self.arms_:
            # Class-balanced fits, shifted back to the arm's training
            # prevalence: unshifted, every arm's probabilities would average
            # 0.5 and the PAI would lose the difference in response rate
            # between the arms.
            model = self.models_[name]
            balanced = model.search_.predict_proba(design)[:, 1]
            columns.append(prior_shift(balanced, model.training_prevalence_))
        return np.column_stack(columns)

    def pai(self, X, arms=None) -> pd.Series:
        """Personalized Advantage Index.

        Two arms: P(response | second arm) - P(response | first arm) (positive
        favours the second of ``arms_``, or of ``arms``). More arms: best minus
        second best (>= 0).

        Parameters
        ----------
        X : DataFrame
            The cohort table (an image column and the columns the model reads),
            indexed by participant.
        arms : sequence of str or None, default=None
            Two arms to compare, in order; None: the selector's ``arms_``.
        """
        p = self.predict_response_proba(X, arms)
        if p.shape[1] < 2:
            raise TxpredictError("The PAI compares at least two arms.")
        if p.shape[1] == 2:
            return (p.iloc[:, 1] - p.iloc[:, 0]).rename("pai")
        ordered = np.sort(p.to_numpy(), axis=1)
        return pd.Series(ordered[:, -1] - ordered[:, -2], index=p.index, name="pai")

    def pai_interval(self, X, arms=None, confidence=0.95) -> pd.DataFrame:
        """Each patient's PAI with a confidence interval (two arms).

        The interval is of the patient's expected advantage given the
        features, E[P(response | second arm) - P(response | first arm) | x],
        from one unshrunk logistic model per arm (Firth's bias-reduced fit) on
        the selector's prepared features (Wald intervals on the log-odds
        scale, combined by the MOVER of Zou & Donner 2008). Not around the
        selector's own PAI: its tuned models are shrunk towards no
        difference, and an interval around them would miss the patients
        with the largest advantage.
        Measured coverage of the expected PAI (``benchmarks/pai_intervals.py``,
        400 synthetic trials per size, 9 ROI features): see the
        documentation's benchmarks page.

        Parameters
        ----------
        X : DataFrame
        arms : pair of str or None, default=None
            (a, b): the interval is of P(response | b) - P(response | a).
            None: ``arms_`` (two arms only).
        confidence : float, default=0.95

        Returns
        -------
        DataFrame
            One row per patient: ``pai`` (the selector's, as :meth:`pai`),
            ``pai_unshrunk`` (the unshrunk models', the interval's centre),
            ``ci_low``, ``ci_high``.

        Raises
        ------
        TxpredictError
            When an arm's unshrunk model cannot be fitted (as many features
            as patients, e.g. voxels), for a confidence outside (0, 1) or not
            two arms.

        Examples
        --------
        >>> import txpredict as tp
        >>> cohort = tp.make_synthetic_cohort(80, grid="fsl6", random_state=0)
        >>> selector = tp.ModalitySelector("roi", param_grid={"C": [0.1]})
        >>> selector = selector.fit(cohort.X, cohort.y)
        >>> list(selector.pai_interval(cohort.X.iloc[:2]).columns)
        ['pai', 'pai_unshrunk', 'ci_low', 'ci_high']
        """
        check_is_fitted(self, "arms_")
        arms = self._check_arms(arms)
        check_interval_request(
            getattr(self, "interval_models_", None),
            getattr(self, "no_pai_intervals_", "it was not fitted by fit()."),
            arms,
            confidence,
        )
        design = self.base_model().design(X, self.extractor_)
        values = self.interval_models_.intervals(design, arms, confidence)
        p = pd.DataFrame(self.predict_design(design))
        pai = p[arms[1]] - p[arms[0]]
        index = X.index if isinstance(X, pd.DataFrame) else None
        return interval_frame(pai, values, index)

    def training_scans_in(self, X) -> list[tuple[str, str, float]]:
        """The patients of ``X`` whose scan was one of the training scans.

        As :meth:`ResponseClassifier.training_scans_in`.

        Parameters
        ----------
        X : DataFrame
            The cohort table (an image column and the columns the model reads),
            indexed by participant.
        """
        check_is_fitted(self, "arms_")
        fingerprints = getattr(self, "scan_fingerprints_", None)
        if fingerprints is None:
            return []
        return seen_scans(fingerprints, self.base_model().design(X, self.extractor_), X)

    def recommend(self, X, arms=None) -> pd.Series:
        """The arm with the highest response probability (among ``arms``: all).

        Parameters
        ----------
        X : DataFrame
            The cohort table (an image column and the columns the model reads),
            indexed by participant.
        arms : sequence of str or None, default=None
            The arms a clinic offers (names checked); None: every arm.
        """
        p = self.predict_response_proba(X, arms)
        return p.idxmax(axis=1).rename("recommended")
