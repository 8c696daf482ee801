"""Save and load fitted models safely (skops; never unpickle a stranger's file).

A model file holds the model and its provenance (txpredict, scikit-learn and
numpy versions, the training cohort's hash, the date). Loading refuses any type
outside txpredict's own and an explicit allowlist, naming the types, so a
tampered file cannot run code.
"""

from __future__ import annotations

import datetime
import warnings
from importlib.metadata import version

from txpredict._io import atomic_path
from txpredict.errors import TxpredictError

FORMAT = "txpredict.model/1"

#: Types outside txpredict that fitted txpredict models legitimately contain.
TRUSTED_TYPES = frozenset(
    {
        "numpy.dtype",
        "sklearn.metrics._ranking.roc_auc_score",
        "sklearn.metrics._ranking.average_precision_score",
        "sklearn.metrics._classification.balanced_accuracy_score",
        "sklearn.metrics._classification.accuracy_score",
        "sklearn.metrics._classification.log_loss",
        "sklearn.metrics._scorer._Scorer",
        "sklearn.metrics._scorer._PassthroughScorer",
        "sklearn.model_selection._split.StratifiedKFold",
        "sklearn.model_selection._split.StratifiedGroupKFold",
        "sklearn.feature_selection._univariate_selection.f_classif",
        # A fitted tree's arrays (random_forest): rebuilt from its state.
        "sklearn.tree._tree.Tree",
        "pathlib.PosixPath",
        "pathlib.WindowsPath",
    }
)


def _provenance(model) -> dict:
    return {
        "format": FORMAT,
        "txpredict": version("txpredict"),
        "scikit-learn": version("scikit-learn"),
        "numpy": version("numpy"),
        "training_hash": getattr(model, "training_hash_", None),
        "saved": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def save_model(model, path) -> None:
    """Write a fitted model and its provenance to ``path`` (atomically).

    Parameters
    ----------
    model : fitted estimator
    path : str or pathlib.Path
        Conventionally ``*.skops``.

    Examples
    --------
    >>> import tempfile, txpredict as tp
    >>> cohort = tp.make_synthetic_cohort(30, grid="fsl6", random_state=0)
    >>> model = tp.ResponseClassifier("roi").fit(cohort.X, cohort.y)
    >>> path = tempfile.mkdtemp() + "/model.skops"
    >>> tp.save_model(model, path)
    >>> loaded, info = tp.load_model(path)
    >>> info["training_hash"] == model.training_hash_
    True
    """
    with atomic_path(path) as tmp:
        import skops.io as sio  # imported when used: it imports all of sklearn

        try:
            sio.dump({"model": model, "provenance": _provenance(model)}, tmp)
        except Exception as exc:  # skops names no part of the model: we do
            raise TxpredictError(
                f"The fitted {type(model).__name__} could not be saved to "
                f"{str(path)!r}: {type(exc).__name__}: {exc}. A part of it is an "
                "object skops cannot write; please report this."
            ) from exc


def load_model(path, *, trusted=()):
    """Load a model written by :func:`save_model`.

    Parameters
    ----------
    path : str or pathlib.Path
    trusted : sequence of str, default=()
        Extra type names to trust (e.g. your own transformer), after checking
        where the file comes from.

    Returns
    -------
    model : fitted estimator
    provenance : dict
        Versions, training cohort hash and date.
    """
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise TxpredictError(
            f"{path} is not a readable txpredict model file ({exc}). Models are "
            "saved with txpredict.save_model (skops format)."
        ) from exc
    allowed = TRUSTED_TYPES | set(trusted)
    refused = sorted(
        t for t in untrusted if not t.startswith("txpredict.") and t not in allowed
    )
    if refused:
        raise TxpredictError(
            f"{path} contains types txpredict does not trust: {refused}. A model "
            "file can run code through such types. If you know where the file "
            "comes from and trust it, pass trusted=[...] with these names."
        )
    payload = sio.load(path, trusted=list(untrusted))
    if (
        not isinstance(payload, dict)
        or payload.get("provenance", {}).get("format") != FORMAT
    ):
        raise TxpredictError(f"{path} is not a txpredict model file.")
    provenance = payload["provenance"]
    if provenance["scikit-learn"] != version("scikit-learn"):
        warnings.warn(
            f"{path} was saved with scikit-learn {provenance['scikit-learn']}; this "
            f"is {version('scikit-learn')}. Check its predictions before use.",
            UserWarning,
            stacklevel=2,
        )
    return payload["model"], provenance


def describe_training(model, provenance: dict) -> str:
    """What a saved model was trained on, in words, for the command line.

    Examples
    --------
    >>> import txpredict as tp
    >>> cohort = tp.make_synthetic_cohort(30, grid="fsl6", random_state=0)
    >>> model = tp.ResponseClassifier("demographics", param_grid={})
    >>> model = model.fit(cohort.X, cohort.y)
    >>> describe_training(model, {"txpredict": "0.1", "saved": "2026-12-04"})
    'trained on 30 patients (...% responders), saved 2026-12-04 by txpredict 0.1'
    """
    from sklearn.base import is_regressor

    summary = getattr(model, "training_summary_", None) or {}
    parts = []
    if "n_subjects" in summary:
        text = f"trained on {summary['n_subjects']} patients"
        prevalence = summary.get("prevalence")
        if prevalence is not None and not is_regressor(model):
            text += f" ({prevalence:.0%} responders)"
        parts.append(text)
    parts.append(
        f"saved {provenance.get('saved', '?')} by txpredict "
        f"{provenance.get('txpredict', '?')}"
    )
    text = ", ".join(parts)
    fingerprint = provenance.get("training_hash")
    if fingerprint:
        text += f"; training cohort fingerprint {str(fingerprint)[:12]}"
    return text
