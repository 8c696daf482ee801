import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression

import txpredict as tp
from txpredict.errors import TxpredictError


@pytest.fixture(scope="module")
def frick_like():
    """A Frick et al. 2018-like study: dACC x arm interaction, 200 patients."""
    return tp.make_synthetic_cohort(
        200, effect="interaction", grid="fsl6", random_state=1
    )


def test_selector_outputs_are_consistent(frick_like):
    X, y = frick_like.X, frick_like.y
    selector = tp.ModalitySelector("roi", param_grid={"C": [0.1]}).fit(X, y)
    p = selector.predict_response_proba(X)
    assert list(p.columns) == ["CBT", "SSRI+CBT"] and list(p.index) == list(X.index)
    assert ((p > 0) & (p < 1)).all().all()
    np.testing.assert_allclose(selector.pai(X), p["SSRI+CBT"] - p["CBT"])
    expected = np.where(p["SSRI+CBT"] > p["CBT"], "SSRI+CBT", "CBT")
    np.testing.assert_array_equal(selector.recommend(X), expected)
    assert set(selector.models_) == {"CBT", "SSRI+CBT"}


@pytest.mark.parametrize("strategy", ["t_learner", "x_learner", "interaction"])
def test_recommendations_recover_the_better_arm(frick_like, strategy):
    selector = tp.ModalitySelector("roi", strategy=strategy)
    result = tp.evaluate_selection(
        selector,
        frick_like.X,
        frick_like.y,
        n_repeats=2,
        truth=frick_like.ground_truth,
    )
    s = result.summary()
    assert s.at["agreement_with_better_arm", "estimate"] > 0.6
    assert s.at["matched_minus_unmatched", "estimate"] > 0
    assert (
        s.at["true_policy_value", "estimate"] <= s.at["oracle_policy_value", "estimate"]
    )
    low, high = s.loc["matched_minus_unmatched", ["ci_low", "ci_high"]]
    assert low < s.at["matched_minus_unmatched", "estimate"] < high
    gain = s.loc["policy_gain"]
    if gain["ci_low"] > 0:
        assert s.at["number_needed_to_treat", "estimate"] == pytest.approx(
            1 / gain["estimate"]
        )
    # Every patient is predicted once per repeat, by models that never saw them.
    counts = result.predictions.groupby("participant_id").size()
    assert (counts == 2).all() and len(counts) == 200


def test_number_needed_to_treat_inverts_the_policy_gain():
    from txpredict.modality._result import _number_needed_to_treat

    gain = pd.Series({"estimate": 0.08, "ci_low": 0.02, "ci_high": 0.16})
    nnt = _number_needed_to_treat(gain)
    assert nnt["estimate"] == pytest.approx(12.5)
    assert (nnt["ci_low"], nnt["ci_high"]) == pytest.approx((6.25, 50.0))
    harm = _number_needed_to_treat(
        -gain.rename({"ci_low": "ci_high", "ci_high": "ci_low"})
    )
    assert harm["estimate"] == pytest.approx(-12.5)
    assert (harm["ci_low"], harm["ci_high"]) == pytest.approx((-50.0, -6.25))
    # An interval through 0: the NNT's runs through infinity and its estimate is
    # the reciprocal of a gain indistinguishable from 0 (once shown as -14381.9
    # beside a text saying none is given): neither is given.
    unsure = _number_needed_to_treat(
        pd.Series({"estimate": -0.00007, "ci_low": -0.04, "ci_high": 0.04})
    )
    assert np.isnan(unsure[["estimate", "ci_low", "ci_high"]].astype(float)).all()
    assert "includes 0" in unsure["ci_method"]


def test_no_interaction_gives_no_better_policy():
    cohort = tp.make_synthetic_cohort(
        120, effect="prognostic", grid="fsl6", random_state=3
    )
    selector = tp.ModalitySelector("roi", strategy="interaction")
    s = tp.evaluate_selection(
        selector, cohort.X, cohort.y, n_repeats=2, truth=cohort.ground_truth
    ).summary()
    best_single = max(
        s.at["everyone_CBT", "estimate"], s.at["everyone_SSRI+CBT", "estimate"]
    )
    assert s.at["policy_value_ipw", "estimate"] < best_single + 0.1


def test_bad_inputs_are_explained(frick_like):
    X, y = frick_like.X, frick_like.y
    with pytest.raises(TxpredictError, match="at least two treatment arms"):
        tp.ModalitySelector().fit(X, y, treatment=np.repeat("CBT", len(y)))
    arm = X["treatment"].copy().astype(object)
    arm.iloc[3] = np.nan
    with pytest.raises(TxpredictError, match=r"missing for subject\(s\) \['sub-004'\]"):
        tp.ModalitySelector().fit(X, y, treatment=arm)
    few = X.iloc[:30]
    with pytest.raises(
        TxpredictError, match=r"Arm '(CBT|SSRI\+CBT)' has \d+ responder"
    ):
        tp.ModalitySelector(inner_cv=10).fit(few, y.iloc[:30])
    with pytest.raises(TxpredictError, match="'strategy' parameter"):
        tp.ModalitySelector(strategy="s_learner").fit(X, y)
    with pytest.raises(TxpredictError, match="needs image features only"):
        tp.ModalitySelector("roi+demographics", strategy="interaction").fit(X, y)
    with pytest.raises(TxpredictError, match="probability for each arm"):
        tp.evaluate_selection(tp.ModalitySelector(), X, y, propensity={"CBT": 0.5})


def test_qini_ranks_benefit():
    from txpredict.modality._uplift import qini_coefficient, qini_curve

    rng = np.random.default_rng(0)
    n = 400
    treated = rng.random(n) < 0.5
    benefit = rng.standard_normal(n)
    y = (
        rng.random(n) < 0.5 + 0.3 * np.tanh(benefit) * np.where(treated, 1, -1)
    ).astype(int)
    good = qini_coefficient(y, treated, benefit)
    bad = qini_coefficient(y, treated, -benefit)
    assert good > 0 > bad
    fraction, q = qini_curve(y, treated, benefit)
    assert fraction[0] == 0 and fraction[-1] == 1 and q[0] == 0


def test_policy_gain_permutation_and_warnings(frick_like):
    selector = tp.ModalitySelector(
        "roi", strategy="interaction", param_grid={"C": [0.1]}
    )
    with pytest.warns(UserWarning, match="propensity="):
        result = tp.evaluate_selection(
            selector,
            frick_like.X,
            frick_like.y,
            n_repeats=1,
            randomized=False,
            n_permutations=4,
        )
    permutation = result.permutation
    assert len(permutation["null_distribution"]) == 4
    # A strong planted interaction (n = 200): no permutation of the arms reaches
    # the observed gain, so p is the smallest possible, 1 / (1 + 4).
    assert permutation["policy_gain"] > permutation["null_distribution"].max()
    assert permutation["p_value"] == pytest.approx(1 / 5)
    assert "qini_coefficient" in result.summary().index


def test_scan_vs_demographics_selection_on_the_same_splits(frick_like):
    X, y = frick_like.X, frick_like.y
    scan = tp.evaluate_selection(
        tp.ModalitySelector("roi", strategy="interaction"), X, y, n_repeats=2
    )
    demo = tp.evaluate_selection(
        tp.ModalitySelector("demographics", param_grid={}), X, y, n_repeats=2
    )
    table = tp.compare_selections(scan, demo, names=("scan", "demographics"))
    row = table.loc["policy_value_ipw"]
    # a - b of the selectors' fold-averaged policy values, and a p-value from
    # the same t (one per outer fold: J = 10, t on J - 1 df): once a and b were
    # the summaries' pooled values, and a difference of +0.0004 stood beside
    # t = -0.26. Its level is measured in benchmarks/calibration.py, not here.
    from txpredict.modality._compare import _fold_policy_values

    assert row["scan"] == pytest.approx(_fold_policy_values(scan).mean())
    assert row["difference"] == pytest.approx(row["scan"] - row["demographics"])
    assert np.sign(row["t"]) == np.sign(row["difference"])
    assert row["p_value"] == pytest.approx(2 * stats.t.sf(abs(row["t"]), 9))
    # scipy's paired t of the fold values, scaled by the Nadeau-Bengio
    # correction: Var(mean) = (1/J + n_test/n_train) s^2 instead of s^2 / J.
    a, b = _fold_policy_values(scan), _fold_policy_values(demo)
    plain = stats.ttest_rel(a, b).statistic
    n_test = len(scan.predictions) / len(a)
    correction = np.sqrt((1 / len(a)) / (1 / len(a) + n_test / (200 - n_test)))
    assert row["t"] == pytest.approx(plain * correction)
    itself = tp.compare_selections(scan, scan).loc["policy_value_ipw"]
    assert itself["difference"] == 0 and itself["p_value"] == pytest.approx(1)
    other = tp.evaluate_selection(
        tp.ModalitySelector("demographics", param_grid={}),
        X,
        y,
        n_repeats=2,
        random_state=5,
    )
    with pytest.raises(TxpredictError, match="different splits"):
        tp.compare_selections(scan, other)


EXACT_LOGISTIC = LogisticRegression(
    class_weight="balanced", solver="newton-cholesky", tol=1e-12, max_iter=1000
)


@pytest.mark.parametrize("strategy", ["t_learner", "x_learner", "interaction"])
def test_batched_route_equals_fold_by_fold_route(frick_like, strategy):
    """Same splits, same models: the batched fits change nothing but the time.

    One C per model, so both routes fit the same problems; the interaction model
    of the fold-by-fold route is lbfgs at its default tolerance (hence 1e-3).
    """
    X, y = frick_like.X.iloc[:100], frick_like.y.iloc[:100]
    classifier = "logistic" if strategy == "interaction" else EXACT_LOGISTIC
    selector = tp.ModalitySelector(
        "roi", classifier, strategy=strategy, param_grid={"C": [0.1]}
    )
    fast = tp.evaluate_selection(selector, X, y, n_repeats=2, fast_path=True)
    slow = tp.evaluate_selection(selector, X, y, n_repeats=2, fast_path=False)
    assert fast.splits_hash == slow.splits_hash
    columns = ["p_CBT", "p_SSRI+CBT"]
    np.testing.assert_allclose(
        fast.predictions[columns],
        slow.predictions[columns],
        atol=1e-3 if strategy == "interaction" else 1e-7,
    )
    agree = fast.predictions["recommended"] == slow.predictions["recommended"]
    assert agree.mean() >= 0.99


@pytest.mark.parametrize("scoring", ["roc_auc", "neg_log_loss"])
def test_batched_route_tunes_like_grid_search(frick_like, scoring):
    """With a grid, C is chosen per arm and fold as GridSearchCV chooses it."""
    X, y = frick_like.X.iloc[:100], frick_like.y.iloc[:100]
    selector = tp.ModalitySelector(
        "roi", EXACT_LOGISTIC, param_grid={"C": [1e-2, 1.0]}, scoring=scoring
    )
    fast = tp.evaluate_selection(selector, X, y, n_repeats=1)
    slow = tp.evaluate_selection(selector, X, y, n_repeats=1, fast_path=False)
    columns = ["p_CBT", "p_SSRI+CBT"]
    close = np.isclose(fast.predictions[columns], slow.predictions[columns], atol=1e-7)
    # Near-tied grid values may resolve differently (see best_candidate).
    assert close.all(axis=1).mean() >= 0.75


def test_policy_gain_is_the_summary_difference(frick_like):
    from txpredict.modality._permutation import policy_gain

    result = tp.evaluate_selection(
        tp.ModalitySelector("roi", strategy="interaction"),
        frick_like.X,
        frick_like.y,
        n_repeats=1,
    )
    p = result.predictions.sort_values("participant_id")
    gain = policy_gain(
        p["y_true"].to_numpy(),
        p["received"].to_numpy(),
        p[["p_CBT", "p_SSRI+CBT"]].to_numpy(),
        result.arms,
        p.groupby("received")["propensity"].first().to_dict(),
    )
    s = result.summary()["estimate"]
    expected = s["policy_value_ipw"] - max(s["everyone_CBT"], s["everyone_SSRI+CBT"])
    assert gain == pytest.approx(expected, abs=1e-12)
    assert s["policy_gain"] == pytest.approx(expected, abs=1e-12)


def test_policy_gain_estimates_the_true_gain_of_a_known_policy():
    """A simulated trial of 200,000 patients, arms allocated 1:2, whose true
    response probabilities are known: the IPW gain of recommending each
    patient's truly better arm is the true gain, E[max p] - max E[p]."""
    from scipy.special import expit

    from txpredict.modality._permutation import policy_gain

    rng = np.random.default_rng(0)
    x = rng.normal(size=200_000)
    p = np.column_stack([expit(0.2 + x), expit(-0.5 - 0.5 * x)])
    received = rng.choice(["A", "B"], size=len(x), p=[1 / 3, 2 / 3])
    y = (rng.random(len(x)) < np.where(received == "A", p[:, 0], p[:, 1])).astype(int)
    gain = policy_gain(y, received, p, ("A", "B"), {"A": 1 / 3, "B": 2 / 3})
    true = np.maximum(p[:, 0], p[:, 1]).mean() - p.mean(axis=0).max()
    assert gain == pytest.approx(true, abs=0.01)  # Monte-Carlo SE ~0.002
    # Unweighted, the matched patients over-represent arm B's recommendations.
    unweighted = policy_gain(y, received, p, ("A", "B"), {"A": 0.5, "B": 0.5})
    assert abs(unweighted - true) > 0.02


def test_permutation_null_does_not_depend_on_n_jobs(frick_like):
    selector = tp.ModalitySelector("roi", strategy="interaction")
    X, y = frick_like.X.iloc[:100], frick_like.y.iloc[:100]
    kwargs = {"n_repeats": 1, "n_permutations": 7, "random_state": 3}
    a = tp.evaluate_selection(selector, X, y, n_jobs=1, **kwargs).permutation
    b = tp.evaluate_selection(selector, X, y, n_jobs=2, **kwargs).permutation
    np.testing.assert_array_equal(a["null_distribution"], b["null_distribution"])
    assert a["p_value"] == b["p_value"]
    # Arm labels are really permuted: the null gains vary and sit below the signal.
    assert np.ptp(a["null_distribution"]) > 0
    assert a["policy_gain"] > np.median(a["null_distribution"])


def test_predicting_unknown_arms_is_refused(frick_like):
    X, y = frick_like.X, frick_like.y
    selector = tp.ModalitySelector("roi", param_grid={"C": [0.1]}).fit(X, y)
    with pytest.raises(TxpredictError, match=r"Unknown treatment arm\(s\) \['SSRI'\]"):
        selector.recommend(X, arms=["CBT", "SSRI"])
    only = selector.predict_response_proba(X.iloc[:5], arms=["SSRI+CBT"])
    assert list(only.columns) == ["SSRI+CBT"]
    assert (selector.recommend(X.iloc[:5], arms="CBT") == "CBT").all()
    with pytest.raises(TxpredictError, match="at least two arms"):
        selector.pai(X, arms=["CBT"])


def test_summary_reports_each_arms_prognostic_performance(frick_like):
    # Tuned by AUC, the ranking this test's AUC bound is about.
    result = tp.evaluate_selection(
        tp.ModalitySelector("roi", scoring="roc_auc"),
        frick_like.X,
        frick_like.y,
        n_repeats=1,
    )
    s = result.summary()["estimate"]
    p = result.predictions
    for arm in result.arms:
        got = p[p["received"] == arm]
        responders = got[got["y_true"] == 1]
        # The balanced decision: above the arm's response rate.
        expected = (responders[f"p_{arm}"] > got["y_true"].mean()).mean()
        assert s[f"prognostic_sensitivity_{arm}"] == pytest.approx(expected)
        assert 0 < s[f"prognostic_specificity_{arm}"] < 1
    # The Frick-like cohort has prognostic signal in both arms.
    assert s["prognostic_auc_CBT"] > 0.6 and s["prognostic_auc_SSRI+CBT"] > 0.6


def test_per_patient_propensities_correct_non_randomised_assignment(frick_like):
    """Patients with high dACC got SSRI+CBT more often: weighting by each
    patient's probability of the arm received recovers everyone's response
    rate under that arm; the arm proportions do not."""
    rng = np.random.default_rng(0)
    truth = frick_like.ground_truth
    p_ssri = 1 / (1 + np.exp(-2.0 * truth["dACC"].to_numpy()))
    ssri = rng.random(len(truth)) < p_ssri
    X = frick_like.X.assign(
        treatment=np.where(ssri, "SSRI+CBT", "CBT"),
        p_received=np.where(ssri, p_ssri, 1 - p_ssri),
    )
    p = np.where(ssri, truth["p_response_SSRI+CBT"], truth["p_response_CBT"])
    y = pd.Series((rng.random(len(truth)) < p).astype(int), index=X.index)
    selector = tp.ModalitySelector("roi", strategy="interaction")
    options = {"n_repeats": 1}
    weighted = tp.evaluate_selection(
        selector, X, y, propensity="p_received", randomized=False, **options
    ).summary()["estimate"]
    with pytest.warns(UserWarning, match="one probability per patient"):
        naive = tp.evaluate_selection(
            selector, X, y, randomized=False, **options
        ).summary()["estimate"]
    target = truth["p_response_SSRI+CBT"].mean()  # everyone on SSRI+CBT
    assert abs(weighted["everyone_SSRI+CBT"] - target) < 0.05
    assert abs(naive["everyone_SSRI+CBT"] - target) > 2 * abs(
        weighted["everyone_SSRI+CBT"] - target
    )
    with pytest.raises(TxpredictError, match="assigned at random"):
        tp.evaluate_selection(
            selector, X, y, propensity="p_received", n_permutations=9, **options
        )
    bad = X.assign(p_received=X["p_received"].where(X.index != "sub-007", 1.5))
    with pytest.raises(TxpredictError, match=r"column 'p_received'.*sub-007"):
        tp.evaluate_selection(selector, bad, y, propensity="p_received", **options)


def test_policy_value_test_set_variance_is_the_binomial_one():
    from txpredict.stats import policy_intervals

    y = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 1])
    received = np.array(["a", "b"] * 5)
    recommended = np.array(["a"] * 6 + ["b"] * 4)
    frame = pd.DataFrame(
        {
            "repeat": 0,
            "fold": np.arange(10) % 2,
            "y_true": y,
            "received": received,
            "recommended": recommended,
        }
    )
    table = policy_intervals(frame, np.ones(10), ("a", "b"), "test_set")
    matched = received == recommended
    v = y[matched].mean()
    half = 1.959964 * np.sqrt(v * (1 - v) / matched.sum())
    assert table.at["policy_value", "estimate"] == pytest.approx(v)
    assert table.at["policy_value", "ci_high"] - v == pytest.approx(half, rel=1e-6)


def test_unknown_scoring_is_refused(frick_like):
    selector = tp.ModalitySelector("roi", scoring="accuracy")
    with pytest.raises(TxpredictError, match="'scoring' parameter of ModalitySelector"):
        selector.fit(frick_like.X, frick_like.y)


def test_x_learner_regresses_the_effects_imputed_by_the_other_arm(frick_like):
    """Stage 2 and 3 by hand, from the selector's own stage-1 models."""
    from sklearn.linear_model import RidgeCV

    from txpredict.modality._x_learner import ALPHAS, CLIP

    X, y = frick_like.X, frick_like.y.to_numpy()
    selector = tp.ModalitySelector("roi", strategy="x_learner").fit(X, y)
    t_learner = tp.ModalitySelector("roi", strategy="t_learner").fit(X, y)
    # Stage 1 is the T-learner (same tuning, same models).
    p_t = t_learner.predict_response_proba(X)
    p_x = selector.predict_response_proba(X)
    np.testing.assert_allclose(p_x["CBT"], p_t["CBT"])
    arm = X["treatment"].to_numpy()
    design = selector.base_model().design(X, selector.extractor_)
    prepared = (design - design.mean(axis=0)) / design.std(axis=0)
    treated, reference = arm == "SSRI+CBT", arm == "CBT"
    on_treated = RidgeCV(alphas=ALPHAS).fit(
        prepared[treated], y[treated] - p_t["CBT"].to_numpy()[treated]
    )
    on_reference = RidgeCV(alphas=ALPHAS).fit(
        prepared[reference], p_t["SSRI+CBT"].to_numpy()[reference] - y[reference]
    )
    g = treated.mean()
    effect = g * on_reference.predict(prepared) + (1 - g) * on_treated.predict(prepared)
    expected = np.clip(p_t["CBT"].to_numpy() + effect, CLIP, 1 - CLIP)
    np.testing.assert_allclose(p_x["SSRI+CBT"], expected, rtol=1e-6)
    # The effects are not the T-learner's difference (the regressions smooth it).
    assert not np.allclose(p_x["SSRI+CBT"], p_t["SSRI+CBT"], atol=1e-3)
    # Against the planted truth: the estimated effects follow the true ones.
    truth = frick_like.ground_truth
    true_effect = truth["p_response_SSRI+CBT"] - truth["p_response_CBT"]
    assert np.corrcoef(p_x["SSRI+CBT"] - p_x["CBT"], true_effect)[0, 1] > 0.5


def test_x_learner_with_demographics(frick_like):
    X, y = frick_like.X.iloc[:120], frick_like.y.iloc[:120]
    selector = tp.ModalitySelector(
        "roi+demographics", strategy="x_learner", param_grid={"C": [0.1]}
    ).fit(X, y)
    p = selector.predict_response_proba(X)
    assert ((p > 0) & (p < 1)).all().all()
    result = tp.evaluate_selection(selector, X, y, n_repeats=1)
    assert result.predictions[["p_CBT", "p_SSRI+CBT"]].notna().all().all()


def test_each_arms_calibration_is_scored_on_the_patients_who_received_it(frick_like):
    from txpredict.stats import calibration_measures

    X, y = frick_like.X, frick_like.y
    result = tp.evaluate_selection(tp.ModalitySelector("roi"), X, y, n_repeats=2)
    table = result.calibration()
    assert list(table.index.unique("arm")) == ["CBT", "SSRI+CBT"]
    rows = result.predictions
    for arm in ("CBT", "SSRI+CBT"):
        per_repeat = [
            calibration_measures(part["y_true"], part[f"p_{arm}"])["slope"]
            for _, part in rows[rows["received"] == arm].groupby("repeat")
        ]
        assert table.at[(arm, "slope"), "estimate"] == pytest.approx(
            np.mean(per_repeat)
        )
        observed = y[X["treatment"] == arm].mean()
        assert table.at[(arm, "observed"), "estimate"] == pytest.approx(observed)
    # Shifted to each arm's training prevalence: calibrated in the large.
    means = table.xs("mean_predicted", level="measure")["estimate"]
    observed = table.xs("observed", level="measure")["estimate"]
    np.testing.assert_allclose(means, observed, atol=0.05)


def test_fold_coefficients_are_each_fold_selectors_and_find_the_moderator(frick_like):
    X, y = frick_like.X, frick_like.y
    selector = tp.ModalitySelector("roi", param_grid={"C": [0.1]})
    result = tp.evaluate_selection(
        selector, X, y, n_repeats=1, return_coefficients=True
    )
    slow = tp.evaluate_selection(selector, X, y, n_repeats=1, fast_path=False)
    pd.testing.assert_frame_equal(result.predictions, slow.predictions)
    # Fold 0's rows are the coefficients of a selector fitted on its training part.
    held_out = result.predictions.query("fold == 0")["participant_id"]
    train = ~X.index.isin(held_out)
    direct = tp.ModalitySelector("roi", param_grid={"C": [0.1]}).fit(X[train], y[train])
    fold = result.coefficients.query("fold == 0").set_index(["term", "feature"])
    for arm in ("CBT", "SSRI+CBT"):
        coef = direct.models_[arm].fitted_pipeline()[-1].coef_.ravel()
        np.testing.assert_allclose(fold.loc[arm, "coefficient"], coef, rtol=1e-6)
    difference = fold.loc["SSRI+CBT - CBT", "coefficient"]
    np.testing.assert_allclose(
        difference, fold.loc["SSRI+CBT", "coefficient"] - fold.loc["CBT", "coefficient"]
    )
    # The planted moderator (dACC x arm) leads the moderation terms, stably.
    summary = result.coefficient_summary().loc["SSRI+CBT - CBT"]
    top = summary["mean"].abs().sort_values(ascending=False).index[:2]
    assert set(top) == {"dACC_L_mean", "dACC_R_mean"}
    assert (summary.loc[list(top), "sign_consistency"] == 1).all()


def test_pai_correlations_and_refusals(frick_like):
    X, y = frick_like.X, frick_like.y
    result = tp.evaluate_selection(tp.ModalitySelector("roi"), X, y, n_repeats=2)
    roi = tp.RoiFeatures(verbose=0).set_output(transform="pandas").fit_transform(X)
    table = result.pai_correlations(roi)
    part = result.predictions.query("repeat == 1")
    pai = (part["p_SSRI+CBT"] - part["p_CBT"]).to_numpy()
    r = np.corrcoef(pai, roi.loc[part["participant_id"], "dACC_R_mean"])[0, 1]
    low, high = table.loc["dACC_R_mean", ["min", "max"]]
    assert low - 1e-12 <= r <= high + 1e-12
    assert table["mean"].abs().idxmax().startswith("dACC")
    with pytest.raises(TxpredictError, match="no row for participant"):
        result.pai_correlations(roi.iloc[5:])
    with pytest.raises(TxpredictError, match="return_coefficients=True"):
        result.coefficient_summary()
    with pytest.raises(TxpredictError, match="needs linear response models"):
        tp.evaluate_selection(
            tp.ModalitySelector("roi", "random_forest"), X, y, return_coefficients=True
        )


def test_voxel_selector_maps_each_arm_and_their_difference(frick_like):
    X, y = frick_like.X.iloc[:120], frick_like.y.iloc[:120]
    grid = {"C": [0.1]}
    selector = tp.ModalitySelector("wholebrain", param_grid=grid).fit(X, y)
    arm = X["treatment"].to_numpy()
    weights = {}
    for name in ("CBT", "SSRI+CBT"):
        own = tp.ResponseClassifier("wholebrain", param_grid=grid).fit(
            X[arm == name], y[arm == name]
        )
        weights[name] = own.coef_voxels_
        np.testing.assert_allclose(selector.maps_[name][0], own.coef_voxels_, rtol=1e-5)
        np.testing.assert_allclose(
            selector.maps_[name][1], own.pattern_voxels_, rtol=1e-4, atol=1e-7
        )
    term = "SSRI+CBT - CBT"
    difference = weights["SSRI+CBT"].astype(float) - weights["CBT"].astype(float)
    np.testing.assert_allclose(
        selector.maps_[term][0], difference, rtol=1e-5, atol=1e-9
    )
    voxels = tp.WholeBrainFeatures(verbose=0).fit_transform(X).astype(float)
    score = voxels @ difference
    expected = (
        (voxels - voxels.mean(0)).T
        @ (score - score.mean())
        / ((len(score) - 1) * score.var(ddof=1))
    )
    np.testing.assert_allclose(
        selector.maps_[term][1], expected, rtol=1e-3, atol=1e-6 * np.abs(expected).max()
    )
    image = selector.map_img()  # the difference's pattern
    assert image.shape == selector.extractor_.mask_img_.shape
    mask = selector.extractor_.mask_img_.get_fdata() > 0
    np.testing.assert_allclose(
        image.get_fdata()[mask], selector.maps_[term][1], rtol=1e-6
    )
    with pytest.raises(TxpredictError, match="Unknown map term"):
        selector.map_img("SSRI")
    roi = tp.ModalitySelector("roi", param_grid=grid).fit(X, y)
    with pytest.raises(TxpredictError, match="maps need voxel features"):
        roi.map_img()


def test_fold_maps_are_each_fold_selectors_own(frick_like):
    """Each outer fold's maps are those of a selector fitted on that fold's
    training part alone (so no test patient enters them)."""
    X, y = frick_like.X.iloc[:120], frick_like.y.iloc[:120]
    grid = {"C": [0.1]}
    selector = tp.ModalitySelector("wholebrain", param_grid=grid)
    result = tp.evaluate_selection(selector, X, y, n_repeats=2, return_maps=True)
    term = "SSRI+CBT - CBT"
    assert set(result.maps) == {"CBT", "SSRI+CBT", term}
    maps = result.maps[term]
    assert list(maps.models.columns) == ["repeat", "fold"] and len(maps.models) == 10
    for row in (0, 7):
        repeat, fold = maps.models.iloc[row]
        held_out = result.predictions.query(f"repeat == {repeat} and fold == {fold}")
        train = ~X.index.isin(held_out["participant_id"])
        direct = tp.ModalitySelector("wholebrain", param_grid=grid).fit(
            X[train], y[train]
        )
        for name, fold_maps in result.maps.items():
            weights, pattern = direct.maps_[name]
            np.testing.assert_allclose(fold_maps.weights[row], weights, rtol=1e-5)
            np.testing.assert_allclose(
                fold_maps.patterns[row], pattern, atol=1e-5 * np.abs(pattern).max()
            )
    image = maps.to_img("pattern", "jackknife_z")
    assert image.shape == direct.extractor_.mask_img_.shape
    # The same probabilities as the evaluation without maps.
    plain = tp.evaluate_selection(selector, X, y, n_repeats=2, fast_path=False)
    pd.testing.assert_frame_equal(result.predictions, plain.predictions)


def test_fold_maps_are_refused_before_any_fit_when_there_are_none(frick_like):
    X, y = frick_like.X.iloc[:60], frick_like.y.iloc[:60]
    for selector, message in [
        (tp.ModalitySelector("roi"), "maps need voxel features"),
        (tp.ModalitySelector("wholebrain", strategy="interaction"), "no per-arm"),
    ]:
        with pytest.raises(TxpredictError, match=message):
            tp.evaluate_selection(selector, X, y, n_repeats=1, return_maps=True)
    with pytest.raises(TxpredictError, match="not both"):
        tp.evaluate_selection(
            tp.ModalitySelector("roi"),
            X,
            y,
            return_maps=True,
            return_coefficients=True,
        )
