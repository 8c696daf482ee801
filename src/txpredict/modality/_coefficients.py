"""Which features drive a recommendation: a fitted selector's coefficients.

The coefficients of every outer-fold selector of :func:`evaluate_selection`
(``return_coefficients=True``) show which features the recommendation rests
on, and how stable that is across folds. They are on the log-odds scale, per
training SD of each prepared feature (the models standardise their inputs),
so that regions compare with each other:

- per-arm strategies ("t_learner", "x_learner"): each arm's response model
  (``term`` = the arm), and for every arm after the first its difference
  from the first (``"<arm> - <first>"``): the feature's moderation of the
  arm effect, the part of the PAI that varies between patients;
- "x_learner" also: the effect regressions' combined slope
  (``"effect <arm>"``), on the probability scale;
- "interaction": the prognostic slopes shared by the arms (``"prognostic"``)
  and the arm x feature products (``"<arm> x feature"``), per SD of each
  column of the interaction design.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from txpredict.errors import TxpredictError
from txpredict.models import linear_family


def check_coefficients(selector):
    """Refuse, before any work, coefficients of a non-linear response model."""
    estimator = selector.base_model().final_estimator()[0]
    if selector.strategy != "interaction" and linear_family(estimator) is None:
        raise TxpredictError(
            f"return_coefficients=True needs linear response models (classifier "
            f"'logistic', 'linear_svm' or 'ridge'); {selector.classifier!r} has "
            "no coefficients. Use tp.permutation_importance on each arm's "
            "patients instead."
        )


def selector_coefficients(selector) -> pd.DataFrame:
    """Long table (feature, term, coefficient) of one fitted selector."""
    arms = selector.arms_
    names = _image_names(selector)
    rows = []
    if selector.strategy == "interaction":
        coef = selector.interaction_model_.best_estimator_[-1].coef_.ravel()
        p = len(names)
        rows += _rows(names, "prognostic", coef[:p])
        start = p + len(arms) - 1  # after the arm indicators
        for k, arm in enumerate(arms[1:]):
            block = coef[start + k * p : start + (k + 1) * p]
            rows += _rows(names, f"{arm} x feature", block)
        return pd.DataFrame(rows)
    per_arm = {}
    for arm in arms:
        pipeline = selector.models_[arm].fitted_pipeline()
        labels = _prepared_names(pipeline[:-1], names)
        per_arm[arm] = pd.Series(pipeline[-1].coef_.ravel(), index=labels)
        rows += _rows(labels, arm, per_arm[arm].to_numpy())
    for arm in arms[1:]:
        difference = per_arm[arm] - per_arm[arms[0]]
        rows += _rows(difference.index, f"{arm} - {arms[0]}", difference.to_numpy())
    if selector.strategy == "x_learner":
        labels = _prepared_names(selector.effect_preparation_[:-1], names)
        for arm in arms[1:]:
            on_treated, on_reference, share = selector.effects_[arm]
            slope = share * on_reference.coef_ + (1 - share) * on_treated.coef_
            rows += _rows(labels, f"effect {arm}", slope)
    return pd.DataFrame(rows)


def summarise_coefficients(folds: pd.DataFrame) -> pd.DataFrame:
    """Mean, SD and sign consistency of each (term, feature) across folds."""
    grouped = folds.groupby(["term", "feature"], sort=False)["coefficient"]
    mean = grouped.mean()
    consistency = folds.assign(
        agrees=np.sign(folds["coefficient"])
        == np.sign(
            folds.set_index(["term", "feature"]).index.map(mean).to_numpy(dtype=float)
        )
    ).groupby(["term", "feature"], sort=False)["agrees"]
    return pd.DataFrame(
        {
            "mean": mean,
            "sd": grouped.std(ddof=1),
            "sign_consistency": consistency.mean(),
            "folds": grouped.size(),
        }
    )


def _rows(names, term, values):
    return [
        {"feature": str(name), "term": term, "coefficient": float(value)}
        for name, value in zip(names, values, strict=True)
    ]


def _image_names(selector) -> list[str]:
    extractor = selector.extractor_
    return [] if extractor is None else list(extractor.get_feature_names_out())


def _prepared_names(preparation, image_names) -> list[str]:
    """The prepared columns' names, image columns by the extractor's names."""
    names = list(preparation.get_feature_names_out())
    if all("__" not in name for name in names):
        # A numeric design (imputer, scaler): scikit-learn's x0, x1, ...
        return list(image_names) if len(names) == len(image_names) else names
    out = []
    for name in names:
        block, _, column = name.partition("__")
        if block == "image" and column.startswith("image_"):
            out.append(image_names[int(column.removeprefix("image_"))])
        else:
            out.append(column or name)
    return out
