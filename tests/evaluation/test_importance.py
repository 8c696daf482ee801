"""Drop-one-ROI importance: the full ROI model against the model without a region."""

import numpy as np
import pytest

import txpredict as tp
from txpredict.errors import TxpredictError


@pytest.fixture(scope="module")
def cohort():
    # Response depends on the cuneus (the prognostic synthetic population).
    return tp.make_synthetic_cohort(
        150, effect="prognostic", grid="fsl6", random_state=11
    )


def test_the_planted_region_matters_and_each_row_is_its_comparison(cohort):
    groups = {
        "cuneus": ["cuneus_L", "cuneus_R"],
        "amygdala": ["amygdala_L", "amygdala_R"],
    }
    options = {"n_repeats": 3, "random_state": 2}
    model = tp.ResponseClassifier("roi")
    table = tp.drop_one_importance(
        model, cohort.X, cohort.y, groups_of_rois=groups, **options
    )
    assert list(table.index) == ["cuneus", "amygdala"]
    assert table.at["cuneus", "auc_drop"] > 0.05
    assert table.at["cuneus", "auc_drop"] > table.at["amygdala", "auc_drop"]
    # The row is compare(full, without cuneus) on the same splits.
    kept = [r for r in tp.default_rois() if not r.name.startswith("cuneus")]
    reduced = tp.ResponseClassifier("roi", feature_options={"rois": kept})
    full = tp.nested_cross_validate(model, cohort.X, cohort.y, **options)
    without = tp.nested_cross_validate(reduced, cohort.X, cohort.y, **options)
    expected = tp.compare(full, without).table
    for metric in ("auc", "balanced_accuracy"):
        np.testing.assert_allclose(
            table.loc[
                "cuneus", [f"{metric}_drop", f"{metric}_ci_low", f"{metric}_p_value"]
            ].to_numpy(float),
            expected.loc[metric, ["difference", "ci_low", "p_value"]].to_numpy(float),
        )


def test_bad_requests_are_explained(cohort):
    X, y = cohort.X, cohort.y
    with pytest.raises(TxpredictError, match="ROI features"):
        tp.drop_one_importance(tp.ResponseClassifier("wholebrain"), X, y)
    with pytest.raises(TxpredictError, match=r"names ROI\(s\) \['dACC'\]"):
        tp.drop_one_importance(
            tp.ResponseClassifier("roi"), X, y, groups_of_rois={"d": ["dACC"]}
        )
    every = [r.name for r in tp.default_rois()]
    with pytest.raises(TxpredictError, match="holds every ROI"):
        tp.drop_one_importance(
            tp.ResponseClassifier("roi"), X, y, groups_of_rois={"all": every}
        )
