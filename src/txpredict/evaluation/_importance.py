"""Does a region matter beyond the others? Drop-one-ROI importance on the same splits.

For an ROI model, each region (or group of regions: both dACC spheres) is
left out in turn; the reduced model runs the same nested CV (same splits)
and :func:`compare` tests the full model against it. The importance of a
region is the drop in AUC and balanced accuracy without it, with the
interval and p-value of the comparison (its false-positive rate is measured
in ``benchmarks/calibration.py``). A correlated region can stand in for a
dropped one: a small drop says the others carry its information, not that it
carries none.
"""

from __future__ import annotations

import pandas as pd
from sklearn.base import clone

from txpredict.errors import TxpredictError
from txpredict.evaluation._compare import compare
from txpredict.features import default_rois
from txpredict.model_selection import nested_cross_validate
from txpredict.models import FEATURE_SETS, ResponseClassifier

_ROI_FEATURES = tuple(f for f in FEATURE_SETS if f.startswith("roi"))


def drop_one_importance(model, X, y, *, groups_of_rois=None, **cv_options):
    """Each ROI's (or group's) importance: the full model vs the model without it.

    Parameters
    ----------
    model : ResponseClassifier
        On ROI features (``features="roi"``, ``"roi_voxels"`` or
        ``"roi+demographics"``); its ROIs are ``feature_options["rois"]`` or
        the default ones.
    X, y
        As in :func:`nested_cross_validate`.
    groups_of_rois : dict of str to list of str, or None
        Regions dropped together, e.g. ``{"dACC": ["dACC_L", "dACC_R"]}``.
        None: each ROI alone.
    **cv_options
        Passed to every :func:`nested_cross_validate` run (outer_cv,
        n_repeats, random_state, ...): the same splits for all.

    Returns
    -------
    DataFrame
        One row per dropped region or group: for ``auc`` and
        ``balanced_accuracy``, ``<metric>_drop`` (full minus without), its
        ``_ci_low``, ``_ci_high`` and ``_p_value`` (two-sided, from
        :func:`compare`).

    Examples
    --------
    >>> import txpredict as tp
    >>> cohort = tp.make_synthetic_cohort(60, effect="prognostic", grid="fsl6",
    ...                                   random_state=0)
    >>> table = tp.drop_one_importance(
    ...     tp.ResponseClassifier("roi"), cohort.X, cohort.y, n_repeats=2,
    ...     groups_of_rois={"cuneus": ["cuneus_L", "cuneus_R"]})
    >>> list(table.index)
    ['cuneus']
    """
    if not isinstance(model, ResponseClassifier) or model.features not in _ROI_FEATURES:
        raise TxpredictError(
            "drop_one_importance needs a ResponseClassifier on ROI features "
            f"(features in {list(_ROI_FEATURES)}); got "
            f"{getattr(model, 'features', model)!r}. For voxel models see their "
            "weight and pattern maps (return_maps=True)."
        )
    options = dict(model.feature_options or {})
    rois = list(options.get("rois") or default_rois())
    names = [r.name for r in rois]
    if groups_of_rois is None:
        groups_of_rois = {name: [name] for name in names}
    for group, members in groups_of_rois.items():
        unknown = [m for m in members if m not in names]
        if unknown:
            raise TxpredictError(
                f"drop_one_importance: group {group!r} names ROI(s) {unknown}; the "
                f"model's ROIs are {names}."
            )
        if len(set(members)) == len(names):
            raise TxpredictError(
                f"drop_one_importance: group {group!r} holds every ROI; nothing would "
                "be left to predict from (compare with the demographics model instead)."
            )
    full = nested_cross_validate(model, X, y, **cv_options)
    rows = {}
    for group, members in groups_of_rois.items():
        kept = [r for r in rois if r.name not in members]
        reduced = clone(model).set_params(feature_options={**options, "rois": kept})
        without = nested_cross_validate(reduced, X, y, **cv_options)
        table = compare(full, without, names=("all", f"without {group}")).table
        rows[group] = {
            f"{metric}_{column}": table.at[metric, source]
            for metric in ("auc", "balanced_accuracy")
            for column, source in (
                ("drop", "difference"),
                ("ci_low", "ci_low"),
                ("ci_high", "ci_high"),
                ("p_value", "p_value"),
            )
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("dropped")
