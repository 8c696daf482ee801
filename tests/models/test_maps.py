"""Weight and pattern maps of a fitted model on voxel features."""

import numpy as np
import pytest
from nilearn.maskers import NiftiMasker
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import txpredict as tp

#: lbfgs at a tolerance where float32 and float64 inputs reach the same optimum.
TIGHT = LogisticRegression(C=0.1, class_weight="balanced", tol=1e-10, max_iter=10_000)


@pytest.fixture(scope="module")
def cohort():
    return tp.make_synthetic_cohort(
        40, effect="prognostic", grid="fsl6", random_state=5
    )


@pytest.fixture(scope="module")
def voxels(cohort):
    return tp.WholeBrainFeatures(verbose=0).fit_transform(cohort.X).astype(float)


@pytest.mark.parametrize(
    ("name", "reference", "grid"),
    [
        (TIGHT, clone(TIGHT), {"C": [0.1]}),
        (
            "linear_svm",
            SVC(kernel="linear", C=0.01, class_weight="balanced"),
            {"C": [0.01]},
        ),
        (
            "ridge",
            RidgeClassifier(alpha=10.0, class_weight="balanced"),
            {"alpha": [10.0]},
        ),
    ],
    ids=["logistic", "linear_svm", "ridge"],
)
@pytest.mark.parametrize("scaling", ["center", "standard"])
def test_maps_equal_sklearn_weights_put_back_by_nilearn(
    cohort, voxels, name, reference, grid, scaling
):
    model = tp.ResponseClassifier(
        "wholebrain", name, param_grid=grid, scaling=scaling
    ).fit(cohort.X, cohort.y)
    scaler = StandardScaler(with_std=scaling == "standard")
    pipeline = make_pipeline(scaler, reference).fit(voxels, cohort.y)
    weights = pipeline[-1].coef_.ravel() / (
        scaler.scale_ if scaler.scale_ is not None else 1.0
    )
    masker = NiftiMasker(mask_img=model.extractor_.mask_img_, standardize=None).fit()
    expected = masker.inverse_transform(weights.astype(np.float32))
    got = model.coef_img_
    np.testing.assert_allclose(got.affine, expected.affine)
    np.testing.assert_allclose(
        got.get_fdata(), expected.get_fdata(), rtol=1e-3, atol=1e-3 * abs(weights).max()
    )
    # Haufe et al. 2014: each voxel's covariance with the score over Var(score).
    score = pipeline.decision_function(voxels)
    some = np.random.default_rng(0).choice(voxels.shape[1], 50, replace=False)
    expected_pattern = [np.cov(voxels[:, v], score)[0, 1] for v in some]
    pattern = masker.transform(model.pattern_img_).ravel()[some]
    np.testing.assert_allclose(
        pattern * score.var(ddof=1),
        expected_pattern,
        rtol=1e-3,
        atol=1e-3 * np.abs(expected_pattern).max(),
    )


def test_models_without_maps_say_why(cohort):
    forest = tp.ResponseClassifier("wholebrain", "random_forest", param_grid={}).fit(
        cohort.X, cohort.y
    )
    with pytest.raises(AttributeError, match="permutation importance"):
        _ = forest.coef_img_
    assert not hasattr(forest, "pattern_img_")
    roi = tp.ResponseClassifier("roi").fit(cohort.X, cohort.y)
    with pytest.raises(AttributeError, match="no voxel features"):
        _ = roi.pattern_img_
    with pytest.raises(AttributeError, match="no attribute 'not_a_thing'"):
        _ = roi.not_a_thing


@pytest.mark.parametrize(
    "options",
    [
        {"select_percentile": 20},
        {"pca_components": 5},
        {"select_percentile": 50, "pca_components": 4},
    ],
    ids=["select", "pca", "select+pca"],
)
def test_maps_carry_the_weights_back_through_selection_and_pca(cohort, voxels, options):
    """The weight map scores the patients as the model does (up to a constant)."""
    model = tp.ResponseClassifier(
        "wholebrain", TIGHT, param_grid={"C": [0.1]}, **options
    ).fit(cohort.X, cohort.y)
    decision = model.decision_function(cohort.X)
    offset = decision - voxels @ model.coef_voxels_.astype(float)
    np.testing.assert_allclose(offset, offset[0], atol=1e-3 * np.ptp(decision))
    if "select_percentile" in options and "pca_components" not in options:
        # Unselected voxels weigh nothing.
        kept = model.fitted_pipeline().named_steps["select"].get_support()
        assert np.all(model.coef_voxels_[~kept] == 0)
        assert np.count_nonzero(model.coef_voxels_) <= kept.sum()
    # The pattern is each voxel's covariance with that score over its variance.
    centred = voxels - voxels.mean(axis=0)
    score = decision - decision.mean()
    expected = centred.T @ score / (len(score) - 1) / score.var(ddof=1)
    np.testing.assert_allclose(
        model.pattern_voxels_, expected, rtol=1e-3, atol=1e-6 * np.abs(expected).max()
    )
