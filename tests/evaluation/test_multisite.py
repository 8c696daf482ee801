"""Leave-site-out, per-site results, external validation and added value."""

import warnings

import numpy as np
import pytest
from scipy import stats

import txpredict as tp
from txpredict.errors import TxpredictError


@pytest.fixture(scope="module")
def study():
    return tp.make_synthetic_cohort(
        120, effect="prognostic", n_sites=4, grid="fsl6", random_state=2
    )


@pytest.fixture(scope="module")
def leave_site_out(study):
    # Three sites in each training part: an inner CV of three folds keeps
    # them whole (it recalibrates the probabilities).
    model = tp.ResponseClassifier(
        "roi", harmonize="combat", param_grid={"C": [0.1]}, inner_cv=3
    )
    return tp.nested_cross_validate(
        model, study.X, study.y, outer_cv="leave-site-out", groups="site"
    )


def test_leave_site_out_holds_out_each_site_once(study, leave_site_out):
    p = leave_site_out.predictions
    assert p["repeat"].nunique() == 1
    sites = study.X["site"]
    # Each outer test fold is exactly one site, every site once.
    for _, fold in p.groupby("fold"):
        assert fold["group"].nunique() == 1
        held = fold["group"].iloc[0]
        assert set(fold["participant_id"]) == set(sites.index[sites == held])
    assert p["group"].nunique() == 4
    assert "leave-site-out (4 sites)" in repr(leave_site_out)
    # The summary's interval methods were calibrated on k-fold CV only.
    methods = leave_site_out.summary()["ci_method"]
    assert methods.str.contains("not measured under leave-site-out").all()
    from txpredict.report._html import with_measured_coverage

    table = with_measured_coverage(leave_site_out.summary())
    assert (table["measured coverage"] == "not measured under leave-site-out").all()


def test_per_site_intervals_and_heterogeneity_against_references(leave_site_out):
    """Each site's AUC from scikit-learn, its interval against DeLong's by pairs,
    and Cochran's Q, I^2 and tau^2 from statsmodels' meta-analysis."""
    from sklearn.metrics import roc_auc_score
    from statsmodels.stats.meta_analysis import combine_effects

    sites = leave_site_out.per_site()
    p = leave_site_out.predictions
    for site, row in sites.iterrows():
        g = p[p["group"] == site]
        assert row["n"] == len(g)
        assert row["auc"] == pytest.approx(roc_auc_score(g["y_true"], g["score"]))
        assert row["auc_low"] < row["auc"] < row["auc_high"]
    h = leave_site_out.heterogeneity().loc["balanced_accuracy"]
    reference = combine_effects(
        sites["balanced_accuracy"].to_numpy(),
        sites["balanced_accuracy_se"].to_numpy() ** 2,
        method_re="chi2",  # DerSimonian-Laird
    )
    assert h["q"] == pytest.approx(reference.q)
    assert h["p_value"] == pytest.approx(stats.chi2.sf(reference.q, len(sites) - 1))
    assert h["i2"] == pytest.approx(max(reference.i2, 0.0))
    assert h["tau2"] == pytest.approx(max(reference.tau2, 0.0))  # DL truncates at 0


def test_heterogeneity_detects_sites_that_disagree():
    estimates = [0.5, 0.8, 0.5, 0.8]
    variances = [0.001] * 4
    h = tp.stats.heterogeneity(estimates, variances)
    assert h["p_value"] < 1e-6 and h["i2"] > 0.9
    assert h["random"] == pytest.approx(0.65)
    same = tp.stats.heterogeneity([0.6, 0.61, 0.59, 0.6], variances)
    assert same["i2"] == 0 and same["p_value"] > 0.5


def test_leave_site_out_errors(study):
    model = tp.ResponseClassifier("roi", param_grid={"C": [0.1]})
    with pytest.raises(TxpredictError, match="pass the sites as groups"):
        tp.nested_cross_validate(model, study.X, study.y, outer_cv="leave-site-out")
    with pytest.raises(TxpredictError, match="'scanner' is not a column"):
        tp.nested_cross_validate(
            model, study.X, study.y, outer_cv="leave-site-out", groups="scanner"
        )
    one_class = study.y.copy()
    one_class[study.X["site"] != "site1"] = 1
    one_class[study.X["site"] == "site1"] = 0
    with pytest.raises(TxpredictError, match=r"Without site 'site1'.*one class"):
        tp.nested_cross_validate(
            model, study.X, one_class, outer_cv="leave-site-out", groups="site"
        )
    with pytest.raises(TxpredictError, match="needs the sites"):
        tp.nested_cross_validate(model, study.X, study.y, n_repeats=1).per_site()


@pytest.fixture(scope="module")
def development():
    return tp.make_synthetic_cohort(
        100, effect="prognostic", n_sites=2, grid="fsl6", random_state=5
    )


def test_external_validation_of_a_frozen_model(development):
    new = tp.make_synthetic_cohort(
        150,
        effect="prognostic",
        site_names=["site1", "clinic_b"],
        grid="fsl6",
        random_state=6,
    )
    model = tp.ResponseClassifier("roi", harmonize="combat").fit(
        development.X, development.y
    )
    with pytest.warns(UserWarning, match=r"site: value\(s\) \['clinic_b'\]"):
        result = tp.validate_external(model, new)
    t = result.table
    # One frozen model on independent patients: the test-set intervals.
    from sklearn.metrics import roc_auc_score

    assert t.at["auc", "estimate"] == pytest.approx(
        roc_auc_score(new.y, model.decision_function(new.X))
    )
    assert t.at["auc", "estimate"] > 0.5  # the prognostic signal generalises
    _, low, high = tp.stats.delong_auc_ci(new.y, model.decision_function(new.X))
    assert (t.at["auc", "ci_low"], t.at["auc", "ci_high"]) == pytest.approx((low, high))
    c = result.calibration
    assert c["observed"] == pytest.approx(new.y.mean())
    recalibrated = tp.evaluation.recalibrated(result)
    # Recalibrated on these patients, the mean probability is their rate.
    assert recalibrated.mean() == pytest.approx(new.y.mean(), abs=0.01)
    assert "ExternalValidation(n=150" in repr(result)


def test_calibration_measures_of_perfect_and_overfitted_probabilities(rng):
    p = rng.uniform(0.05, 0.95, 20000)
    y = (rng.random(20000) < p).astype(int)
    good = tp.evaluation.calibration_measures(y, p)
    assert good["intercept"] == pytest.approx(0, abs=0.05)
    assert good["slope"] == pytest.approx(1, abs=0.05)
    logit = np.log(p / (1 - p))
    extreme = 1 / (1 + np.exp(-2 * logit))  # overfitted: too extreme
    assert tp.evaluation.calibration_measures(y, extreme)["slope"] == pytest.approx(
        0.5, abs=0.05
    )


def test_external_validation_refuses_what_it_cannot_score(development, tmp_path):
    model = tp.ResponseClassifier("roi+demographics").fit(development.X, development.y)
    other_grid = tp.make_synthetic_cohort(20, grid="fsl4", random_state=1)
    with pytest.raises(TxpredictError, match=r"on Grid\(shape=\(46.*never resamples"):
        tp.validate_external(model, other_grid)
    missing = development.X.drop(columns="baseline_severity")
    with pytest.raises(
        TxpredictError, match=r"lacks the column\(s\) \['baseline_severity'\]"
    ):
        tp.validate_external(model, missing, development.y)
    with pytest.raises(TxpredictError, match="needs the new patients' outcomes"):
        tp.validate_external(model, development.X)


def test_added_value_is_one_call_on_the_same_splits(development):
    model = tp.ResponseClassifier(
        "roi", confounds=["age", "site"], deconfound="augment"
    )
    result = tp.added_value(model, development.X, development.y, n_repeats=2)
    assert result.model.splits_hash == result.baseline.splits_hash
    assert result.baseline_columns == ["age", "site"]
    assert result.comparison.table.at["auc", "difference"] > 0  # the cuneus signal
    assert "baseline: ['age', 'site']" in repr(result)


@pytest.mark.parametrize(
    "estimates, variances",
    [
        ([0.60, 0.52, 0.75], [0.004, 0.006, 0.003]),  # three sites that disagree
        ([0.70, 0.52, 0.61, 0.55], [0.004, 0.006, 0.003, 0.005]),
    ],
)
def test_random_effects_interval_and_prediction_interval_against_statsmodels(
    estimates, variances
):
    """With three sites a normal-quantile random-effects interval was far too
    narrow ([0.514, 0.658] beside a leave-site-out interval [0.333, 0.873])."""
    from scipy import stats
    from statsmodels.stats.meta_analysis import combine_effects

    h = tp.stats.heterogeneity(estimates, variances)
    with warnings.catch_warnings():  # statsmodels' own sqrt of a negative, unused
        warnings.simplefilter("ignore", RuntimeWarning)
        reference = combine_effects(
            np.array(estimates), np.array(variances), method_re="dl"
        )
    assert h["tau2"] == pytest.approx(max(reference.tau2, 0.0))  # DL truncates at 0
    assert h["random"] == pytest.approx(reference.mean_effect_re)
    k = len(estimates)
    se = max(reference.sd_eff_w_re_hksj, reference.sd_eff_w_re)  # modified HKSJ
    half = stats.t.ppf(0.975, k - 1) * se
    assert h["random_ci_low"] == pytest.approx(reference.mean_effect_re - half)
    assert h["random_ci_high"] == pytest.approx(reference.mean_effect_re + half)
    spread = np.sqrt(reference.tau2 + reference.sd_eff_w_re**2)
    assert h["prediction_high"] - h["random"] == pytest.approx(
        stats.t.ppf(0.975, k - 2) * spread
    )
    assert h["prediction_low"] <= h["random_ci_low"]


def test_sites_that_agree_get_the_fixed_effect_with_a_t_interval():
    from scipy import stats

    variances = np.array([0.004, 0.006, 0.003, 0.005])
    h = tp.stats.heterogeneity([0.61, 0.60, 0.62, 0.59], variances)
    assert h["tau2"] == 0 and h["random"] == pytest.approx(h["fixed"])
    # Never narrower than the DerSimonian-Laird variance, with t on k - 1 df.
    dl = 1 / np.sqrt((1 / variances).sum())
    assert h["random_ci_high"] - h["random"] == pytest.approx(
        stats.t.ppf(0.975, 3) * dl
    )


def test_recalibration_needs_an_inner_cv_that_keeps_sites_whole(study):
    """One candidate still runs an inner CV, for the probabilities: refused
    with too few sites per training part, unless they are prior-shifted."""
    model = tp.ResponseClassifier("roi", param_grid={"C": [0.1]})
    options = {"outer_cv": "leave-site-out", "groups": "site"}
    with pytest.raises(TxpredictError, match='calibration="prior_shift" runs none'):
        tp.nested_cross_validate(model, study.X, study.y, **options)
    shifted = model.set_params(calibration="prior_shift")
    result = tp.nested_cross_validate(shifted, study.X, study.y, **options)
    assert result.predictions["probability"].notna().all()
