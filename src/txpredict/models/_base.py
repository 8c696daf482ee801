"""What the response models share: features, design, pipeline and inner search.

A model's ``X`` is the cohort table. Its image features are extracted by a
stateless extractor (the harness may do it once per cohort); its design adds
the table columns later steps need (demographics, confounds, the site); every
step that learns (harmonisation, confound regression, imputation, scaling,
selection, PCA, the final estimator and its grid search) is fitted in ``fit``
only, i.e. inside the training part of each fold. :class:`ResponseClassifier`
and :class:`ResponseRegressor` differ only in their final estimator, their
scoring and their inner splitter.
"""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.feature_selection import SelectPercentile
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV, ParameterGrid
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from txpredict._inputs import aligned_values, check_group_labels
from txpredict.errors import TxpredictError
from txpredict.features import (
    ComBat,
    ConfoundRemover,
    DemographicFeatures,
    StoredDesign,
    fits_in_memory,
)
from txpredict.leakage import fingerprints_of, seen_scans
from txpredict.models._maps import (
    image_weights_and_pattern,
    why_no_fold_maps,
    why_no_maps,
)
from txpredict.models._presets import (
    default_scaling,
    is_stateless,
    make_image_extractor,
    prefix_grid,
    uses_demographics,
)
from txpredict.models._steps import AsArray, ReplaceColumns

_SCALINGS = ("standard", "center", None)


class ResponseModel(BaseEstimator):
    """Base of the response models (not used directly).

    Subclasses set ``_final_step`` (the pipeline step name of the final
    estimator) and ``_score_function`` (ANOVA F for ``select_percentile``), and
    define ``final_estimator()`` (the unfitted final estimator and its default
    grid) and ``inner_splitter(groups)``.
    """

    _final_step = "classifier"

    # -- the two stages -------------------------------------------------------
    def make_extractor(self):
        """The stateless image extractor (run once per cohort), or None."""
        if isinstance(self.features, str):
            return make_image_extractor(
                self.features,
                image_column=self.image_column,
                n_jobs=self.n_jobs,
                memory=self.memory,
                options=self.feature_options,
            )
        if is_stateless(self.features):
            return clone(self.features)
        return None

    def design(self, X, extractor, on_disk=False):
        """Input of the learner: extracted image features (+ table columns).

        An array of image features; or a DataFrame of image features
        (``image_0``, ...) followed by the table columns later steps need:
        demographics, confounds, the site and ComBat's protected covariates.
        ``on_disk``: the image features go to a :class:`VoxelStore` instead
        (in the feature cache ``memory``, else a scratch folder), with the
        table columns beside it as a :class:`StoredDesign`.
        """
        self._check_table_options()
        table = self.table_columns()
        if extractor is None:
            if isinstance(self.features, str):  # "demographics"
                return self._columns_of(X, table)
            if table:
                raise TxpredictError(
                    "confounds and harmonize need image features extracted once per "
                    "cohort (a named feature set or a stateless extractor); "
                    f"{type(self.features).__name__} is fitted inside the folds."
                )
            return X  # a stateful user transformer, fitted inside the folds
        columns = self._columns_of(X, table) if table else None  # checked first
        if on_disk:
            store = extractor.transform_to_store(X, self.memory)
            return store if columns is None else StoredDesign(store, columns)
        image = np.asarray(extractor.transform(X))
        if columns is None:
            return image
        frame = pd.DataFrame(image, index=X.index).set_axis(
            [f"image_{i}" for i in range(image.shape[1])], axis=1
        )
        return pd.concat([frame, columns], axis=1)

    def table_columns(self) -> list[str]:
        """Table columns the learner reads beside the image features, in order."""
        columns = []
        if uses_demographics(self.features):
            columns += list(self.demographic_columns)
        if self.confounds:
            columns += list(self.confounds)
        if self.harmonize is not None:
            columns += [self.sites, *self.protected]
        return list(dict.fromkeys(columns))

    def _check_table_options(self):
        if self.deconfound not in ("residualize", "augment"):
            raise TxpredictError(
                f"The 'deconfound' parameter of {type(self).__name__} must be "
                f"'residualize' or 'augment'. Got {self.deconfound!r} instead."
            )
        if self.harmonize not in (None, "combat"):
            raise TxpredictError(
                f"The 'harmonize' parameter of {type(self).__name__} must be 'combat' "
                f"or None. Got {self.harmonize!r} instead."
            )
        if self.confounds and self.features == "demographics":
            if self.deconfound == "residualize":
                raise TxpredictError(
                    "confounds with deconfound='residualize' remove the confounds' "
                    "part from image features; a demographics-only model has none. "
                    "Put the confounds in demographic_columns instead."
                )

    def _columns_of(self, X, columns):
        if not isinstance(X, pd.DataFrame):
            raise TxpredictError(
                f"This model reads the columns {columns} of X: pass X as a DataFrame."
            )
        missing = [c for c in columns if c not in X.columns]
        if missing:
            raise TxpredictError(
                f"Column(s) {missing} are not in X; its columns are "
                f"{list(map(str, X.columns))}. Fix demographic_columns, confounds, "
                "sites or protected."
            )
        return X[columns]

    def _demographic_block(self) -> list[str]:
        """Columns encoded as demographic features (covariates of the model)."""
        columns = []
        if uses_demographics(self.features):
            columns += list(self.demographic_columns)
        if self.confounds and self.deconfound == "augment":
            columns += list(self.confounds)
        return list(dict.fromkeys(columns))

    def resolved_scoring(self) -> str:
        """The inner-search criterion actually used."""
        return self.scoring

    def resolved_scaling(self):
        """The scaling actually used ("auto" resolved)."""
        if self.scaling not in (*_SCALINGS, "auto"):
            raise TxpredictError(
                f"The 'scaling' parameter of {type(self).__name__} must be 'auto', "
                f"'standard', 'center' or None. Got {self.scaling!r} instead."
            )
        return (
            default_scaling(self.features) if self.scaling == "auto" else self.scaling
        )

    def tuning_grid(self) -> dict:
        """The grid the inner CV searches: ``param_grid``, or the default one.

        Keys as given (``C``, ``alpha``, or ``step__param``), values as lists.
        """
        _, default_grid = self.final_estimator()
        grid = default_grid if self.param_grid is None else self.param_grid
        return {key: list(values) for key, values in grid.items()}

    def build_search(self, design) -> GridSearchCV:
        """The unfitted learner: pipeline + inner grid search, for ``design``."""
        estimator, _ = self.final_estimator()
        steps = []
        table = self.table_columns()
        if isinstance(design, pd.DataFrame) and not table:
            steps.append(("features", clone(self.features)))  # a stateful transformer
        elif isinstance(design, pd.DataFrame | StoredDesign):
            steps.extend(self._table_steps(design.shape[1] - len(table)))
        else:
            steps.extend(self._numeric_steps().steps)
        if self.select_percentile is not None:
            steps.append(
                (
                    "select",
                    SelectPercentile(
                        self._score_function, percentile=self.select_percentile
                    ),
                )
            )
        if self.pca_components is not None:
            steps.append(
                ("pca", PCA(self.pca_components, random_state=self.random_state))
            )
        steps.append((self._final_step, estimator))
        pipeline = Pipeline(steps)
        grid = prefix_grid(
            self.tuning_grid(), set(pipeline.get_params()), self._final_step
        )
        return GridSearchCV(
            pipeline,
            grid,  # {} is one candidate: no tuning
            scoring=self.resolved_scoring(),
            cv=self.inner_splitter(),
            error_score="raise",
        )

    def preparation(self, design) -> Pipeline:
        """The unfitted steps before the final estimator, for ``design``.

        Imputation, scaling, harmonisation and demographic encoding: what
        turns ``design`` into the numbers the estimator sees. Used by models
        that work on the same prepared features (the PAI intervals, the
        X-learner's effect regressions). Its output is one float array.
        """
        steps = self.build_search(design).estimator.steps[:-1]
        return Pipeline([*steps, ("as_array", AsArray())])

    def _table_steps(self, n_image):
        """Steps of a design of ``n_image`` image columns followed by table columns."""
        # A string array, not a list: scikit-learn's clone copies a list item
        # by item (seconds for a whole brain's voxel names, at every fold).
        # Not a pandas Index either: a fitted model holds plain arrays, which
        # skops can save (an Index carries pandas internals it cannot).
        image = np.array([f"image_{i}" for i in range(n_image)], dtype=str)
        demographic = self._demographic_block()
        steps = []
        if n_image and self.harmonize == "combat":
            combat = ComBat(
                image,
                site=self.sites,
                covariates=list(self.protected),
                unseen_sites=self.unseen_sites,
            )
            steps.append(("harmonize", ReplaceColumns(combat, image)))
        if n_image and self.confounds and self.deconfound == "residualize":
            remover = ConfoundRemover(image, confounds=list(self.confounds))
            steps.append(("deconfound", ReplaceColumns(remover, image)))
        if not n_image:
            steps.append(("features", DemographicFeatures(demographic)))
            return steps
        image_steps = Pipeline([("array", AsArray()), *self._numeric_steps().steps])
        parts = [("image", image_steps, slice(0, n_image))]
        if demographic:
            parts.append(
                ("demographics", DemographicFeatures(demographic), demographic)
            )
        steps.append(("features", ColumnTransformer(parts)))
        return steps

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
        # A Series is aligned to X by participant, never by position.
        y = aligned_values(y, X, what="y")
        groups = check_group_labels(groups, X)
        extractor = self.make_extractor()
        if extractor is not None:
            extractor.fit(X)
            _check_fits_in_memory(extractor, len(y))
        design = self.design(X, extractor)
        self.fit_design(design, y, extractor, groups=groups)
        self._set_image_maps(design)
        # What its training scans look like, compactly: a new cohort holding
        # one of them is named (validate_external, txpredict predict).
        self.scan_fingerprints_ = (
            fingerprints_of(design, X) if extractor is not None else None
        )
        index = X.index if isinstance(X, pd.DataFrame) else range(len(y))
        # Identifies the training cohort in saved models (subjects and outcomes).
        self.training_hash_ = joblib.hash(([str(i) for i in index], np.asarray(y)))
        self.training_summary_ = training_summary(X, y, self.table_columns())
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
        prefix = f"{self._final_step}__"
        self.best_params_ = {k.removeprefix(prefix): v for k, v in best.items()}
        return self

    def has_fold_maps(self) -> bool:
        """Whether each fold's model (before any fit) will have image weights.

        Voxel maps, or one weight per ROI: linear models on image features.
        """
        return why_no_fold_maps(self, self.make_extractor()) is None

    def _maps_unavailable(self) -> str | None:
        """Why this fitted model has no weight / pattern maps (None: it has)."""
        final = self.fitted_pipeline()[-1]
        linear = getattr(final, "coef_", None) is not None
        return why_no_maps(self, self.extractor_, final, linear)

    def fitted_pipeline(self) -> Pipeline:
        """The fitted preparation steps and final estimator (the best candidate's)."""
        return getattr(self.search_, "best_estimator_", self.search_)

    def _set_image_maps(self, design):
        """``coef_img_`` and ``pattern_img_`` of a linear model on voxels."""
        if self._maps_unavailable() is not None:
            return
        # Arrays, not images: a saved model holds only trusted types.
        self.coef_voxels_, self.pattern_voxels_ = image_weights_and_pattern(
            self.fitted_pipeline(), design, self.extractor_.n_voxels_
        )

    @property
    def coef_img_(self):
        """The weight map: each voxel's weight, in the units of the extracted voxels.

        For linear models on voxel features (nilearn's Decoder convention);
        ``weights @ voxels`` is the model's score up to a constant. Weights
        are not activations (Haufe et al. 2014): see ``pattern_img_``.
        """
        return self.extractor_.inverse_transform(self.coef_voxels_)

    @property
    def pattern_img_(self):
        """The activation pattern (Haufe et al. 2014): Cov(voxel, score) / Var(score).

        Computed on the training patients; where the model's score covaries
        with the voxels, not where it leans on them.
        """
        return self.extractor_.inverse_transform(self.pattern_voxels_)

    def __getattr__(self, name):
        # Only reached when normal lookup fails: say why a map is missing.
        maps = ("coef_img_", "pattern_img_", "coef_voxels_", "pattern_voxels_")
        if name in maps and "search_" in self.__dict__:
            why = self._maps_unavailable() or (
                "maps are computed by fit(); this model was fitted on a design "
                "(fit_design, as inside cross-validation)."
            )
            raise AttributeError(f"{name} is not available: {why}")
        raise AttributeError(
            f"{type(self).__name__!r} object has no attribute {name!r}"
        )

    def training_scans_in(self, X) -> list[tuple[str, str, float]]:
        """The patients of ``X`` whose scan was one of the training scans.

        Returns
        -------
        list of (str, str, float)
            (training id, id in X, RMS difference of their image features);
            empty for a model without image features.
        """
        check_is_fitted(self, "search_")
        fingerprints = getattr(self, "scan_fingerprints_", None)
        if fingerprints is None:
            return []
        return seen_scans(fingerprints, self._design_for(X), X)

    def _design_for(self, X):
        check_is_fitted(self, "search_")
        return self.design(X, self.extractor_)

    def predict(self, X):
        """Prediction of each subject (responder flag, or symptom change)."""
        return self.search_.predict(self._design_for(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags


def training_summary(X, y, columns) -> dict:
    """What a new cohort is checked against (:func:`txpredict.validate_external`).

    The number of patients and responders, the grid of the images, and for each
    table column the model reads its range (numbers) or its categories.
    """
    y = np.asarray(y)
    summary = {
        "n_subjects": len(y),
        "prevalence": float(y.mean()),
        "columns": {},
    }
    for column in columns:
        values = X[column].dropna()
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(
            values
        ):
            summary["columns"][column] = {
                "min": float(values.min()),
                "max": float(values.max()),
            }
        else:
            summary["columns"][column] = {
                "categories": sorted(values.astype(str).unique().tolist())
            }
    return summary


#: Copies of a voxel design a scikit-learn fit holds at once: the float32
#: design, its float64 conversion, and the centred or scaled one.
FIT_COPIES = 3


def _check_fits_in_memory(extractor, n_subjects) -> None:
    """Refuse, before reading the images, a fit whose design cannot fit in memory.

    A fit that runs out of memory is killed by the system, without a message
    and losing everything the run had computed; a clear error first is
    recorded (``txpredict run`` keeps its results and says what failed).
    """
    spec = getattr(extractor, "spec_", None)
    n_features = getattr(spec, "n_features", None)
    if n_features is None:
        return
    needed = FIT_COPIES * n_subjects * n_features * np.dtype(np.float32).itemsize
    if not fits_in_memory(needed, 1.0):
        raise TxpredictError(
            f"Fitting this model on {n_subjects} patients x {n_features} image "
            f"features needs about {needed / 1e9:.1f} GB of memory, more than this "
            "machine has available. Fit it on a machine with more memory, or on "
            "ROI features; nested_cross_validate(on_disk=True) evaluates such a "
            "model without holding the voxels in memory."
        )
