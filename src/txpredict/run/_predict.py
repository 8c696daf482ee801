"""``txpredict predict``: a saved model's predictions for new patients' images."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from txpredict.errors import TxpredictError
from txpredict.leakage import describe_pairs
from txpredict.modality import ModalitySelector
from txpredict.model_selection import NestedCVResult
from txpredict.models import ResponseClassifier
from txpredict.persistence import load_model


def subject_labels(paths) -> list[str]:
    """A label per image: its BIDS subject, else its file name, else its path.

    SPM and fMRIPrep layouts give every subject the same file name
    (``sub-01/con_0001.nii``), so the ``sub-<label>`` part of the path names the
    row when there is one; otherwise the file name, if the names differ, else
    the path below the images' common folder.

    Parameters
    ----------
    paths : sequence of str or pathlib.Path
        Image paths.

    Examples
    --------
    >>> subject_labels(["spm/sub-01/con_0001.nii", "spm/sub-02/con_0001.nii"])
    ['sub-01', 'sub-02']
    >>> subject_labels(["a/x.nii", "b/x.nii"])
    ['a/x.nii', 'b/x.nii']
    """
    paths = [Path(p) for p in paths]
    subjects = [
        next((m.group(0) for m in map(_BIDS_SUBJECT.search, p.parts[::-1]) if m), None)
        for p in paths
    ]
    if all(subjects) and len(set(subjects)) == len(paths):
        return subjects
    names = [p.name for p in paths]
    if len(set(names)) == len(names):
        return names
    common = Path(os.path.commonpath([p.resolve() for p in paths]))
    return [p.resolve().relative_to(common).as_posix() for p in paths]


_BIDS_SUBJECT = re.compile(r"sub-[A-Za-z0-9]+")


def predict_images(model_path, images, *, image_column="image") -> pd.DataFrame:
    """Response probabilities of new subjects' images from a saved model.

    Only image-only models can predict from images alone; a model that also
    uses demographics needs the participants table (use the library). A saved
    :class:`ModalitySelector` (``selector.skops`` of a modality run) gives
    :func:`selection_table`'s columns.

    Parameters
    ----------
    model_path : str or pathlib.Path
        The saved model (``model.skops`` of a run).
    images : sequence of str, pathlib.Path or image
        New patients' pre-treatment images.
    image_column : str, default="image"
        The column the model reads its images from.
    """
    model, provenance = load_model(model_path)
    if (
        isinstance(model, ResponseClassifier | ModalitySelector)
        and isinstance(model.features, str)
        and (model.features.endswith("demographics"))
    ):
        raise TxpredictError(
            f"The model in {model_path} uses demographic columns "
            f"({list(model.demographic_columns)}); predict with the library on a "
            "participants table, not from images alone."
        )
    index = pd.Index(subject_labels(images), name="participant_id")
    X = pd.DataFrame({image_column: [str(p) for p in images]}, index=index)
    seen = model.training_scans_in(X) if hasattr(model, "training_scans_in") else []
    seen_warning = (
        f"Warning: {len(seen)} image(s) are scans the model was trained on "
        f"(training id and here): {describe_pairs(seen)}. Their predictions are not "
        "out of sample: the model has seen these patients."
        if seen
        else None
    )
    if isinstance(model, ModalitySelector):
        table = selection_table(model, X)
        table.attrs["provenance"] = provenance
        table.attrs["warning"] = _joined(selection_warning(model_path), seen_warning)
        return table
    table = pd.DataFrame(index=index)
    if hasattr(model, "predict_proba"):
        try:
            table["p_response"] = model.predict_proba(X)[:, 1]
        except AttributeError:  # an SVM: decision scores only
            pass
    table["decision"] = model.decision_function(X)
    table["predicted"] = model.predict(X)
    table.attrs["provenance"] = provenance
    table.attrs["warning"] = _joined(chance_warning(model_path), seen_warning)
    return table


def _joined(*warnings_) -> str | None:
    """Warnings one per line, or None when there is none."""
    present = [w for w in warnings_ if w]
    return "\n".join(present) if present else None


#: What ``predict`` recommends for a patient whose PAI interval includes 0.
NO_PREFERENCE = "no preference"


def selection_table(selector, X) -> pd.DataFrame:
    """A selector's predictions for new patients, one row each.

    The response probability under each arm, the PAI and, when the selector
    has them (two arms, few features), the unshrunk models' PAI and its 95%
    interval (:meth:`ModalitySelector.pai_interval`); the ``favoured`` arm
    (the higher predicted probability) and the ``recommended`` one: the
    favoured arm when the patient's PAI interval excludes 0, else
    :data:`NO_PREFERENCE` (the data do not tell the arms apart for them).
    Without intervals (voxel features) the favoured arm is recommended.

    Parameters
    ----------
    selector : ModalitySelector
        A fitted selector.
    X : DataFrame
        The new patients' table.
    """
    table = selector.predict_response_proba(X).add_prefix("p_")
    favoured = selector.recommend(X)
    recommended = favoured.copy()
    if len(selector.arms_) == 2:
        try:
            intervals = selector.pai_interval(X)
        except TxpredictError:  # voxel features: no unshrunk models
            table["pai"] = selector.pai(X)
        else:
            table["pai"] = intervals["pai"]
            table["pai_unshrunk"] = intervals["pai_unshrunk"]
            table["pai_ci_low"] = intervals["ci_low"]
            table["pai_ci_high"] = intervals["ci_high"]
            undecided = (intervals["ci_low"] <= 0) & (intervals["ci_high"] >= 0)
            recommended = recommended.where(~undecided, NO_PREFERENCE)
    table["favoured"] = favoured
    table["recommended"] = recommended
    return table


def selection_warning(model_path) -> str | None:
    """A warning when the saved selector gained nothing in its own evaluation.

    ``txpredict run`` with ``task = "modality"`` writes
    ``selection_summary.csv`` beside ``selector.skops``; when the policy
    gain's interval (the recommendation vs everyone on the best single arm)
    includes 0, the recommendations are not shown to help anyone.

    Parameters
    ----------
    model_path : str or pathlib.Path
        The saved model (``model.skops`` of a run).
    """
    path = Path(model_path).with_name("selection_summary.csv")
    try:
        row = pd.read_csv(path, index_col=0).loc["policy_gain"]
        low, high = float(row["ci_low"]), float(row["ci_high"])
    except (OSError, KeyError, ValueError):
        return None
    if not (low <= 0 <= high):
        return None
    return (
        f"Warning: in its own evaluation ({path}) this selector's recommendations "
        f"changed the response rate by {float(row['estimate']):+.3f} "
        f"[{low:+.3f}, {high:+.3f}] against everyone on the best single arm, an "
        "interval that includes 0: following them is not shown to help. Where a "
        f"patient's own PAI interval includes 0 the table says {NO_PREFERENCE!r}."
    )


def chance_warning(model_path) -> str | None:
    """A warning when the saved model was no better than chance in its own CV.

    ``txpredict run`` writes the nested-CV result (``result.json``) beside
    ``model.skops``; when its balanced-accuracy interval includes 0.5, the
    model's predictions for new patients are no better than chance.

    Parameters
    ----------
    model_path : str or pathlib.Path
        The saved model (``model.skops`` of a run).
    """
    path = Path(model_path).with_name("result.json")
    if not path.exists():
        return None
    try:
        summary = NestedCVResult.load(path).summary()
    except (OSError, ValueError, KeyError, TxpredictError):
        return None
    row = summary.loc["balanced_accuracy"]
    if row["ci_low"] > 0.5:
        return None
    return (
        f"Warning: in its own nested cross-validation ({path}) this model's "
        f"balanced accuracy was {row['estimate']:.2f} "
        f"[{row['ci_low']:.2f}, {row['ci_high']:.2f}], an interval that includes "
        "chance (0.5): its predictions for new patients may be no better than "
        "chance."
    )
