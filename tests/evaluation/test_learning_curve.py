"""The learning curve: nested CV on subsamples of a pilot, extrapolated."""

import numpy as np
import pandas as pd
import pytest

import txpredict as tp
from txpredict.errors import TxpredictError
from txpredict.evaluation import LearningCurve
from txpredict.stats import patients_to_detect

SCAN = ["roi_a", "roi_b", "roi_c"]


def _pilot(n, seed, scan_effect=1.0):
    rng = np.random.default_rng(seed)
    age = rng.normal(size=n)
    scan = rng.normal(size=(n, len(SCAN)))
    logit = 0.8 * age + scan_effect * scan[:, 0]
    index = pd.Index([f"sub-{i:03d}" for i in range(n)], name="participant_id")
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int), index=index)
    X = pd.DataFrame(scan, columns=SCAN, index=index).assign(age=age)
    return X, y


def _models():
    scan = tp.ResponseClassifier(
        tp.PrecomputedFeatures(SCAN), confounds=["age"], deconfound="augment"
    )
    return scan, tp.ResponseClassifier("demographics", demographic_columns=["age"])


def _exact_points(auc, half_width, gain=None, sizes=(50, 60, 70, 80, 100)):
    """Subsamples that lie on known curves, three identical ones per size."""
    rows = [
        {
            "n": n,
            "subsample": k,
            "auc": auc(n),
            "half_width": half_width(n),
            **({} if gain is None else {"gain": gain(n)}),
        }
        for n in sizes
        for k in range(3)
    ]
    return pd.DataFrame(rows)


def test_the_fits_recover_the_curves_the_points_lie_on():
    points = _exact_points(
        auc=lambda n: 0.8 - 1 / np.sqrt(n), half_width=lambda n: 2 / np.sqrt(n)
    )
    curve = LearningCurve(points, n_pilot=100)
    table = curve.extrapolate([400, 1600])
    np.testing.assert_allclose(table["auc"], [0.75, 0.775])
    np.testing.assert_allclose(table["half_width"], [0.1, 0.05])
    # Identical subsamples on an exact power law: the half-width's interval is
    # the estimate; the AUC's is the pilot's own error (its interval, +-0.2).
    np.testing.assert_allclose(table["half_width_low"], table["half_width_high"])
    np.testing.assert_allclose(table["auc_low"], table["auc"] - 0.2, atol=0.02)
    np.testing.assert_allclose(table["auc_high"], table["auc"] + 0.2, atol=0.02)
    n, low, high = curve.n_for_half_width(0.05)
    assert n == pytest.approx(1600) and low == pytest.approx(high)
    assert not curve.has_gain
    with pytest.raises(TxpredictError, match="baseline="):
        curve.n_for_power()


def test_the_n_for_power_is_where_the_gain_becomes_detectable():
    steady = LearningCurve(
        _exact_points(
            auc=lambda n: 0.7, half_width=lambda n: 1 / np.sqrt(n), gain=lambda n: 0.1
        ),
        n_pilot=100,
    )
    n, _, _ = steady.n_for_power()
    assert n == pytest.approx(patients_to_detect(0.1).n, rel=0.02)
    growing = LearningCurve(
        _exact_points(
            auc=lambda n: 0.7,
            half_width=lambda n: 1 / np.sqrt(n),
            gain=lambda n: 0.2 - 1 / np.sqrt(n),
        ),
        n_pilot=100,
    )
    # The gain grows with n: less than it needs at the pilot's gain.
    assert growing.n_for_power()[0] < patients_to_detect(0.2 - 1 / np.sqrt(100)).n
    nothing = LearningCurve(
        _exact_points(
            auc=lambda n: 0.6, half_width=lambda n: 1 / np.sqrt(n), gain=lambda n: -0.01
        ),
        n_pilot=100,
    )
    assert nothing.n_for_power()[0] == np.inf
    assert "more than 100,000" in nothing.sentences()[2]


def test_learning_curve_reruns_the_nested_procedure_on_stratified_subsamples():
    X, y = _pilot(90, 0)
    scan, baseline = _models()
    options = {"fractions": (0.6, 0.8, 1.0), "n_subsamples": 2, "n_repeats": 1}
    curve = tp.learning_curve(scan, X, y, baseline=baseline, **options)
    points = curve.points
    assert points.groupby("n").size().to_dict() == {54: 2, 72: 2, 90: 1}
    np.testing.assert_allclose(points["gain"], points["auc"] - points["baseline_auc"])
    assert (points["gain_ci_low"] < points["gain"]).all()
    assert (points["gain"] < points["gain_ci_high"]).all()
    np.testing.assert_allclose(
        points["half_width"], (points["ci_high"] - points["ci_low"]) / 2
    )
    # The pilot's row is the full nested CV with the curve's settings and its seed.
    pilot = points[points["n"] == 90].iloc[0]
    full = tp.nested_cross_validate(
        scan, X, y, n_repeats=1, random_state=int(pilot["seed"])
    )
    assert full.summary().at["auc", "estimate"] == pytest.approx(pilot["auc"])
    # Same seed, same curve; y given in another order is aligned by participant.
    again = tp.learning_curve(scan, X, y.sample(frac=1, random_state=3), **options)
    pd.testing.assert_frame_equal(
        again.points[["n", "auc"]], points[["n", "auc"]], check_exact=False
    )
    assert curve.half_width == 0.05 and len(curve.sentences()) == 4


def test_learning_curve_refuses_what_it_cannot_fit():
    X, y = _pilot(60, 1)
    scan, _ = _models()
    with pytest.raises(TxpredictError, match="at least three different sizes"):
        tp.learning_curve(scan, X, y, fractions=(0.5, 1.0))
    with pytest.raises(TxpredictError, match=r"in \(0, 1\]"):
        tp.learning_curve(scan, X, y, fractions=(0.5, 0.75, 1.5))
    with pytest.raises(TxpredictError, match="n_subsamples"):
        tp.learning_curve(scan, X, y, n_subsamples=1)
    other = y.rename(index=lambda pid: pid.replace("sub-", "p-"))
    with pytest.raises(TxpredictError, match="different subjects"):
        tp.learning_curve(scan, X, other)
    curve = LearningCurve(
        _exact_points(auc=lambda n: 0.7, half_width=lambda n: 1 / np.sqrt(n)), 100
    )
    with pytest.raises(TxpredictError, match="half_width"):
        curve.n_for_half_width(0.7)


def test_the_curve_does_not_depend_on_n_jobs():
    X, y = _pilot(60, 2)
    scan, baseline = _models()
    options = {"fractions": (0.6, 0.8, 1.0), "n_subsamples": 2, "n_repeats": 1}
    one = tp.learning_curve(scan, X, y, baseline=baseline, n_jobs=1, **options)
    two = tp.learning_curve(scan, X, y, baseline=baseline, n_jobs=2, **options)
    pd.testing.assert_frame_equal(one.points, two.points)
    pd.testing.assert_frame_equal(one.extrapolate([120]), two.extrapolate([120]))
