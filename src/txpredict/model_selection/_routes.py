"""Which route fits a model on the splits of a nested CV: every rule, in one place.

Three routes give the out-of-fold predictions of ``clone(model).fit(X[train])``
on ``X[test]``, with the same inner splits, candidates and tie-break:

- ``"batched"`` (:class:`LogisticFastPath`): an L2 logistic regression with
  class-balanced weights, tuned over C only by ROC AUC or log-loss, on at most
  :data:`MAX_BATCHED_FEATURES` columns as the classifier sees them. Every fit of
  every fold (outer folds x inner folds x grid values) is solved in one batch.
- ``"gram"`` (:class:`GramFastPath`): a linear classifier (linear SVM, L2
  logistic, ridge) on image features, without ANOVA selection or PCA, whose
  steps before the classifier ignore the labels, fitted on n x n Gram
  matrices.
- ``"fold_by_fold"``: scikit-learn's own fit, fold by fold, for everything else
  (random forests, a user's transformer, selection before a wide model) and
  for the maps of batched models whose preparation (e.g. ComBat) says no
  more than its scikit-learn steps.

:func:`choose_route` applies the rules in that order; nested CV, its permutation
test, bootstrap maps, permutation importance, the modality evaluation and the
CV-scheme benchmark all ask it. ``fast_path=False`` always goes fold by fold;
``fast_path=True`` refuses a model no fast route reproduces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.feature_selection import SelectPercentile
from sklearn.impute import SimpleImputer
from sklearn.model_selection import ParameterGrid
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from txpredict.errors import TxpredictError
from txpredict.features import (
    ComBat,
    ConfoundRemover,
    DemographicFeatures,
    StoredDesign,
    VoxelStore,
    fits_in_memory,
)
from txpredict.model_selection._batched_logistic import (
    SCORINGS,
    BatchedLogisticSearch,
    LogisticFastPath,
)
from txpredict.model_selection._gram import GramFastPath, any_missing
from txpredict.model_selection._preparation import encode_design, width_bound
from txpredict.models import (
    AsArray,
    ReplaceColumns,
    ResponseClassifier,
    linear_family,
    make_classifier,
)

#: Above this many columns (as the classifier sees them) the Gram route is
#: cheaper than the batched one: the batched Newton steps solve p x p systems.
MAX_BATCHED_FEATURES = 100

#: Steps the batched route may fit per training set on a numeric design.
_NUMERIC_STEPS = (SimpleImputer, StandardScaler, SelectPercentile, PCA)

FAST_ROUTES = ("batched", "gram")

#: Steps that learn nothing from the labels: fitted once per training set,
#: they serve every candidate of the inner search.
LABEL_FREE_STEPS = (
    AsArray,
    SimpleImputer,
    StandardScaler,
    PCA,
    DemographicFeatures,
    ComBat,
    ConfoundRemover,
)


def flat_steps(step):
    """The elementary steps of a pipeline, column transformer or column replacer."""
    if isinstance(step, Pipeline):
        for _, inner in step.steps:
            yield from flat_steps(inner)
    elif isinstance(step, ColumnTransformer):
        for _, inner, _ in step.transformers:
            yield from flat_steps(inner)
    elif isinstance(step, ReplaceColumns):
        yield from flat_steps(step.transformer)
    else:
        yield step


def is_label_free(preparation) -> bool:
    """Whether every step of ``preparation`` ignores the labels."""
    return all(isinstance(step, LABEL_FREE_STEPS) for step in flat_steps(preparation))


@dataclass(frozen=True)
class LogisticTuning:
    """An L2 class-balanced logistic regression tuned over C: the batched model.

    Parameters
    ----------
    Cs : sequence of float
        The candidates, in the grid's order.
    splitter : cross-validation splitter
        The inner folds of a training set.
    scoring : {"roc_auc", "neg_log_loss"}
    width : int
        Columns the classifier sees (after encoding): the batched route's cost.
    scaling : {"standard", "center", None}, default="standard"
        Numpy scaling of a numeric design, when ``preparation`` is None.
    preparation : transformer or None, default=None
        Steps fitted on each training set before the classifier.
    """

    Cs: tuple
    splitter: object
    scoring: str
    width: int
    scaling: str | None = "standard"
    preparation: object = None

    def search(self) -> BatchedLogisticSearch:
        """The batched search fitting this model."""
        return BatchedLogisticSearch(
            self.Cs,
            self.splitter,
            self.scaling,
            preparation=self.preparation,
            scoring=self.scoring,
        )


@dataclass(frozen=True)
class Route:
    """The route chosen for a model on a design.

    Attributes
    ----------
    name : {"batched", "gram", "fold_by_fold"}
    design : ndarray or DataFrame
        What the route works on (the batched route's own numeric encoding of
        a tabular design).
    search : BatchedLogisticSearch or None
        The batched route's search.
    fitter : LogisticFastPath, GramFastPath or None
        Fits a model's folds (None: fold by fold, or a batched route asked
        for its search only).
    maps_fitter : GramFastPath, LogisticFastPath or None
        Fits a model's folds with their maps: the Gram route forms them from
        its kernels, the batched route from its coefficients (on a numeric
        or demographic design; with other preparation steps, such as ComBat,
        scikit-learn's fit gives them, fold by fold: None).
    """

    name: str
    design: object
    search: BatchedLogisticSearch | None = None
    fitter: object = None
    maps_fitter: object = None


def choose_route(
    model,
    design,
    *,
    fast_path="auto",
    routes=FAST_ROUTES,
    same_columns=False,
) -> Route:
    """The fastest route that reproduces ``model`` on ``design``.

    Parameters
    ----------
    model : estimator
        Only a :class:`ResponseClassifier` can take a fast route.
    design : ndarray or DataFrame
        The model's design (``model.design(X, extractor)``).
    fast_path : "auto", True or False, default="auto"
        False: fold by fold. True: a fast route or an error.
    routes : tuple of {"batched", "gram"}, default=("batched", "gram")
        The fast routes the caller can use (a treatment selector's arms have
        the batched one only).
    same_columns : bool, default=False
        The batched route must work on ``design``'s own columns (no encoding):
        shuffling a column there is shuffling the feature.

    Returns
    -------
    Route
    """
    route = Route("fold_by_fold", design)
    if fast_path:
        family = gram_family(model, design) if "gram" in routes else None
        batched = logistic_tuning_of(model, design) if "batched" in routes else None
        if batched is not None and (
            not same_columns or _same_columns(batched[1], design)
        ):
            route = batched_route(*batched, model=model)
        if route.name == "fold_by_fold" and family is not None:
            fitter = GramFastPath(model, design, family)
            route = Route("gram", design, fitter=fitter, maps_fitter=fitter)
    if isinstance(design, VoxelStore | StoredDesign) and route.name != "gram":
        # Only the Gram route reads a design a chunk at a time.
        store = design.store if isinstance(design, StoredDesign) else design
        why = (
            "some of its voxels are NaN (scikit-learn's imputer would run per "
            "fold, in memory)"
            if store.has_missing_values()
            else "no streamed route reproduces this model"
        )
        raise TxpredictError(
            f"The design on disk ({store.shape[0]} patients x {store.shape[1]} "
            f"features) cannot be used: {why}. Pass on_disk=False if it fits in "
            "memory, or give images without NaN inside the mask."
        )
    if fast_path is True and route.name == "fold_by_fold":
        raise TxpredictError(
            "fast_path=True, but no fast path applies to this model: it needs a "
            "ResponseClassifier with either the 'logistic' classifier tuned over "
            f"C on at most {MAX_BATCHED_FEATURES} features, or a linear classifier "
            "('linear_svm', 'logistic', 'ridge') on image features with no "
            "select_percentile/pca_components and no missing values."
        )
    return route


def batched_route(tuning: LogisticTuning, design, *, model=None) -> Route:
    """The batched route for ``tuning`` on ``design``, or the fold-by-fold one.

    The width rule and the missing-value rule of a numeric design (scaled in
    numpy, without an imputer) are applied here, for models described by
    :func:`logistic_tuning_of` and for callers that describe their own
    logistic model (a selector's interaction design, the CV-scheme benchmark).
    ``model``: a ResponseClassifier whose folds the route is to fit.
    """
    if tuning.width > MAX_BATCHED_FEATURES:
        return Route("fold_by_fold", design)
    numeric = tuning.preparation is None
    if numeric and np.isnan(np.asarray(design, dtype=np.float64)).any():
        return Route("fold_by_fold", design)
    search = tuning.search()
    fitter = None if model is None else LogisticFastPath(model, design, search)
    maps = fitter if fitter is not None and fitter.has_maps else None
    return Route("batched", design, search=search, fitter=fitter, maps_fitter=maps)


def logistic_tuning_of(model, design):
    """(LogisticTuning, design it works on) of a ResponseClassifier, or None.

    The batched route reproduces the "logistic" preset (L2, intercept,
    class-balanced) tuned by ROC AUC or log-loss over C only. Numeric designs
    without missing values are scaled in numpy; demographic designs (alone or
    beside ROI features) are imputed, scaled and one-hot encoded per training
    set by :class:`FoldPreparation` on a numeric encoding; other pipelines
    (selection, PCA, harmonisation, confound regression) have their steps
    fitted on each training set. A user's transformer is not reproduced.
    """
    if not isinstance(model, ResponseClassifier) or isinstance(
        design, VoxelStore | StoredDesign
    ):
        return None  # a design on disk is wide: the Gram route's
    search = model.build_search(design)
    classifier = search.estimator.named_steps["classifier"]
    if linear_family(classifier) != "logistic" or not classifier.fit_intercept:
        return None
    scoring = model.resolved_scoring()
    if classifier.class_weight != "balanced" or scoring not in SCORINGS:
        return None
    candidates = list(ParameterGrid(search.param_grid))
    if any(set(c) - {"classifier__C"} for c in candidates):
        return None
    Cs = tuple(c.get("classifier__C", classifier.C) for c in candidates)
    splitter = model.inner_splitter()
    if isinstance(design, np.ndarray) and gram_family(model, design) == "logistic":
        # Numeric, nothing missing, no selection or PCA: scaled in numpy.
        tuning = LogisticTuning(
            Cs, splitter, scoring, design.shape[1], model.resolved_scaling()
        )
        return tuning, np.asarray(design, dtype=np.float64)
    preparation = search.estimator[:-1]
    encoded = encode_design(design, preparation)
    if encoded is not None:
        design, preparation = encoded
        width = preparation.n_image + len(preparation.numeric)
        width += sum(preparation.n_levels)
    elif isinstance(design, np.ndarray) and all(
        isinstance(step, _NUMERIC_STEPS) for step in flat_steps(preparation)
    ):
        width = design.shape[1]  # imputation, scaling, selection, PCA: at most
    elif is_label_free(preparation):
        # Harmonisation, confound regression, encoding: txpredict's own steps,
        # which learn nothing from labels, fitted on each training set.
        width = width_bound(design, preparation.steps[-1][1])
    else:
        return None  # e.g. a user's transformer: fitted fold by fold, as it is
    tuning = LogisticTuning(Cs, splitter, scoring, width, preparation=preparation)
    return tuning, design


def _same_columns(encoded, design) -> bool:
    """Whether the batched route's design holds ``design``'s own columns."""
    return isinstance(design, np.ndarray) and encoded.shape == design.shape


def model_family(model) -> str | None:
    """The model's part of the Gram rule: the linear family it fits, or None.

    A ResponseClassifier with a linear classifier ("svm", "logistic",
    "ridge"), no ANOVA selection or PCA, and a scaling the route reproduces.
    """
    if not isinstance(model, ResponseClassifier):
        return None
    if model.select_percentile is not None or model.pca_components is not None:
        return None
    if model.resolved_scaling() not in ("center", "standard", None):
        return None
    _, _, family = make_classifier(model.classifier, model.random_state)
    return family


def gram_family(model, design) -> str | None:
    """The linear family ("svm", "logistic", "ridge") the Gram route fits, or None."""
    family = model_family(model)
    if family is None:
        return None
    if isinstance(design, StoredDesign) and design.store.has_missing_values():
        return None  # the imputer would have to run per fold, in memory
    if isinstance(design, pd.DataFrame | StoredDesign):
        # Image features with table columns: prepared per training set, which
        # needs every step before the classifier to ignore the labels.
        if design.shape[1] == len(model.table_columns()):
            return None  # no image features: the batched route's, or generic
        if not is_label_free(model.build_search(design).estimator[:-1]):
            return None
    elif not isinstance(design, np.ndarray | VoxelStore) or any_missing(design):
        return None  # the imputer would have to run per fold
    return family


#: ``on_disk="auto"`` puts a design on disk when it would take more than this
#: share of the memory available: the rest is for the copies other steps make,
#: the workers and whatever else the machine runs.
MEMORY_SHARE = 1 / 8


def why_not_on_disk(model, extractor) -> str | None:
    """Why ``model``'s design cannot be streamed from disk (None: it can).

    The streamed route is the Gram route: a linear classifier on image
    features extracted once. Without table columns one Gram matrix serves
    the cohort, which needs the voxels centred or unscaled; with them (ComBat,
    confound regression, demographics beside the voxels) the label-free steps
    are fitted per training set from per-voxel statistics, one pass over the
    store each, and any scaling is applied block by block.
    """
    if not isinstance(model, ResponseClassifier):
        return "a design on disk needs a ResponseClassifier"
    if extractor is None or not hasattr(extractor, "transform_to_store"):
        return "a design on disk needs image features extracted once per cohort"
    if not model.table_columns() and model.resolved_scaling() not in ("center", None):
        return (
            "scaling='standard' needs one Gram matrix per training set; a design "
            "on disk serves scaling='center' (the voxel default) or None"
        )
    if model_family(model) is None:
        return (
            "only linear classifiers ('linear_svm', 'logistic', 'ridge') without "
            "select_percentile or pca_components stream from disk"
        )
    return None


def design_on_disk(model, extractor, n_rows, on_disk="auto") -> bool:
    """Whether the dispatcher puts ``model``'s design on disk (the rule).

    ``on_disk=False``: never. True: always, or an error saying why the model
    cannot. "auto": when the model can and its design (n_rows x the
    extractor's features, float32) would take more than :data:`MEMORY_SHARE`
    of the memory available.
    """
    if on_disk not in ("auto", True, False):
        raise TxpredictError(f"on_disk must be 'auto', True or False; got {on_disk!r}.")
    if on_disk is False:
        return False
    why = why_not_on_disk(model, extractor)
    if on_disk is True and why is not None:
        raise TxpredictError(f"on_disk=True: {why}.")
    if why is not None:
        return False
    if on_disk is True:
        return True
    n_bytes = n_rows * extractor.spec_.n_features * np.dtype(np.float32).itemsize
    return not fits_in_memory(n_bytes, MEMORY_SHARE)
