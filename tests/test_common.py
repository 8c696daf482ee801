"""scikit-learn's own estimator checks on every txpredict estimator.

DemographicFeatures takes a table and passes the whole suite. The image
transformers take a column of image paths, not a numeric matrix (their input
tags say so, and scikit-learn then declines to run its data checks on them), so
they get the API checks that need no data, here, and image-based equivalents of
the data checks (fit returns self, clones and pickles transform identically,
fitting twice changes nothing) below.
"""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils import estimator_checks as sk
from sklearn.utils.estimator_checks import parametrize_with_checks

import txpredict as tp


@parametrize_with_checks([tp.DemographicFeatures()])
def test_sklearn_compatible(estimator, check):
    check(estimator)


IMAGE_TRANSFORMERS = [
    tp.RoiFeatures(verbose=0),
    tp.WholeBrainFeatures(verbose=0),
    tp.ImageFeatures([tp.RoiFeatures(), tp.WholeBrainFeatures()], verbose=0),
]
API_CHECKS = [
    sk.check_no_attributes_set_in_init,
    sk.check_parameters_default_constructible,
    sk.check_get_params_invariance,
    sk.check_set_params,
    sk.check_estimator_cloneable,
    sk.check_estimator_repr,
    sk.check_estimator_tags_renamed,
    sk.check_valid_tag_types,
    sk.check_do_not_raise_errors_in_init_or_set_params,
]


@pytest.mark.parametrize(
    "estimator", IMAGE_TRANSFORMERS, ids=lambda e: type(e).__name__
)
@pytest.mark.parametrize("check", API_CHECKS, ids=lambda c: c.__name__)
def test_image_transformer_api(estimator, check):
    check(type(estimator).__name__, clone(estimator))


@pytest.mark.parametrize(
    "estimator", IMAGE_TRANSFORMERS, ids=lambda e: type(e).__name__
)
def test_image_transformer_data_behaviour(estimator, small_cohort):
    X = small_cohort.X.iloc[:5]
    est = clone(estimator)
    assert est.fit(X) is est
    first = est.transform(X)
    assert first.shape == (5, len(est.get_feature_names_out()))
    np.testing.assert_array_equal(est.fit(X).transform(X), first)  # idempotent fit
    np.testing.assert_array_equal(clone(estimator).fit_transform(X), first)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).transform(X), first)
    # Subsets and row order do not change a subject's features (per-subject).
    np.testing.assert_array_equal(est.transform(X.iloc[::-1]), first[::-1])
    np.testing.assert_array_equal(est.transform(X.iloc[[2]]), first[[2]])
    with pytest.raises(Exception, match="not fitted"):
        clone(estimator).transform(X)
