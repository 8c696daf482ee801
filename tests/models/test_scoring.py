"""The inner search's criterion: log-loss for logistic models, ROC AUC otherwise."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import txpredict as tp


@pytest.mark.parametrize(
    ("classifier", "expected"),
    [
        ("logistic", "neg_log_loss"),
        ("logistic_l1", "neg_log_loss"),
        (LogisticRegression(), "neg_log_loss"),
        ("linear_svm", "roc_auc"),
        ("ridge", "roc_auc"),
        ("random_forest", "roc_auc"),
    ],
)
def test_auto_scoring_resolves_by_classifier(classifier, expected):
    model = tp.ResponseClassifier("roi", classifier)
    assert model.resolved_scoring() == expected
    assert model.build_search(np.zeros((10, 3))).scoring == expected
    explicit = tp.ResponseClassifier("roi", classifier, scoring="balanced_accuracy")
    assert explicit.resolved_scoring() == "balanced_accuracy"


def test_every_route_tunes_on_the_log_loss():
    """The batched route (ROI means) chooses C as GridSearchCV on log-loss does."""
    cohort = tp.make_synthetic_cohort(
        80, effect="prognostic", grid="fsl6", random_state=4
    )
    model = tp.ResponseClassifier("roi")
    fast, slow = (
        tp.nested_cross_validate(
            model, cohort.X, cohort.y, n_repeats=1, fast_path=f, random_state=1
        )
        for f in ("auto", False)
    )
    assert fast.info["fast_path"] and not slow.info["fast_path"]
    pd.testing.assert_frame_equal(fast.best_params(), slow.best_params())
    # ... and not as the AUC does (it picks stronger penalties here).
    auc = tp.nested_cross_validate(
        tp.ResponseClassifier("roi", scoring="roc_auc"),
        cohort.X,
        cohort.y,
        n_repeats=1,
        random_state=1,
    )
    assert not auc.best_params().equals(fast.best_params())
